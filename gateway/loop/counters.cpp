#include "gateway/loop/counters.hpp"

#include "proto/plain_reply.hpp"

namespace rtmpt::gateway {

std::string close_reason_key(CloseReason reason) {
    std::string key{close_reason_text(reason)};
    for (char& c : key) {
        if (c == ' ') c = '_';
    }
    return key;
}

void Counters::count_reply(proto::RouteKind kind, std::string_view response) {
    ++replies[{kind, proto::response_status(response).value_or(0)}];
}

std::string Counters::format() const {
    std::string out;
#define RTMPT_FORMAT_COUNTER(name, family, label, help) \
    out += #name "=";                                   \
    out += std::to_string(name);                        \
    out += ' ';
    RTMPT_GATEWAY_COUNTERS(RTMPT_FORMAT_COUNTER)
#undef RTMPT_FORMAT_COUNTER
    for (std::size_t i = 0; i < sessions_closed.size(); ++i) {
        out += "closed_" + close_reason_key(static_cast<CloseReason>(i)) + "=" +
               std::to_string(sessions_closed[i]);
        if (i + 1 < sessions_closed.size()) out += ' ';
    }
    return out;
}

}  // namespace rtmpt::gateway
