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

Counters& Counters::operator+=(const Counters& other) {
#define RTMPT_ADD_COUNTER(name, family, label, help) name += other.name;
    RTMPT_GATEWAY_COUNTERS(RTMPT_ADD_COUNTER)
#undef RTMPT_ADD_COUNTER
    for (std::size_t i = 0; i < sessions_closed.size(); ++i) sessions_closed[i] += other.sessions_closed[i];
    for (std::size_t t = 0; t < kTransportCount; ++t) {
        transport_sessions[t] += other.transport_sessions[t];
        transport_bytes[t][0] += other.transport_bytes[t][0];
        transport_bytes[t][1] += other.transport_bytes[t][1];
    }
    for (const auto& [key, count] : other.replies) replies[key] += count;
    backend_connect_seconds += other.backend_connect_seconds;
    return *this;
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
