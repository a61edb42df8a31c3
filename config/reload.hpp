// What a reload changes: the keys whose values differ between the running configuration and a
// newly loaded one, with the keys that only a restart can change put back to their running values.
#pragma once

#include "config/config.hpp"

#include <string>
#include <vector>

namespace rtmpt::config {

struct ReloadPlan {
    std::vector<std::string> changed;        // keys the reload applies, in table order
    std::vector<std::string> needs_restart;  // keys that differ but keep their running value
};

// Compares `next` with `running` key by key and, for every key that is not reloadable, restores
// its running value in `next`.
[[nodiscard]] ReloadPlan plan_reload(const Config& running, Config& next);

}  // namespace rtmpt::config
