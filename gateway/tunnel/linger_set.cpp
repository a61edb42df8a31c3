#include "gateway/tunnel/linger_set.hpp"

#include "gateway/loop/timeval.hpp"
#include "gateway/net/socket_reset.hpp"

#include <sys/socket.h>

namespace rtmpt::gateway {

void LingerSet::add(BufferEventPtr owned, std::chrono::milliseconds limit) {
    bufferevent* bev = owned.get();
    if (!bev) return;
    lingering_.emplace(bev, std::move(owned));
    bufferevent_setwatermark(bev, EV_READ, 0, 0);
    bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
    const timeval tv = to_timeval(limit);
    bufferevent_set_timeouts(bev, &tv, &tv);
    bufferevent_setcb(bev, &LingerSet::on_read, &LingerSet::on_write, &LingerSet::on_event, this);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    half_close_when_written(bev);
}

void LingerSet::half_close_when_written(bufferevent* bev) {
    if (evbuffer_get_length(bufferevent_get_output(bev)) != 0) return;
    // The backend sees end of stream after our last byte; repeating it is harmless.
    ::shutdown(bufferevent_getfd(bev), SHUT_WR);
}

void LingerSet::on_read(bufferevent* bev, void*) {
    // Nobody wants these bytes any more, but reading them keeps the kernel from resetting.
    evbuffer* in = bufferevent_get_input(bev);
    evbuffer_drain(in, evbuffer_get_length(in));
}

void LingerSet::on_write(bufferevent* bev, void* arg) {
    half_close_when_written(bev);
    // The backend had already closed its side: once our bytes are out, we are done.
    if (!(bufferevent_get_enabled(bev) & EV_READ) && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
        static_cast<LingerSet*>(arg)->finish(bev);
    }
}

void LingerSet::on_event(bufferevent* bev, short what, void* arg) {
    // A link closed while connecting: its queued bytes are written now, then on_write half-closes.
    if (what & BEV_EVENT_CONNECTED) return;
    if (what & BEV_EVENT_TIMEOUT) {
        reset_on_close(bufferevent_getfd(bev));
    }
    // An end met while writing (libevent reports a TLS peer's reset so) means no byte more gets out.
    if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_WRITING) &&
        evbuffer_get_length(bufferevent_get_output(bev)) != 0) {
        // The peer stopped sending but may still read: finish writing first. Enabling writes
        // again matters for a TLS bufferevent: libevent stops both of its events on a TLS end of
        // stream, and only an enable re-arms the write (and its deadline).
        bufferevent_disable(bev, EV_READ);
        bufferevent_enable(bev, EV_WRITE);
        return;
    }
    // End of stream after ours, an error, or the deadline: nothing more can be delivered.
    static_cast<LingerSet*>(arg)->finish(bev);
}

void LingerSet::finish(bufferevent* bev) {
    lingering_.erase(bev);
}

}  // namespace rtmpt::gateway
