// One event per line on stderr (journald adds its own metadata). Each line is written with a
// single write(2) so that lines never interleave.
//
// Logging never blocks the event loop: when stderr does not take a line at once (journald slow,
// a terminal paused with ^S, a full pipe), lines wait in a bounded backlog that the worker's
// janitor flushes; past the bound they are dropped and counted, and a line saying how many
// follows once stderr takes bytes again. One Logger serves the whole process: every worker
// thread writes through it, and a mutex keeps the backlog and the line order whole.
#pragma once

#include "config/config.hpp"
#include "gateway/logging/log_format.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace rtmpt::gateway {

class Logger {
  public:
    static constexpr std::size_t kMaxBacklog = 1024 * 1024;

    explicit Logger(config::LogLevel level, int fd = 2, LogFormat format = LogFormat::text)
        : level_(level), format_(format), fd_(fd) {}
    // Writes what is left of the backlog, waiting for at most a few seconds: at exit, the last
    // lines (the stats line) matter more than promptness.
    ~Logger();
    Logger(const Logger&) = delete;
    Logger& operator=(const Logger&) = delete;

    [[nodiscard]] bool enabled(config::LogLevel level) const {
        return level >= level_.load(std::memory_order_relaxed);
    }
    // A reload may change both; lines already in the backlog keep the form they were written in.
    void set_level(config::LogLevel level) { level_.store(level, std::memory_order_relaxed); }
    void set_format(LogFormat format) { format_.store(format, std::memory_order_relaxed); }
    void write(config::LogLevel level, std::string_view message) const;

    void debug(std::string_view m) const { write(config::LogLevel::debug, m); }
    void info(std::string_view m) const { write(config::LogLevel::info, m); }
    void warn(std::string_view m) const { write(config::LogLevel::warn, m); }
    void error(std::string_view m) const { write(config::LogLevel::error, m); }

    // Writes as much of the backlog as the descriptor takes without blocking.
    void flush() const;

    [[nodiscard]] std::uint64_t dropped() const {
        const std::lock_guard lock(mutex_);
        return dropped_;
    }
    [[nodiscard]] std::size_t backlog() const {
        const std::lock_guard lock(mutex_);
        return backlog_.size();
    }

  private:
    [[nodiscard]] std::string format(config::LogLevel level, std::string_view message) const;
    // The callers hold mutex_.
    void flush_locked() const;
    void send_backlog(int wait_ms) const;

    std::atomic<config::LogLevel> level_;
    std::atomic<LogFormat> format_;
    int fd_;
    mutable std::mutex mutex_;  // guards what follows
    // Logging does not change what the logger is; the backlog is an output buffer.
    mutable std::string backlog_;
    mutable std::uint64_t dropped_ = 0;
    mutable std::uint64_t dropped_reported_ = 0;
};

}  // namespace rtmpt::gateway
