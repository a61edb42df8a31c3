// libevent takes timeouts as struct timeval; the config speaks std::chrono.
#pragma once

#include <sys/time.h>

#include <chrono>

namespace rtmpt::gateway {

[[nodiscard]] inline timeval to_timeval(std::chrono::milliseconds d) {
    return timeval{static_cast<time_t>(d.count() / 1000),
                   static_cast<suseconds_t>((d.count() % 1000) * 1000)};
}

}  // namespace rtmpt::gateway
