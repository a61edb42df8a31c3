// The JSON bodies of /sessions and /healthz. Pure, so what they reveal (never a whole session id)
// and their shape are checked by unit tests.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace rtmpt::gateway {

// Session ids are the only credential a tunnel has: this many characters after the node tag are
// shown, no more (a worker's digit, when there is one, among them); a node tag ("n1.") is shown
// whole in front of them.
inline constexpr std::size_t kShownIdLength = 8;

// "n1.Hk3vQ9x_2mPpL-7aZcRtWw" -> "n1.Hk3vQ9x_"; "Hk3vQ9x_2mPpL-7aZcRtWw" -> "Hk3vQ9x_".
[[nodiscard]] std::string shown_session_id(std::string_view id);

// One live session as /sessions lists it.
struct SessionInfo {
    std::string_view id;      // the whole id: cut to kShownIdLength when written
    std::string_view client;  // as the session's log lines show it
    double age_seconds = 0;
    double idle_seconds = 0;  // since its last request
    std::uint64_t bytes_up = 0;
    std::uint64_t bytes_down = 0;
    std::uint64_t queued_up = 0;    // client bytes waiting for the backend
    std::uint64_t queued_down = 0;  // backend bytes waiting for the client
    std::string_view state;         // the session's state
    std::string_view backend;       // its backend connection's state
    std::string_view transport;     // rtmpt, rtmpts, rtmp or rtmps
    unsigned worker = 0;            // the worker that owns it (process.workers)
};

// A JSON array with one object per session, one session per line.
[[nodiscard]] std::string sessions_json(std::span<const SessionInfo> sessions);

// What /healthz knows when it answers.
struct HealthReport {
    bool shutting_down = false;
    bool backend_ok = false;
    std::string_view backend_address;  // "127.0.0.1:1935"
    std::string_view backend_detail;   // "connected", "Connection refused", "connect timeout", ...
    double checked_seconds_ago = 0;    // age of the probe result (results are reused briefly)
};

// 200 only when the gateway takes new sessions and the backend accepts connections.
[[nodiscard]] bool healthy(const HealthReport& report);
// {"status":"ok"|"unavailable","reason":...,"backend":{...}}; the reason is absent when healthy.
[[nodiscard]] std::string health_json(const HealthReport& report);

}  // namespace rtmpt::gateway
