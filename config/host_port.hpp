// "host:port" addresses as written in the config: "0.0.0.0:80", "[::1]:8080", "backend.example:1935".
#pragma once

#include <string>
#include <string_view>

#include "config/config.hpp"
#include "config/units.hpp"

namespace rtmpt::config {

// Checks the syntax only (nothing is resolved): the host must be an IPv4 address, a bracketed IPv6
// address (optionally with a %zone) or a DNS name; the port any number 0..65535. Port bounds that
// depend on the use (a backend cannot be port 0) are the caller's.
[[nodiscard]] Parsed<HostPort> parse_host_port(std::string_view text);

// The inverse: IPv6 hosts get their brackets back.
[[nodiscard]] std::string format_host_port(const HostPort& hp);

// Same address for duplicate detection: host names compare case-insensitively.
[[nodiscard]] bool same_address(const HostPort& a, const HostPort& b);

}  // namespace rtmpt::config
