// /healthz's check of the backend: a non-blocking TCP connect, closed as soon as it is up. A
// result is reused for kReuseFor, so frequent health checks (several load balancers, each every
// second or so) cost the backend one short connection every two seconds at most, and a scrape
// that arrives while a probe is running waits for that probe instead of starting another.
#pragma once

#include "config/config.hpp"
#include "gateway/loop/event_ptr.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace rtmpt::gateway {

class HealthProbe {
  public:
    using Clock = std::chrono::steady_clock;
    static constexpr std::chrono::seconds kReuseFor{2};

    struct Result {
        bool ok = false;
        std::string detail;  // "connected", or why not: "Connection refused", "connect timeout", ...
        config::HostPort address;
        Clock::time_point at;
    };

    // Told the result of the probe it waited for.
    class Waiter {
      public:
        virtual void on_probe_result(const Result& result) = 0;

      protected:
        ~Waiter() = default;
    };

    enum class State {
        idle,     // no probe running; the last result (if any) may still be fresh
        probing,  // a connect is under way; waiters are told when it ends
    };

    HealthProbe(event_base* base, evdns_base* dns);
    ~HealthProbe();
    HealthProbe(const HealthProbe&) = delete;
    HealthProbe& operator=(const HealthProbe&) = delete;

    // Tells `waiter` a result for `address`: at once when a fresh one exists, otherwise when the
    // probe in progress (started now if there is none) ends, within `timeout`.
    // `greeting`: sent once connected, before the close (a PROXY LOCAL header, so that an
    // origin that requires one logs a health check instead of a broken header); may be empty.
    void check(Waiter& waiter, const config::HostPort& address, std::chrono::milliseconds timeout,
               std::string greeting = {});
    // `waiter` is going away before its result came: it is not called.
    void forget(Waiter& waiter);

    [[nodiscard]] const std::optional<Result>& last() const { return last_; }
    [[nodiscard]] State state() const { return state_; }

  private:
    static void on_event(bufferevent* bev, short what, void* arg);
    void finish(bool ok, std::string detail);

    event_base* base_;
    evdns_base* dns_;
    State state_ = State::idle;
    BufferEventPtr bev_;
    config::HostPort probing_;  // the address being probed
    Clock::time_point started_;
    std::chrono::milliseconds timeout_{0};
    std::string greeting_;
    std::optional<Result> last_;
    std::vector<Waiter*> waiters_;
};

}  // namespace rtmpt::gateway
