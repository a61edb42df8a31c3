#include "gateway/process/cli.hpp"

#include "config/config.hpp"
#include "config/example.hpp"

#include <array>

namespace rtmpt::gateway {
namespace {

constexpr std::size_t kHelpColumn = 24;
constexpr std::size_t kWidth = 96;

constexpr std::array kOptions{
    OptionInfo{"-c", "--config", "FILE",
               "Configuration file (default /etc/rtmpt-gateway/rtmpt-gateway.yaml)."},
    OptionInfo{"-t", "--test-config", "",
               "Check the configuration (and that process.user and process.group exist), print any "
               "errors, exit 0 if valid, 1 if not."},
    OptionInfo{"-V", "--version", "", "Print the version."},
    OptionInfo{"-h", "--help", "", "Print this help and every configuration key."},
    OptionInfo{"", "--print-example-config", "",
               "Print the example configuration generated from the key table.", true},
    OptionInfo{"", "--print-man-page", "", "Print the rtmpt-gateway(8) manual page (troff).", true},
};

}  // namespace

std::span<const OptionInfo> options() {
    return kOptions;
}

std::optional<CommandLine> parse_command_line(int argc, char** argv, std::string& error) {
    CommandLine cl;
    bool test = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "-c" || arg == "--config") {
            if (i + 1 >= argc) {
                error = std::string(arg) + " needs a file name";
                return std::nullopt;
            }
            cl.config_path = argv[++i];
        } else if (arg == "-t" || arg == "--test-config") {
            test = true;
        } else if (arg == "-V" || arg == "--version") {
            cl.action = CommandLine::Action::version;
            return cl;
        } else if (arg == "-h" || arg == "--help") {
            cl.action = CommandLine::Action::help;
            return cl;
        } else if (arg == "--print-example-config") {
            cl.action = CommandLine::Action::print_example_config;
            return cl;
        } else if (arg == "--print-man-page") {
            cl.action = CommandLine::Action::print_man_page;
            return cl;
        } else {
            error = "unknown argument: " + std::string(arg);
            return std::nullopt;
        }
    }
    if (test) cl.action = CommandLine::Action::test_config;
    return cl;
}

std::string usage_text() {
    std::string out =
        "Usage: rtmpt-gateway [-c FILE] [-t]\n"
        "RTMPT (RTMP tunnelled in HTTP) gateway in front of a native RTMP server.\n\n";
    for (const OptionInfo& o : kOptions) {
        if (o.hidden) continue;
        std::string names = o.short_name.empty() ? "    " : std::string(o.short_name) + ", ";
        names += o.long_name;
        if (!o.argument.empty()) names += " " + std::string(o.argument);
        std::string text = config::wrap(o.help, std::string(kHelpColumn, ' '), kWidth);
        text.replace(0, names.size() + 2, "  " + names);
        out += text;
    }
    return out + "\nConfiguration keys:\n" + config::describe_keys();
}

}  // namespace rtmpt::gateway
