#include <doctest/doctest.h>

#include "config/directives.hpp"
#include "config/values.hpp"
#include "proto/session_id.hpp"

using namespace rtmpt::config;
using namespace std::chrono_literals;

namespace {

[[nodiscard]] const Directive& row(std::string_view name) {
    const Directive* d = find_directive(name);
    REQUIRE(d != nullptr);
    return *d;
}

// Assigns into a fresh Config; returns the error, or "" and leaves the config in `out`.
[[nodiscard]] std::string assign(std::string_view name, std::string_view text, Config& out) {
    return assign_scalar(row(name), text, out).value_or("");
}

[[nodiscard]] std::string error_of(std::string_view name, std::string_view text) {
    Config c;
    std::string error = assign(name, text, c);
    if (!error.empty()) CHECK(c == Config{});  // a rejected value leaves the config untouched
    return error;
}

}  // namespace

TEST_CASE("assign_scalar stores every type") {
    Config c;
    CHECK(assign("listen", "[::]:8080", c).empty());
    CHECK(c.listen == std::vector<HostPort>{{"::", 8080}});
    CHECK(assign("backend.address", "rtmp.example:1936", c).empty());
    CHECK(c.backend.address == HostPort{"rtmp.example", 1936});
    CHECK(assign("backend.connect_timeout", "250ms", c).empty());
    CHECK(c.backend.connect_timeout == 250ms);
    CHECK(assign("session.max_sessions", "1000000", c).empty());
    CHECK(c.session.max_sessions == 1'000'000u);
    CHECK(assign("session.reply_max_bytes", "16MiB", c).empty());
    CHECK(c.session.reply_max_bytes == 16u * 1024 * 1024);
    CHECK(assign("http.mime_type", "text/plain", c).empty());
    CHECK(c.http.mime_type == "text/plain");
    CHECK(assign("http.ident2", "", c).empty());
    CHECK(c.http.ident2.empty());
    CHECK(assign("log.level", "debug", c).empty());
    CHECK(c.log.level == LogLevel::debug);
}

TEST_CASE("assign_scalar: bounds are inclusive") {
    Config c;
    CHECK(assign("session.idle_timeout", "1s", c).empty());
    CHECK(assign("session.idle_timeout", "24h", c).empty());
    CHECK(assign("session.idle_hold", "0", c).empty());
    CHECK(c.session.idle_hold == 0ms);
    CHECK(assign("session.idle_hold", "5s", c).empty());
    CHECK(assign("session.max_sessions", "1", c).empty());
    CHECK(assign("http.max_body_bytes", "1KiB", c).empty());
    CHECK(assign("http.max_body_bytes", "64MiB", c).empty());
    CHECK(assign("http.ident2", std::string(255, 'x'), c).empty());
    CHECK(assign("listen", "127.0.0.1:0", c).empty());
    CHECK(assign("backend.address", "127.0.0.1:65535", c).empty());
}

TEST_CASE("assign_scalar: out of range") {
    CHECK(error_of("session.idle_timeout", "0s") == "must be between 1s and 24h, got 0s");
    CHECK(error_of("session.idle_timeout", "999ms") == "must be between 1s and 24h, got 999ms");
    CHECK(error_of("session.idle_timeout", "1441m") == "must be between 1s and 24h, got 1441m");
    CHECK(error_of("backend.connect_timeout", "99ms") == "must be between 100ms and 5m, got 99ms");
    CHECK(error_of("session.idle_hold", "5001ms") == "must be between 0s and 5s, got 5001ms");
    CHECK(error_of("http.keepalive_timeout", "2h") == "must be between 1s and 1h, got 2h");
    CHECK(error_of("session.max_sessions", "0") == "must be between 1 and 1000000, got 0");
    CHECK(error_of("session.max_sessions", "4294967296") == "must be between 1 and 1000000, got 4294967296");
    CHECK(error_of("session.reply_max_bytes", "1023") == "must be between 1KiB and 16MiB, got 1023");
    CHECK(error_of("session.queue_max_bytes", "2GiB") == "must be between 4KiB and 1GiB, got 2GiB");
    CHECK(error_of("http.max_header_bytes", "2MiB") == "must be between 1KiB and 1MiB, got 2MiB");
    CHECK(error_of("http.max_body_bytes", "65MiB") == "must be between 1KiB and 64MiB, got 65MiB");
    CHECK(error_of("backend.address", "127.0.0.1:0") == "port must be between 1 and 65535, got 0");
}

