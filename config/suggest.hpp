// "Did you mean ...?" for unknown keys: most unknown keys are typos or a key put in the wrong section.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace rtmpt::config {

// For an unknown dotted key, the full name of the directive or section probably meant: a sibling
// within two edits ("session.idle_timout" -> "session.idle_timeout"), else a directive elsewhere with
// the same last name ("idle_timeout" -> "session.idle_timeout"). nullopt when nothing is close.
[[nodiscard]] std::optional<std::string> suggest_key(std::string_view unknown);

}  // namespace rtmpt::config
