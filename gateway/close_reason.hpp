// Why a session ended: every session end logs exactly one of these ("closing because: ...").
#pragma once

#include <string_view>

namespace rtmpt::gateway {

enum class CloseReason {
    client_close,            // the client sent /close
    idle_timeout,            // no request from the client for session.idle_timeout
    backend_closed,          // the backend closed its connection; queued bytes were delivered first
    backend_connect_failed,  // the backend could not be reached (detail logged with it)
    backend_error,           // the backend connection failed after it was up
    sequence_out_of_window,  // a sequence number far beyond the window, or an impossible first one
    shutdown,                // the gateway is stopping
};

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
        case CloseReason::shutdown:
            return "shutdown";
    }
    return "unknown";
}

}  // namespace rtmpt::gateway
