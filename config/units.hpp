// Text <-> number conversions for the units a config file may use: durations ("500ms", "30s"),
// byte sizes ("64KiB", "20MB") and plain counts. Pure functions; no YAML, no Config.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace rtmpt::config {

// Either a value or a message saying why the text was rejected (the message never repeats the key:
// the caller knows it and adds it).
template <class T>
struct Parsed {
    std::optional<T> value;
    std::string error;

    [[nodiscard]] static Parsed ok(T v) { return Parsed{std::move(v), {}}; }
    [[nodiscard]] static Parsed fail(std::string message) { return Parsed{std::nullopt, std::move(message)}; }
};

// Echoes a rejected value in a message: got "abc". Quotes, backslashes and control bytes are escaped
// and long values cut, so the message stays one readable line whatever the file holds.
[[nodiscard]] std::string quoted(std::string_view text);
// The same escaping without the quotes and without a length cap, for text from other libraries.
[[nodiscard]] std::string escaped(std::string_view text);

// "<digits><unit>" with unit ms, s, m or h. A bare number is rejected (is "30" seconds or
// milliseconds?) except "0", which means zero whatever the unit.
[[nodiscard]] Parsed<Duration> parse_duration(std::string_view text);

// "<digits>[unit]": no unit or B = bytes; KB/kB, MB, GB, TB = powers of 1000; KiB, MiB, GiB, TiB =
// powers of 1024.
[[nodiscard]] Parsed<std::uint64_t> parse_size(std::string_view text);

// Decimal digits only: no sign, no exponent, no separators.
[[nodiscard]] Parsed<std::uint64_t> parse_count(std::string_view text);

// The inverse of the parsers, in the largest unit that is exact: 100ms, 5m, 24h; 0 is "0s".
[[nodiscard]] std::string format_duration(Duration d);
// 64KiB, 1MiB, 20MB, 512; binary units are preferred since they are what buffer sizes usually are.
[[nodiscard]] std::string format_size(std::uint64_t bytes);

}  // namespace rtmpt::config
