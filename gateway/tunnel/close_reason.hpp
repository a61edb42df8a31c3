// Why a session ended: every session end logs exactly one of these ("closing because: ...").
#pragma once

#include <cstddef>
#include <string_view>

namespace rtmpt::gateway {

enum class CloseReason {
    client_close,            // the client sent /close
    idle_timeout,            // no request from the client for session.idle_timeout
    backend_closed,          // the backend closed its connection; queued bytes were delivered first
    backend_connect_failed,  // the backend could not be reached (detail logged with it)
    backend_error,           // the backend connection failed after it was up
    sequence_out_of_window,  // a sequence number far beyond the window, or an impossible first one
    sequence_gap,            // a missing sequence number never came within session.sequence_gap_timeout
    handshake_timeout,       // opened, but no bytes from the client within session.handshake_timeout
    max_lifetime,            // older than session.max_lifetime
    byte_limit,              // carried session.max_bytes in one direction
    shutdown,                // the gateway is stopping
};

inline constexpr std::size_t kCloseReasonCount = static_cast<std::size_t>(CloseReason::shutdown) + 1;

[[nodiscard]] constexpr std::string_view close_reason_text(CloseReason r) {
    switch (r) {
        case CloseReason::client_close:
            return "client close";
        case CloseReason::idle_timeout:
            return "idle timeout";
        case CloseReason::backend_closed:
            return "backend closed";
        case CloseReason::backend_connect_failed:
            return "backend connect failed";
        case CloseReason::backend_error:
            return "backend error";
        case CloseReason::sequence_out_of_window:
            return "sequence out of window";
        case CloseReason::sequence_gap:
            return "sequence gap timeout";
        case CloseReason::handshake_timeout:
            return "handshake timeout";
        case CloseReason::max_lifetime:
            return "max lifetime";
        case CloseReason::byte_limit:
            return "byte limit";
        case CloseReason::shutdown:
            return "shutdown";
    }
    return "unknown";
}

}  // namespace rtmpt::gateway
