// Command-line arguments.
#pragma once

#include <optional>
#include <string>

namespace rtmpt::gateway {

struct CommandLine {
    enum class Action { run, test_config, version, help };
    Action action = Action::run;
    std::string config_path = "/etc/rtmpt-gateway/rtmpt-gateway.yaml";
};

// Returns nullopt (after writing the problem into `error`) for arguments that make no sense.
[[nodiscard]] std::optional<CommandLine> parse_command_line(int argc, char** argv, std::string& error);

[[nodiscard]] std::string usage_text();

}  // namespace rtmpt::gateway
