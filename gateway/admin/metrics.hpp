// The /metrics page: the counters (gateway/loop/counters.hpp, generated from their one list) and the
// gauges read at scrape time, in the Prometheus text format. Pure: no event loop, so a unit test
// can check every family against the format's rules.
#pragma once

#include "gateway/loop/counters.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rtmpt::gateway {

inline constexpr std::string_view kMetricPrefix = "rtmpt_gateway_";

// What the worker reports at the moment of a scrape.
struct Gauges {
    std::uint64_t sessions_active = 0;
    std::uint64_t connections_open = 0;        // client (RTMPT) connections
    std::uint64_t admin_connections_open = 0;  // this scrape's own included
    std::uint64_t backend_lingering = 0;       // backend connections of ended sessions, still flushing
    std::uint64_t queued_up = 0;               // client bytes waiting for the backend, all sessions
    std::uint64_t queued_down = 0;             // backend bytes waiting for the client, all sessions
    double start_time_seconds = 0;             // Unix time the process started
    std::string_view version;
    // TLS certificates in use: file and seconds until they expire (negative once expired).
    std::vector<std::pair<std::string, double>> certificate_expiry;
};

[[nodiscard]] std::string render_metrics(const Counters& counters, const Gauges& gauges);

// "other" for requests that are no RTMPT route (and for those refused before their path was read).
[[nodiscard]] std::string_view request_kind_label(proto::RouteKind kind);

}  // namespace rtmpt::gateway
