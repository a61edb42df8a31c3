// The worker's counters, generated from one list so that adding one is one line. Every limit
// the gateway enforces has a counter here; they are logged as one `stats` line at shutdown
// (and will feed the metrics endpoint).
#pragma once

#include "gateway/close_reason.hpp"

#include <array>
#include <cstdint>
#include <string>

namespace rtmpt::gateway {

// X(name, help)
#define RTMPT_GATEWAY_COUNTERS(X)                                                                      \
    X(connections_accepted, "client connections accepted")                                             \
    X(connections_refused, "client connections closed at accept: http.max_connections")                \
    X(accept_pauses, "accepting paused for lack of file descriptors")                                  \
    X(requests, "HTTP requests parsed")                                                                \
    X(sessions_opened, "sessions opened")                                                              \
    X(refused_max_sessions, "opens refused with 503: session.max_sessions")                            \
    X(refused_draining, "opens refused with 503: shutting down (SIGTERM or SIGINT)")                   \
    X(refused_per_client, "opens refused with 429: session.max_sessions_per_client")                   \
    X(refused_access, "opens refused with 403: access.deny or access.allow")                           \
    X(refused_other_client, "requests refused with 403: access.bind_session_to_client")                \
    X(forwarded_unreadable, "X-Forwarded-For of a trusted proxy with an entry that is no address")     \
    X(refused_queue_full, "requests refused with 503: bodies waiting past session.queue_max_bytes")    \
    X(refused_stale_sequence, "requests refused with 400: sequence number older than the reply cache") \
    X(refused_retries, "requests refused with 400: a waiting request retried too often")               \
    X(refused_malformed, "requests refused with 400: malformed HTTP")                                  \
    X(refused_upgrade, "requests refused with 400: protocol upgrade")                                  \
    X(refused_header_too_large, "requests refused with 431: http.max_header_bytes")                    \
    X(refused_body_too_large, "requests refused with 413: http.max_body_bytes")                        \
    X(refused_header_timeout, "connections closed with 408: http.header_timeout")                      \
    X(requests_truncated, "connections closed by the client in the middle of a request")               \
    X(refused_method, "requests refused with 405: not POST")                                           \
    X(unknown_path, "requests answered 404: not an RTMPT path")                                        \
    X(unknown_session, "requests answered 404: no such session")                                       \
    X(retries_from_cache, "retried requests answered from the reply cache")                            \
    X(write_timeouts, "client connections reset: no reply bytes taken for http.keepalive_timeout")     \
    X(bytes_up, "client bytes forwarded to backends")                                                  \
    X(bytes_down, "backend bytes delivered to clients")                                                \
    X(log_lines_dropped, "log lines dropped: stderr took none for a 1 MiB backlog")                    \
    X(reloads, "configuration reloads applied (SIGHUP)")                                               \
    X(reloads_failed, "configuration reloads refused: errors in the file or a listen address unusable")

struct Counters {
#define RTMPT_DECLARE_COUNTER(name, help) std::uint64_t name = 0;
    RTMPT_GATEWAY_COUNTERS(RTMPT_DECLARE_COUNTER)
#undef RTMPT_DECLARE_COUNTER
    std::array<std::uint64_t, kCloseReasonCount> sessions_closed{};

    // "name=value ..." for every counter, then closed_<reason>=value.
    [[nodiscard]] std::string format() const;
};

}  // namespace rtmpt::gateway
