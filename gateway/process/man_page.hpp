// The rtmpt-gateway(8) manual page, generated from the command-line options and the directive table.
#pragma once

#include <string>
#include <string_view>

namespace rtmpt::gateway {

// troff source with man(7) macros. meson builds and installs it from `rtmpt-gateway --print-man-page`.
[[nodiscard]] std::string man_page(std::string_view version);

// `text` made safe as troff input: backslashes escaped, a leading '.' or '\'' neutralised on every
// line, '-' written as a minus sign.
[[nodiscard]] std::string troff_escape(std::string_view text);

}  // namespace rtmpt::gateway
