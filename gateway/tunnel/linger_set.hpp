// Backend connections whose session has ended. Their last client bytes may still be in our
// output buffer or in the kernel's send queue: closing the socket now would lose them (Linux
// answers further backend data on a closed socket with a reset, which discards the send
// queue). So each is written out, half-closed, and read (and discarded) until the backend
// closes too; a connection that does not finish within its limit is aborted with a reset so
// the backend cannot take a truncated stream for a clean end.
#pragma once

#include "gateway/loop/event_ptr.hpp"

#include <chrono>
#include <unordered_map>

namespace rtmpt::gateway {

class LingerSet {
  public:
    LingerSet() = default;
    LingerSet(const LingerSet&) = delete;
    LingerSet& operator=(const LingerSet&) = delete;

    // Takes ownership of a connected (or connecting, with bytes queued) bufferevent and sees it
    // closed within `limit`.
    void add(BufferEventPtr bev, std::chrono::milliseconds limit);

    [[nodiscard]] std::size_t size() const { return lingering_.size(); }

  private:
    static void on_read(bufferevent* bev, void* arg);
    static void on_write(bufferevent* bev, void* arg);
    static void on_event(bufferevent* bev, short what, void* arg);
    static void half_close_when_written(bufferevent* bev);
    void finish(bufferevent* bev);

    std::unordered_map<bufferevent*, BufferEventPtr> lingering_;
};

}  // namespace rtmpt::gateway
