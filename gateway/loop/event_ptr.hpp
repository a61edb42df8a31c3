// RAII owners for libevent objects: every one is freed by its own free function, exactly once.
#pragma once

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>

#include <memory>

namespace rtmpt::gateway {

template <auto FreeFn>
struct LibeventDeleter {
    template <typename T>
    void operator()(T* p) const noexcept {
        if (p) FreeFn(p);
    }
};

inline void free_dns_base(evdns_base* dns) {
    evdns_base_free(dns, /*fail_requests=*/1);
}

using EventBasePtr = std::unique_ptr<event_base, LibeventDeleter<&event_base_free>>;
using EventPtr = std::unique_ptr<event, LibeventDeleter<&event_free>>;
using BufferEventPtr = std::unique_ptr<bufferevent, LibeventDeleter<&bufferevent_free>>;
using ListenerPtr = std::unique_ptr<evconnlistener, LibeventDeleter<&evconnlistener_free>>;
using DnsBasePtr = std::unique_ptr<evdns_base, LibeventDeleter<&free_dns_base>>;
using EvBufferPtr = std::unique_ptr<evbuffer, LibeventDeleter<&evbuffer_free>>;

}  // namespace rtmpt::gateway
