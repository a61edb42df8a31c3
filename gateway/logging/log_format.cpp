#include "gateway/logging/log_format.hpp"

#include "proto/json.hpp"

#include <algorithm>

namespace rtmpt::gateway {
namespace {

[[nodiscard]] bool is_key(std::string_view key) {
    if (key.empty() || key[0] < 'a' || key[0] > 'z') return false;
    return std::all_of(key.begin(), key.end(),
                       [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

// "key=value" -> key and value; nullopt for any other token.
[[nodiscard]] std::optional<std::pair<std::string_view, std::string_view>> as_field(std::string_view token) {
    const std::size_t eq = token.find('=');
    if (eq == std::string_view::npos || !is_key(token.substr(0, eq))) return std::nullopt;
    return std::pair{token.substr(0, eq), token.substr(eq + 1)};
}

[[nodiscard]] std::string_view trim_spaces(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
}

[[nodiscard]] bool needs_quotes(std::string_view v) {
    return v.empty() || std::any_of(v.begin(), v.end(), [](char ch) {
               const auto c = static_cast<unsigned char>(ch);
               return c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f;
           });
}

void append_logfmt_value(std::string& out, std::string_view v) {
    if (needs_quotes(v)) {
        out += proto::json_string(v);  // logfmt's quoting is JSON's: same escapes
    } else {
        out += v;
    }
}

}  // namespace

std::optional<LogFormat> parse_log_format(std::string_view name) {
    if (name == "text") return LogFormat::text;
    if (name == "logfmt") return LogFormat::logfmt;
    if (name == "json") return LogFormat::json;
    return std::nullopt;
}

MessageParts split_message(std::string_view message) {
    MessageParts parts;
    std::size_t pos = 0;
    bool in_fields = false;
    while (pos < message.size()) {
        const std::size_t space = message.find(' ', pos);
        const std::size_t end = space == std::string_view::npos ? message.size() : space;
        std::string_view token = message.substr(pos, end - pos);
        const bool ends_fields = token.ends_with(':');
        if (ends_fields) token.remove_suffix(1);
        const auto field = as_field(token);
        if (!field) {
            // The first word after the fields, or a ':' before any field: the rest is prose.
            if (in_fields || ends_fields) break;
            pos = end + 1;
            continue;
        }
        if (!in_fields) parts.event = trim_spaces(message.substr(0, pos));
        in_fields = true;
        parts.fields.push_back(*field);
        pos = end + 1;
        if (ends_fields) break;
    }
    if (!in_fields) {
        parts.msg = message;
        return parts;
    }
    parts.msg = pos < message.size() ? trim_spaces(message.substr(pos)) : std::string_view{};
    return parts;
}

std::string render_log_line(LogFormat format, std::string_view time, std::string_view level,
                            std::string_view message) {
    std::string line;
    line.reserve(message.size() + 64);
    switch (format) {
        case LogFormat::text:
            line += time;
            line += ' ';
            line += level;
            line += ' ';
            line += message;
            break;
        case LogFormat::logfmt: {
            const MessageParts parts = split_message(message);
            line += "time=";
            line += time;
            line += " level=";
            line += level;
            if (!parts.event.empty()) {
                line += " event=";
                append_logfmt_value(line, parts.event);
            }
            for (const auto& [key, value] : parts.fields) {
                line += ' ';
                line += key;
                line += '=';
                append_logfmt_value(line, value);
            }
            if (!parts.msg.empty()) {
                line += " msg=";
                append_logfmt_value(line, parts.msg);
            }
            break;
        }
        case LogFormat::json: {
            const MessageParts parts = split_message(message);
            // Counts and sizes become JSON numbers; up to 15 digits, a double holds them exactly.
            const auto is_number = [](std::string_view v) {
                return !v.empty() && v.size() <= 15 && (v == "0" || v[0] != '0') &&
                       std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
            };
            line += "{\"time\":";
            line += proto::json_string(time);
            line += ",\"level\":";
            line += proto::json_string(level);
            if (!parts.event.empty()) {
                line += ",\"event\":";
                line += proto::json_string(parts.event);
            }
            for (const auto& [key, value] : parts.fields) {
                line += ',';
                line += proto::json_string(key);
                line += ':';
                if (is_number(value)) {
                    line += value;
                } else {
                    line += proto::json_string(value);
                }
            }
            if (!parts.msg.empty()) {
                line += ",\"msg\":";
                line += proto::json_string(parts.msg);
            }
            line += '}';
            break;
        }
    }
    line += '\n';
    return line;
}

}  // namespace rtmpt::gateway
