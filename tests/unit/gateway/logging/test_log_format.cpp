#include "gateway/logging/log_format.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace rtmpt::gateway;
using Fields = std::vector<std::pair<std::string_view, std::string_view>>;

TEST_CASE("parse_log_format") {
    CHECK(parse_log_format("text") == LogFormat::text);
    CHECK(parse_log_format("logfmt") == LogFormat::logfmt);
    CHECK(parse_log_format("json") == LogFormat::json);
    CHECK_FALSE(parse_log_format("JSON"));
    CHECK_FALSE(parse_log_format(""));
}

TEST_CASE("split_message: event words, fields, then prose") {
    const MessageParts p = split_message(
        "session end sid=abc client=192.0.2.1:4000 age=1.500s closing because: idle timeout: 60s");
    CHECK(p.event == "session end");
    CHECK(p.fields == Fields{{"sid", "abc"}, {"client", "192.0.2.1:4000"}, {"age", "1.500s"}});
    CHECK(p.msg == "closing because: idle timeout: 60s");
}

TEST_CASE("split_message: a field ending in ':' ends the fields") {
    const MessageParts p =
        split_message("session refused client=198.51.100.7 via=10.0.0.2:4000: access.deny");
    CHECK(p.event == "session refused");
    CHECK(p.fields == Fields{{"client", "198.51.100.7"}, {"via", "10.0.0.2:4000"}});
    CHECK(p.msg == "access.deny");
    // Words after it that look like fields stay prose.
    CHECK(split_message("http client=a: b=c").msg == "b=c");
}

TEST_CASE("split_message: only fields, or no fields at all") {
    const MessageParts stats = split_message("stats requests=3 bytes_up=10");
    CHECK(stats.event == "stats");
    CHECK(stats.fields == Fields{{"requests", "3"}, {"bytes_up", "10"}});
    CHECK(stats.msg.empty());

    const MessageParts plain = split_message("listening on 127.0.0.1:80");
    CHECK(plain.event.empty());
    CHECK(plain.fields.empty());
    CHECK(plain.msg == "listening on 127.0.0.1:80");

    // A ':' before any field: the message is prose, whatever follows.
    const MessageParts colon = split_message("reload refused: test.yaml:3: a=b");
    CHECK(colon.fields.empty());
    CHECK(colon.msg == "reload refused: test.yaml:3: a=b");

    // Keys are lowercase identifiers; anything else with '=' is a word.
    const MessageParts odd = split_message("x A=b =c 1a=2");
    CHECK(odd.fields.empty());
    CHECK(odd.msg == "x A=b =c 1a=2");

    // A field first: no event words. An empty value is a value.
    const MessageParts first = split_message("sid= rest");
    CHECK(first.event.empty());
    CHECK(first.fields == Fields{{"sid", ""}});
    CHECK(first.msg == "rest");
    CHECK(split_message("").msg.empty());
    CHECK(split_message("a=b ").fields == Fields{{"a", "b"}});
}

TEST_CASE("render_log_line: text is the message as written") {
    CHECK(render_log_line(LogFormat::text, "T", "info", "session open sid=a client=b") ==
          "T info session open sid=a client=b\n");
}

TEST_CASE("render_log_line: logfmt quotes what needs it") {
    CHECK(render_log_line(LogFormat::logfmt, "T", "warn", "session end sid=a age= closing because: idle") ==
          "time=T level=warn event=\"session end\" sid=a age=\"\" msg=\"closing because: idle\"\n");
    CHECK(render_log_line(LogFormat::logfmt, "T", "info", "stats x=1") ==
          "time=T level=info event=stats x=1\n");
    CHECK(render_log_line(LogFormat::logfmt, "T", "info", "access path=/a=b\"c\\") ==
          "time=T level=info event=access path=\"/a=b\\\"c\\\\\"\n");
    CHECK(render_log_line(LogFormat::logfmt, "T", "info", "stopped") == "time=T level=info msg=stopped\n");
}

TEST_CASE("render_log_line: json is one object, valid whatever the bytes") {
    CHECK(render_log_line(LogFormat::json, "T", "info", "session open sid=a client=b") ==
          "{\"time\":\"T\",\"level\":\"info\",\"event\":\"session open\",\"sid\":\"a\",\"client\":\"b\"}\n");
    CHECK(render_log_line(LogFormat::json, "T", "error", "bad \"x\"\t\xc3\xa9\\") ==
          "{\"time\":\"T\",\"level\":\"error\",\"msg\":\"bad \\\"x\\\"\\t\\u00c3\\u00a9\\\\\"}\n");
    CHECK(render_log_line(LogFormat::json, "T", "info", "stats") ==
          "{\"time\":\"T\",\"level\":\"info\",\"msg\":\"stats\"}\n");
    // Whole numbers are numbers; leading zeros, signs, fractions and long digit runs stay strings.
    CHECK(
        render_log_line(LogFormat::json, "T", "info", "stats a=0 b=42 c=007 d=-1 e=1.5 f=1234567890123456") ==
        "{\"time\":\"T\",\"level\":\"info\",\"event\":\"stats\",\"a\":0,\"b\":42,\"c\":\"007\","
        "\"d\":\"-1\",\"e\":\"1.5\",\"f\":\"1234567890123456\"}\n");
}
