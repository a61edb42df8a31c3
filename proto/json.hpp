// The two JSON pieces the admin endpoints need: strings and numbers. Output is always valid JSON,
// whatever bytes come in.
#pragma once

#include <string>
#include <string_view>

namespace rtmpt::proto {

// `s` as a quoted JSON string. Control characters are \u-escaped; bytes above 0x7f are taken as
// Latin-1 and \u-escaped too, so invalid UTF-8 cannot make the document invalid.
[[nodiscard]] std::string json_string(std::string_view s);

// Shortest round-trip form; JSON has no infinity or NaN, so those are `null`.
[[nodiscard]] std::string json_number(double value);

}  // namespace rtmpt::proto
