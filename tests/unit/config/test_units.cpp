#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "config/units.hpp"

using namespace rtmpt::config;
using namespace std::chrono_literals;

namespace {
constexpr std::string_view kDurationHint = "expected a duration like 500ms, 30s, 5m, 1h";
constexpr std::string_view kSizeHint = "expected a size like 512, 64KiB, 20MB";
}  // namespace

TEST_CASE("parse_duration accepts every unit") {
    CHECK(parse_duration("500ms").value == Duration{500});
    CHECK(parse_duration("30s").value == Duration{30s});
    CHECK(parse_duration("5m").value == Duration{5min});
    CHECK(parse_duration("1h").value == Duration{1h});
    CHECK(parse_duration("0ms").value == Duration{0});
    CHECK(parse_duration("007s").value == Duration{7s});
    CHECK(parse_duration("30s").error.empty());
}

TEST_CASE("parse_duration: a bare 0 needs no unit, any other number does") {
    CHECK(parse_duration("0").value == Duration{0});
    CHECK(parse_duration("000").value == Duration{0});
    const auto bare = parse_duration("30");
    CHECK_FALSE(bare.value);
    CHECK(bare.error == std::string(kDurationHint) + " (a number needs a unit), got \"30\"");
}

TEST_CASE("parse_duration rejects garbage") {
    for (const char* text : {"", "abc", "s", "ms", "30 s", " 30s", "30s ", "30S", "1.5s", "-1s", "+1s",
                             "30sec", "1d", "30x", "1h30m", "0x10s"}) {
        CAPTURE(text);
        const auto parsed = parse_duration(text);
        CHECK_FALSE(parsed.value);
        CHECK(parsed.error == std::string(kDurationHint) + ", got " + quoted(text));
    }
}

TEST_CASE("parse_duration overflow") {
    // Milliseconds are held in a signed 64-bit count.
    const auto max_ms = std::to_string(std::numeric_limits<std::int64_t>::max());
    CHECK(parse_duration(max_ms + "ms").value == Duration{std::numeric_limits<std::int64_t>::max()});
    CHECK(parse_duration("9223372036854775808ms").error ==
          "duration is too large, got \"9223372036854775808ms\"");
    CHECK(parse_duration("9223372036854776h").error == "duration is too large, got \"9223372036854776h\"");
    CHECK_FALSE(parse_duration("99999999999999999999999s").value);
    CHECK(parse_duration("99999999999999999999999s").error.starts_with("duration is too large"));
    // Overflowing digits without a unit still get the "needs a unit" hint, not a value.
    CHECK_FALSE(parse_duration("99999999999999999999999").value);
}

