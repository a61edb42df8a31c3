#include "proto/prometheus.hpp"

#include <doctest/doctest.h>

#include <array>
#include <limits>

using namespace rtmpt::proto;

TEST_CASE("a family is its HELP and TYPE lines, then its samples") {
    Exposition e;
    e.family("rtmpt_gateway_sessions_closed_total", MetricType::counter, "Sessions closed, by reason.");
    e.sample("rtmpt_gateway_sessions_closed_total", {{"reason", "client_close"}}, std::uint64_t{3});
    e.sample("rtmpt_gateway_sessions_closed_total", {{"reason", "idle_timeout"}}, std::uint64_t{0});
    e.family("rtmpt_gateway_sessions_active", MetricType::gauge, "Sessions open now.");
    e.sample("rtmpt_gateway_sessions_active", {}, std::uint64_t{2});
    CHECK(e.text() ==
          "# HELP rtmpt_gateway_sessions_closed_total Sessions closed, by reason.\n"
          "# TYPE rtmpt_gateway_sessions_closed_total counter\n"
          "rtmpt_gateway_sessions_closed_total{reason=\"client_close\"} 3\n"
          "rtmpt_gateway_sessions_closed_total{reason=\"idle_timeout\"} 0\n"
          "# HELP rtmpt_gateway_sessions_active Sessions open now.\n"
          "# TYPE rtmpt_gateway_sessions_active gauge\n"
          "rtmpt_gateway_sessions_active 2\n");
}

TEST_CASE("several labels, escaped values and help") {
    Exposition e;
    e.family("x", MetricType::gauge, "back\\slash and\nnewline");
    e.sample("x", {{"a", "q\"uote"}, {"b", "b\\s\nn"}}, 1.5);
    CHECK(e.text() ==
          "# HELP x back\\\\slash and\\nnewline\n"
          "# TYPE x gauge\n"
          "x{a=\"q\\\"uote\",b=\"b\\\\s\\nn\"} 1.5\n");
}

TEST_CASE("a histogram's buckets are cumulative and end with +Inf") {
    static constexpr std::array<double, 3> kBounds{0.001, 0.5, 5};
    Histogram h(kBounds);
    h.observe(0.0002);
    h.observe(0.25);
    h.observe(9);
    Exposition e;
    e.family("rtmpt_gateway_backend_connect_seconds", MetricType::histogram, "Connect time.");
    e.histogram("rtmpt_gateway_backend_connect_seconds", h);
    CHECK(e.text() ==
          "# HELP rtmpt_gateway_backend_connect_seconds Connect time.\n"
          "# TYPE rtmpt_gateway_backend_connect_seconds histogram\n"
          "rtmpt_gateway_backend_connect_seconds_bucket{le=\"0.001\"} 1\n"
          "rtmpt_gateway_backend_connect_seconds_bucket{le=\"0.5\"} 2\n"
          "rtmpt_gateway_backend_connect_seconds_bucket{le=\"5\"} 2\n"
          "rtmpt_gateway_backend_connect_seconds_bucket{le=\"+Inf\"} 3\n"
          "rtmpt_gateway_backend_connect_seconds_sum 9.2502\n"
          "rtmpt_gateway_backend_connect_seconds_count 3\n");
}

TEST_CASE("metric and label names") {
    CHECK(is_metric_name("rtmpt_gateway_bytes_total"));
    CHECK(is_metric_name("a:b_c9"));
    CHECK(is_metric_name("_x"));
    CHECK_FALSE(is_metric_name(""));
    CHECK_FALSE(is_metric_name("9a"));
    CHECK_FALSE(is_metric_name("a-b"));
    CHECK_FALSE(is_metric_name("a b"));
    CHECK(is_label_name("reason"));
    CHECK(is_label_name("_x9"));
    CHECK_FALSE(is_label_name("__reserved"));
    CHECK_FALSE(is_label_name("a:b"));
    CHECK_FALSE(is_label_name(""));
}

TEST_CASE("sample values") {
    CHECK(format_metric_value(0) == "0");
    CHECK(format_metric_value(1) == "1");
    CHECK(format_metric_value(0.0025) == "0.0025");
    CHECK(format_metric_value(1712345678.25) == "1712345678.25");
    CHECK(format_metric_value(std::numeric_limits<double>::infinity()) == "+Inf");
    CHECK(format_metric_value(-std::numeric_limits<double>::infinity()) == "-Inf");
    CHECK(format_metric_value(std::numeric_limits<double>::quiet_NaN()) == "NaN");
}
