// Listening sockets: bound by the process (before privileges are dropped, and all or none on a
// reload), then watched by the event loop that accepts on them. With several workers each
// address gets one socket per worker, bound to the same port with SO_REUSEPORT, so that the
// kernel spreads new connections over the workers without a shared accept queue.
#pragma once

#include "config/config.hpp"
#include "gateway/loop/counters.hpp"
#include "gateway/loop/event_ptr.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

namespace rtmpt::gateway {

class Logger;

// A bound, listening socket not watched by any loop yet; closes it unless handed on.
class ListenSocket {
  public:
    ListenSocket(int fd, std::string bound) : fd_(fd), bound_(std::move(bound)) {}
    ListenSocket(ListenSocket&& other) noexcept
        : fd_(std::exchange(other.fd_, -1)), bound_(std::move(other.bound_)) {}
    ListenSocket& operator=(ListenSocket&&) = delete;
    ~ListenSocket();

    // The address actually bound (the kernel picks the port when the config says 0).
    [[nodiscard]] const std::string& bound() const { return bound_; }
    // Hands the socket over: the caller closes it from now on.
    [[nodiscard]] int release() { return std::exchange(fd_, -1); }

  private:
    int fd_;
    std::string bound_;
};

// `count` sockets listening on `address`, all on one port (the one the kernel picked for the first
// when the configuration says 0); with SO_REUSEPORT when count > 1. On any failure closes what it
// opened and returns why. `numeric_only`: an IP address, never a name lookup (once loops run, a
// lookup would stall one).
[[nodiscard]] std::variant<std::vector<ListenSocket>, std::string> open_listen_sockets(
    const config::HostPort& address, unsigned count, bool numeric_only = false);

// One listening socket watched by one loop, handing accepted connections to `on_accept`.
class Listener {
  public:
    // Given an accepted socket and its peer ("1.2.3.4:5678"); takes ownership of the socket.
    using AcceptFn = std::function<void(evutil_socket_t fd, std::string peer)>;

    // `counters` counts accept pauses (out of descriptors); both it and `log` must outlive this.
    Listener(event_base* base, const Logger& log, Counters& counters, const config::HostPort& address,
             ListenSocket socket, AcceptFn on_accept);
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    // Starts accepting. On failure returns false and sets error().
    [[nodiscard]] bool start();
    [[nodiscard]] const std::string& error() const { return error_; }
    [[nodiscard]] const std::string& bound_address() const { return bound_; }
    // The address as configured, which a reload compares with its new `listen` list.
    [[nodiscard]] const config::HostPort& address() const { return address_; }

  private:
    static void on_accept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int len, void* arg);
    static void on_error(evconnlistener*, void* arg);
    static void on_resume(evutil_socket_t, short, void* arg);

    event_base* base_;
    const Logger& log_;
    Counters& counters_;
    config::HostPort address_;
    ListenSocket socket_;
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
