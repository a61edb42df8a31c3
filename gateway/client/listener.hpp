// One listening socket from the `listen` list, handing accepted connections to its worker.
#pragma once

#include "config/config.hpp"
#include "gateway/loop/event_ptr.hpp"

#include <cstdint>
#include <functional>
#include <string>

namespace rtmpt::gateway {

class Worker;

class Listener {
  public:
    // Given an accepted socket and its peer ("1.2.3.4:5678"); takes ownership of the socket.
    using AcceptFn = std::function<void(evutil_socket_t fd, std::string peer)>;

    // Without `on_accept`, connections go to the worker (the RTMPT side); the admin listener
    // passes its own.
    Listener(Worker& worker, const config::HostPort& address, AcceptFn on_accept = nullptr);
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    // Binds and starts accepting. On failure returns false and sets error().
    // `numeric_only`: an IP address, never a name lookup (once the loop runs, a lookup would stall it).
    [[nodiscard]] bool open(bool numeric_only = false);
    [[nodiscard]] const std::string& error() const { return error_; }
    // The address actually bound (the kernel picks the port when the config says 0).
    [[nodiscard]] const std::string& bound_address() const { return bound_; }
    // The address as configured, which a reload compares with its new `listen` list.
    [[nodiscard]] const config::HostPort& address() const { return address_; }

  private:
    static void on_accept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int len, void* arg);
    static void on_error(evconnlistener*, void* arg);
    static void on_resume(evutil_socket_t, short, void* arg);

    Worker& worker_;
    config::HostPort address_;
    AcceptFn on_accept_;
    ListenerPtr listener_;
    EventPtr resume_timer_;     // re-enables accepting after a pause for lack of descriptors
    std::uint64_t pauses_ = 0;  // how often accepting was paused, for the log
    std::string error_;
    std::string bound_;
};

// "1.2.3.4:80" or "[::1]:80"
[[nodiscard]] std::string format_address(const sockaddr* addr);

}  // namespace rtmpt::gateway
