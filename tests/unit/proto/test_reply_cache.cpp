#include "proto/reply_cache.hpp"

#include <doctest/doctest.h>

using namespace rtmpt::proto;

namespace {

ReplyCache::Reply reply(std::string text) {
    return std::make_shared<const std::string>(std::move(text));
}

}  // namespace

TEST_CASE("keeps the last kDepth replies") {
    ReplyCache c;
    CHECK_FALSE(c.find(0));
    CHECK(c.bytes() == 0);
    for (std::uint64_t s = 0; s < ReplyCache::kDepth; ++s) c.store(s, reply(std::string(s + 1, 'x')));
    for (std::uint64_t s = 0; s < ReplyCache::kDepth; ++s) {
        REQUIRE(c.find(s));
        CHECK(c.find(s)->size() == s + 1);
    }
    CHECK(c.bytes() == ReplyCache::kDepth * (ReplyCache::kDepth + 1) / 2);
    c.store(ReplyCache::kDepth, reply("new"));
    CHECK_FALSE(c.find(0));
    CHECK(*c.find(ReplyCache::kDepth) == "new");
    CHECK(c.find(1));
    CHECK(c.bytes() == ReplyCache::kDepth * (ReplyCache::kDepth + 1) / 2 - 1 + 3);
}

TEST_CASE("shares the reply it was given") {
    ReplyCache c;
    const ReplyCache::Reply r = reply("abc");
    c.store(7, r);
    CHECK(c.find(7).get() == r.get());
    c.store(8, nullptr);  // nothing to keep: ignored
    CHECK_FALSE(c.find(8));
    CHECK(c.bytes() == 3);
}

TEST_CASE("a byte budget drops the oldest first and always keeps the newest") {
    ReplyCache c(10);
    c.store(0, reply("aaaa"));
    c.store(1, reply("bbbb"));
    CHECK(c.bytes() == 8);
    c.store(2, reply("cccc"));  // 12 > 10: seq 0 goes
    CHECK_FALSE(c.find(0));
    CHECK(c.find(1));
    CHECK(c.find(2));
    CHECK(c.bytes() == 8);
    c.store(3, reply(std::string(50, 'd')));  // larger than the budget alone: only it stays
    CHECK_FALSE(c.find(1));
    CHECK_FALSE(c.find(2));
    REQUIRE(c.find(3));
    CHECK(c.find(3)->size() == 50);
    CHECK(c.bytes() == 50);
    c.store(4, reply("e"));
    CHECK_FALSE(c.find(3));
    CHECK(c.bytes() == 1);
}

TEST_CASE("the session budget holds two full replies with their heads") {
    CHECK(ReplyCache::budget_for(65536) == 2 * (65536 + ReplyCache::kHeadAllowance));
    const std::size_t full = 100 + ReplyCache::kHeadAllowance;  // reply_max_bytes 100, the largest head
    ReplyCache c(ReplyCache::budget_for(100));
    c.store(0, reply(std::string(full, 'a')));
    c.store(1, reply(std::string(full, 'b')));
    CHECK(c.find(0));
    CHECK(c.find(1));
    c.store(2, reply(std::string(full, 'c')));
    CHECK_FALSE(c.find(0));
    CHECK(c.find(1));
    CHECK(c.find(2));
}
