// How a log line is written. The gateway's messages are written for people, in one shape:
// "<event words> key=value ... [free text]", e.g. "session end sid=... client=... closing
// because: idle timeout". The text format prints them as they are; logfmt and JSON split each
// one at that shape into its event, its key=value fields and the rest (msg), so that log
// pipelines can select on sid, client or status without parsing prose. Pure: no I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rtmpt::gateway {

enum class LogFormat {
    text,    // "2026-11-24T12:00:00.000Z info session open sid=... client=..."
    logfmt,  // time=... level=info event="session open" sid=... client=...
    json,    // {"time":"...","level":"info","event":"session open","sid":"...","client":"..."}
};

[[nodiscard]] std::optional<LogFormat> parse_log_format(std::string_view name);

struct MessageParts {
    std::string_view event;  // the words before the first field; empty when there is no field
    std::vector<std::pair<std::string_view, std::string_view>> fields;
    std::string_view msg;  // what follows the fields; the whole message when there is no field
};

// Fields are tokens "key=value" with a lowercase key, right after the event words; a field that
// ends with ':' ends the fields. A message whose words reach a ':' before any field has none.
[[nodiscard]] MessageParts split_message(std::string_view message);

// One whole line, newline included.
[[nodiscard]] std::string render_log_line(LogFormat format, std::string_view time, std::string_view level,
                                          std::string_view message);

}  // namespace rtmpt::gateway
