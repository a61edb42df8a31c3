#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/directives.hpp"

using namespace rtmpt::config;

namespace {

[[nodiscard]] std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

}  // namespace

TEST_CASE("describe_keys: one aligned row per directive, help below it") {
    const std::string text = describe_keys();
    const auto lines = lines_of(text);
    REQUIRE(lines.size() > directives().size());
    CHECK(lines[0].starts_with("KEY"));
    const std::size_t type_column = lines[0].find("TYPE");
    const std::size_t default_column = lines[0].find("DEFAULT");
    const std::size_t allowed_column = lines[0].find("ALLOWED");
    REQUIRE(type_column != std::string::npos);

    std::size_t i = 1;
    for (const Directive& d : directives()) {
        CAPTURE(d.name);
        REQUIRE(i < lines.size());
        const std::string& row = lines[i++];
        CHECK(row.starts_with(std::string(d.name) + " "));
        CHECK(row.substr(type_column).starts_with(type_name(d.type)));
        const std::string shown = d.default_text.empty() ? "\"\"" : std::string(d.default_text);
        CHECK(row.substr(default_column).starts_with(shown));
        CHECK(row.size() > allowed_column);
        CHECK(row.back() != ' ');
        // The help follows, indented, over one or more lines.
        REQUIRE(i < lines.size());
        CHECK(lines[i].starts_with("    "));
        std::string help;
        while (i < lines.size() && lines[i].starts_with("    ")) {
            CHECK(lines[i].size() <= 96);
            help += (help.empty() ? "" : " ") + lines[i++].substr(4);
        }
        CHECK(help == std::string(d.help) + (d.reloadable ? "" : " Changes need a restart."));
    }
    CHECK(text.find("session.queue_max_bytes must be at least session.reply_max_bytes") != std::string::npos);
    CHECK(text.find("Durations take a unit") != std::string::npos);
    CHECK(text.find("1..1000000") != std::string::npos);
    CHECK(text.find("debug|info|warn|error") != std::string::npos);
}
