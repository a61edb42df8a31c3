// The worker's counters, generated from one list so that adding one is one line. Every limit
// the gateway enforces has a counter here; they are logged as one `stats` line at shutdown and
// exported by the admin listener's /metrics (gateway/admin/metrics.cpp), both from this list.
#pragma once

#include "gateway/tunnel/close_reason.hpp"
#include "gateway/tunnel/transport.hpp"
#include "proto/histogram.hpp"
#include "proto/route.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

namespace rtmpt::gateway {

// X(name, family, label, help). On /metrics a counter is rtmpt_gateway_<family>_total; `label`
// is its value of the family's label (kCounterFamilies) when several counters share the family,
// "" when it has the family to itself. `help` is the family's help text in that case.
#define RTMPT_GATEWAY_COUNTERS(X)                                                                            \
    X(connections_accepted, "connections_accepted", "", "client connections accepted")                       \
    X(connections_refused, "refusals", "max_connections",                                                    \
      "client connections closed at accept: http.max_connections")                                           \
    X(accept_pauses, "accept_pauses", "", "accepting paused for lack of file descriptors")                   \
    X(requests, "requests_parsed", "", "HTTP requests parsed")                                               \
    X(requests_handed_over, "requests_handed_over", "",                                                      \
      "tunnel requests carried to the worker that owns their session (process.workers)")                     \
    X(sessions_opened, "sessions_opened", "", "sessions opened")                                             \
    X(refused_max_sessions, "refusals", "max_sessions", "opens refused with 503: session.max_sessions")      \
    X(refused_draining, "refusals", "draining", "opens refused with 503: shutting down (SIGTERM or SIGINT)") \
    X(refused_per_client, "refusals", "per_client",                                                          \
      "opens refused with 429: session.max_sessions_per_client")                                             \
    X(refused_access, "refusals", "access", "opens refused with 403: access.deny or access.allow")           \
    X(refused_other_client, "refusals", "other_client",                                                      \
      "requests refused with 403: access.bind_session_to_client")                                            \
    X(forwarded_unreadable, "forwarded_unreadable", "",                                                      \
      "X-Forwarded-For of a trusted proxy with an entry that is no address")                                 \
    X(refused_queue_full, "refusals", "queue_full",                                                          \
      "requests refused with 503: bodies waiting past session.queue_max_bytes")                              \
    X(refused_stale_sequence, "refusals", "stale_sequence",                                                  \
      "requests refused with 400: sequence number older than the reply cache")                               \
    X(refused_retries, "refusals", "retries",                                                                \
      "requests refused with 400: a waiting request retried too often")                                      \
    X(refused_malformed, "refusals", "malformed", "requests refused with 400: malformed HTTP")               \
    X(refused_upgrade, "refusals", "upgrade", "requests refused with 400: protocol upgrade")                 \
    X(refused_header_too_large, "refusals", "header_too_large",                                              \
      "requests refused with 431: http.max_header_bytes")                                                    \
    X(refused_body_too_large, "refusals", "body_too_large",                                                  \
      "requests refused with 413: http.max_body_bytes")                                                      \
    X(refused_header_timeout, "refusals", "header_timeout",                                                  \
      "connections closed with 408: http.header_timeout")                                                    \
    X(requests_truncated, "requests_truncated", "",                                                          \
      "connections closed by the client in the middle of a request")                                         \
    X(refused_method, "refusals", "method", "requests refused with 405: not POST")                           \
    X(unknown_path, "unknown_path", "", "requests answered 404: not an RTMPT path")                          \
    X(unknown_session, "unknown_session", "", "requests answered 404: no such session")                      \
    X(retries_from_cache, "retries_from_cache", "", "retried requests answered from the reply cache")        \
    X(sequence_start_reordered, "sequence_starts", "reordered",                                              \
      "sessions whose seq 0 arrived after their seq 1, within session.sequence_base_wait")                   \
    X(sequence_start_one, "sequence_starts", "one",                                                          \
      "sessions whose numbers start at 1: no seq 0 within session.sequence_base_wait")                       \
    X(write_timeouts, "write_timeouts", "",                                                                  \
      "client connections reset: no reply bytes taken for http.keepalive_timeout")                           \
    X(bytes_up, "bytes", "up", "client bytes forwarded to backends")                                         \
    X(bytes_down, "bytes", "down", "backend bytes delivered to clients")                                     \
    X(replies_empty, "poll_replies", "empty", "send and idle replies without backend bytes")                 \
    X(replies_data, "poll_replies", "data", "send and idle replies with backend bytes")                      \
    X(idles_coalesced, "idles_coalesced", "",                                                                \
      "idles held up to session.coalesce_wait for a fuller reply while backend bytes flowed")                \
    X(first_bytes_timeouts, "first_bytes_timeouts", "",                                                      \
      "connections closed: no byte within http.header_timeout of the accept (or of the TLS handshake)")      \
    X(tls_handshakes, "tls_handshakes", "", "TLS handshakes completed")                                      \
    X(tls_failed_timeout, "tls_handshake_failures", "timeout",                                               \
      "no TLS handshake within http.header_timeout")                                                         \
    X(tls_failed_closed, "tls_handshake_failures", "closed", "the client closed during the handshake")       \
    X(tls_failed_not_tls, "tls_handshake_failures", "not_tls",                                               \
      "bytes that are not TLS on a TLS port (plain HTTP among them)")                                        \
    X(tls_failed_version, "tls_handshake_failures", "version", "a TLS version below 1.2 offered")            \
    X(tls_failed_cipher, "tls_handshake_failures", "cipher", "no cipher in common with the client")          \
    X(tls_failed_other, "tls_handshake_failures", "other", "any other handshake failure")                    \
    X(proxy_headers, "proxy_headers", "",                                                                    \
      "PROXY protocol headers read from access.proxy_protocol_from (LOCAL and UNKNOWN included)")            \
    X(proxy_empty, "proxy_empty_connections", "",                                                            \
      "connections from access.proxy_protocol_from closed before any byte (TCP health checks)")              \
    X(proxy_failed_not_proxy, "proxy_header_failures", "not_proxy",                                          \
      "a listed balancer's connection that did not begin with a PROXY header")                               \
    X(proxy_failed_malformed, "proxy_header_failures", "malformed", "a PROXY header the protocol forbids")   \
    X(proxy_failed_too_long, "proxy_header_failures", "too_long", "a PROXY header longer than is read")      \
    X(proxy_failed_timeout, "proxy_header_failures", "timeout",                                              \
      "no whole PROXY header within http.header_timeout")                                                    \
    X(proxy_failed_closed, "proxy_header_failures", "closed", "the balancer closed before its header ended") \
    X(admin_refused, "refusals", "admin_max_connections",                                                    \
      "admin connections closed at accept: admin.max_connections")                                           \
    X(admin_errors, "admin_errors", "",                                                                      \
      "admin requests answered 4xx: unknown path, not GET, malformed or too large")                          \
    X(log_lines_dropped, "log_lines_dropped", "", "log lines dropped: stderr took none for a 1 MiB backlog") \
    X(reloads, "reloads", "", "configuration reloads applied (SIGHUP)")                                      \
    X(reloads_failed, "reloads_failed", "",                                                                  \
      "configuration reloads refused: errors in the file or a listen address unusable")

// A metric family several counters share, told apart by one label.
struct CounterFamily {
    std::string_view family;
    std::string_view label;  // the label's name; each counter of the family gives its value
    std::string_view help;
};

inline constexpr std::array kCounterFamilies{
    CounterFamily{"refusals", "limit",
                  "Connections, session opens and requests refused, by the limit that refused them."},
    CounterFamily{"bytes", "direction",
                  "Tunnel payload relayed: up is client to backend, down is backend to client."},
    CounterFamily{"sequence_starts", "order",
                  "Sessions whose first request to arrive was numbered 1: reordered when a 0 followed within "
                  "session.sequence_base_wait (Flash's overlapping first requests), one when none did and "
                  "the numbers start at 1 (the Red5 client)."},
    CounterFamily{"tls_handshake_failures", "reason",
                  "TLS handshakes that failed, by why: timeout, closed, not_tls, version, cipher, other."},
    CounterFamily{"proxy_header_failures", "reason",
                  "Connections from access.proxy_protocol_from closed for their PROXY header, by why: "
                  "not_proxy, malformed, too_long, timeout, closed."},
    CounterFamily{"poll_replies", "content",
                  "Send and idle replies: empty ones carry no backend bytes (the cost of polling), "
                  "data ones do."},
};

struct Counters {
#define RTMPT_DECLARE_COUNTER(name, family, label, help) std::uint64_t name = 0;
    RTMPT_GATEWAY_COUNTERS(RTMPT_DECLARE_COUNTER)
#undef RTMPT_DECLARE_COUNTER
    std::array<std::uint64_t, kCloseReasonCount> sessions_closed{};
    // Sessions opened and payload relayed by transport (rtmpt, rtmpts, rtmp, rtmps); bytes
    // [0] up (client to backend), [1] down. The totals above count every transport.
    std::array<std::uint64_t, kTransportCount> transport_sessions{};
    std::array<std::array<std::uint64_t, 2>, kTransportCount> transport_bytes{};
    // Replies written to clients, by the kind of request and the HTTP status. A map: only the
    // pairs that happen take room, and there are a few dozen at most.
    std::map<std::pair<proto::RouteKind, int>, std::uint64_t> replies;
    // Seconds from starting a backend connect (name resolution included) to connected.
    proto::Histogram backend_connect_seconds{proto::kLatencyBoundsSeconds};

    // Payload relayed, into the totals and the transport's row.
    void count_up(Transport t, std::uint64_t n) {
        bytes_up += n;
        transport_bytes[static_cast<std::size_t>(t)][0] += n;
    }
    void count_down(Transport t, std::uint64_t n) {
        bytes_down += n;
        transport_bytes[static_cast<std::size_t>(t)][1] += n;
    }

    // Counts one reply by its status line; replies are all built by us, so one always has one.
    void count_reply(proto::RouteKind kind, std::string_view response);

    // Another worker's figures, into these: the process's sums.
    Counters& operator+=(const Counters& other);

    // "name=value ..." for every counter, then closed_<reason>=value.
    [[nodiscard]] std::string format() const;
};

// "client close" -> "client_close": the form the stats line and /metrics label use.
[[nodiscard]] std::string close_reason_key(CloseReason reason);

}  // namespace rtmpt::gateway
