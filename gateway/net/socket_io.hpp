// The byte moves of both sides of the gateway, kept in one place so that an encrypted transport
// can replace them under the HTTP connection and the backend link alike.
//
// Why not bufferevents' own reading and writing: libevent 2.1 reads at most 4096 bytes per
// readv (each after an ioctl(FIONREAD)) and writes at most 16384 per turn of the loop, only
// after arming write interest (two epoll_ctl per reply). Reads here take what is waiting in one
// call, and writes go straight to the socket; only what the socket does not take is queued in
// the bufferevent, whose write timeout and error events still apply.
#pragma once

#include "gateway/loop/event_ptr.hpp"

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace rtmpt::gateway {

// A finished HTTP response, shared (never copied) by the slots waiting for it, the session's
// retry cache and a connection's output queue.
using SharedReply = std::shared_ptr<const std::string>;

// Reads at most `max` bytes (and at most the scratch buffer's size) from `fd` onto the end of
// `buf` in one call: > 0 bytes read, 0 end of stream, -1 with errno set (EAGAIN: nothing waiting).
// `expect_much`: the last read filled up, so read into room reserved in `buf` rather than
// through `scratch`.
[[nodiscard]] ssize_t read_into(evbuffer* buf, evutil_socket_t fd, std::size_t max, std::span<char> scratch,
                                bool expect_much);

// Writes `bytes` to the bufferevent's socket at once if nothing is queued before them; what the
// socket does not take (or all of it, on an error, which the bufferevent then reports) is queued
// behind. `keep` owns the bytes: queued bytes reference it instead of being copied. Returns
// true when everything went straight out. A send that failed for good leaves its errno in
// `error`: the socket reports a reset only once, to this send.
bool write_through(bufferevent* bev, std::string_view bytes, const SharedReply& keep = nullptr,
                   int* error = nullptr);

// Queues `bytes` at the end of `out` without writing: referenced when `keep` owns them, copied
// otherwise. For an output that another layer (TLS) writes.
void queue_behind(evbuffer* out, std::string_view bytes, const SharedReply& keep = nullptr);

}  // namespace rtmpt::gateway
