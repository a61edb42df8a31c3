// Command-line arguments.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace rtmpt::gateway {

inline constexpr std::string_view kDefaultConfigPath = "/etc/rtmpt-gateway/rtmpt-gateway.yaml";

struct CommandLine {
    enum class Action { run, test_config, version, help, print_example_config, print_man_page };
    Action action = Action::run;
    std::string config_path{kDefaultConfigPath};
};

// One command-line option, as `--help` and the man page describe it.
struct OptionInfo {
    std::string_view short_name;  // "-c"; empty when there is none
    std::string_view long_name;   // "--config"
    std::string_view argument;    // "FILE"; empty for a flag
    std::string_view help;
    bool hidden = false;  // left out of --help and the man page (build-time helpers)
};

[[nodiscard]] std::span<const OptionInfo> options();

// Returns nullopt (after writing the problem into `error`) for arguments that make no sense.
[[nodiscard]] std::optional<CommandLine> parse_command_line(int argc, char** argv, std::string& error);

[[nodiscard]] std::string usage_text();

}  // namespace rtmpt::gateway
