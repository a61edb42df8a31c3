#include "gateway/admin/admin_json.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace rtmpt::gateway;

TEST_CASE("sessions_json: one object per session, ids cut to 8 characters") {
    CHECK(sessions_json({}) == "[]\n");
    std::vector<SessionInfo> list(2);
    list[0].id = "Hk3abcdefghijklmnopqrs";
    list[0].client = "198.51.100.7 via=10.0.0.2:4000";
    list[0].age_seconds = 31.2041;
    list[0].idle_seconds = 0.25;
    list[0].bytes_up = 48211;
    list[0].bytes_down = 5234921;
    list[0].queued_up = 1;
    list[0].queued_down = 2;
    list[0].state = "open";
    list[0].backend = "connected";
    list[0].transport = "rtmpts";
    list[1].id = "short";
    list[1].client = "a\"b";
    list[1].state = "handshake";
    list[1].backend = "connecting";
    list[1].transport = "rtmp";
    const std::string json = sessions_json(list);
    CHECK(
        json ==
        "[\n"
        "{\"id\":\"Hk3abcde\",\"client\":\"198.51.100.7 "
        "via=10.0.0.2:4000\",\"transport\":\"rtmpts\",\"age\":31.204,\"idle\":0.25,"
        "\"bytes_up\":48211,\"bytes_down\":5234921,\"queued_up\":1,\"queued_down\":2,\"state\":\"open\","
        "\"backend\":\"connected\",\"worker\":0},\n"
        "{\"id\":\"short\",\"client\":\"a\\\"b\",\"transport\":\"rtmp\",\"age\":0,\"idle\":0,\"bytes_up\":"
        "0,\"bytes_down\":0,"
        "\"queued_up\":0,\"queued_down\":0,\"state\":\"handshake\",\"backend\":\"connecting\",\"worker\":0}\n"
        "]\n");
    CHECK(json.find("Hk3abcdef") == std::string::npos);
}

TEST_CASE("sessions_json: each session names the worker that owns it, as the last member") {
    std::vector<SessionInfo> list(3);
    list[0].id = "BHk3abcdefghijklmnopqrs";
    list[0].worker = 1;
    list[1].id = "n1._Hk3abcdefghijklmnopqr";
    list[1].worker = 63;
    list[2].id = "AHk3abcdefghijklmnopqrs";  // worker 0 is written too, not left out
    const std::string json = sessions_json(list);
    CHECK(json.find("\"backend\":\"\",\"worker\":1}") != std::string::npos);
    CHECK(json.find("\"backend\":\"\",\"worker\":63}") != std::string::npos);
    CHECK(json.find("\"backend\":\"\",\"worker\":0}") != std::string::npos);
    // One object per line, in the order given.
    const auto first = json.find("\"worker\":1}");
    const auto second = json.find("\"worker\":63}");
    const auto third = json.find("\"worker\":0}");
    CHECK(first < second);
    CHECK(second < third);
    // A worker's digit is part of what is shown of the id, never more than 8 characters after
    // the tag.
    CHECK(json.find("\"id\":\"BHk3abcd\"") != std::string::npos);
    CHECK(json.find("\"id\":\"n1._Hk3abcd\"") != std::string::npos);
    CHECK(json.find("BHk3abcde") == std::string::npos);
    // The largest index there could be, as a plain number.
    SessionInfo big;
    big.worker = 4294967295u;
    CHECK(sessions_json({&big, 1}).find("\"worker\":4294967295}") != std::string::npos);
}

TEST_CASE("shown_session_id: a node tag stays whole, 8 characters of the random part follow") {
    CHECK(shown_session_id("Hk3vQ9x_2mPpL-7aZcRtWw") == "Hk3vQ9x_");
    CHECK(shown_session_id("n1.Hk3vQ9x_2mPpL-7aZcRtWw") == "n1.Hk3vQ9x_");
    CHECK(shown_session_id("frankfurt-01.Hk3vQ9x_2mPpL-7aZcRtWw") == "frankfurt-01.Hk3vQ9x_");
    CHECK(shown_session_id("short") == "short");
    CHECK(shown_session_id("") == "");
}

TEST_CASE("health: ok only when not shutting down and the backend answers") {
    HealthReport r;
    r.backend_ok = true;
    r.backend_address = "127.0.0.1:1935";
    r.backend_detail = "connected in 0.2ms";
    r.checked_seconds_ago = 0.5;
    CHECK(healthy(r));
    CHECK(health_json(r) ==
          "{\"status\":\"ok\",\"backend\":{\"address\":\"127.0.0.1:1935\",\"reachable\":true,"
          "\"detail\":\"connected in 0.2ms\",\"checked_seconds_ago\":0.5}}\n");

    r.backend_ok = false;
    r.backend_detail = "Connection refused";
    CHECK_FALSE(healthy(r));
    CHECK(health_json(r) ==
          "{\"status\":\"unavailable\",\"reason\":\"backend unreachable: Connection refused\",\"backend\":"
          "{\"address\":\"127.0.0.1:1935\",\"reachable\":false,\"detail\":\"Connection refused\","
          "\"checked_seconds_ago\":0.5}}\n");

    r.backend_ok = true;
    r.shutting_down = true;
    CHECK_FALSE(healthy(r));
    CHECK(health_json(r).starts_with("{\"status\":\"unavailable\",\"reason\":\"shutting down\","));
}
