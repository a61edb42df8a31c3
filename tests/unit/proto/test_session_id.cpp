#include "proto/session_id.hpp"

#include <doctest/doctest.h>

#include <set>

using namespace rtmpt::proto;

TEST_CASE("ids are 22 base64url characters carrying all 128 bits") {
    SessionIdEntropy zeros{};
    CHECK(format_session_id(zeros) == "AAAAAAAAAAAAAAAAAAAAAA");
    SessionIdEntropy ones;
    ones.fill(0xff);
    // 128 bits = 21 full sextets + 2 bits, padded with zeros: the last character is 'w'.
    CHECK(format_session_id(ones) == "_____________________w");
    SessionIdEntropy counting{};
    for (std::size_t i = 0; i < counting.size(); ++i) counting[i] = static_cast<std::uint8_t>(i * 17);
    const std::string id = format_session_id(counting);
    CHECK(id.size() == kSessionIdLength);
    CHECK(is_well_formed_session_id(id));
}

TEST_CASE("different entropy gives different ids") {
    std::set<std::string> seen;
    for (int bit = 0; bit < 128; ++bit) {
        SessionIdEntropy e{};
        e[static_cast<std::size_t>(bit / 8)] = static_cast<std::uint8_t>(1u << (bit % 8));
        seen.insert(format_session_id(e));
    }
    CHECK(seen.size() == 128);
}

TEST_CASE("well-formed ids") {
    CHECK(is_well_formed_session_id("a"));
    CHECK(is_well_formed_session_id("AZaz09-_"));
    CHECK_FALSE(is_well_formed_session_id(""));
    CHECK_FALSE(is_well_formed_session_id("a b"));
    CHECK_FALSE(is_well_formed_session_id("a/b"));
    CHECK_FALSE(is_well_formed_session_id("a\n"));
    CHECK_FALSE(is_well_formed_session_id(std::string(32, 'a')));
    CHECK(is_well_formed_session_id(std::string(31, 'a')));
}
