#include "proto/http_reply.hpp"

#include <doctest/doctest.h>

using namespace rtmpt::proto;

TEST_CASE("tunnel reply is what librtmp insists on") {
    const ReplyBuilder b("FlashCom/3.5.7", "application/x-fcs");
    const std::string r = b.tunnel(std::string_view("\x01", 1));
    CHECK(r ==
          "HTTP/1.1 200 OK\r\nCache-Control: no-cache\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n"
          "Server: FlashCom/3.5.7\r\nContent-Type: application/x-fcs\r\n\r\n\x01");
    // The FMS capture is 144 header bytes; old librtmp waits for that many before parsing.
    CHECK(r.size() == 145);
}

TEST_CASE("text and error replies") {
    const ReplyBuilder b("rtmpt-gateway/1", "application/x-fcs");
    const std::string t = b.text("203.0.113.7");
    CHECK(t.starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(t.find("Content-Type: text/plain\r\n") != std::string::npos);
    CHECK(t.ends_with("\r\n\r\n203.0.113.7"));

    const std::string e = b.error(HttpStatus::not_found, "unknown session", false);
    CHECK(e.starts_with("HTTP/1.1 404 Not Found\r\n"));
    CHECK(e.find("Connection: Keep-Alive\r\n") != std::string::npos);
    CHECK(e.find("Content-Length: 16\r\n") != std::string::npos);
    CHECK(e.ends_with("unknown session\n"));

    const std::string c = b.error(HttpStatus::bad_request, "bad", true);
    CHECK(c.find("Connection: close\r\n") != std::string::npos);
}

TEST_CASE("the last reply on a closing connection says so") {
    const ReplyBuilder b("s", "application/x-fcs");
    const std::string closed = mark_connection_close(b.tunnel("Connection: Keep-Alive\r\n"));
    CHECK(closed.find("\r\nConnection: close\r\nContent-Length: 24\r\n") != std::string::npos);
    // The body is never touched, even when it looks like a header.
    CHECK(closed.ends_with("\r\n\r\nConnection: Keep-Alive\r\n"));
    const std::string already = b.error(HttpStatus::bad_request, "x", true);
    CHECK(mark_connection_close(already) == already);
    CHECK(mark_connection_close("garbage") == "garbage");
}

TEST_CASE("reason phrases") {
    CHECK(reason_phrase(HttpStatus::ok) == "OK");
    CHECK(reason_phrase(HttpStatus::bad_request) == "Bad Request");
    CHECK(reason_phrase(HttpStatus::forbidden) == "Forbidden");
    CHECK(reason_phrase(HttpStatus::not_found) == "Not Found");
    CHECK(reason_phrase(HttpStatus::method_not_allowed) == "Method Not Allowed");
    CHECK(reason_phrase(HttpStatus::request_timeout) == "Request Timeout");
    CHECK(reason_phrase(HttpStatus::too_many_requests) == "Too Many Requests");
    CHECK(reason_phrase(HttpStatus::payload_too_large) == "Payload Too Large");
    CHECK(reason_phrase(HttpStatus::header_fields_too_large) == "Request Header Fields Too Large");
    CHECK(reason_phrase(HttpStatus::service_unavailable) == "Service Unavailable");
    CHECK(reason_phrase(HttpStatus::internal_error) == "Internal Server Error");
}

TEST_CASE("a tunnel reply's head, with the body appended in place, is the whole reply") {
    const ReplyBuilder b("rtmpt-gateway/test", "application/x-fcs");
    const std::string body("\x01payload", 8);
    std::string built = b.tunnel_head(body.size());
    CHECK(built.capacity() >= built.size() + body.size());
    built += body;
    CHECK(built == b.tunnel(body));
    CHECK(b.tunnel_head(0) == b.tunnel(""));
}
