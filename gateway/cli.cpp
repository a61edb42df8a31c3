#include "gateway/cli.hpp"

#include "config/config.hpp"

#include <string_view>

namespace rtmpt::gateway {

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
        } else {
            error = "unknown argument: " + std::string(arg);
            return std::nullopt;
        }
    }
    if (test) cl.action = CommandLine::Action::test_config;
    return cl;
}

std::string usage_text() {
    return "Usage: rtmpt-gateway [-c FILE] [-t]\n"
           "RTMPT (RTMP tunnelled in HTTP) gateway in front of a native RTMP server.\n\n"
           "  -c, --config FILE   configuration file (default /etc/rtmpt-gateway/rtmpt-gateway.yaml)\n"
           "  -t, --test-config   check the configuration, print any errors, exit 0 if valid, 1 if not\n"
           "  -V, --version       print the version\n"
           "  -h, --help          this help and every configuration key\n\n"
           "Configuration keys:\n" +
           config::describe_keys();
}

}  // namespace rtmpt::gateway
