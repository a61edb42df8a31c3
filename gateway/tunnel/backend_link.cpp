#include "gateway/tunnel/backend_link.hpp"

#include "gateway/loop/timeval.hpp"
#include "gateway/net/socket_io.hpp"
#include "gateway/tunnel/linger_set.hpp"

#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cerrno>
#include <cstring>

namespace rtmpt::gateway {
namespace {

constexpr std::chrono::milliseconds kFlushOnClose{5000};
// A read this large says a stream is flowing: the next one is made into reserved queue room.
constexpr std::size_t kBigRead = 16 * 1024;

}  // namespace

BackendLink::BackendLink(BackendEvents& owner, event_base* base, evdns_base* dns,
                         const config::BackendConfig& cfg, std::size_t queue_max_bytes,
                         std::span<char> scratch)
    : owner_(owner), base_(base), dns_(dns), cfg_(cfg), queue_max_(queue_max_bytes), scratch_(scratch) {}

BackendLink::~BackendLink() = default;

void BackendLink::connect(std::string_view preamble) {
    bev_.reset(bufferevent_socket_new(base_, -1, BEV_OPT_CLOSE_ON_FREE));
    if (!bev_) {
        mark_gone(CloseReason::backend_connect_failed, "cannot create socket");
        return;
    }
    if (!preamble.empty() && bufferevent_write(bev_.get(), preamble.data(), preamble.size()) != 0) {
        mark_gone(CloseReason::backend_connect_failed, "out of memory for the PROXY header");
        return;
    }
    preamble_bytes_ = preamble.size();
    state_ = State::connecting;
    connect_started_ = std::chrono::steady_clock::now();
    // Reading is ours (on_readable, from the connect on); the bufferevent connects and writes.
    bufferevent_setcb(bev_.get(), nullptr, &BackendLink::on_write, &BackendLink::on_event, this);
    bufferevent_setwatermark(bev_.get(), EV_WRITE, queue_max_ / 2, 0);
    bufferevent_set_max_single_write(bev_.get(), queue_max_);
    // A bufferevent keeps its input's end frozen for its own reads only; here read_backend fills it.
    evbuffer_unfreeze(bufferevent_get_input(bev_.get()), 0);
    // During the connect, the write timeout bounds the connect itself.
    const timeval connect_tv = to_timeval(cfg_.connect_timeout);
    bufferevent_set_timeouts(bev_.get(), nullptr, &connect_tv);
    bufferevent_enable(bev_.get(), EV_WRITE);
    const auto& addr = cfg_.address;
    if (bufferevent_socket_connect_hostname(bev_.get(), dns_, AF_UNSPEC, addr.host.c_str(), addr.port) != 0) {
        // The error event may already have fired and marked us gone.
        if (state_ != State::gone)
            mark_gone(CloseReason::backend_connect_failed, "cannot start connect to " + addr.host);
    }
}

std::size_t BackendLink::write(std::string_view bytes) {
    if (state_ == State::gone || state_ == State::read_only || !bev_ || bytes.empty()) return 0;
    if (state_ == State::connected) {
        int error = 0;
        write_through(bev_.get(), bytes, nullptr, &error);
        if (error != 0) {
            // The send met the reset itself (the socket reports it once): what the backend sent
            // before it is still read to its end, as when the bufferevent's own write fails.
            writes_failed(CloseReason::backend_error, evutil_socket_error_to_string(error));
            return 0;
        }
    } else if (bufferevent_write(bev_.get(), bytes.data(), bytes.size()) != 0) {
        return 0;
    }
    return bytes.size();
}

bool BackendLink::congested() const {
    return bev_ && state_ != State::gone &&
           evbuffer_get_length(bufferevent_get_output(bev_.get())) >= queue_max_;
}

std::size_t BackendLink::queued_in() const {
    if (leftover_) return evbuffer_get_length(leftover_.get());
    return bev_ ? evbuffer_get_length(bufferevent_get_input(bev_.get())) : 0;
}

std::size_t BackendLink::queued_out() const {
    return bev_ && state_ != State::gone ? evbuffer_get_length(bufferevent_get_output(bev_.get())) : 0;
}

std::size_t BackendLink::take(std::string& out, std::size_t max) {
    evbuffer* in = leftover_ ? leftover_.get() : (bev_ ? bufferevent_get_input(bev_.get()) : nullptr);
    if (!in) return 0;
    const std::size_t n = std::min(max, evbuffer_get_length(in));
    if (n == 0) return 0;
    // Appended chain by chain: one copy, and no zero-filling of the room first.
    std::size_t left = n;
    evbuffer_iovec vec[8];
    while (left > 0) {
        const int got = evbuffer_peek(in, static_cast<ev_ssize_t>(left), nullptr, vec, 8);
        std::size_t moved = 0;
        for (int i = 0; i < std::min(got, 8) && moved < left; ++i) {
            const std::size_t len = std::min(vec[i].iov_len, left - moved);
            out.append(static_cast<const char*>(vec[i].iov_base), len);
            moved += len;
        }
        evbuffer_drain(in, moved);
        left -= moved;
    }
    resume_if_room(in);
    return n;
}

std::size_t BackendLink::move_to(evbuffer* out, std::size_t max) {
    evbuffer* in = leftover_ ? leftover_.get() : (bev_ ? bufferevent_get_input(bev_.get()) : nullptr);
    if (!in) return 0;
    const std::size_t n = std::min(max, evbuffer_get_length(in));
    if (n == 0) return 0;
    // Whole chains change hands without a copy; only a partly taken one is copied.
    if (evbuffer_remove_buffer(in, out, n) != static_cast<int>(n)) return 0;
    resume_if_room(in);
    return n;
}

void BackendLink::resume_if_room(evbuffer* in) {
    if (reading_paused_ && read_event_ && evbuffer_get_length(in) < queue_max_) {
        reading_paused_ = false;
        event_add(read_event_.get(), nullptr);
    }
}

void BackendLink::close(LingerSet& linger) {
    read_event_.reset();
    if (bev_) {
        bufferevent_setcb(bev_.get(), nullptr, nullptr, nullptr, nullptr);
        // Client bytes queued while the connect is still under way were acknowledged too: they
        // go out once it completes. With nothing queued, an unfinished connect is just dropped.
        // (A PROXY header alone is not owed: the backend would only log an empty connection.)
        const bool owed = state_ == State::connecting &&
                          evbuffer_get_length(bufferevent_get_output(bev_.get())) > preamble_bytes_;
        if (state_ == State::connected || owed) {
            linger.add(std::move(bev_), kFlushOnClose);
        }
        bev_.reset();
    }
    leftover_.reset();
    state_ = State::gone;
}

void BackendLink::on_readable(evutil_socket_t, short, void* arg) {
    static_cast<BackendLink*>(arg)->read_backend();
}

void BackendLink::top_up(std::size_t want) {
    // Not while the backend is quiet: a poll of a silent stream costs no read call.
    if (!read_event_ || reading_paused_ || read_end_ || !flowing_) return;
    evbuffer* in = bufferevent_get_input(bev_.get());
    const std::size_t queued = evbuffer_get_length(in);
    if (queued >= want || queued >= queue_max_) return;
    const ssize_t n = read_some(std::min(want, queue_max_) - queued);
    if (n > 0) return;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        flowing_ = false;  // until the loop sees the socket readable again
        return;
    }
    // Reported from the loop, not from inside the reply being built.
    read_end_ = n == 0 ? 0 : errno;
    event_active(read_event_.get(), EV_READ, 0);
}

