// Maps an RTMPT request path onto what it asks for. Pure: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace rtmpt::proto {

enum class RouteKind {
    unknown,  // any path that is not RTMPT: answered 404
    ident2,   // /fcs/ident2: asks for the node's public address (FMS HTTPIdent2)
    open,     // /open/1: creates a session
    send,     // /send/<sid>/<seq>: carries client RTMP bytes
    idle,     // /idle/<sid>/<seq>: polls for backend bytes
    close,    // /close/<sid>[/<seq>]: ends the session
};

struct Route {
    RouteKind kind = RouteKind::unknown;
    std::string_view session_id;  // points into the parsed path
    std::optional<std::uint64_t> seq;
};

// The path may carry a query string, which is ignored (some proxies append cache busters).
[[nodiscard]] Route parse_route(std::string_view target);

[[nodiscard]] std::string_view route_kind_name(RouteKind kind);

}  // namespace rtmpt::proto
