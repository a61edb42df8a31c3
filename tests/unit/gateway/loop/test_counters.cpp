// Counters += : how the supervisor sums its workers' figures, for /metrics and the stats line.
// Every kind of field is checked: the counter list, closes by reason, the per-transport arrays,
// the replies map and the connect histogram.
#include "gateway/loop/counters.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

using namespace rtmpt::gateway;
using rtmpt::proto::RouteKind;

namespace {

// Every counter of the list, by name, in the list's order.
[[nodiscard]] std::vector<std::pair<std::string, std::uint64_t>> listed(const Counters& c) {
    return {
#define RTMPT_LISTED(name, family, label, help) {#name, c.name},
        RTMPT_GATEWAY_COUNTERS(RTMPT_LISTED)
#undef RTMPT_LISTED
    };
}

// Distinct values everywhere, each a multiple of `scale`, so that a field added to another's
// place (or twice, or not at all) shows.
[[nodiscard]] Counters filled(std::uint64_t scale) {
    Counters c;
    std::uint64_t n = 1;
#define RTMPT_FILL(name, family, label, help) c.name = scale * n++;
    RTMPT_GATEWAY_COUNTERS(RTMPT_FILL)
#undef RTMPT_FILL
    for (auto& v : c.sessions_closed) v = scale * n++;
    for (auto& v : c.transport_sessions) v = scale * n++;
    for (auto& row : c.transport_bytes) {
        row[0] = scale * n++;
        row[1] = scale * n++;
    }
    return c;
}

}  // namespace

TEST_CASE("+= adds every counter of the list, each to itself") {
    Counters a = filled(1);
    const Counters b = filled(1000);
    Counters& result = (a += b);
    CHECK(&result == &a);
    const auto sums = listed(a);
    const auto ones = listed(filled(1));
    REQUIRE(sums.size() == ones.size());
    CHECK(sums.size() > 40);
    for (std::size_t i = 0; i < sums.size(); ++i) {
        CAPTURE(sums[i].first);
        CHECK(sums[i].second == ones[i].second * 1001);
    }
    // The new counter is among them.
    CHECK(a.requests_handed_over == filled(1).requests_handed_over * 1001);
    // The other side is untouched.
    CHECK(listed(b) == listed(filled(1000)));
}

TEST_CASE("+= adds closes by reason and the per-transport sessions and bytes, both directions") {
    Counters a = filled(1);
    const Counters b = filled(1000);
    const Counters one = filled(1);
    a += b;
    for (std::size_t i = 0; i < kCloseReasonCount; ++i) {
        CAPTURE(i);
        CHECK(a.sessions_closed[i] == one.sessions_closed[i] * 1001);
    }
    for (std::size_t t = 0; t < kTransportCount; ++t) {
        CAPTURE(t);
        CHECK(a.transport_sessions[t] == one.transport_sessions[t] * 1001);
        CHECK(a.transport_bytes[t][0] == one.transport_bytes[t][0] * 1001);
        CHECK(a.transport_bytes[t][1] == one.transport_bytes[t][1] * 1001);
    }
}

TEST_CASE("+= merges the replies map: pairs on one side only are kept, shared pairs add") {
    Counters a;
    Counters b;
    a.count_reply(RouteKind::open, "HTTP/1.1 200 OK\r\n\r\n");
    a.count_reply(RouteKind::open, "HTTP/1.1 200 OK\r\n\r\n");
    a.count_reply(RouteKind::send, "HTTP/1.1 404 Not Found\r\n\r\n");
    b.count_reply(RouteKind::open, "HTTP/1.1 200 OK\r\n\r\n");
    b.count_reply(RouteKind::idle, "HTTP/1.1 200 OK\r\n\r\n");
    b.count_reply(RouteKind::unknown, "HTTP/1.1 405 Method Not Allowed\r\n\r\n");
    a += b;
    CHECK(a.replies.size() == 4);
    CHECK(a.replies.at({RouteKind::open, 200}) == 3);
    CHECK(a.replies.at({RouteKind::send, 404}) == 1);
    CHECK(a.replies.at({RouteKind::idle, 200}) == 1);
    CHECK(a.replies.at({RouteKind::unknown, 405}) == 1);
    CHECK(b.replies.size() == 3);
    // Into an empty map, everything is copied.
    Counters empty;
    empty += a;
    CHECK(empty.replies == a.replies);
}

TEST_CASE("+= adds the backend connect histogram") {
    Counters a;
    Counters b;
    a.backend_connect_seconds.observe(0.0003);
    b.backend_connect_seconds.observe(0.2);
    b.backend_connect_seconds.observe(30);
    a += b;
    CHECK(a.backend_connect_seconds.count() == 3);
    CHECK(a.backend_connect_seconds.sum() == doctest::Approx(30.2003));
    CHECK(a.backend_connect_seconds.cumulative(0) == 1);  // le 0.001
    const std::size_t last = a.backend_connect_seconds.bounds().size() - 1;
    CHECK(a.backend_connect_seconds.cumulative(last) == 2);  // 30 s is above every bound
    CHECK(b.backend_connect_seconds.count() == 2);
}

TEST_CASE("summing workers: an empty one adds nothing, the order does not matter") {
    const Counters w0 = filled(1);
    const Counters w1 = filled(7);
    Counters w2;
    w2.count_reply(RouteKind::close, "HTTP/1.1 200 OK\r\n\r\n");
    w2.backend_connect_seconds.observe(0.01);

    Counters forward;
    forward += w0;
    forward += w1;
    forward += w2;
    Counters backward;
    backward += w2;
    backward += w1;
    backward += w0;
    CHECK(listed(forward) == listed(backward));
    CHECK(forward.sessions_closed == backward.sessions_closed);
    CHECK(forward.transport_sessions == backward.transport_sessions);
    CHECK(forward.transport_bytes == backward.transport_bytes);
    CHECK(forward.replies == backward.replies);
    CHECK(forward.backend_connect_seconds.count() == backward.backend_connect_seconds.count());
    CHECK(forward.format() == backward.format());

    Counters same = w0;
    same += Counters{};
    CHECK(listed(same) == listed(w0));
    CHECK(same.format() == w0.format());
    CHECK(same.backend_connect_seconds.count() == 0);
    CHECK(same.replies.empty());
}

TEST_CASE("the stats line of a sum shows the sums") {
    Counters a;
    Counters b;
    a.requests_handed_over = 2;
    b.requests_handed_over = 3;
    a.sessions_closed[static_cast<std::size_t>(CloseReason::shutdown)] = 1;
    b.sessions_closed[static_cast<std::size_t>(CloseReason::shutdown)] = 4;
    a += b;
    const std::string line = a.format();
    CHECK(line.find("requests_handed_over=5 ") != std::string::npos);
    CHECK(line.find("closed_shutdown=5") != std::string::npos);
}

TEST_CASE("a counter added to itself doubles") {
    Counters a = filled(3);
    a.count_reply(RouteKind::open, "HTTP/1.1 200 OK\r\n\r\n");
    a.backend_connect_seconds.observe(0.5);
    a += a;
    const auto doubled = listed(a);
    const auto base = listed(filled(3));
    for (std::size_t i = 0; i < doubled.size(); ++i) {
        CAPTURE(doubled[i].first);
        CHECK(doubled[i].second == 2 * base[i].second);
    }
    CHECK(a.sessions_closed[0] == 2 * filled(3).sessions_closed[0]);
    CHECK(a.replies.at({RouteKind::open, 200}) == 2);
    CHECK(a.backend_connect_seconds.count() == 2);
}