ssize_t BackendLink::read_some(std::size_t max) {
    const ssize_t n = read_into(bufferevent_get_input(bev_.get()), bufferevent_getfd(bev_.get()), max,
                                scratch_, big_reads_);
    if (n > 0) {
        flowing_ = true;
        big_reads_ = static_cast<std::size_t>(n) >= kBigRead;
    }
    return n;
}

void BackendLink::read_backend() {
    evbuffer* in = bufferevent_get_input(bev_.get());
    ssize_t n;
    if (read_end_) {
        n = *read_end_ == 0 ? 0 : -1;
        errno = *read_end_;
    } else {
        n = read_some(queue_max_ - evbuffer_get_length(in));
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
        // handle_event reads the error from errno, as it would after libevent's own read.
        handle_event(static_cast<short>(BEV_EVENT_READING | (n == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR)));
        return;
    }
    // A full queue is the backpressure working (the client is not polling): stop reading until
    // take() makes room.
    if (evbuffer_get_length(in) >= queue_max_) {
        event_del(read_event_.get());
        reading_paused_ = true;
    }
    owner_.on_backend_data();
}

void BackendLink::on_write(bufferevent*, void* arg) {
    static_cast<BackendLink*>(arg)->owner_.on_backend_drained();
}

void BackendLink::on_event(bufferevent*, short what, void* arg) {
    static_cast<BackendLink*>(arg)->handle_event(what);
}

