// Giving up root once the listeners are bound: port 80 needs root (or CAP_NET_BIND_SERVICE) to
// bind, nothing after that does, and a gateway facing the internet should not keep it.
#pragma once

#include "config/config.hpp"

#include <sys/types.h>

#include <optional>
#include <string>

namespace rtmpt::gateway {

// The identity named by process.user and process.group, resolved from the system's databases.
struct RunAs {
    std::string user;
    std::string group;
    uid_t uid = 0;
    gid_t gid = 0;
};

struct PrivilegePlan {
    std::optional<RunAs> run_as;  // empty: keep the identity the gateway was started with
    bool allow_root = false;
};

// Resolves the names before anything is bound, so that `-t` and start-up report an unknown user
// or group at once. False with `error` set when a name is unknown.
[[nodiscard]] bool plan_privileges(const config::ProcessConfig& cfg, PrivilegePlan& plan, std::string& error);

// Checked before binding: started as root with no user to switch to, and not told that root is
// fine. False with `error` set.
[[nodiscard]] bool may_start(const PrivilegePlan& plan, std::string& error);

// Switches to plan.run_as (supplementary groups dropped, group first, then user) and checks that
// root cannot be regained. Refuses to go on as root unless plan.allow_root. On success `done`
// says what happened, for the log.
[[nodiscard]] bool drop_privileges(const PrivilegePlan& plan, std::string& done, std::string& error);

}  // namespace rtmpt::gateway
