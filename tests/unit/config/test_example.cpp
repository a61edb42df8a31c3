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
    // Show the first line that differs rather than both files.
    std::istringstream a(checked_in);
    std::istringstream b(generated);
    std::string line_a;
    std::string line_b;
    int line = 0;
    bool more_a = true;
    bool more_b = true;
    while (more_a || more_b) {
        ++line;
        more_a = static_cast<bool>(std::getline(a, line_a));
        more_b = static_cast<bool>(std::getline(b, line_b));
        if (!more_a) line_a = "(end of file)";
        if (!more_b) line_b = "(end of file)";
        if (line_a != line_b) break;
    }
    const bool same = checked_in == generated;
    CHECK_MESSAGE(same, "config/rtmpt-gateway.example.yaml:"
                            << line << " is\n  " << line_a << "\nbut the table gives\n  " << line_b
                            << "\nRegenerate the file:\n  ./build/gateway/rtmpt-gateway "
                               "--print-example-config > "
                               "config/rtmpt-gateway.example.yaml");
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
