#include "proto/polling_byte.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace rtmpt::proto;

TEST_CASE("data replies are always 0x01") {
    PollingByte p;
    for (int i = 0; i < 20; ++i) CHECK(p.next(true) == 0x01);
}

TEST_CASE("ten empty replies, then the Red5 back-off up to 0x21") {
    PollingByte p;
    std::vector<int> got;
    for (int i = 0; i < 17; ++i) got.push_back(p.next(false));
    const std::vector<int> want{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0x03, 0x05, 0x09, 0x11, 0x21, 0x21, 0x21};
    CHECK(got == want);
}

TEST_CASE("data resets the back-off") {
    PollingByte p;
    for (int i = 0; i < 14; ++i) (void)p.next(false);
    CHECK(p.next(false) == 0x21);
    CHECK(p.next(true) == 0x01);
    for (int i = 0; i < 10; ++i) CHECK(p.next(false) == 0x01);
    CHECK(p.next(false) == 0x03);
}
