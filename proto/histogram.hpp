// A histogram over fixed upper bounds, as Prometheus exposes one: per bound the number of
// observations at or below it ("le"), plus their count and sum. Fixed bounds keep observing O(log n)
// and memory constant, whatever the number of observations.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace rtmpt::proto {

class Histogram {
  public:
    // `bounds` must be ascending and finite, and outlive the histogram (a constant, in practice).
    explicit Histogram(std::span<const double> bounds);

    void observe(double value);
    // Adds another histogram's observations (over the same bounds: a different one adds nothing).
    Histogram& operator+=(const Histogram& other);

    [[nodiscard]] std::span<const double> bounds() const { return bounds_; }
    // Observations <= bounds()[i]: cumulative, as the exposition's _bucket series are.
    [[nodiscard]] std::uint64_t cumulative(std::size_t i) const;
    [[nodiscard]] std::uint64_t count() const { return count_; }
    [[nodiscard]] double sum() const { return sum_; }

  private:
    std::span<const double> bounds_;
    std::vector<std::uint64_t> per_bucket_;  // observations in (bounds[i-1], bounds[i]]; last: above all
    std::uint64_t count_ = 0;
    double sum_ = 0;
};

// Seconds, from a loopback connect (well under a millisecond) to one about to time out.
inline constexpr std::array<double, 12> kLatencyBoundsSeconds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                              0.1,   0.25,   0.5,   1,    2.5,   5};

}  // namespace rtmpt::proto
