#include "proto/histogram.hpp"

#include <algorithm>

namespace rtmpt::proto {

Histogram::Histogram(std::span<const double> bounds) : bounds_(bounds), per_bucket_(bounds.size() + 1, 0) {}

void Histogram::observe(double value) {
    // The first bound >= value: "le" buckets include their upper bound.
    const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
    ++per_bucket_[static_cast<std::size_t>(it - bounds_.begin())];
    ++count_;
    sum_ += value;
}

Histogram& Histogram::operator+=(const Histogram& other) {
    if (!std::equal(bounds_.begin(), bounds_.end(), other.bounds_.begin(), other.bounds_.end())) return *this;
    for (std::size_t b = 0; b < per_bucket_.size(); ++b) per_bucket_[b] += other.per_bucket_[b];
    count_ += other.count_;
    sum_ += other.sum_;
    return *this;
}

std::uint64_t Histogram::cumulative(std::size_t i) const {
    std::uint64_t n = 0;
    for (std::size_t b = 0; b <= i && b < per_bucket_.size(); ++b) n += per_bucket_[b];
    return n;
}

}  // namespace rtmpt::proto