TEST_CASE("assign_scalar: unparsable values carry the unit parser's message") {
    CHECK(error_of("session.idle_timeout", "abc") ==
          "expected a duration like 500ms, 30s, 5m, 1h, got \"abc\"");
    CHECK(error_of("session.reply_max_bytes", "lots") ==
          "expected a size like 512, 64KiB, 20MB, got \"lots\"");
    CHECK(error_of("session.max_sessions", "many") == "expected a whole number, got \"many\"");
    CHECK(error_of("backend.address", "nowhere") ==
          "expected host:port like 127.0.0.1:1935 or [::1]:1935, got \"nowhere\"");
    CHECK(error_of("listen", ":80") == "missing host before ':'");
    CHECK(error_of("log.level", "verbose") == "expected one of debug, info, warn, error, got \"verbose\"");
    CHECK(error_of("log.level", "INFO") == "expected one of debug, info, warn, error, got \"INFO\"");
}

TEST_CASE("assign_scalar: strings") {
    CHECK(error_of("http.mime_type", "") == "must not be empty");
    CHECK(error_of("http.mime_type", "text") == "expected a MIME type like application/x-fcs, got \"text\"");
    for (const char* bad : {"text/", "/plain", "text/plain/x", "text /plain", "text/plain; charset=x",
                            "text/pl\r\nX-Evil: 1", "t\xc3\xa9xt/plain"}) {
        CAPTURE(bad);
        CHECK(error_of("http.mime_type", bad).starts_with("expected a MIME type like application/x-fcs"));
    }
    Config c;
    CHECK(assign("http.mime_type", "application/vnd.a+b-c_d.e!#$%&'*^`|~", c).empty());
    CHECK(error_of("http.mime_type", std::string(120, 'a') + "/" + std::string(135, 'b')) ==
          "must be at most 255 bytes, got 256");
    CHECK(error_of("http.ident2", std::string(256, 'x')) == "must be at most 255 bytes, got 256");
    const std::string printable = "must be printable ASCII, without control characters such as CR or LF";
    CHECK(error_of("http.ident2", "a\r\nb") == printable);
    CHECK(error_of("http.ident2", "tab\there") == printable);
    CHECK(error_of("http.ident2", "\x7f") == printable);
    CHECK(error_of("http.ident2", "caf\xc3\xa9") == printable);
    CHECK(assign("http.ident2", " !~ printable ", c).empty());
}

TEST_CASE("string rule choice: one of the row's words, exactly") {
    Config c;
    for (const char* ok : {"text", "logfmt", "json"}) {
        CHECK(assign("log.format", ok, c).empty());
        CHECK(c.log.format == ok);
    }
    CHECK(error_of("log.format", "JSON") == "expected one of text, logfmt, json, got \"JSON\"");
    CHECK(error_of("log.format", "xml") == "expected one of text, logfmt, json, got \"xml\"");
    CHECK(describe_bounds(row("log.format")) == "text|logfmt|json");
}

TEST_CASE("node.tag: empty, or what proto accepts as a tag") {
    Config c;
    CHECK(assign("node.tag", "", c).empty());
    CHECK(c.node.tag.empty());
    CHECK(assign("node.tag", "eu-west_1", c).empty());
    CHECK(c.node.tag == "eu-west_1");
    CHECK(row("node.tag").max == rtmpt::proto::kMaxNodeTagLength);
    CHECK(assign("node.tag", std::string(16, 'n'), c).empty());
    CHECK(error_of("node.tag", std::string(17, 'n')) == "must be at most 16 bytes, got 17");
    for (const char* bad : {"n.1", "n/1", "n 1", "n1\r\n", "n\xc3\xa9"}) {
        CAPTURE(bad);
        CHECK(error_of("node.tag", bad) ==
              std::string("may hold only letters, digits, '-' and '_', got ") + quoted(bad));
    }
    CHECK(describe_bounds(row("node.tag")) == "letters, digits, '-', '_', 0..16 bytes");
}

