#include "gateway/tunnel/session_base.hpp"

#include <cstdio>

namespace rtmpt::gateway {

std::string SessionBase::end_line(CloseReason reason, std::string_view detail,
                                  std::string_view fields) const {
    const double age = std::chrono::duration<double>(Clock::now() - opened_at_).count();
    char age_text[32];
    std::snprintf(age_text, sizeof age_text, "%.3f", age);
    std::string line = "session end sid=" + id_ + " client=" + client_ + " age=" + age_text +
                       "s up=" + std::to_string(bytes_up_) + " down=" + std::to_string(bytes_down_) + " ";
    line += fields;
    line += "transport=";
    line += transport_name(transport_);
    line += " closing because: ";
    line += close_reason_text(reason);
    // A backend's end of stream needs no detail; every other reason's says what happened.
    if (!detail.empty() && reason != CloseReason::backend_closed) {
        line += ": ";
        line += detail;
    }
    return line;
}

SessionInfo SessionBase::common_info(Clock::time_point now, Clock::time_point last_active) const {
    SessionInfo i;
    i.id = id_;
    i.client = client_;
    i.transport = transport_name(transport_);
    i.age_seconds = std::chrono::duration<double>(now - opened_at_).count();
    i.idle_seconds = std::chrono::duration<double>(now - last_active).count();
    i.bytes_up = bytes_up_;
    i.bytes_down = bytes_down_;
    i.queued_up = queued_up();
    i.queued_down = queued_down();
    return i;
}

}  // namespace rtmpt::gateway
