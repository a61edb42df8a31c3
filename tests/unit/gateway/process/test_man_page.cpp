#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "config/directives.hpp"
#include "gateway/process/cli.hpp"
#include "gateway/process/man_page.hpp"

using namespace rtmpt;

namespace {

[[nodiscard]] std::optional<gateway::CommandLine> parse(std::vector<std::string> args) {
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    std::string error;
    return gateway::parse_command_line(static_cast<int>(argv.size()), argv.data(), error);
}

}  // namespace

TEST_CASE("troff_escape: backslashes, minus signs, control characters at line starts") {
    CHECK(gateway::troff_escape("a\\b") == "a\\eb");
    CHECK(gateway::troff_escape("-t") == "\\-t");
    CHECK(gateway::troff_escape(".TH x\n'br\nok. 'no'") == "\\&.TH x\n\\&'br\nok. 'no'");
}

TEST_CASE("the man page has its sections, every option and every key") {
    const std::string page = gateway::man_page("1.2.3");
    CHECK(page.find(".TH RTMPT\\-GATEWAY 8 \"\" \"rtmpt\\-gateway 1.2.3\"") != std::string::npos);
    for (const char* section :
         {".SH NAME\n", ".SH SYNOPSIS\n", ".SH DESCRIPTION\n", ".SH OPTIONS\n", ".SH CONFIGURATION\n",
          ".SH SIGNALS\n", ".SH FILES\n", ".SH \"SEE ALSO\"\n"}) {
        CAPTURE(section);
        CHECK(page.find(section) != std::string::npos);
    }
    for (const gateway::OptionInfo& o : gateway::options()) {
        CAPTURE(o.long_name);
        const bool shown =
            page.find("\\fB" + gateway::troff_escape(o.long_name) + "\\fR") != std::string::npos;
        CHECK(shown == !o.hidden);
    }
    for (const config::Directive& d : config::directives()) {
        CAPTURE(d.name);
        CHECK(page.find(".TP\n\\fB" + gateway::troff_escape(d.name) + "\\fR\n") != std::string::npos);
        CHECK(page.find(gateway::troff_escape(d.help)) != std::string::npos);
    }
    // Outside .nf blocks no line may start with a space or be empty: both break filling in man(7).
    std::size_t start = 0;
    bool no_fill = false;
    while (start < page.size()) {
        const std::size_t end = page.find('\n', start);
        REQUIRE(end != std::string::npos);
        const std::string line = page.substr(start, end - start);
        CAPTURE(line);
        if (line == ".nf") no_fill = true;
        if (line == ".fi") no_fill = false;
        CHECK(!line.empty());
        CHECK((no_fill || line[0] != ' '));
        start = end + 1;
    }
}

TEST_CASE("every option in the table is accepted; the documentation flags print, nothing else") {
    for (const gateway::OptionInfo& o : gateway::options()) {
        CAPTURE(o.long_name);
        std::vector<std::string> args{"rtmpt-gateway", std::string(o.long_name)};
        if (!o.argument.empty()) args.emplace_back("x");
        CHECK(parse(args).has_value());
        if (!o.short_name.empty()) {
            args[1] = o.short_name;
            CHECK(parse(args).has_value());
        }
    }
    CHECK(parse({"rtmpt-gateway", "--print-example-config"})->action ==
          gateway::CommandLine::Action::print_example_config);
    CHECK(parse({"rtmpt-gateway", "--print-man-page"})->action ==
          gateway::CommandLine::Action::print_man_page);
    CHECK(parse({"rtmpt-gateway"})->config_path == gateway::kDefaultConfigPath);
    CHECK_FALSE(parse({"rtmpt-gateway", "--print-man"}).has_value());
    const std::string usage = gateway::usage_text();
    CHECK(usage.find("--print-man-page") == std::string::npos);
    CHECK(usage.find("\n  -t, --test-config     Check the configuration") != std::string::npos);
}