TEST_CASE("string rules: none, and a minimum length above 1") {
    // No row uses these today; the table may grow rows that do.
    Directive d = row("http.ident2");
    d.rule = StringRule::none;
    d.min = 3;
    Config c;
    CHECK(assign_scalar(d, "ab", c) == "must be at least 3 bytes");
    CHECK_FALSE(assign_scalar(d, "a\nb", c));
    CHECK(c.http.ident2 == "a\nb");
    CHECK(describe_bounds(d) == "3..255 bytes");
}

TEST_CASE("assign_list, format_value, numeric_value") {
    Config c;
    assign_list(row("listen"), {{"0.0.0.0", 80}, {"::", 80}}, c);
    CHECK(format_value(row("listen"), c) == "0.0.0.0:80, [::]:80");
    CHECK(format_value(row("session.idle_hold"), c) == "100ms");
    CHECK(format_value(row("http.ident2"), c).empty());
    CHECK(format_value(row("log.level"), c) == "info");
    CHECK(numeric_value(row("session.idle_hold"), c) == 100u);
    CHECK(numeric_value(row("session.queue_max_bytes"), c) == 1024u * 1024);
    CHECK(numeric_value(row("session.max_sessions"), c) == 10'000u);
    CHECK_FALSE(numeric_value(row("listen"), c));
    CHECK_FALSE(numeric_value(row("backend.address"), c));
    CHECK_FALSE(numeric_value(row("http.mime_type"), c));
    CHECK_FALSE(numeric_value(row("log.level"), c));
}

TEST_CASE("format_bound and describe_bounds") {
    CHECK(format_bound(row("session.idle_timeout"), 86'400'000) == "24h");
    CHECK(format_bound(row("session.reply_max_bytes"), 16u << 20) == "16MiB");
    CHECK(format_bound(row("session.max_sessions"), 1'000'000) == "1000000");
    CHECK(format_bound(row("listen"), 80) == "80");
    CHECK(describe_bounds(row("listen")) == "port 0..65535, at least one");
    CHECK(describe_bounds(row("backend.address")) == "port 1..65535");
    CHECK(describe_bounds(row("backend.connect_timeout")) == "100ms..5m");
    CHECK(describe_bounds(row("session.idle_hold")) == "0s..5s");
    CHECK(describe_bounds(row("session.max_sessions")) == "1..1000000");
    CHECK(describe_bounds(row("session.queue_max_bytes")) == "4KiB..1GiB");
    CHECK(describe_bounds(row("http.mime_type")) == "type/subtype, 1..255 bytes");
    CHECK(describe_bounds(row("http.ident2")) == "printable ASCII, 0..255 bytes");
    CHECK(describe_bounds(row("log.level")) == "debug|info|warn|error");
}

TEST_CASE("log levels") {
    CHECK(parse_log_level("debug") == LogLevel::debug);
    CHECK(parse_log_level("info") == LogLevel::info);
    CHECK(parse_log_level("warn") == LogLevel::warn);
    CHECK(parse_log_level("error") == LogLevel::error);
    CHECK_FALSE(parse_log_level("warning"));
    CHECK_FALSE(parse_log_level(""));
    CHECK(log_level_name(LogLevel::debug) == "debug");
    CHECK(log_level_name(LogLevel::info) == "info");
    CHECK(log_level_name(LogLevel::warn) == "warn");
    CHECK(log_level_name(LogLevel::error) == "error");
    CHECK(log_level_name(static_cast<LogLevel>(42)) == "?");
}

TEST_CASE("assign_scalar refuses a type it does not know") {
    Directive d = row("session.max_sessions");
    d.type = static_cast<ValueType>(99);
    Config c;
    CHECK(assign_scalar(d, "1", c) == "unsupported type");
    CHECK_FALSE(numeric_value(d, c));
    CHECK(format_bound(d, 7) == "7");
}
