#include "gateway/process/privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace rtmpt::gateway {
namespace {

[[nodiscard]] std::string errno_text(int err) {
    return std::strerror(err);
}

// getpwnam_r/getgrnam_r want a caller buffer; the system says how large, or we grow it.
[[nodiscard]] std::size_t initial_buffer(int name) {
    const long size = sysconf(name);
    return size > 0 ? static_cast<std::size_t>(size) : 4096;
}

[[nodiscard]] bool find_user(const std::string& name, RunAs& out, std::string& error) {
    std::vector<char> buf(initial_buffer(_SC_GETPW_R_SIZE_MAX));
    passwd pw{};
    passwd* found = nullptr;
    int rc = 0;
    while ((rc = getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found)) == ERANGE &&
           buf.size() < (1U << 20))
        buf.resize(buf.size() * 2);
    if (rc != 0) {
        error = "process.user: cannot look up \"" + name + "\": " + errno_text(rc);
        return false;
    }
    if (found == nullptr) {
        error = "process.user: no such user \"" + name + "\"";
        return false;
    }
    out.user = name;
    out.uid = pw.pw_uid;
    out.gid = pw.pw_gid;
    return true;
}

[[nodiscard]] bool find_group(const std::string& name, RunAs& out, std::string& error) {
    std::vector<char> buf(initial_buffer(_SC_GETGR_R_SIZE_MAX));
    group gr{};
    group* found = nullptr;
    int rc = 0;
    while ((rc = getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &found)) == ERANGE &&
           buf.size() < (1U << 20))
        buf.resize(buf.size() * 2);
    if (rc != 0) {
        error = "process.group: cannot look up \"" + name + "\": " + errno_text(rc);
        return false;
    }
    if (found == nullptr) {
        error = "process.group: no such group \"" + name + "\"";
        return false;
    }
    out.group = name;
    out.gid = gr.gr_gid;
    return true;
}

}  // namespace

bool plan_privileges(const config::ProcessConfig& cfg, PrivilegePlan& plan, std::string& error) {
    plan = PrivilegePlan{};
    plan.allow_root = cfg.allow_root;
    if (cfg.user.empty()) {
        if (!cfg.group.empty()) {
            error = "process.group: set process.user too; a group alone is not switched to";
            return false;
        }
        return true;
    }
    RunAs run_as;
    if (!find_user(cfg.user, run_as, error)) return false;
    run_as.group = std::to_string(run_as.gid);  // the primary group, unless one is named
    if (!cfg.group.empty() && !find_group(cfg.group, run_as, error)) return false;
    plan.run_as = std::move(run_as);
    return true;
}

namespace {
constexpr const char* kRootRefusal =
    "refusing to run as root: set process.user to an unprivileged user (the listeners are bound "
    "first), or process.allow_root: true to run as root anyway";
}  // namespace

bool may_start(const PrivilegePlan& plan, std::string& error) {
    if (plan.run_as || plan.allow_root || geteuid() != 0) return true;
    error = kRootRefusal;
    return false;
}

bool drop_privileges(const PrivilegePlan& plan, std::string& done, std::string& error) {
    if (plan.run_as) {
        const RunAs& to = *plan.run_as;
        if (geteuid() != 0) {
            // Already unprivileged (systemd User=, or a developer): fine if it is the identity asked for.
            if (geteuid() == to.uid && getegid() == to.gid) {
                done = "running as user " + to.user;
            } else {
                error = "cannot switch to user " + to.user + ": not started as root";
                return false;
            }
        } else {
            // Supplementary groups first, while still allowed to change them: root's would stay.
            if (setgroups(1, &to.gid) != 0) {
                error = "setgroups(" + std::to_string(to.gid) + "): " + errno_text(errno);
                return false;
            }
            if (setgid(to.gid) != 0) {
                error = "setgid(" + std::to_string(to.gid) + "): " + errno_text(errno);
                return false;
            }
            if (setuid(to.uid) != 0) {
                error = "setuid(" + std::to_string(to.uid) + "): " + errno_text(errno);
                return false;
            }
            // A process that can become root again has dropped nothing.
            if (to.uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
                error = "root privileges could be regained after switching to user " + to.user;
                return false;
            }
            done = "switched to user " + to.user + " (uid " + std::to_string(to.uid) + ", gid " +
                   std::to_string(to.gid) + ")";
        }
    }
    if (geteuid() == 0 && !plan.allow_root) {
        error = kRootRefusal;  // process.user names root itself
        return false;
    }
    if (done.empty()) done = geteuid() == 0 ? "running as root (process.allow_root)" : "running unprivileged";
    return true;
}

}  // namespace rtmpt::gateway
