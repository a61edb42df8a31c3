#include "proto/plain_reply.hpp"

#include <doctest/doctest.h>

using namespace rtmpt::proto;

TEST_CASE("plain_response: status, type, length, no caching, and the end of the connection") {
    CHECK(plain_response(HttpStatus::ok, "text/plain", "ok\n") ==
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
          "Cache-Control: no-store\r\nConnection: close\r\n\r\nok\n");
    CHECK(plain_response(HttpStatus::method_not_allowed, "text/plain", "", "Allow: GET\r\n") ==
          "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n"
          "Cache-Control: no-store\r\nConnection: close\r\nAllow: GET\r\n\r\n");
}

TEST_CASE("response_status reads the status line of our own replies") {
    CHECK(response_status(plain_response(HttpStatus::service_unavailable, "a/b", "x")) == 503);
    const ReplyBuilder b("rtmpt-gateway/1", "application/x-fcs");
    CHECK(response_status(b.tunnel("x")) == 200);
    CHECK(response_status(b.error(HttpStatus::header_fields_too_large, "big", true)) == 431);
    CHECK_FALSE(response_status(""));
    CHECK_FALSE(response_status("HTTP/1.1 20"));
    CHECK_FALSE(response_status("HTTP/1.1 2x0 OK"));
    CHECK_FALSE(response_status("HTTP/1.1 2000 OK"));
    CHECK_FALSE(response_status("HTTP/1.0 200 OK"));
}
