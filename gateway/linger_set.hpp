// Backend connections whose session has ended but whose output still holds client bytes.
// They are flushed, half-closed and freed, so a /close never drops what the client sent
// before it. Each lingers for a bounded time at most.
#pragma once

#include "gateway/event_ptr.hpp"

#include <chrono>
#include <unordered_map>

namespace rtmpt::gateway {

class LingerSet {
public:
    LingerSet() = default;
    LingerSet(const LingerSet&) = delete;
    LingerSet& operator=(const LingerSet&) = delete;

    // Takes ownership; frees the connection once its output is written, or after `limit`.
    void add(BufferEventPtr bev, std::chrono::milliseconds limit);

    [[nodiscard]] std::size_t size() const { return lingering_.size(); }

private:
    static void on_write(bufferevent* bev, void* arg);
    static void on_event(bufferevent* bev, short what, void* arg);
    void finish(bufferevent* bev);

    std::unordered_map<bufferevent*, BufferEventPtr> lingering_;
};

}  // namespace rtmpt::gateway
