// One log line a second at most for a refusal that comes in bursts (a full connection table, a
// load balancer retrying opens on a draining node, a scraper in a loop); the line that gets
// through carries the running count from the counter, so nothing is hidden.
#pragma once

#include <chrono>

namespace rtmpt::gateway {

class LogThrottle {
  public:
    using Clock = std::chrono::steady_clock;

    // True at most once a second: the caller logs now.
    [[nodiscard]] bool due(Clock::time_point now) {
        if (now - last_ < std::chrono::seconds(1)) return false;
        last_ = now;
        return true;
    }

  private:
    Clock::time_point last_{};
};

}  // namespace rtmpt::gateway
