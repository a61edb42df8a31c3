#include "proto/sequence_window.hpp"

#include <doctest/doctest.h>

using namespace rtmpt::proto;
using V = SequenceWindow::Verdict;

TEST_CASE("the base is learned from the first request: 0 or 1") {
    SequenceWindow zero;
    CHECK_FALSE(zero.has_base());
    CHECK(zero.classify(0) == V::in_window);
    CHECK(zero.has_base());
    CHECK(zero.next() == 0);

    SequenceWindow one;
    CHECK(one.classify(1) == V::in_window);
    CHECK(one.next() == 1);

    SequenceWindow other;
    CHECK(other.classify(2) == V::out_of_window);
    CHECK_FALSE(other.has_base());
}

TEST_CASE("in order, ahead, retried, too far") {
    SequenceWindow w;
    REQUIRE(w.classify(0) == V::in_window);
    w.advance();
    CHECK(w.next() == 1);
    CHECK(w.classify(1) == V::in_window);
    CHECK(w.classify(1 + SequenceWindow::kAhead) == V::in_window);
    CHECK(w.classify(2 + SequenceWindow::kAhead) == V::out_of_window);
    CHECK(w.classify(0) == V::already_seen);
    w.advance();
    CHECK(w.classify(1) == V::already_seen);
    CHECK(w.classify(~0ull) == V::out_of_window);
}
