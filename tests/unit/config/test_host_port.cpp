#include <doctest/doctest.h>

#include "config/host_port.hpp"

using namespace rtmpt::config;

namespace {
constexpr const char* kExpected = "expected host:port like 127.0.0.1:1935 or [::1]:1935, got ";
}

TEST_CASE("parse_host_port: IPv4, names, IPv6") {
    struct Case {
        const char* text;
        const char* host;
        std::uint16_t port;
    };
    for (const Case& c :
         {Case{"0.0.0.0:80", "0.0.0.0", 80}, Case{"127.0.0.1:1935", "127.0.0.1", 1935},
          Case{"localhost:0", "localhost", 0},
          Case{"Backend-1.example.org:65535", "Backend-1.example.org", 65535}, Case{"a:1", "a", 1},
          Case{"1a.example:8080", "1a.example", 8080}, Case{"[::1]:8080", "::1", 8080},
          Case{"[::]:80", "::", 80}, Case{"[2001:db8::1]:1935", "2001:db8::1", 1935},
          Case{"[::ffff:192.0.2.1]:1", "::ffff:192.0.2.1", 1}, Case{"[fe80::1%eth0]:80", "fe80::1%eth0", 80},
          Case{"127.0.0.1:00080", "127.0.0.1", 80}}) {
        CAPTURE(c.text);
        const auto parsed = parse_host_port(c.text);
        REQUIRE(parsed.value);
        CHECK(parsed.value->host == c.host);
        CHECK(parsed.value->port == c.port);
        CHECK(parsed.error.empty());
    }
}

TEST_CASE("parse_host_port: shape errors") {
    for (const char* text : {"", "localhost", "[::1]", "[::1]80", "[::1", "[::1]:"}) {
        CAPTURE(text);
        const auto parsed = parse_host_port(text);
        CHECK_FALSE(parsed.value);
        if (std::string_view(text) == "[::1]:") {
            CHECK(parsed.error == "missing port after ':'");
        } else {
            CHECK(parsed.error == kExpected + quoted(text));
        }
    }
}

TEST_CASE("parse_host_port: host errors") {
    CHECK(parse_host_port(":80").error == "missing host before ':'");
    CHECK(parse_host_port("::1:80").error ==
          "an IPv6 address needs brackets, like [::1]:1935, got \"::1:80\"");
    CHECK(parse_host_port("300.1.1.1:80").error == "invalid IPv4 address \"300.1.1.1\"");
    CHECK(parse_host_port("1.2.3:80").error == "invalid IPv4 address \"1.2.3\"");
    CHECK(parse_host_port("[1.2.3.4]:80").error == "invalid IPv6 address \"1.2.3.4\"");
    CHECK(parse_host_port("[]:80").error == "invalid IPv6 address \"\"");
    CHECK(parse_host_port("[fe80::1%]:80").error == "invalid IPv6 address \"fe80::1%\"");
    CHECK(parse_host_port("[fe80::1%e/0]:80").error == "invalid IPv6 address \"fe80::1%e/0\"");
    for (const char* host : {"-a.example", "a-.example", "a..b", "a.", ".a", "a_b", "a b", "h\xc3\xa9"}) {
        CAPTURE(host);
        CHECK(parse_host_port(std::string(host) + ":80").error == "invalid host name " + quoted(host));
    }
    CHECK(parse_host_port(std::string(64, 'a') + ":80").error.starts_with("invalid host name"));
    CHECK(parse_host_port(std::string(63, 'a') + ":80").value);
    std::string long_name;
    for (int i = 0; i < 4; ++i) long_name += std::string(63, 'a') + ".";
    long_name.pop_back();  // 255 characters: past the 253 limit
    CHECK(parse_host_port(long_name + ":80").error.starts_with("invalid host name"));
}

TEST_CASE("parse_host_port: port errors") {
    CHECK(parse_host_port("a:").error == "missing port after ':'");
    CHECK(parse_host_port("a:65536").error == "port must be a number 0..65535, got \"65536\"");
    CHECK(parse_host_port("a:99999").error == "port must be a number 0..65535, got \"99999\"");
    CHECK(parse_host_port("a:123456").error == "port must be a number 0..65535, got \"123456\"");
    CHECK(parse_host_port("a:-1").error == "port must be a number 0..65535, got \"-1\"");
    CHECK(parse_host_port("a:http").error == "port must be a number 0..65535, got \"http\"");
    CHECK(parse_host_port("[::1]:8x").error == "port must be a number 0..65535, got \"8x\"");
}

TEST_CASE("format_host_port puts IPv6 back in brackets") {
    CHECK(format_host_port({"0.0.0.0", 80}) == "0.0.0.0:80");
    CHECK(format_host_port({"::1", 8080}) == "[::1]:8080");
    CHECK(format_host_port({"example.org", 0}) == "example.org:0");
    for (const char* text : {"0.0.0.0:80", "[::]:80", "host.example:1935"}) {
        CHECK(format_host_port(*parse_host_port(text).value) == text);
    }
}

TEST_CASE("same_address ignores host case only") {
    CHECK(same_address({"Example.ORG", 80}, {"example.org", 80}));
    CHECK_FALSE(same_address({"example.org", 80}, {"example.org", 81}));
    CHECK_FALSE(same_address({"example.org", 80}, {"example.com", 80}));
    CHECK_FALSE(same_address({"example.org", 80}, {"example.or", 80}));
}
