#include "proto/prometheus.hpp"

#include <charconv>
#include <cmath>

namespace rtmpt::proto {
namespace {

[[nodiscard]] bool is_letter(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
[[nodiscard]] bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

[[nodiscard]] std::string_view type_name(MetricType type) {
    switch (type) {
        case MetricType::counter:
            return "counter";
        case MetricType::gauge:
            return "gauge";
        case MetricType::histogram:
            return "histogram";
    }
    return "untyped";
}

}  // namespace

bool is_metric_name(std::string_view name) {
    if (name.empty() || !(is_letter(name[0]) || name[0] == ':')) return false;
    for (const char c : name) {
        if (!is_letter(c) && !is_digit(c) && c != ':') return false;
    }
    return true;
}

bool is_label_name(std::string_view name) {
    if (name.empty() || !is_letter(name[0]) || name.starts_with("__")) return false;
    for (const char c : name) {
        if (!is_letter(c) && !is_digit(c)) return false;
    }
    return true;
}

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (const char c : value) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

std::string escape_help(std::string_view help) {
    std::string out;
    out.reserve(help.size());
    for (const char c : help) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

std::string format_metric_value(double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
    if (ec != std::errc{}) return "NaN";
    return std::string(buf, end);
}

void Exposition::family(std::string_view name, MetricType type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += escape_help(help);
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type_name(type);
    out_ += '\n';
}

void Exposition::begin_sample(std::string_view name, std::initializer_list<Label> labels) {
    out_ += name;
    if (labels.size() != 0) {
        out_ += '{';
        bool first = true;
        for (const Label& l : labels) {
            if (!first) out_ += ',';
            first = false;
            out_ += l.name;
            out_ += "=\"";
            out_ += escape_label_value(l.value);
            out_ += '"';
        }
        out_ += '}';
    }
    out_ += ' ';
}

void Exposition::sample(std::string_view name, std::initializer_list<Label> labels, std::uint64_t value) {
    begin_sample(name, labels);
    out_ += std::to_string(value);
    out_ += '\n';
}

void Exposition::sample(std::string_view name, std::initializer_list<Label> labels, double value) {
    begin_sample(name, labels);
    out_ += format_metric_value(value);
    out_ += '\n';
}

void Exposition::histogram(std::string_view name, const Histogram& h) {
    const std::string bucket = std::string(name) + "_bucket";
    for (std::size_t i = 0; i < h.bounds().size(); ++i) {
        const std::string le = format_metric_value(h.bounds()[i]);
        sample(bucket, {{"le", le}}, h.cumulative(i));
    }
    sample(bucket, {{"le", "+Inf"}}, h.count());
    sample(std::string(name) + "_sum", {}, h.sum());
    sample(std::string(name) + "_count", {}, h.count());
}

}  // namespace rtmpt::proto
