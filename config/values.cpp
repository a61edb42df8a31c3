#include "config/values.hpp"

#include <algorithm>
#include <array>
#include <type_traits>
#include <utility>

#include "config/host_port.hpp"
#include "proto/session_id.hpp"

namespace rtmpt::config {
namespace {

struct LevelName {
    LogLevel level;
    std::string_view name;
};
constexpr std::array<LevelName, 4> kLevels{{{LogLevel::debug, "debug"},
                                            {LogLevel::info, "info"},
                                            {LogLevel::warn, "warn"},
                                            {LogLevel::error, "error"}}};

[[nodiscard]] std::string level_list(std::string_view separator) {
    std::string out;
    for (const LevelName& l : kLevels) {
        if (!out.empty()) out += separator;
        out += l.name;
    }
    return out;
}

[[nodiscard]] std::string join(std::span<const std::string_view> words, std::string_view separator) {
    std::string out;
    for (const std::string_view w : words) {
        if (!out.empty()) out += separator;
        out += w;
    }
    return out;
}

[[nodiscard]] std::optional<std::string> check_range(const Directive& d, std::uint64_t value,
                                                     std::string_view what, std::string_view text) {
    if (value >= d.min && value <= d.max) return std::nullopt;
    std::string message(what);
    message += "must be between " + format_bound(d, d.min) + " and " + format_bound(d, d.max) + ", got ";
    message += text;
    return message;
}

// HTTP token characters (RFC 9110, 5.6.2).
[[nodiscard]] bool is_tchar(char c) {
    constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           kSpecials.find(c) != std::string_view::npos;
}

[[nodiscard]] bool is_token(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

[[nodiscard]] bool is_mime_type(std::string_view s) {
    const std::size_t slash = s.find('/');
    return slash != std::string_view::npos && is_token(s.substr(0, slash)) && is_token(s.substr(slash + 1));
}

[[nodiscard]] bool is_printable(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

[[nodiscard]] std::optional<std::string> check_string(const Directive& d, std::string_view text) {
    if (text.size() < d.min) {
        return d.min == 1 ? "must not be empty" : "must be at least " + std::to_string(d.min) + " bytes";
    }
    if (text.size() > d.max) {
        return "must be at most " + std::to_string(d.max) + " bytes, got " + std::to_string(text.size());
    }
    switch (d.rule) {
        case StringRule::none:
            break;
        case StringRule::printable:
            if (!is_printable(text))
                return "must be printable ASCII, without control characters such as CR or LF";
            break;
        case StringRule::mime_type:
            if (!is_mime_type(text))
                return "expected a MIME type like application/x-fcs, got " + quoted(text);
            break;
        case StringRule::choice:
            if (std::find(d.choices.begin(), d.choices.end(), text) == d.choices.end())
                return "expected one of " + join(d.choices, ", ") + ", got " + quoted(text);
            break;
        case StringRule::node_tag:
            // Empty means no tag; the length bounds were checked above.
            if (!text.empty() && !proto::is_valid_node_tag(text))
                return "may hold only letters, digits, '-' and '_', got " + quoted(text);
            break;
    }
    return std::nullopt;
}

// The numeric types share their shape: parse, check the bounds, store.
template <class T>
[[nodiscard]] std::optional<std::string> store_number(const Directive& d, const Parsed<std::uint64_t>& parsed,
                                                      std::string_view text, Config& config) {
    if (!parsed.value) return parsed.error;
    if (auto error = check_range(d, *parsed.value, "", text)) return error;
    // In range, so it fits: a unit test checks every row's max fits its field.
    *std::get<T*>(d.slot(config)) = static_cast<T>(*parsed.value);
    return std::nullopt;
}

}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view text) {
    for (const LevelName& l : kLevels) {
        if (l.name == text) return l.level;
    }
    return std::nullopt;
}

std::string_view log_level_name(LogLevel level) {
    for (const LevelName& l : kLevels) {
        if (l.level == level) return l.name;
    }
    return "?";
}

Parsed<proto::IpNetwork> parse_network(std::string_view text) {
    proto::IpNetwork::Parsed parsed = proto::IpNetwork::parse(text);
    if (!parsed.network) return Parsed<proto::IpNetwork>::fail(parsed.error + ", got " + quoted(text));
    return Parsed<proto::IpNetwork>::ok(*parsed.network);
}

// YAML 1.2's core schema spellings; "yes"/"on" are YAML 1.1 and mean a string to most readers now.
std::optional<bool> parse_boolean(std::string_view text) {
    for (std::string_view t : {"true", "True", "TRUE"}) {
        if (text == t) return true;
    }
    for (std::string_view f : {"false", "False", "FALSE"}) {
        if (text == f) return false;
    }
    return std::nullopt;
}

Parsed<HostPort> parse_address(const Directive& d, std::string_view text) {
    Parsed<HostPort> parsed = parse_host_port(text);
    if (!parsed.value) return parsed;
    if (auto error = check_range(d, parsed.value->port, "port ", std::to_string(parsed.value->port))) {
        return Parsed<HostPort>::fail(*error);
    }
    return parsed;
}

std::optional<std::string> assign_scalar(const Directive& d, std::string_view text, Config& config) {
    switch (d.type) {
        case ValueType::duration: {
            const Parsed<Duration> parsed = parse_duration(text);
            if (!parsed.value) return parsed.error;
            if (auto error = check_range(d, static_cast<std::uint64_t>(parsed.value->count()), "", text)) {
                return error;
            }
            *std::get<Duration*>(d.slot(config)) = *parsed.value;
            return std::nullopt;
        }
        case ValueType::size:
            return store_number<std::size_t>(d, parse_size(text), text, config);
        case ValueType::count:
            return store_number<std::uint32_t>(d, parse_count(text), text, config);
        case ValueType::string:
            if (auto error = check_string(d, text)) return error;
            *std::get<std::string*>(d.slot(config)) = std::string(text);
            return std::nullopt;
        case ValueType::host_port:
        case ValueType::host_port_list: {
            Parsed<HostPort> parsed = parse_address(d, text);
            if (!parsed.value) return parsed.error;
            // A single address where a list is expected is taken as a list of one.
            if (d.type == ValueType::host_port) {
                *std::get<HostPort*>(d.slot(config)) = std::move(*parsed.value);
            } else {
                *std::get<std::vector<HostPort>*>(d.slot(config)) = {std::move(*parsed.value)};
            }
            return std::nullopt;
        }
        case ValueType::boolean: {
            const std::optional<bool> value = parse_boolean(text);
            if (!value) return "expected true or false, got " + quoted(text);
            *std::get<bool*>(d.slot(config)) = *value;
            return std::nullopt;
        }
        case ValueType::network_list: {
            Parsed<proto::IpNetwork> parsed = parse_network(text);
            if (!parsed.value) return parsed.error;
            *std::get<std::vector<proto::IpNetwork>*>(d.slot(config)) = {*parsed.value};
            return std::nullopt;
        }
        case ValueType::log_level: {
            const std::optional<LogLevel> level = parse_log_level(text);
            if (!level) return "expected one of " + level_list(", ") + ", got " + quoted(text);
            *std::get<LogLevel*>(d.slot(config)) = *level;
            return std::nullopt;
        }
    }
    return "unsupported type";
}

void assign_list(const Directive& d, std::vector<HostPort> addresses, Config& config) {
    *std::get<std::vector<HostPort>*>(d.slot(config)) = std::move(addresses);
}

void assign_list(const Directive& d, std::vector<proto::IpNetwork> networks, Config& config) {
    *std::get<std::vector<proto::IpNetwork>*>(d.slot(config)) = std::move(networks);
}

std::string format_value(const Directive& d, const Config& config) {
    Config copy = config;  // slots hand out mutable pointers; reading through a copy keeps `config` const
    const Slot slot = d.slot(copy);
    return std::visit(
        [&](const auto* p) -> std::string {
            using T = std::remove_cvref_t<decltype(*p)>;
            if constexpr (std::is_same_v<T, Duration>) {
                return format_duration(*p);
            } else if constexpr (std::is_same_v<T, std::size_t>) {
                return format_size(*p);
            } else if constexpr (std::is_same_v<T, std::uint32_t>) {
                return std::to_string(*p);
            } else if constexpr (std::is_same_v<T, std::string>) {
                return *p;
            } else if constexpr (std::is_same_v<T, bool>) {
                return *p ? "true" : "false";
            } else if constexpr (std::is_same_v<T, std::vector<proto::IpNetwork>>) {
                if (p->empty()) return "[]";
                std::string out;
                for (const proto::IpNetwork& n : *p) out += (out.empty() ? "" : ", ") + n.to_string();
                return out;
            } else if constexpr (std::is_same_v<T, HostPort>) {
                return format_host_port(*p);
            } else if constexpr (std::is_same_v<T, std::vector<HostPort>>) {
                if (p->empty()) return "[]";
                std::string out;
                for (const HostPort& hp : *p) out += (out.empty() ? "" : ", ") + format_host_port(hp);
                return out;
            } else {
                static_assert(std::is_same_v<T, LogLevel>);
                return std::string(log_level_name(*p));
            }
        },
        slot);
}

std::optional<std::uint64_t> numeric_value(const Directive& d, const Config& config) {
    Config copy = config;
    const Slot slot = d.slot(copy);
    switch (d.type) {
        case ValueType::duration:
            return static_cast<std::uint64_t>(std::get<Duration*>(slot)->count());
        case ValueType::size:
            return *std::get<std::size_t*>(slot);
        case ValueType::count:
            return *std::get<std::uint32_t*>(slot);
        case ValueType::string:
        case ValueType::boolean:
        case ValueType::host_port:
        case ValueType::host_port_list:
        case ValueType::network_list:
        case ValueType::log_level:
            break;
    }
    return std::nullopt;
}

std::string format_bound(const Directive& d, std::uint64_t value) {
    switch (d.type) {
        case ValueType::duration:
            return format_duration(Duration{static_cast<Duration::rep>(value)});
        case ValueType::size:
            return format_size(value);
        case ValueType::count:
        case ValueType::string:
        case ValueType::boolean:
        case ValueType::host_port:
        case ValueType::host_port_list:
        case ValueType::network_list:
        case ValueType::log_level:
            break;
    }
    return std::to_string(value);
}

std::string describe_bounds(const Directive& d) {
    const std::string range = format_bound(d, d.min) + ".." + format_bound(d, d.max);
    switch (d.type) {
        case ValueType::duration:
        case ValueType::size:
        case ValueType::count:
            return range;
        case ValueType::host_port:
            return "port " + range;
        case ValueType::host_port_list:
            return "port " + range + (d.may_be_empty ? ", may be empty" : ", at least one");
        case ValueType::boolean:
            return "true|false";
        case ValueType::network_list:
            return "IP networks in CIDR notation, may be empty";
        case ValueType::log_level:
            return level_list("|");
        case ValueType::string:
            break;
    }
    std::string out;
    switch (d.rule) {
        case StringRule::none:
            break;
        case StringRule::printable:
            out = "printable ASCII, ";
            break;
        case StringRule::mime_type:
            out = "type/subtype, ";
            break;
        case StringRule::choice:
            return join(d.choices, "|");
        case StringRule::node_tag:
            out = "letters, digits, '-', '_', ";
            break;
    }
    return out + range + " bytes";
}

}  // namespace rtmpt::config
