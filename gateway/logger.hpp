// One event per line on stderr (journald adds its own metadata). Each line is written with a
// single write(2) so that lines from several workers never interleave.
#pragma once

#include "config/config.hpp"

#include <string_view>

namespace rtmpt::gateway {

class Logger {
  public:
    explicit Logger(config::LogLevel level) : level_(level) {}

    [[nodiscard]] bool enabled(config::LogLevel level) const { return level >= level_; }
    void write(config::LogLevel level, std::string_view message) const;

    void debug(std::string_view m) const { write(config::LogLevel::debug, m); }
    void info(std::string_view m) const { write(config::LogLevel::info, m); }
    void warn(std::string_view m) const { write(config::LogLevel::warn, m); }
    void error(std::string_view m) const { write(config::LogLevel::error, m); }

  private:
    config::LogLevel level_;
};

}  // namespace rtmpt::gateway
