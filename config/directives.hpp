// The directive table: every config key, described once as data. The loader walks a YAML file
// against it, `--help` prints it, and the example config and man page are meant to be generated
// from it; adding a key means adding a row (and a field in config.hpp), nothing else.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "config/config.hpp"

namespace rtmpt::config {

enum class ValueType {
    duration,
    size,
    count,
    string,
    boolean,
    host_port,
    host_port_list,
    network_list,  // IP networks in CIDR notation; may be empty
    log_level,
};

// Types whose value may be a YAML list (or one scalar, taken as a list of one).
[[nodiscard]] constexpr bool is_list(ValueType type) {
    return type == ValueType::host_port_list || type == ValueType::network_list;
}

// Extra syntax a string must follow, on top of its length bounds.
enum class StringRule {
    none,
    printable,  // printable ASCII only: the text is sent verbatim in HTTP, where CR/LF would split it
    mime_type,  // "type/subtype" of HTTP token characters
    choice,     // one of the row's `choices`, exactly
    node_tag,   // [A-Za-z0-9_-] only: it starts every session id, in URLs and load-balancer rules
};

// Where a directive's value lives in Config; the alternative held must match the row's type.
using Slot = std::variant<Duration*, std::size_t*, std::uint32_t*, std::string*, bool*, HostPort*,
                          std::vector<HostPort>*, std::vector<proto::IpNetwork>*, LogLevel*>;

struct Directive {
    std::string_view name;  // dotted path: "session.idle_timeout"
    ValueType type;
    std::string_view default_text;  // as written in a config file; a unit test checks it matches Config{}
    // Inclusive bounds, in the type's base unit: milliseconds for durations, bytes for sizes, the
    // number for counts, the length in bytes for strings, the port for host:port (and each list
    // item). Unused for booleans, network lists and log levels.
    std::uint64_t min = 0;
    std::uint64_t max = 0;
    StringRule rule = StringRule::none;
    std::span<const std::string_view> choices{};  // for StringRule::choice
    // False for keys a running gateway cannot change (the identity it has already switched to): a
    // reload keeps their running value and says a restart is needed.
    bool reloadable = true;
    std::string_view help;
    // host:port lists only: an empty list `[]` is allowed and means "none" (a listener that is
    // off). Otherwise a list must name at least one address.
    bool may_be_empty = false;
    Slot (*slot)(Config&);
};

// Cross-key rule: the value of `key` must be >= the value of `other` (both numeric directives).
struct AtLeast {
    std::string_view key;
    std::string_view other;
    std::string_view why;
};

[[nodiscard]] std::span<const Directive> directives();
[[nodiscard]] std::span<const AtLeast> at_least_rules();

// nullptr when no directive has that exact name.
[[nodiscard]] const Directive* find_directive(std::string_view name);

// True when `prefix` names a section, i.e. some directive is called "<prefix>.<something>".
[[nodiscard]] bool is_section(std::string_view prefix);

// "duration", "size", "host:port list", ...
[[nodiscard]] std::string_view type_name(ValueType type);

}  // namespace rtmpt::config
