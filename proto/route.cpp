#include "proto/route.hpp"

#include "proto/session_id.hpp"

namespace rtmpt::proto {
namespace {

// Splits off the next '/'-separated segment; returns nullopt when none is left.
std::optional<std::string_view> next_segment(std::string_view& rest) {
    if (rest.empty()) return std::nullopt;
    const auto slash = rest.find('/');
    const auto segment = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    return segment;
}

std::optional<std::uint64_t> parse_seq(std::string_view digits) {
    // 19 digits always fit in 64 bits; real counters never come close.
    if (digits.empty() || digits.size() > 19) return std::nullopt;
    std::uint64_t value = 0;
    for (const char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return value;
}

RouteKind tunnel_kind(std::string_view command) {
    if (command == "send") return RouteKind::send;
    if (command == "idle") return RouteKind::idle;
    if (command == "close") return RouteKind::close;
    return RouteKind::unknown;
}

}  // namespace

Route parse_route(std::string_view target) {
    target = target.substr(0, target.find('?'));
    if (target == "/fcs/ident2") return Route{RouteKind::ident2, {}, std::nullopt};
    if (target == "/open/1") return Route{RouteKind::open, {}, std::nullopt};
    if (!target.starts_with('/')) return Route{};

    // "/send/<sid>/<seq>/" and the like: a trailing slash is never part of an RTMPT path.
    if (target.ends_with('/')) return Route{};
    std::string_view rest = target.substr(1);
    const auto command = next_segment(rest);
    const auto sid = next_segment(rest);
    const auto seq_text = next_segment(rest);
    if (!command || !sid || !rest.empty()) return Route{};

    const RouteKind kind = tunnel_kind(*command);
    if (kind == RouteKind::unknown || !is_well_formed_session_id(*sid)) return Route{};

    if (!seq_text) {
        // HaishinKit and RootEncoder close without a sequence number; nothing else may omit it.
        // A trailing slash ("/close/<sid>/") leaves an empty segment and is refused below.
        if (kind != RouteKind::close || target.ends_with('/')) return Route{};
        return Route{kind, *sid, std::nullopt};
    }
    const auto seq = parse_seq(*seq_text);
    if (!seq) return Route{};
    return Route{kind, *sid, seq};
}

std::string_view route_kind_name(RouteKind kind) {
    switch (kind) {
        case RouteKind::ident2:
            return "ident2";
        case RouteKind::open:
            return "open";
        case RouteKind::send:
            return "send";
        case RouteKind::idle:
            return "idle";
        case RouteKind::close:
            return "close";
        case RouteKind::unknown:
            break;
    }
    return "unknown";
}

}  // namespace rtmpt::proto
