#include "config/units.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <utility>

namespace rtmpt::config {
namespace {

struct Unit {
    std::string_view suffix;
    std::uint64_t factor;
};

// Largest first: the formatters pick the first unit that divides the value exactly.
constexpr std::array<Unit, 4> kDurationUnits{{{"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}, {"ms", 1}}};

constexpr std::uint64_t kKi = 1024;
constexpr std::uint64_t kK = 1000;
constexpr std::array<Unit, 4> kBinaryUnits{
    {{"TiB", kKi* kKi* kKi* kKi}, {"GiB", kKi* kKi* kKi}, {"MiB", kKi* kKi}, {"KiB", kKi}}};
constexpr std::array<Unit, 4> kDecimalUnits{
    {{"TB", kK* kK* kK* kK}, {"GB", kK* kK* kK}, {"MB", kK* kK}, {"KB", kK}}};

constexpr std::string_view kDurationExpected = "expected a duration like 500ms, 30s, 5m, 1h";
constexpr std::string_view kSizeExpected = "expected a size like 512, 64KiB, 20MB";

[[nodiscard]] bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Splits "123abc" into 123 and "abc". nullopt when there are no leading digits; `overflow` is set when
// the digits do not fit in 64 bits (the split is still reported so the caller can word its message).
struct Number {
    std::uint64_t value = 0;
    bool overflow = false;
    std::string_view rest;
};

[[nodiscard]] std::optional<Number> leading_number(std::string_view text) {
    Number n;
    std::size_t i = 0;
    for (; i < text.size() && is_digit(text[i]); ++i) {
        const auto digit = static_cast<std::uint64_t>(text[i] - '0');
        if (n.value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) n.overflow = true;
        if (!n.overflow) n.value = n.value * 10 + digit;
    }
    if (i == 0) return std::nullopt;
    n.rest = text.substr(i);
    return n;
}

[[nodiscard]] bool mul_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t limit) {
    return b != 0 && a > limit / b;
}

}  // namespace

std::string escaped(std::string_view text) {
    std::string out;
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20 || c >= 0x7f) {
            constexpr std::string_view kHex = "0123456789abcdef";
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 0xf];
        } else {
            out += ch;
        }
    }
    return out;
}

std::string quoted(std::string_view text) {
    constexpr std::size_t kMaxShown = 64;
    const bool cut = text.size() > kMaxShown;
    return "\"" + escaped(text.substr(0, kMaxShown)) + (cut ? "...\"" : "\"");
}

Parsed<Duration> parse_duration(std::string_view text) {
    const auto n = leading_number(text);
    if (!n) return Parsed<Duration>::fail(std::string(kDurationExpected) + ", got " + quoted(text));
    if (n->rest.empty()) {
        if (!n->overflow && n->value == 0) return Parsed<Duration>::ok(Duration{0});
        return Parsed<Duration>::fail(std::string(kDurationExpected) + " (a number needs a unit), got " +
                                      quoted(text));
    }
    for (const Unit& u : kDurationUnits) {
        if (n->rest != u.suffix) continue;
        // Duration's rep is signed: the largest count it can hold is the bound.
        constexpr auto limit = static_cast<std::uint64_t>(std::numeric_limits<Duration::rep>::max());
        if (n->overflow || mul_overflows(n->value, u.factor, limit)) {
            return Parsed<Duration>::fail("duration is too large, got " + quoted(text));
        }
        return Parsed<Duration>::ok(Duration{static_cast<Duration::rep>(n->value * u.factor)});
    }
    return Parsed<Duration>::fail(std::string(kDurationExpected) + ", got " + quoted(text));
}

Parsed<std::uint64_t> parse_size(std::string_view text) {
    const auto n = leading_number(text);
    if (!n) return Parsed<std::uint64_t>::fail(std::string(kSizeExpected) + ", got " + quoted(text));
    std::optional<std::uint64_t> factor;
    if (n->rest.empty() || n->rest == "B") factor = 1;
    // "kB" is the SI spelling; "KB" the common one. Both mean 1000.
    if (n->rest == "kB") factor = kK;
    for (const auto* units : {&kBinaryUnits, &kDecimalUnits}) {
        for (const Unit& u : *units) {
            if (n->rest == u.suffix) factor = u.factor;
        }
    }
    if (!factor) return Parsed<std::uint64_t>::fail(std::string(kSizeExpected) + ", got " + quoted(text));
    if (n->overflow || mul_overflows(n->value, *factor, std::numeric_limits<std::uint64_t>::max())) {
        return Parsed<std::uint64_t>::fail("size is too large, got " + quoted(text));
    }
    return Parsed<std::uint64_t>::ok(n->value * *factor);
}

Parsed<std::uint64_t> parse_count(std::string_view text) {
    const auto n = leading_number(text);
    if (!n || !n->rest.empty()) {
        return Parsed<std::uint64_t>::fail("expected a whole number, got " + quoted(text));
    }
    if (n->overflow) return Parsed<std::uint64_t>::fail("number is too large, got " + quoted(text));
    return Parsed<std::uint64_t>::ok(n->value);
}

std::string format_duration(Duration d) {
    if (d.count() == 0) return "0s";
    if (d.count() < 0) return std::to_string(d.count()) + "ms";  // never parsed; shown plainly
    const auto ms = static_cast<std::uint64_t>(d.count());
    const auto unit = std::find_if(kDurationUnits.begin(), kDurationUnits.end(),
                                   [&](const Unit& u) { return ms % u.factor == 0; });
    // "ms" divides everything, so a unit is always found.
    return std::to_string(ms / unit->factor) + std::string(unit->suffix);
}

std::string format_size(std::uint64_t bytes) {
    // The unit giving the smallest number reads best: 2TB rather than 1953125000KiB. On a tie the
    // binary unit wins (it comes first), as buffer sizes are usually powers of two.
    std::optional<Unit> best;
    for (const auto* units : {&kBinaryUnits, &kDecimalUnits}) {
        for (const Unit& u : *units) {
            if (bytes != 0 && bytes % u.factor == 0 && (!best || u.factor > best->factor)) best = u;
        }
    }
    return best ? std::to_string(bytes / best->factor) + std::string(best->suffix) : std::to_string(bytes);
}

}  // namespace rtmpt::config
