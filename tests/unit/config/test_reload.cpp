#include "config/reload.hpp"

#include <doctest/doctest.h>

using namespace rtmpt::config;

TEST_CASE("plan_reload: nothing changed") {
    const Config running;
    Config next;
    const ReloadPlan plan = plan_reload(running, next);
    CHECK(plan.changed.empty());
    CHECK(plan.needs_restart.empty());
    CHECK(next == running);
}

TEST_CASE("plan_reload: reloadable keys are listed in table order and keep their new value") {
    const Config running;
    Config next;
    next.log.level = LogLevel::debug;
    next.session.idle_timeout = Duration{5000};
    next.listen = {HostPort{"127.0.0.1", 8080}};
    const ReloadPlan plan = plan_reload(running, next);
    CHECK(plan.changed == std::vector<std::string>{"listen", "session.idle_timeout", "log.level"});
    CHECK(plan.needs_restart.empty());
    CHECK(next.session.idle_timeout == Duration{5000});
    CHECK(next.log.level == LogLevel::debug);
}

TEST_CASE("plan_reload: the identity keys keep their running value") {
    Config running;
    running.process.user = "rtmpt";
    Config next;
    next.process.user = "other";
    next.process.group = "wheel";
    next.process.allow_root = true;
    next.process.shutdown_timeout = Duration{0};
    const ReloadPlan plan = plan_reload(running, next);
    CHECK(plan.changed == std::vector<std::string>{"process.shutdown_timeout"});
    CHECK(plan.needs_restart ==
          std::vector<std::string>{"process.user", "process.group", "process.allow_root"});
    CHECK(next.process.user == "rtmpt");
    CHECK(next.process.group.empty());
    CHECK_FALSE(next.process.allow_root);
    CHECK(next.process.shutdown_timeout == Duration{0});
}

TEST_CASE("plan_reload: admin.listen needs a restart; the other admin keys apply") {
    const Config running;
    Config next;
    next.admin.listen.clear();
    next.admin.max_connections = 4;
    const ReloadPlan plan = plan_reload(running, next);
    CHECK(plan.changed == std::vector<std::string>{"admin.max_connections"});
    CHECK(plan.needs_restart == std::vector<std::string>{"admin.listen"});
    CHECK(next.admin.listen == running.admin.listen);
    CHECK(next.admin.max_connections == 4);
}