void BackendLink::handle_event(short what) {
    if (what & BEV_EVENT_CONNECTED) {
        state_ = State::connected;
        connect_time_ = std::chrono::steady_clock::now() - connect_started_;
        // From now on the write timeout means a backend that takes none of our bytes.
        const timeval write_tv = to_timeval(cfg_.write_timeout);
        bufferevent_set_timeouts(bev_.get(), nullptr, &write_tv);
        const evutil_socket_t fd = bufferevent_getfd(bev_.get());
        const int one = 1;
        // RTMP is latency-bound small messages; Nagle would hold back control messages.
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        read_event_.reset(event_new(base_, fd, EV_READ | EV_PERSIST, &BackendLink::on_readable, this));
        event_add(read_event_.get(), nullptr);
        owner_.on_backend_connected();
        return;
    }
    if (state_ == State::gone) return;
    if (state_ == State::read_only) {
        // The read side has ended as well (EOF, or the reset once the queued bytes were read).
        mark_gone(write_failure_, std::move(write_failure_detail_));
        return;
    }
    const bool connecting = state_ == State::connecting;
    CloseReason reason = connecting ? CloseReason::backend_connect_failed : CloseReason::backend_error;
    std::string detail;
    if (what & BEV_EVENT_TIMEOUT) {
        detail = connecting ? "connect timeout"
                            : "write stalled for " + std::to_string(cfg_.write_timeout.count()) + "ms";
    } else if (what & BEV_EVENT_EOF) {
        if (!connecting) reason = CloseReason::backend_closed;
        detail = "end of stream";
    } else {
        const int dns_err = bev_ ? bufferevent_socket_get_dns_error(bev_.get()) : 0;
        if (dns_err != 0) {
            detail = std::string("cannot resolve ") + cfg_.address.host + ": " + evutil_gai_strerror(dns_err);
        } else {
            const int err = EVUTIL_SOCKET_ERROR();
            detail = err ? evutil_socket_error_to_string(err) : "connection error";
        }
    }
    if (!connecting && (what & BEV_EVENT_WRITING) && (what & BEV_EVENT_ERROR)) {
        // A write hit the reset, but bytes the backend sent before it may still sit in our socket
        // (reading pauses at queue_max_bytes). Closing now would lose them: read on to the end.
        writes_failed(reason, std::move(detail));
        return;
    }
    mark_gone(reason, std::move(detail));
}

void BackendLink::writes_failed(CloseReason reason, std::string detail) {
    state_ = State::read_only;
    write_failure_ = reason;
    write_failure_detail_ = std::move(detail);
    evbuffer* out = bufferevent_get_output(bev_.get());
    evbuffer_drain(out, evbuffer_get_length(out));
    bufferevent_disable(bev_.get(), EV_WRITE);
    bufferevent_set_timeouts(bev_.get(), nullptr, nullptr);
    // Reading goes on (or resumes in take(), once the queue to the client has room).
}

void BackendLink::mark_gone(CloseReason reason, std::string detail) {
    state_ = State::gone;
    read_event_.reset();
    if (bev_) {
        // Keep what the backend sent: the client is owed every byte. The socket itself closes now.
        leftover_.reset(evbuffer_new());
        evbuffer_add_buffer(leftover_.get(), bufferevent_get_input(bev_.get()));
        bufferevent_setcb(bev_.get(), nullptr, nullptr, nullptr, nullptr);
        bev_.reset();
    }
    owner_.on_backend_gone(reason, std::move(detail));
}

std::string_view backend_state_name(BackendLink::State state) {
    switch (state) {
        case BackendLink::State::idle:
            return "idle";
        case BackendLink::State::connecting:
            return "connecting";
        case BackendLink::State::connected:
            return "connected";
        case BackendLink::State::read_only:
            return "read_only";
        case BackendLink::State::gone:
            return "gone";
    }
    return "unknown";
}

}  // namespace rtmpt::gateway
