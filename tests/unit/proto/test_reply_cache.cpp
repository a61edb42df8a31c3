#include "proto/reply_cache.hpp"

#include <doctest/doctest.h>

using namespace rtmpt::proto;

TEST_CASE("keeps the last kDepth replies") {
    ReplyCache c;
    CHECK_FALSE(c.find(0));
    CHECK(c.bytes() == 0);
    for (std::uint64_t s = 0; s < ReplyCache::kDepth; ++s) c.store(s, std::string(s + 1, 'x'));
    for (std::uint64_t s = 0; s < ReplyCache::kDepth; ++s) {
        REQUIRE(c.find(s));
        CHECK(c.find(s)->size() == s + 1);
    }
    CHECK(c.bytes() == ReplyCache::kDepth * (ReplyCache::kDepth + 1) / 2);
    c.store(ReplyCache::kDepth, "new");
    CHECK_FALSE(c.find(0));
    CHECK(*c.find(ReplyCache::kDepth) == "new");
    CHECK(c.find(1));
}
