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

// One worker's share, so that an operator can see an imbalance between them.
struct WorkerGauges {
    unsigned index = 0;
    std::uint64_t sessions_active = 0;
    std::uint64_t connections_open = 0;
    std::uint64_t requests = 0;              // HTTP requests parsed on its connections
    std::uint64_t requests_handed_over = 0;  // of those, carried to the session's own worker
    double cpu_seconds = 0;                  // its thread's CPU time
};

// What the workers report at the moment of a scrape, summed.
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
    std::vector<WorkerGauges> workers;  // by index
};

[[nodiscard]] std::string render_metrics(const Counters& counters, const Gauges& gauges);

// "other" for requests that are no RTMPT route (and for those refused before their path was read).
[[nodiscard]] std::string_view request_kind_label(proto::RouteKind kind);

}  // namespace rtmpt::gateway
