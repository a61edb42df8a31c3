#include "config/reload.hpp"

#include "config/directives.hpp"
#include "config/values.hpp"

#include <variant>

namespace rtmpt::config {

ReloadPlan plan_reload(const Config& running, Config& next) {
    ReloadPlan plan;
    Config source = running;  // slots hand out mutable pointers
    for (const Directive& d : directives()) {
        if (format_value(d, running) == format_value(d, next)) continue;
        if (d.reloadable) {
            plan.changed.emplace_back(d.name);
            continue;
        }
        plan.needs_restart.emplace_back(d.name);
        std::visit(
            [&](auto* to) {
                using T = std::remove_pointer_t<decltype(to)>;
                *to = *std::get<T*>(d.slot(source));
            },
            d.slot(next));
    }
    return plan;
}

}  // namespace rtmpt::config
