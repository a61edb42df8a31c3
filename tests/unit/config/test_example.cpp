#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/directives.hpp"
#include "config/example.hpp"

using namespace rtmpt::config;

namespace {

[[nodiscard]] std::string read_file(const char* path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

TEST_CASE("the checked-in example config is the generated one") {
    const std::string generated = example_yaml();
    const std::string checked_in = read_file(EXAMPLE_CONFIG);
    INFO(
        "config/rtmpt-gateway.example.yaml differs from the table; regenerate it with\n"
        "  ./build/gateway/rtmpt-gateway --print-example-config > config/rtmpt-gateway.example.yaml");
    CHECK(checked_in == generated);
}

TEST_CASE("the generated example loads as the defaults and documents every key") {
    const std::string text = example_yaml();
    const LoadResult r = load_string(text, "example.yaml");
    for (const ConfigError& e : r.errors) FAIL_CHECK(format_error(e));
    REQUIRE(r.config);
    CHECK(*r.config == Config{});
    for (const Directive& d : directives()) {
        CAPTURE(d.name);
        // The first words of the help stand in a comment somewhere.
        const std::string_view first = d.help.substr(0, d.help.find(' ', 20));
        CHECK(text.find(std::string(first)) != std::string::npos);
    }
    CHECK(text.find("Must be at least session.reply_max_bytes") != std::string::npos);
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        CAPTURE(line);
        CHECK(line.size() <= 100);
        CHECK((line.empty() || line.back() != ' '));
    }
}

TEST_CASE("wrap fills lines up to the width, a long word alone") {
    CHECK(wrap("", "# ", 10).empty());
    CHECK(wrap("one two three", "# ", 9) == "# one two\n# three\n");
    CHECK(wrap("a verylongword b", "  ", 6) == "  a\n  verylongword\n  b\n");
    CHECK(wrap("  spaced   out  ", "", 80) == "spaced out\n");
}

TEST_CASE("default_items splits list defaults") {
    const Directive* listen = find_directive("listen");
    REQUIRE(listen != nullptr);
    CHECK(default_items(*listen) == std::vector<std::string>{"0.0.0.0:80"});
    Directive two = *listen;
    two.default_text = "0.0.0.0:80, [::]:80";
    CHECK(default_items(two) == std::vector<std::string>{"0.0.0.0:80", "[::]:80"});
    const Directive* allow = find_directive("access.allow");
    REQUIRE(allow != nullptr);
    CHECK(default_items(*allow).empty());
}
