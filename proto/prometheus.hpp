// The Prometheus text exposition format, version 0.0.4: metric families, each opened by its
// # HELP and # TYPE lines, then its samples with escaped label values. Only the text: what is
// measured, and the names, are the caller's.
#pragma once

#include "proto/histogram.hpp"

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace rtmpt::proto {

inline constexpr std::string_view kExpositionContentType = "text/plain; version=0.0.4";

enum class MetricType {
    counter,    // only goes up (until the process restarts); names end in _total
    gauge,      // a value that goes up and down
    histogram,  // _bucket{le=...}, _sum and _count series
};

struct Label {
    std::string_view name;
    std::string_view value;
};

class Exposition {
  public:
    // Opens a family: its # HELP and # TYPE lines. Samples that follow belong to it.
    void family(std::string_view name, MetricType type, std::string_view help);

    void sample(std::string_view name, std::initializer_list<Label> labels, std::uint64_t value);
    void sample(std::string_view name, std::initializer_list<Label> labels, double value);

    // The series of one histogram family, named after it: a _bucket per bound and +Inf, _sum, _count.
    void histogram(std::string_view name, const Histogram& h);

    [[nodiscard]] const std::string& text() const { return out_; }

  private:
    void begin_sample(std::string_view name, std::initializer_list<Label> labels);

    std::string out_;
};

// [a-zA-Z_:][a-zA-Z0-9_:]*
[[nodiscard]] bool is_metric_name(std::string_view name);
// [a-zA-Z_][a-zA-Z0-9_]*; names beginning with "__" are reserved.
[[nodiscard]] bool is_label_name(std::string_view name);

// Label values escape backslash, double quote and newline; HELP text backslash and newline.
[[nodiscard]] std::string escape_label_value(std::string_view value);
[[nodiscard]] std::string escape_help(std::string_view help);

// A sample value: integers as written, +Inf, -Inf, NaN, otherwise the shortest round-trip form.
[[nodiscard]] std::string format_metric_value(double value);

}  // namespace rtmpt::proto
