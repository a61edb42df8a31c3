#include "proto/http_reply.hpp"

namespace rtmpt::proto {

std::string_view reason_phrase(HttpStatus status) {
    switch (status) {
        case HttpStatus::ok:
            return "OK";
        case HttpStatus::bad_request:
            return "Bad Request";
        case HttpStatus::forbidden:
            return "Forbidden";
        case HttpStatus::not_found:
            return "Not Found";
        case HttpStatus::method_not_allowed:
            return "Method Not Allowed";
        case HttpStatus::request_timeout:
            return "Request Timeout";
        case HttpStatus::payload_too_large:
            return "Payload Too Large";
        case HttpStatus::too_many_requests:
            return "Too Many Requests";
        case HttpStatus::header_fields_too_large:
            return "Request Header Fields Too Large";
        case HttpStatus::service_unavailable:
            return "Service Unavailable";
        case HttpStatus::internal_error:
            break;
    }
    return "Internal Server Error";
}

std::string mark_connection_close(std::string response) {
    static constexpr std::string_view kKeepAlive = "\r\nConnection: Keep-Alive\r\n";
    static constexpr std::string_view kClose = "\r\nConnection: close\r\n";
    const auto header_end = response.find("\r\n\r\n");
    const auto at = response.find(kKeepAlive);
    if (at == std::string::npos || at > header_end) return response;
    response.replace(at, kKeepAlive.size(), kClose);
    return response;
}

std::string ReplyBuilder::build(HttpStatus status, std::string_view content_type, std::string_view body,
                                bool close) const {
    std::string out = head(status, content_type, body.size(), close);
    out += body;
    return out;
}

std::string ReplyBuilder::head(HttpStatus status, std::string_view content_type, std::size_t body_size,
                               bool close) const {
    std::string out;
    out.reserve(160 + server_.size() + content_type.size() + body_size);
    out += "HTTP/1.1 ";
    out += std::to_string(static_cast<int>(status));
    out += ' ';
    out += reason_phrase(status);
    out += "\r\nCache-Control: no-cache\r\n";
    out += close ? "Connection: close\r\n" : "Connection: Keep-Alive\r\n";
    out += "Content-Length: ";
    out += std::to_string(body_size);
    out += "\r\nServer: ";
    out += server_;
    out += "\r\nContent-Type: ";
    out += content_type;
    out += "\r\n\r\n";
    return out;
}

std::string ReplyBuilder::tunnel(std::string_view body) const {
    return build(HttpStatus::ok, mime_, body, false);
}

std::string ReplyBuilder::tunnel_head(std::size_t body_size) const {
    return head(HttpStatus::ok, mime_, body_size, false);
}

std::string ReplyBuilder::text(std::string_view body) const {
    return build(HttpStatus::ok, "text/plain", body, false);
}

std::string ReplyBuilder::error(HttpStatus status, std::string_view why, bool close) const {
    std::string body{why};
    body += '\n';
    return build(status, "text/plain", body, close);
}

}  // namespace rtmpt::proto
