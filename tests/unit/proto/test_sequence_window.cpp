#include "proto/sequence_window.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

using namespace rtmpt::proto;
using V = SequenceWindow::Verdict;
using B = SequenceWindow::Base;

TEST_CASE("a first request numbered 0 fixes the base at once") {
    SequenceWindow w;
    CHECK(w.base() == B::unknown);
    CHECK(w.classify(0) == V::in_window);
    CHECK(w.base() == B::fixed);
    CHECK_FALSE(w.awaiting_base());
    CHECK(w.next() == 0);
    CHECK(w.first() == 0);
    w.settle_base();  // nothing to settle
    CHECK(w.next() == 0);
    CHECK(w.first() == 0);
    CHECK(w.base() == B::fixed);
}

TEST_CASE("a first number above 1 is out of the window and learns nothing") {
    SequenceWindow w;
    CHECK(w.first() == 0);
    CHECK(w.classify(2) == V::out_of_window);
    CHECK(w.base() == B::unknown);
    CHECK(w.classify(~0ull) == V::out_of_window);
    w.settle_base();  // nothing is awaited
    CHECK(w.base() == B::unknown);
    CHECK(w.classify(0) == V::in_window);
}

TEST_CASE("a first request numbered 1 leaves the base open") {
    SequenceWindow w;
    CHECK(w.classify(1) == V::in_window);
    CHECK(w.base() == B::awaiting);
    CHECK(w.awaiting_base());
    CHECK(w.next() == 0);  // provisional: nothing is applied before the base is known
    CHECK(w.first() == 0);

    SUBCASE("a 0 that follows makes the base 0") {
        CHECK(w.classify(0) == V::in_window);
        CHECK(w.base() == B::fixed);
        CHECK(w.next() == 0);
        CHECK(w.first() == 0);
        w.advance();
        CHECK(w.next() == 1);
        CHECK(w.classify(0) == V::already_seen);
        w.settle_base();  // too late to matter
        CHECK(w.next() == 1);
    }
    SUBCASE("when the wait ends the base is 1 and a late 0 is a number already used") {
        w.settle_base();
        CHECK(w.base() == B::fixed);
        CHECK(w.next() == 1);
        CHECK(w.first() == 1);
        CHECK(w.classify(0) == V::already_seen);
        CHECK(w.classify(1) == V::in_window);
        CHECK(w.classify(1 + SequenceWindow::kAhead) == V::in_window);
        CHECK(w.classify(2 + SequenceWindow::kAhead) == V::out_of_window);
    }
    SUBCASE("while it is open, the window counts from a provisional 0") {
        CHECK(w.classify(1) == V::in_window);  // a retry of the first
        CHECK(w.classify(2) == V::in_window);
        CHECK(w.classify(SequenceWindow::kAhead) == V::in_window);
        CHECK(w.classify(SequenceWindow::kAhead + 1) == V::out_of_window);
        CHECK(w.classify(~0ull) == V::out_of_window);
        CHECK(w.awaiting_base());
    }
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

namespace {

// A session's use of the window, as gateway/tunnel/session.cpp does it: in-window requests wait in a
// set and are applied while the next expected one is there. Returns the numbers applied, in
// order; `refused` collects those answered "already used".
struct Applier {
    SequenceWindow window;
    std::set<std::uint64_t> waiting;
    std::vector<std::uint64_t> applied;
    std::vector<std::uint64_t> refused;

    void arrive(std::uint64_t seq) {
        switch (window.classify(seq)) {
            case V::in_window:
                waiting.insert(seq);
                break;
            case V::already_seen:
                refused.push_back(seq);
                break;
            case V::out_of_window:
                FAIL("seq ", seq, " out of the window");
        }
        pump();
    }
    void wait_ends() {
        window.settle_base();
        pump();
    }
    void pump() {
        if (window.awaiting_base()) return;
        while (waiting.erase(window.next()) != 0) {
            applied.push_back(window.next());
            window.advance();
        }
    }
};

std::string order_name(const std::array<std::uint64_t, 3>& order, std::size_t settle_after) {
    std::string s;
    for (std::size_t i = 0; i < order.size(); ++i) {
        if (i == settle_after) s += "[wait ends] ";
        s += std::to_string(order[i]) + " ";
    }
    if (settle_after == order.size()) s += "[wait ends]";
    return s;
}

}  // namespace

TEST_CASE("every arrival order of 0, 1, 2, with the wait for a 0 ending at every point") {
    std::array<std::uint64_t, 3> order{0, 1, 2};
    do {
        // settle_after: how many requests arrived before the wait ended (3: after all of them).
        for (std::size_t settle_after = 0; settle_after <= order.size(); ++settle_after) {
            CAPTURE(order_name(order, settle_after));
            Applier a;
            const bool starts_with_two = order[0] == 2;
            if (starts_with_two) {
                // Nobody starts at 2: refused, and the session ends (the caller's part).
                CHECK(a.window.classify(2) == V::out_of_window);
                continue;
            }
            // Does the 0 arrive only after the wait for it has ended?
            const auto zero_at =
                static_cast<std::size_t>(std::find(order.begin(), order.end(), 0) - order.begin());
            const bool zero_late = order[0] == 1 && zero_at >= settle_after && settle_after >= 1;
            for (std::size_t i = 0; i < order.size(); ++i) {
                if (i == settle_after) a.wait_ends();
                a.arrive(order[i]);
            }
            if (settle_after == order.size()) a.wait_ends();
            if (zero_late) {
                CHECK(a.applied == std::vector<std::uint64_t>{1, 2});
                CHECK(a.refused == std::vector<std::uint64_t>{0});
            } else {
                CHECK(a.applied == std::vector<std::uint64_t>{0, 1, 2});
                CHECK(a.refused.empty());
            }
            CHECK(a.waiting.empty());
            CHECK_FALSE(a.window.awaiting_base());
        }
    } while (std::next_permutation(order.begin(), order.end()));
}

TEST_CASE("Red5: 1 alone, the wait ends, then 2 and 3 in order") {
    Applier a;
    a.arrive(1);
    CHECK(a.applied.empty());
    a.wait_ends();
    CHECK(a.applied == std::vector<std::uint64_t>{1});
    a.arrive(2);
    a.arrive(3);
    CHECK(a.applied == std::vector<std::uint64_t>{1, 2, 3});
}
