// Replies of the admin listener: plain HTTP/1.1, one per connection. Unlike the tunnel's replies
// (proto/http_reply.hpp) nothing here has to please librtmp, so they carry what a scraper or a
// load balancer's health check wants: the content type, no caching, and the end of the connection.
#pragma once

#include "proto/http_reply.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace rtmpt::proto {

// A complete response with "Connection: close". `extra_headers`, if any, are whole
// "Name: value\r\n" lines (e.g. "Allow: GET\r\n").
[[nodiscard]] std::string plain_response(HttpStatus status, std::string_view content_type,
                                         std::string_view body, std::string_view extra_headers = {});

// The status code of a response built here or by ReplyBuilder ("HTTP/1.1 404 ..."), for counting
// replies; nullopt if `response` does not begin with a status line.
[[nodiscard]] std::optional<int> response_status(std::string_view response);

}  // namespace rtmpt::proto
