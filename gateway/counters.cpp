#include "gateway/counters.hpp"

namespace rtmpt::gateway {

std::string Counters::format() const {
    std::string out;
#define RTMPT_FORMAT_COUNTER(name, help) \
    out += #name "=";                    \
    out += std::to_string(name);         \
    out += ' ';
    RTMPT_GATEWAY_COUNTERS(RTMPT_FORMAT_COUNTER)
#undef RTMPT_FORMAT_COUNTER
    for (std::size_t i = 0; i < sessions_closed.size(); ++i) {
        std::string reason{close_reason_text(static_cast<CloseReason>(i))};
        for (char& c : reason) {
            if (c == ' ') c = '_';
        }
        out += "closed_" + reason + "=" + std::to_string(sessions_closed[i]);
        if (i + 1 < sessions_closed.size()) out += ' ';
    }
    return out;
}

}  // namespace rtmpt::gateway
