#include "proto/histogram.hpp"

#include <doctest/doctest.h>

#include <array>

using namespace rtmpt::proto;

TEST_CASE("observations land in the first bucket whose bound is at least the value") {
    static constexpr std::array<double, 3> kBounds{0.1, 1, 5};
    Histogram h(kBounds);
    CHECK(h.count() == 0);
    CHECK(h.cumulative(0) == 0);
    CHECK(h.cumulative(2) == 0);
    h.observe(0.05);
    h.observe(0.1);  // "le": a bound includes itself
    h.observe(0.5);
    h.observe(5);
    h.observe(60);  // above every bound: only in +Inf, i.e. count()
    CHECK(h.cumulative(0) == 2);
    CHECK(h.cumulative(1) == 3);
    CHECK(h.cumulative(2) == 4);
    CHECK(h.count() == 5);
    CHECK(h.sum() == doctest::Approx(65.65));
}

TEST_CASE("cumulative counts never go down and end at most at count()") {
    Histogram h(kLatencyBoundsSeconds);
    for (double v : {0.0, 0.0004, 0.001, 0.003, 0.2, 0.9, 2.0, 7.0, 1e9}) h.observe(v);
    std::uint64_t last = 0;
    for (std::size_t i = 0; i < h.bounds().size(); ++i) {
        CHECK(h.cumulative(i) >= last);
        last = h.cumulative(i);
    }
    CHECK(last == 7);
    CHECK(h.count() == 9);
    // Past the last bound the cumulative count is everything in a bucket, not +Inf.
    CHECK(h.cumulative(h.bounds().size() - 1) == 7);
}

TEST_CASE("the latency bounds ascend") {
    for (std::size_t i = 1; i < kLatencyBoundsSeconds.size(); ++i)
        CHECK(kLatencyBoundsSeconds[i - 1] < kLatencyBoundsSeconds[i]);
}
