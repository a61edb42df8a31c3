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
    // A 16-character tag, its dot, a worker digit and the 22 random characters.
    CHECK(kMaxSessionIdLength == 40);
    CHECK(is_well_formed_session_id("n1.x"));
    CHECK(is_well_formed_session_id("eu-west_1.Hk3-_9"));
    const std::string longest =
        std::string(kMaxNodeTagLength, 't') + "." + "w" + std::string(kSessionIdLength, 'r');
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
    CHECK(longest.size() == kMaxSessionIdLength - 1);  // no worker digit: one short of the longest
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

TEST_CASE("a worker's digit goes right before the random part, which keeps its 22 characters") {
    SessionIdEntropy ones;
    ones.fill(0xff);
    const std::string random = format_session_id(ones);
    REQUIRE(random.size() == kSessionIdLength);
    // Untagged: the digit, then the random part.
    CHECK(format_session_id(ones, "", 0u) == "A" + random);
    CHECK(format_session_id(ones, {}, 1u) == "B" + random);
    CHECK(format_session_id(ones, "", 26u) == "a" + random);
    CHECK(format_session_id(ones, "", 52u) == "0" + random);
    CHECK(format_session_id(ones, "", 62u) == "-" + random);
    CHECK(format_session_id(ones, "", kMaxWorkers - 1) == "_" + random);
    // Tagged: the tag, its dot, the digit, the random part.
    CHECK(format_session_id(ones, "n1", 0u) == "n1.A" + random);
    CHECK(format_session_id(ones, "n1", 5u) == "n1.F" + random);
    // Without a worker the ids are as they were before there were workers.
    CHECK(format_session_id(ones, "", std::nullopt) == random);
    CHECK(format_session_id(ones, "n1", std::nullopt) == "n1." + random);
}

TEST_CASE("every worker below kMaxWorkers has a digit of its own, and worker_of reads it back") {
    CHECK(kMaxWorkers == 64);
    SessionIdEntropy counting{};
    for (std::size_t i = 0; i < counting.size(); ++i) counting[i] = static_cast<std::uint8_t>(i * 37 + 5);
    const std::string random = format_session_id(counting);
    std::set<char> digits;
    for (unsigned w = 0; w < kMaxWorkers; ++w) {
        CAPTURE(w);
        for (const std::string_view tag :
             {std::string_view{}, std::string_view{"n1"}, std::string_view{"tttttttttttttttt"}}) {
            CAPTURE(tag);
            const std::string id = format_session_id(counting, tag, w);
            const std::size_t prefix = tag.empty() ? 0 : tag.size() + 1;
            CHECK(id.size() == prefix + 1 + kSessionIdLength);
            CHECK(id.size() <= kMaxSessionIdLength);
            // The random part is untouched by the digit in front of it.
            CHECK(id.substr(prefix + 1) == random);
            CHECK(is_well_formed_session_id(id));
            CHECK(node_tag_of(id) == tag);
            REQUIRE(worker_of(id).has_value());
            CHECK(*worker_of(id) == w);
            digits.insert(id[prefix]);
        }
    }
    CHECK(digits.size() == kMaxWorkers);
    // The longest id there is: a full tag and a worker digit.
    const std::string longest =
        format_session_id(counting, std::string(kMaxNodeTagLength, 'T'), kMaxWorkers - 1);
    CHECK(longest.size() == kMaxSessionIdLength);
    CHECK(is_well_formed_session_id(longest));
    CHECK_FALSE(is_well_formed_session_id(longest + "x"));
    // With its newline it still fits ffmpeg's 64-byte read of the open reply.
    CHECK(longest.size() + 1 < 64);
}

TEST_CASE("ids of different workers from the same entropy differ, and only in the digit") {
    SessionIdEntropy zeros{};
    const std::string a = format_session_id(zeros, "n1", 0u);
    const std::string b = format_session_id(zeros, "n1", 1u);
    CHECK(a != b);
    CHECK(a.size() == b.size());
    CHECK(a.substr(4) == b.substr(4));
}

TEST_CASE("worker_of: a digit only when the part after the tag is one longer than a random part") {
    const std::string random(kSessionIdLength, 'r');
    // Untagged, 23 characters: the first one names the worker.
    CHECK(worker_of("A" + random) == 0u);
    CHECK(worker_of("C" + random) == 2u);
    CHECK(worker_of("_" + random) == 63u);
    // Tagged, 23 characters after the dot.
    CHECK(worker_of("n1.D" + random) == 3u);
    CHECK(worker_of(std::string(kMaxNodeTagLength, 't') + ".z" + random) == 51u);
    // Ids without a digit: exactly a random part, with or without a tag.
    CHECK_FALSE(worker_of(random).has_value());
    CHECK_FALSE(worker_of("n1." + random).has_value());
    CHECK_FALSE(worker_of("." + random).has_value());  // 23 characters, but 22 after the dot
    // Other lengths, shorter or longer, name no worker either.
    CHECK_FALSE(worker_of("").has_value());
    CHECK_FALSE(worker_of(".").has_value());
    CHECK_FALSE(worker_of("n1.").has_value());
    CHECK_FALSE(worker_of("A").has_value());
    CHECK_FALSE(worker_of("AB" + random).has_value());
    CHECK_FALSE(worker_of("n1.AB" + random).has_value());
    CHECK_FALSE(worker_of(std::string(kMaxSessionIdLength, 'a')).has_value());
    // The tag's own length does not count: only the part after the first dot.
    CHECK_FALSE(worker_of(std::string(kSessionIdLength, 't') + "." + random).has_value());
    CHECK(worker_of(std::string(kSessionIdLength, 't') + ".B" + random) == 1u);
    // 23 characters whose first is no base64url digit: no worker (worker_of does not ask for a
    // well-formed id, so such bytes can reach it).
    CHECK_FALSE(worker_of("n1..A" + random.substr(1)).has_value());  // a second dot in front
    CHECK_FALSE(worker_of("%" + random).has_value());
    CHECK_FALSE(worker_of("n1. " + random).has_value());
    CHECK_FALSE(worker_of(std::string(1, '\0') + random).has_value());
    CHECK_FALSE(worker_of("\xc3" + random).has_value());
}

TEST_CASE("worker_of reads what format_session_id wrote, for every entropy tried") {
    for (int n = 0; n < 256; ++n) {
        SessionIdEntropy e;
        e.fill(static_cast<std::uint8_t>(n));
        const unsigned w = static_cast<unsigned>(n) % kMaxWorkers;
        CHECK(worker_of(format_session_id(e, "", w)) == w);
        CHECK(worker_of(format_session_id(e, "edge-7", w)) == w);
        CHECK_FALSE(worker_of(format_session_id(e)).has_value());
        CHECK_FALSE(worker_of(format_session_id(e, "edge-7")).has_value());
    }
}
