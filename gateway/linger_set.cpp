#include "gateway/linger_set.hpp"
#include "gateway/timeval.hpp"

#include <sys/socket.h>

namespace rtmpt::gateway {

void LingerSet::add(BufferEventPtr owned, std::chrono::milliseconds limit) {
    bufferevent* bev = owned.get();
    if (!bev) return;
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
        return;  // nothing left to send: the owner's destructor closes it now
    }
    lingering_.emplace(bev, std::move(owned));
    bufferevent_disable(bev, EV_READ);
    bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
    const timeval tv = to_timeval(limit);
    bufferevent_set_timeouts(bev, nullptr, &tv);
    bufferevent_setcb(bev, nullptr, &LingerSet::on_write, &LingerSet::on_event, this);
    bufferevent_enable(bev, EV_WRITE);
}

void LingerSet::on_write(bufferevent* bev, void* arg) {
    if (evbuffer_get_length(bufferevent_get_output(bev)) != 0) return;
    // Half-close first so the backend sees a clean end of stream after the last byte.
    ::shutdown(bufferevent_getfd(bev), SHUT_WR);
    static_cast<LingerSet*>(arg)->finish(bev);
}

void LingerSet::on_event(bufferevent* bev, short, void* arg) { static_cast<LingerSet*>(arg)->finish(bev); }

void LingerSet::finish(bufferevent* bev) { lingering_.erase(bev); }

}  // namespace rtmpt::gateway
