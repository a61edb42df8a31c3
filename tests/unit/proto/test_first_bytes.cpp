#include "proto/first_bytes.hpp"

#include <doctest/doctest.h>

using rtmpt::proto::classify_first_byte;
using rtmpt::proto::first_byte_name;
using rtmpt::proto::FirstByte;

TEST_CASE("RTMP's C0, plain and RTMPE, is native RTMP") {
    for (const int c0 : {0x03, 0x06, 0x08, 0x09}) {
        CAPTURE(c0);
        CHECK(classify_first_byte(static_cast<std::uint8_t>(c0)) == FirstByte::rtmp);
    }
}

TEST_CASE("a TLS handshake record") {
    CHECK(classify_first_byte(0x16) == FirstByte::tls);
}

TEST_CASE("every other byte goes to the HTTP parser: methods, and the rest of 0..255") {
    for (const char c : std::string_view("PGHODCT"))
        CHECK(classify_first_byte(static_cast<std::uint8_t>(c)) == FirstByte::other);
    int rtmp = 0;
    int tls = 0;
    for (int b = 0; b < 256; ++b) {
        const FirstByte kind = classify_first_byte(static_cast<std::uint8_t>(b));
        rtmp += kind == FirstByte::rtmp;
        tls += kind == FirstByte::tls;
        // The RTMP specification keeps C0 below 32 so that text protocols can be told apart.
        if (b >= 32) CHECK(kind != FirstByte::rtmp);
    }
    CHECK(rtmp == 4);
    CHECK(tls == 1);
}

TEST_CASE("names") {
    CHECK(first_byte_name(FirstByte::rtmp) == "rtmp");
    CHECK(first_byte_name(FirstByte::tls) == "tls");
    CHECK(first_byte_name(FirstByte::other) == "other");
    CHECK(first_byte_name(static_cast<FirstByte>(99)) == "other");
}