TEST_CASE("parse_size accepts every unit") {
    CHECK(parse_size("0").value == 0u);
    CHECK(parse_size("512").value == 512u);
    CHECK(parse_size("512B").value == 512u);
    CHECK(parse_size("1KB").value == 1000u);
    CHECK(parse_size("1kB").value == 1000u);
    CHECK(parse_size("20MB").value == 20'000'000u);
    CHECK(parse_size("3GB").value == 3'000'000'000u);
    CHECK(parse_size("2TB").value == 2'000'000'000'000u);
    CHECK(parse_size("64KiB").value == 64u * 1024);
    CHECK(parse_size("1MiB").value == 1024u * 1024);
    CHECK(parse_size("2GiB").value == 2ull * 1024 * 1024 * 1024);
    CHECK(parse_size("1TiB").value == 1ull << 40);
}

TEST_CASE("parse_size rejects garbage") {
    for (const char* text :
         {"", "abc", "KiB", "1K", "1k", "1kb", "1Kib", "1 KiB", "1.5MiB", "-1", "1EiB", "1MiBs", " 1"}) {
        CAPTURE(text);
        const auto parsed = parse_size(text);
        CHECK_FALSE(parsed.value);
        CHECK(parsed.error == std::string(kSizeHint) + ", got " + quoted(text));
    }
}

TEST_CASE("parse_size overflow") {
    CHECK(parse_size("18446744073709551615").value == std::numeric_limits<std::uint64_t>::max());
    CHECK(parse_size("18446744073709551616").error == "size is too large, got \"18446744073709551616\"");
    CHECK(parse_size("16777216TiB").error == "size is too large, got \"16777216TiB\"");
    CHECK(parse_size("16777215TiB").value == 16777215ull << 40);
    CHECK(parse_size("18446744073709552KB").error.starts_with("size is too large"));
}

TEST_CASE("parse_count") {
    CHECK(parse_count("0").value == 0u);
    CHECK(parse_count("10000").value == 10000u);
    CHECK(parse_count("18446744073709551615").value == std::numeric_limits<std::uint64_t>::max());
    CHECK(parse_count("18446744073709551616").error == "number is too large, got \"18446744073709551616\"");
    for (const char* text : {"", "x", "-1", "+1", "1e4", "10_000", "10,000", "1k", "1 "}) {
        CAPTURE(text);
        CHECK(parse_count(text).error == "expected a whole number, got " + quoted(text));
    }
}

TEST_CASE("format_duration picks the largest exact unit") {
    CHECK(format_duration(Duration{0}) == "0s");
    CHECK(format_duration(Duration{100}) == "100ms");
    CHECK(format_duration(Duration{1500}) == "1500ms");
    CHECK(format_duration(5s) == "5s");
    CHECK(format_duration(90s) == "90s");
    CHECK(format_duration(5min) == "5m");
    CHECK(format_duration(24h) == "24h");
    CHECK(format_duration(Duration{-3}) == "-3ms");
}

TEST_CASE("format_size picks the largest exact unit, binary first") {
    CHECK(format_size(0) == "0");
    CHECK(format_size(512) == "512");
    CHECK(format_size(1024) == "1KiB");
    CHECK(format_size(64 * 1024) == "64KiB");
    CHECK(format_size(1024 * 1024) == "1MiB");
    CHECK(format_size(1ull << 30) == "1GiB");
    CHECK(format_size(1ull << 40) == "1TiB");
    CHECK(format_size(1000) == "1KB");
    CHECK(format_size(20'000'000) == "20MB");
    CHECK(format_size(3'000'000'000) == "3GB");
    CHECK(format_size(2'000'000'000'000) == "2TB");
    CHECK(format_size(1001) == "1001");
    CHECK(format_size(1'024'000) == "1000KiB");  // the larger unit wins
    CHECK(format_size(2'048'000) == "2000KiB");
    CHECK(format_size(1'000'000'000) == "1GB");
}

TEST_CASE("formatting round-trips through parsing") {
    for (std::uint64_t bytes : {0ull, 1ull, 999ull, 1000ull, 1024ull, 1536ull, 3'000'000ull, 5ull << 30}) {
        CAPTURE(bytes);
        CHECK(parse_size(format_size(bytes)).value == bytes);
    }
    for (auto ms : {0, 1, 999, 1000, 60'000, 61'000, 3'600'000, 86'400'000}) {
        CAPTURE(ms);
        CHECK(parse_duration(format_duration(Duration{ms})).value == Duration{ms});
    }
}

TEST_CASE("quoted escapes and shortens") {
    CHECK(quoted("abc") == "\"abc\"");
    CHECK(quoted("") == "\"\"");
    CHECK(quoted("a\"b\\c") == "\"a\\\"b\\\\c\"");
    CHECK(quoted("a\r\nb") == "\"a\\x0d\\x0ab\"");
    CHECK(quoted("\x7f\xff") == "\"\\x7f\\xff\"");
    CHECK(quoted(std::string(64, 'x')) == "\"" + std::string(64, 'x') + "\"");
    CHECK(quoted(std::string(65, 'x')) == "\"" + std::string(64, 'x') + "...\"");
}
