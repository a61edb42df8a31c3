#include "proto/histogram.hpp"

#include <doctest/doctest.h>

#include <array>
#include <span>

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
    // An index past the buckets counts every observation: the +Inf bucket included.
    CHECK(h.cumulative(h.bounds().size()) == 9);
    CHECK(h.cumulative(1000) == 9);
}

TEST_CASE("the latency bounds ascend") {
    for (std::size_t i = 1; i < kLatencyBoundsSeconds.size(); ++i)
        CHECK(kLatencyBoundsSeconds[i - 1] < kLatencyBoundsSeconds[i]);
}

TEST_CASE("+= adds another histogram's buckets, count and sum over the same bounds") {
    static constexpr std::array<double, 3> kBounds{0.1, 1, 5};
    Histogram a(kBounds);
    Histogram b(kBounds);
    for (double v : {0.05, 0.5, 60.0}) a.observe(v);
    for (double v : {0.1, 2.0, 5.0, 7.0}) b.observe(v);
    Histogram& result = (a += b);
    CHECK(&result == &a);
    CHECK(a.cumulative(0) == 2);  // 0.05, 0.1
    CHECK(a.cumulative(1) == 3);  // + 0.5
    CHECK(a.cumulative(2) == 5);  // + 2, 5
    CHECK(a.count() == 7);        // + 60, 7 above every bound
    CHECK(a.sum() == doctest::Approx(74.65));
    // The other side is untouched.
    CHECK(b.count() == 4);
    CHECK(b.cumulative(2) == 3);
    CHECK(b.sum() == doctest::Approx(14.1));
}

TEST_CASE("+= is the same as observing everything in one histogram") {
    Histogram parts[3] = {Histogram(kLatencyBoundsSeconds), Histogram(kLatencyBoundsSeconds),
                          Histogram(kLatencyBoundsSeconds)};
    Histogram whole(kLatencyBoundsSeconds);
    int i = 0;
    for (double v : {0.0, 0.0004, 0.001, 0.003, 0.2, 0.9, 2.0, 7.0, 1e9, 0.0025, 5.0, 0.05}) {
        parts[i++ % 3].observe(v);
        whole.observe(v);
    }
    Histogram sum(kLatencyBoundsSeconds);
    for (const Histogram& p : parts) sum += p;
    CHECK(sum.count() == whole.count());
    CHECK(sum.sum() == doctest::Approx(whole.sum()));
    for (std::size_t b = 0; b < whole.bounds().size(); ++b) {
        CAPTURE(b);
        CHECK(sum.cumulative(b) == whole.cumulative(b));
    }
    // Adding an empty one changes nothing; adding one to itself doubles it.
    sum += Histogram(kLatencyBoundsSeconds);
    CHECK(sum.count() == whole.count());
    sum += sum;
    CHECK(sum.count() == 2 * whole.count());
    CHECK(sum.cumulative(0) == 2 * whole.cumulative(0));
    CHECK(sum.sum() == doctest::Approx(2 * whole.sum()));
}

TEST_CASE("+= compares bounds by value: equal bounds in another array add") {
    static constexpr std::array<double, 2> kOne{1, 2};
    static constexpr std::array<double, 2> kSame{1, 2};
    Histogram a(kOne);
    Histogram b(kSame);
    b.observe(1.5);
    a += b;
    CHECK(a.count() == 1);
    CHECK(a.cumulative(0) == 0);
    CHECK(a.cumulative(1) == 1);
}

TEST_CASE("+= over different bounds adds nothing") {
    static constexpr std::array<double, 2> kTwo{1, 2};
    static constexpr std::array<double, 2> kOther{1, 3};
    static constexpr std::array<double, 3> kLonger{1, 2, 3};
    static constexpr std::array<double, 1> kShorter{1};
    Histogram a(kTwo);
    a.observe(0.5);
    for (const std::span<const double> bounds :
         {std::span<const double>(kOther), std::span<const double>(kLonger),
          std::span<const double>(kShorter), std::span<const double>()}) {
        CAPTURE(bounds.size());
        Histogram other(bounds);
        other.observe(0.5);
        other.observe(100);
        Histogram& result = (a += other);
        CHECK(&result == &a);
        CHECK(a.count() == 1);
        CHECK(a.sum() == doctest::Approx(0.5));
        CHECK(a.cumulative(0) == 1);
        CHECK(a.cumulative(1) == 1);
        // Nor does the other side take anything.
        CHECK(other.count() == 2);
    }
    // Without bounds at all, two histograms still add: everything is above every bound.
    Histogram none(std::span<const double>{});
    Histogram none2(std::span<const double>{});
    none2.observe(3);
    none += none2;
    CHECK(none.count() == 1);
    CHECK(none.sum() == doctest::Approx(3));
}
