// Closing a socket whose peer takes no more bytes: reset instead of a graceful close, so the
// kernel drops the unsent queue at once rather than keeping an orphaned socket for minutes, and
// the peer cannot take a truncated stream for a clean end.
#pragma once

#include <event2/util.h>
#include <sys/socket.h>

namespace rtmpt::gateway {

inline void reset_on_close(evutil_socket_t fd) {
    const linger abort_on_close{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
}

}  // namespace rtmpt::gateway
