#include "proto/route.hpp"

#include <doctest/doctest.h>

using namespace rtmpt::proto;

TEST_CASE("fixed paths") {
    CHECK(parse_route("/fcs/ident2").kind == RouteKind::ident2);
    CHECK(parse_route("/open/1").kind == RouteKind::open);
    CHECK(parse_route("/open/1?x=1").kind == RouteKind::open);
    CHECK(parse_route("/open/2").kind == RouteKind::unknown);
    CHECK(parse_route("/open/1/").kind == RouteKind::unknown);
    CHECK(parse_route("/fcs/ident").kind == RouteKind::unknown);
}

TEST_CASE("tunnel commands carry id and sequence") {
    const Route send = parse_route("/send/AbC-_9/42");
    CHECK(send.kind == RouteKind::send);
    CHECK(send.session_id == "AbC-_9");
    REQUIRE(send.seq);
    CHECK(*send.seq == 42);
    CHECK(parse_route("/idle/x/0").kind == RouteKind::idle);
    CHECK(parse_route("/close/x/7").kind == RouteKind::close);
    CHECK(*parse_route("/close/x/7").seq == 7);
    CHECK(*parse_route("/send/x/18446744073709551").seq == 18446744073709551ull);
}

TEST_CASE("close may come without a sequence number, nothing else may") {
    const Route r = parse_route("/close/abc");
    CHECK(r.kind == RouteKind::close);
    CHECK(r.session_id == "abc");
    CHECK_FALSE(r.seq);
    CHECK(parse_route("/close/abc/").kind == RouteKind::unknown);
    CHECK(parse_route("/send/abc").kind == RouteKind::unknown);
    CHECK(parse_route("/idle/abc").kind == RouteKind::unknown);
}

TEST_CASE("malformed tunnel paths are unknown") {
    for (const char* path :
         {"", "/", "send/x/1", "/send/x/1/", "/close/x/1/", "/send", "/send/", "/send//1", "/send/x/",
          "/send/x/1/2", "/send/x/-1", "/send/x/1a", "/send/x/12345678901234567890", "/push/x/1",
          "/send/a.b.c/1", "/send/.b/1", "/send/a./1", "/send/a%2eb/1",
          "/send/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/1"}) {
        CAPTURE(path);
        CHECK(parse_route(path).kind == RouteKind::unknown);
    }
    // 40 characters is the longest id a route carries: a 16-character tag, a dot, a worker digit
    // and 22 random characters.
    CHECK(parse_route("/send/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/1").kind == RouteKind::send);
}

TEST_CASE("tagged ids route whole, the tag included") {
    const Route r = parse_route("/idle/n1.Hk3-_9/3");
    CHECK(r.kind == RouteKind::idle);
    CHECK(r.session_id == "n1.Hk3-_9");
    CHECK(*r.seq == 3);
    CHECK(parse_route("/close/n1.Hk3").session_id == "n1.Hk3");
    CHECK(parse_route("/send/tttttttttttttttt.rrrrrrrrrrrrrrrrrrrrrr/0").kind == RouteKind::send);
    // With a worker digit in front of the random part: the longest id there is.
    const Route longest = parse_route("/send/tttttttttttttttt.Brrrrrrrrrrrrrrrrrrrrrr/0");
    CHECK(longest.kind == RouteKind::send);
    CHECK(longest.session_id == "tttttttttttttttt.Brrrrrrrrrrrrrrrrrrrrrr");
    CHECK(parse_route("/send/tttttttttttttttt.BBrrrrrrrrrrrrrrrrrrrrrr/0").kind == RouteKind::unknown);
}

TEST_CASE("route kind names") {
    CHECK(route_kind_name(RouteKind::unknown) == "unknown");
    CHECK(route_kind_name(RouteKind::ident2) == "ident2");
    CHECK(route_kind_name(RouteKind::open) == "open");
    CHECK(route_kind_name(RouteKind::send) == "send");
    CHECK(route_kind_name(RouteKind::idle) == "idle");
    CHECK(route_kind_name(RouteKind::close) == "close");
}
