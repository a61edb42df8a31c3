// Typed values of directives: text from the file -> checked value in Config, and back to text.
// All the per-type behaviour lives here so the directive table can stay plain data.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/directives.hpp"
#include "config/units.hpp"

namespace rtmpt::config {

// Parses `text` as the value of `d` (a list type takes it as a list of one), checks it against the row's
// bounds and rules, and stores it in `config`. Returns an error message, or nullopt when stored.
[[nodiscard]] std::optional<std::string> assign_scalar(const Directive& d, std::string_view text,
                                                       Config& config);

// One address for a host_port or host_port_list directive: syntax, then the row's port bounds.
[[nodiscard]] Parsed<HostPort> parse_address(const Directive& d, std::string_view text);

// One item of a network_list directive: "10.0.0.0/8", "2001:db8::/32", or one address.
[[nodiscard]] Parsed<proto::IpNetwork> parse_network(std::string_view text);

// Store the already checked items of a list directive.
void assign_list(const Directive& d, std::vector<HostPort> addresses, Config& config);
void assign_list(const Directive& d, std::vector<proto::IpNetwork> networks, Config& config);

[[nodiscard]] std::optional<bool> parse_boolean(std::string_view text);

// The value of `d` in `config` as it would be written in a config file: "60s", "64KiB", "[::]:80".
// Lists are joined with ", "; an empty network list is "[]".
[[nodiscard]] std::string format_value(const Directive& d, const Config& config);

// The value of a duration (ms), size (bytes) or count directive, for cross-key checks; nullopt for
// the other types.
[[nodiscard]] std::optional<std::uint64_t> numeric_value(const Directive& d, const Config& config);

// A number in the unit of `d`'s type: format_bound(idle_timeout, 86400000) == "24h".
[[nodiscard]] std::string format_bound(const Directive& d, std::uint64_t value);

// The allowed values of `d` in words, for --help: "1s..24h", "port 1..65535", "debug|info|warn|error".
[[nodiscard]] std::string describe_bounds(const Directive& d);

[[nodiscard]] std::optional<LogLevel> parse_log_level(std::string_view text);

}  // namespace rtmpt::config
