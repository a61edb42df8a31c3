#include <doctest/doctest.h>

#include "config/suggest.hpp"

using namespace rtmpt::config;

TEST_CASE("suggest_key: typos within a section") {
    CHECK(suggest_key("session.idle_timout") == "session.idle_timeout");
    CHECK(suggest_key("session.max_session") == "session.max_sessions");
    CHECK(suggest_key("http.mimetype") == "http.mime_type");
    CHECK(suggest_key("backend.adress") == "backend.address");
}

TEST_CASE("suggest_key: typos at the top level") {
    CHECK(suggest_key("listn") == "listen");
    CHECK(suggest_key("sessions") == "session");
    CHECK(suggest_key("backends") == "backend");
}

TEST_CASE("suggest_key: a key in the wrong section") {
    CHECK(suggest_key("idle_timeout") == "session.idle_timeout");
    CHECK(suggest_key("http.idle_hold") == "session.idle_hold");
    CHECK(suggest_key("log.address") == "backend.address");
}

TEST_CASE("suggest_key: nothing close") {
    CHECK_FALSE(suggest_key("colour"));
    CHECK_FALSE(suggest_key("session.colour"));
    CHECK_FALSE(suggest_key("x"));
    CHECK_FALSE(suggest_key("ab"));           // two edits from "log": too short to guess
    CHECK_FALSE(suggest_key("nosuch.idel"));  // no section of that name
}
