#include "gateway/admin/health_probe.hpp"

#include "gateway/loop/timeval.hpp"

#include <event2/util.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace rtmpt::gateway {

HealthProbe::HealthProbe(event_base* base, evdns_base* dns) : base_(base), dns_(dns) {}

HealthProbe::~HealthProbe() = default;

void HealthProbe::check(Waiter& waiter, const config::HostPort& address, std::chrono::milliseconds timeout,
                        std::string greeting) {
    const auto now = Clock::now();
    // A reload may have moved the backend: a result for another address says nothing.
    if (state_ == State::idle && last_ && last_->address == address && now - last_->at < kReuseFor) {
        waiter.on_probe_result(*last_);
        return;
    }
    waiters_.push_back(&waiter);
    if (state_ == State::probing) return;

    state_ = State::probing;
    probing_ = address;
    started_ = now;
    timeout_ = timeout;
    greeting_ = std::move(greeting);
    bev_.reset(bufferevent_socket_new(base_, -1, BEV_OPT_CLOSE_ON_FREE));
    if (!bev_) {
        finish(false, "cannot create socket");
        return;
    }
    bufferevent_setcb(bev_.get(), nullptr, nullptr, &HealthProbe::on_event, this);
    // As for backend links: while connecting, the write timeout bounds the connect.
    const timeval tv = to_timeval(timeout);
    bufferevent_set_timeouts(bev_.get(), nullptr, &tv);
    bufferevent_enable(bev_.get(), EV_WRITE);
    if (bufferevent_socket_connect_hostname(bev_.get(), dns_, AF_UNSPEC, address.host.c_str(),
                                            address.port) != 0) {
        // The error event may already have fired and finished the probe.
        if (state_ == State::probing) finish(false, "cannot start connect to " + address.host);
    }
}

void HealthProbe::forget(Waiter& waiter) {
    waiters_.erase(std::remove(waiters_.begin(), waiters_.end(), &waiter), waiters_.end());
}

void HealthProbe::on_event(bufferevent* bev, short what, void* arg) {
    auto* self = static_cast<HealthProbe*>(arg);
    if (self->state_ != State::probing) return;
    if (what & BEV_EVENT_CONNECTED) {
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - self->started_).count();
        char text[64];
        std::snprintf(text, sizeof text, "connected in %.1fms", ms);
        if (!self->greeting_.empty()) {
            // A fresh socket takes a few bytes at once; if it does not, the probe's answer stands.
            const ssize_t sent = ::send(bufferevent_getfd(bev), self->greeting_.data(),
                                        self->greeting_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)sent;
        }
        self->finish(true, text);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        self->finish(false, "no connection within " + std::to_string(self->timeout_.count()) + "ms");
        return;
    }
    if (const int dns_err = bufferevent_socket_get_dns_error(bev); dns_err != 0) {
        self->finish(false, "cannot resolve " + self->probing_.host + ": " + evutil_gai_strerror(dns_err));
        return;
    }
    const int err = EVUTIL_SOCKET_ERROR();
    self->finish(false, err ? evutil_socket_error_to_string(err) : "connection error");
}

void HealthProbe::finish(bool ok, std::string detail) {
    state_ = State::idle;
    if (bev_) {
        bufferevent_setcb(bev_.get(), nullptr, nullptr, nullptr, nullptr);
        bev_.reset();  // closes the probe connection: the backend sees a connect and a FIN
    }
    last_ = Result{ok, std::move(detail), probing_, Clock::now()};
    // One at a time off the list: a waiter that goes away while another is told forgets itself,
    // and is then no longer on it.
    while (!waiters_.empty()) {
        Waiter* w = waiters_.front();
        waiters_.erase(waiters_.begin());
        w->on_probe_result(*last_);
    }
}

}  // namespace rtmpt::gateway
