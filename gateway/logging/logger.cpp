#include "gateway/logging/logger.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace rtmpt::gateway {
namespace {

// At most this much per write(2) after poll() says the descriptor is writable: a pipe then has a
// free page and a socket a quarter of its buffer, so a write this size does not block.
constexpr std::size_t kChunk = 4096;

// True when `fd` takes bytes now (or within `wait_ms`), or is broken: a broken descriptor must
// not keep lines waiting forever, and write() will fail on it at once.
[[nodiscard]] bool writable(int fd, int wait_ms) {
    pollfd p{fd, POLLOUT, 0};
    int rc = 0;
    do {
        rc = ::poll(&p, 1, wait_ms);
    } while (rc < 0 && errno == EINTR);
    return rc > 0;
}

}  // namespace

Logger::~Logger() {
    const std::lock_guard lock(mutex_);
    send_backlog(3000);
    if (dropped_ != dropped_reported_) flush_locked();
    send_backlog(3000);
}

std::string Logger::format(config::LogLevel level, std::string_view message) const {
    const auto now = std::chrono::system_clock::now();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char stamp[64];
    std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
    return render_log_line(format_.load(std::memory_order_relaxed), stamp, config::log_level_name(level),
                           message);
}

void Logger::write(config::LogLevel level, std::string_view message) const {
    if (!enabled(level)) return;
    // The time is read under the lock, so that lines of several threads stay in time order.
    const std::lock_guard lock(mutex_);
    const std::string line = format(level, message);
    if (backlog_.size() + line.size() > kMaxBacklog) {
        ++dropped_;
        return;
    }
    // Appended whole, so partial writes below never split a line from another writer's view:
    // only this logger writes to the descriptor.
    backlog_ += line;
    flush_locked();
}

void Logger::flush() const {
    const std::lock_guard lock(mutex_);
    flush_locked();
}

void Logger::flush_locked() const {
    send_backlog(0);
    if (backlog_.empty() && dropped_ != dropped_reported_) {
        const std::uint64_t lost = dropped_ - dropped_reported_;
        dropped_reported_ = dropped_;
        backlog_ = format(config::LogLevel::warn,
                          "log: " + std::to_string(lost) + " lines dropped while stderr took no more");
        send_backlog(0);
    }
}

void Logger::send_backlog(int wait_ms) const {
    std::size_t off = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    while (off < backlog_.size()) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (!writable(fd_, static_cast<int>(std::max<std::int64_t>(0, left.count())))) break;
        const std::size_t n = std::min(kChunk, backlog_.size() - off);
        const ssize_t written = ::write(fd_, backlog_.data() + off, n);
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) {
            // stderr is gone: nothing sensible is left to do with these lines.
            off = backlog_.size();
            break;
        }
        off += static_cast<std::size_t>(written);
    }
    backlog_.erase(0, off);
}

}  // namespace rtmpt::gateway
