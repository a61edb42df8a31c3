#include "gateway/loop/shared_limits.hpp"

namespace rtmpt::gateway {

bool SharedLimits::take(std::atomic<std::size_t>& used, std::size_t max) {
    std::size_t now = used.load(std::memory_order_relaxed);
    do {
        if (now >= max) return false;
    } while (!used.compare_exchange_weak(now, now + 1, std::memory_order_relaxed));
    return true;
}

bool SharedLimits::take_client(const std::string& address, std::uint32_t cap) {
    const std::lock_guard lock(clients_mutex_);
    const auto it = sessions_per_client_.find(address);
    if (it == sessions_per_client_.end()) {
        sessions_per_client_.emplace(address, 1);  // a first session is within any cap
        return true;
    }
    if (cap != 0 && it->second >= cap) return false;
    ++it->second;
    return true;
}

void SharedLimits::give_back_client(const std::string& address) {
    const std::lock_guard lock(clients_mutex_);
    const auto it = sessions_per_client_.find(address);
    if (it != sessions_per_client_.end() && --it->second == 0) sessions_per_client_.erase(it);
}

}  // namespace rtmpt::gateway
