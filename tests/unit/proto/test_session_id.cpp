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
    CHECK_FALSE(is_well_formed_session_id("a%2e"));
    CHECK_FALSE(is_well_formed_session_id(std::string(kMaxSessionIdLength + 1, 'a')));
    CHECK(is_well_formed_session_id(std::string(kMaxSessionIdLength, 'a')));
}

TEST_CASE("well-formed tagged ids: one dot, after a valid tag, before a non-empty rest") {
    CHECK(kMaxSessionIdLength == 39);
    CHECK(is_well_formed_session_id("n1.x"));
    CHECK(is_well_formed_session_id("eu-west_1.Hk3-_9"));
    const std::string longest =
        std::string(kMaxNodeTagLength, 't') + "." + std::string(kSessionIdLength, 'r');
    CHECK(longest.size() == kMaxSessionIdLength);
    CHECK(is_well_formed_session_id(longest));
    CHECK_FALSE(is_well_formed_session_id(longest + "r"));
    // A tag longer than any valid one, even within the total length.
    CHECK_FALSE(is_well_formed_session_id(std::string(kMaxNodeTagLength + 1, 't') + ".r"));
    CHECK_FALSE(is_well_formed_session_id(".abc"));  // empty tag
    CHECK_FALSE(is_well_formed_session_id("n1."));   // empty rest
    CHECK_FALSE(is_well_formed_session_id("."));
    CHECK_FALSE(is_well_formed_session_id("n1.a.b"));  // a second dot
    CHECK_FALSE(is_well_formed_session_id("n1..ab"));
    CHECK_FALSE(is_well_formed_session_id("n 1.ab"));  // tag character
    CHECK_FALSE(is_well_formed_session_id("n1.a b"));  // rest character
}

TEST_CASE("node tags: 1..16 of [A-Za-z0-9_-]") {
    CHECK(is_valid_node_tag("n1"));
    CHECK(is_valid_node_tag("A-z_09"));
    CHECK(is_valid_node_tag(std::string(kMaxNodeTagLength, 'x')));
    CHECK_FALSE(is_valid_node_tag(""));
    CHECK_FALSE(is_valid_node_tag(std::string(kMaxNodeTagLength + 1, 'x')));
    for (const char* bad : {"n.1", "n/1", "n 1", "n%1", "n:1", "n\n", "caf\xc3\xa9"}) {
        CAPTURE(bad);
        CHECK_FALSE(is_valid_node_tag(bad));
    }
}

TEST_CASE("a tagged id is the tag, a dot and the same 22 random characters") {
    SessionIdEntropy ones;
    ones.fill(0xff);
    CHECK(format_session_id(ones, "") == "_____________________w");
    const std::string id = format_session_id(ones, "n1");
    CHECK(id == "n1._____________________w");
    CHECK(is_well_formed_session_id(id));
    CHECK(node_tag_of(id) == "n1");
    const std::string longest = format_session_id(ones, std::string(kMaxNodeTagLength, 'T'));
    CHECK(longest.size() == kMaxSessionIdLength);
    CHECK(is_well_formed_session_id(longest));
    // The id and its newline fit ffmpeg's 64-byte read of the open reply with room to spare.
    CHECK(longest.size() + 1 < 64);
}

TEST_CASE("node_tag_of") {
    CHECK(node_tag_of("Hk3abc").empty());
    CHECK(node_tag_of("").empty());
    CHECK(node_tag_of("n2.Hk3abc") == "n2");
    CHECK(node_tag_of("eu-1_a.x") == "eu-1_a");
}
