#include "gateway/admin/admin_json.hpp"

#include "proto/json.hpp"

#include <cmath>

namespace rtmpt::gateway {
namespace {

using proto::json_number;
using proto::json_string;

// Milliseconds are plenty for ages, and keep the numbers short.
[[nodiscard]] std::string seconds(double s) {
    return json_number(std::round(s * 1000) / 1000);
}

}  // namespace

std::string shown_session_id(std::string_view id) {
    const std::size_t dot = id.find('.');
    const std::size_t random_from = dot == std::string_view::npos ? 0 : dot + 1;
    return std::string(id.substr(0, random_from + kShownIdLength));
}

std::string sessions_json(std::span<const SessionInfo> sessions) {
    std::string out = "[";
    for (std::size_t i = 0; i < sessions.size(); ++i) {
        const SessionInfo& s = sessions[i];
        out += i == 0 ? "\n" : ",\n";
        out += "{\"id\":" + json_string(shown_session_id(s.id));
        out += ",\"client\":" + json_string(s.client);
        out += ",\"transport\":" + json_string(s.transport);
        out += ",\"age\":" + seconds(s.age_seconds);
        out += ",\"idle\":" + seconds(s.idle_seconds);
        out += ",\"bytes_up\":" + std::to_string(s.bytes_up);
        out += ",\"bytes_down\":" + std::to_string(s.bytes_down);
        out += ",\"queued_up\":" + std::to_string(s.queued_up);
        out += ",\"queued_down\":" + std::to_string(s.queued_down);
        out += ",\"state\":" + json_string(s.state);
        out += ",\"backend\":" + json_string(s.backend);
        out += ",\"worker\":" + std::to_string(s.worker);
        out += "}";
    }
    out += sessions.empty() ? "]\n" : "\n]\n";
    return out;
}

bool healthy(const HealthReport& r) {
    return !r.shutting_down && r.backend_ok;
}

std::string health_json(const HealthReport& r) {
    std::string out = "{\"status\":";
    out += healthy(r) ? "\"ok\"" : "\"unavailable\"";
    if (r.shutting_down) {
        out += ",\"reason\":\"shutting down\"";
    } else if (!r.backend_ok) {
        out += ",\"reason\":" + json_string("backend unreachable: " + std::string(r.backend_detail));
    }
    out += ",\"backend\":{\"address\":" + json_string(r.backend_address);
    out += ",\"reachable\":";
    out += r.backend_ok ? "true" : "false";
    out += ",\"detail\":" + json_string(r.backend_detail);
    out += ",\"checked_seconds_ago\":" + seconds(r.checked_seconds_ago);
    out += "}}\n";
    return out;
}

}  // namespace rtmpt::gateway
