// Builds the HTTP replies the tunnel sends. The header layout follows what FMS 3.5 sent, which
// every client accepts; librtmp is the strictest reader (see rtmpt-reference.md §2):
//  - the status line must begin with exactly "HTTP/1.1 200 ", whatever version the client spoke;
//  - "Content-Length: <n>" with that exact spelling and one space, never chunked;
//  - never "Connection: close" on a 200: librtmp and ffmpeg keep one connection per session.
#pragma once

#include <string>
#include <string_view>

namespace rtmpt::proto {

enum class HttpStatus {
    ok = 200,
    bad_request = 400,
    forbidden = 403,
    not_found = 404,
    method_not_allowed = 405,
    request_timeout = 408,
    payload_too_large = 413,
    too_many_requests = 429,
    header_fields_too_large = 431,
    internal_error = 500,
    service_unavailable = 503,
};

[[nodiscard]] std::string_view reason_phrase(HttpStatus status);

// Turns a keep-alive reply into the last one on its connection: the client asked to close
// (HTTP/1.0 without keep-alive, or "Connection: close"), so the reply must not promise otherwise.
// Replies built by ReplyBuilder only; anything else is returned unchanged.
[[nodiscard]] std::string mark_connection_close(std::string response);

class ReplyBuilder {
  public:
    ReplyBuilder(std::string server_token, std::string tunnel_mime_type)
        : server_(std::move(server_token)), mime_(std::move(tunnel_mime_type)) {}

    // A 200 carrying tunnel bytes (open, send, idle, close replies), typed with the tunnel MIME type.
    [[nodiscard]] std::string tunnel(std::string_view body) const;
    // The same reply's status line and headers for a body of `body_size` bytes, with room
    // reserved for the body: the caller appends it in place instead of building it apart.
    [[nodiscard]] std::string tunnel_head(std::size_t body_size) const;

    // A 200 with a text/plain body (the HTTPIdent2 answer).
    [[nodiscard]] std::string text(std::string_view body) const;

    // An error with a one-line text body saying why. `close` adds "Connection: close": used
    // when the connection cannot be parsed further or the client asked for it.
    [[nodiscard]] std::string error(HttpStatus status, std::string_view why, bool close) const;

  private:
    [[nodiscard]] std::string build(HttpStatus status, std::string_view content_type, std::string_view body,
                                    bool close) const;
    [[nodiscard]] std::string head(HttpStatus status, std::string_view content_type, std::size_t body_size,
                                   bool close) const;

    std::string server_;
    std::string mime_;
};

}  // namespace rtmpt::proto
