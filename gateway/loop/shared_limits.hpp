// The limits that hold for the whole process however many workers share it: http.max_connections,
// session.max_sessions and session.max_sessions_per_client. Each is taken before the thing it
// counts exists and given back when it goes, so two workers can never both take the last one.
// Taking a connection or a session is one atomic operation; the per-client table takes a mutex,
// once when a session opens and once when it ends, never on a request.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace rtmpt::gateway {

class SharedLimits {
  public:
    // One of at most `max`: false (nothing taken) when all are in use.
    [[nodiscard]] bool take_connection(std::size_t max) { return take(connections_, max); }
    void give_back_connection() { connections_.fetch_sub(1, std::memory_order_relaxed); }
    [[nodiscard]] bool take_session(std::size_t max) { return take(sessions_, max); }
    void give_back_session() { sessions_.fetch_sub(1, std::memory_order_relaxed); }

    // One of `address`'s at most `cap` sessions (0: no cap, counted all the same, so that a
    // reload that sets a cap finds the right counts).
    [[nodiscard]] bool take_client(const std::string& address, std::uint32_t cap);
    void give_back_client(const std::string& address);

    [[nodiscard]] std::size_t connections() const { return connections_.load(std::memory_order_relaxed); }
    [[nodiscard]] std::size_t sessions() const { return sessions_.load(std::memory_order_relaxed); }

  private:
    [[nodiscard]] static bool take(std::atomic<std::size_t>& used, std::size_t max);

    std::atomic<std::size_t> connections_{0};
    std::atomic<std::size_t> sessions_{0};
    std::mutex clients_mutex_;
    std::unordered_map<std::string, std::uint32_t> sessions_per_client_;  // guarded by clients_mutex_
};

}  // namespace rtmpt::gateway
