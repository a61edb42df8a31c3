#include "proto/plain_reply.hpp"

namespace rtmpt::proto {

std::string plain_response(HttpStatus status, std::string_view content_type, std::string_view body,
                           std::string_view extra_headers) {
    std::string out = "HTTP/1.1 " + std::to_string(static_cast<int>(status)) + " ";
    out += reason_phrase(status);
    out += "\r\nContent-Type: ";
    out += content_type;
    out += "\r\nContent-Length: " + std::to_string(body.size());
    // Every scrape must see the present, never a cache's copy.
    out += "\r\nCache-Control: no-store\r\nConnection: close\r\n";
    out += extra_headers;
    out += "\r\n";
    out += body;
    return out;
}

std::optional<int> response_status(std::string_view response) {
    static constexpr std::string_view kPrefix = "HTTP/1.1 ";
    if (!response.starts_with(kPrefix) || response.size() < kPrefix.size() + 4) return std::nullopt;
    int code = 0;
    for (std::size_t i = kPrefix.size(); i < kPrefix.size() + 3; ++i) {
        const char c = response[i];
        if (c < '0' || c > '9') return std::nullopt;
        code = code * 10 + (c - '0');
    }
    if (response[kPrefix.size() + 3] != ' ') return std::nullopt;
    return code;
}

}  // namespace rtmpt::proto
