#include "gateway/tunnel/native_session.hpp"

#include "gateway/client/tls_context.hpp"
#include "gateway/loop/worker.hpp"

#include <openssl/err.h>

#include <algorithm>

namespace rtmpt::gateway {

namespace {

// A client that stops reading keeps this long to take what was already handed to it.
constexpr std::chrono::milliseconds kClientFlushOnEnd{5000};

}  // namespace

NativeSession::NativeSession(Worker& worker, std::string id, std::string client, std::string client_address,
                             Transport transport, std::string backend_preamble,
                             BufferEventPtr client_connection, std::string_view first_bytes)
    : SessionBase(std::move(id), std::move(client), std::move(client_address), transport,
                  std::move(backend_preamble)),
      worker_(worker),
      snapshot_(worker.snapshot()),
      last_activity_(opened_at_),
      backend_(*this, worker.base(), worker.dns(), snapshot_->config.backend,
               snapshot_->config.session.queue_max_bytes, worker.backend_scratch()),
      client_(std::move(client_connection)),
      client_done_(event_new(worker.base(), -1, 0, &NativeSession::on_client_done, this)),
      first_bytes_(first_bytes) {}

NativeSession::~NativeSession() = default;

void NativeSession::start() {
    worker_.log().info("session open sid=" + id() + " client=" + client() +
                       " transport=" + std::string(transport_name(transport())));
    bufferevent* c = client_.get();
    bufferevent_setcb(c, &NativeSession::on_client_read, &NativeSession::on_client_write,
                      &NativeSession::on_client_event, this);
    // Time limits are the janitor's (check_timers): none on the connection itself.
    bufferevent_set_timeouts(c, nullptr, nullptr);
    const std::size_t queue_max = cfg().session.queue_max_bytes;
    // Reading pauses at a queue's worth unforwarded; writing asks for more at half a queue left.
    bufferevent_setwatermark(c, EV_READ, 0, queue_max);
    bufferevent_setwatermark(c, EV_WRITE, queue_max / 2, 0);
    bufferevent_enable(c, EV_READ | EV_WRITE);
    backend_.connect(backend_preamble_);
    // What the HTTP side read before it saw RTMP goes first; the backend queues it while connecting.
    const bool kept = first_bytes_.empty() || evbuffer_prepend(bufferevent_get_input(c), first_bytes_.data(),
                                                               first_bytes_.size()) == 0;
    first_bytes_.clear();
    first_bytes_.shrink_to_fit();
    if (!kept) {
        end(CloseReason::client_close, "out of memory for its first bytes");
        return;
    }
    pump_up();
}

void NativeSession::pump_up() {
    if (state_ != State::open) return;
    evbuffer* in = bufferevent_get_input(client_.get());
    if (backend_.gone() || backend_.state() == BackendLink::State::read_only) {
        // Nowhere to send them: the session ends once the backend's last bytes are delivered.
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    while (evbuffer_get_length(in) > 0 && !backend_.congested()) {
        evbuffer_iovec piece;
        if (evbuffer_peek(in, -1, nullptr, &piece, 1) < 1) break;
        std::string_view bytes(static_cast<const char*>(piece.iov_base), piece.iov_len);
        // The byte cap is exact both ways: bytes past it are not forwarded.
        if (const std::size_t cap = cfg().session.max_bytes; cap != 0) {
            bytes = bytes.substr(0, cap - std::min<std::uint64_t>(cap, bytes_up_));
        }
        if (bytes.empty()) break;
        const std::size_t sent = backend_.write(bytes);
        if (sent == 0) break;
        evbuffer_drain(in, sent);
        bytes_up_ += sent;
        worker_.counters().count_up(transport(), sent);
        last_activity_ = Clock::now();
    }
    if (over_byte_limit()) {
        end(CloseReason::byte_limit);
        return;
    }
    // Backpressure: a backend that takes nothing stops the client being read.
    if (backend_.congested()) {
        bufferevent_disable(client_.get(), EV_READ);
    } else {
        bufferevent_enable(client_.get(), EV_READ);
    }
}

void NativeSession::pump_down() {
    if (state_ != State::open) return;
    evbuffer* out = bufferevent_get_output(client_.get());
    const std::size_t queued = evbuffer_get_length(out);
    const std::size_t room = cfg().session.queue_max_bytes - std::min(queued, cfg().session.queue_max_bytes);
    std::size_t want = room;
    if (const std::size_t cap = cfg().session.max_bytes; cap != 0) {
        want = std::min<std::uint64_t>(want, cap - std::min<std::uint64_t>(cap, bytes_down_));
    }
    // A client that does not read leaves the queue full: the backend link then stops reading.
    const std::size_t moved = want > 0 ? backend_.move_to(out, want) : 0;
    if (moved > 0) {
        bytes_down_ += moved;
        worker_.counters().count_down(transport(), moved);
        last_activity_ = Clock::now();
    }
    if (over_byte_limit()) {
        end(CloseReason::byte_limit);
        return;
    }
    finish_if_delivered();
}

void NativeSession::finish_if_delivered() {
    if (state_ == State::open && backend_end_ && backend_.queued_in() == 0)
        end(*backend_end_, backend_detail_);
}

bool NativeSession::over_byte_limit() const {
    const std::size_t cap = cfg().session.max_bytes;
    return cap != 0 && (bytes_up_ >= cap || bytes_down_ >= cap);
}

void NativeSession::on_client_read(bufferevent*, void* arg) {
    static_cast<NativeSession*>(arg)->pump_up();
}

void NativeSession::on_client_write(bufferevent*, void* arg) {
    static_cast<NativeSession*>(arg)->pump_down();
}

void NativeSession::on_client_event(bufferevent* bev, short what, void* arg) {
    auto* self = static_cast<NativeSession*>(arg);
    if (what & BEV_EVENT_EOF) {
        // The client is done: what it sent goes to the backend (the link flushes it on close), on
        // a later turn, since libevent 2.1 reports a TLS end before it commits the bytes read with it.
        event_active(self->client_done_.get(), 0, 0);
        return;
    }
    // Under TLS the reason is OpenSSL's; errno may be stale.
    std::string why = "connection error: ";
    const unsigned long tls_error = take_bufferevent_tls_error(bev);
    const char* reason = tls_error != 0 ? ERR_reason_error_string(tls_error) : nullptr;
    why += reason != nullptr ? reason : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());
    self->end(CloseReason::client_close, why);
}

void NativeSession::on_client_done(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<NativeSession*>(arg);
    self->pump_up();
    self->end(CloseReason::client_close);
}

void NativeSession::on_backend_connected() {
    worker_.counters().backend_connect_seconds.observe(
        std::chrono::duration<double>(backend_.connect_time()).count());
    worker_.log().debug("session sid=" + id() + " backend connected");
}

void NativeSession::on_backend_data() {
    pump_down();
}

void NativeSession::on_backend_drained() {
    pump_up();
}

void NativeSession::on_backend_gone(CloseReason reason, std::string detail) {
    backend_end_ = reason;
    backend_detail_ = std::move(detail);
    pump_down();
}

void NativeSession::check_timers(Clock::time_point now) {
    if (state_ != State::open) return;
    const auto& limits = cfg().session;
    if (limits.max_lifetime.count() != 0 && now - opened_at_ >= limits.max_lifetime) {
        end(CloseReason::max_lifetime);
    } else if (bytes_up_ < kHandshakeBytes && now - opened_at_ >= limits.handshake_timeout) {
        end(CloseReason::handshake_timeout);
    } else if (now - last_activity_ >= limits.idle_timeout) {
        end(CloseReason::idle_timeout, "no bytes either way");
    }
}

void NativeSession::end(CloseReason reason, std::string_view detail) {
    if (state_ != State::open) return;
    state_ = State::ended;
    // Out of the limits before the end line: see Session::end.
    worker_.retire(*this);
    ++worker_.counters().sessions_closed[static_cast<std::size_t>(reason)];
    worker_.log().info(end_line(reason, detail, {}));
    backend_.close(worker_.linger());
    // What was handed to the client still goes out, then the connection closes (bounded).
    bufferevent_setcb(client_.get(), nullptr, nullptr, nullptr, nullptr);
    worker_.linger().add(std::move(client_), kClientFlushOnEnd);
}

SessionInfo NativeSession::info(Clock::time_point now) const {
    SessionInfo i = common_info(now, last_activity_);
    i.state = state_ == State::ended ? "ended" : bytes_up_ < kHandshakeBytes ? "handshake" : "open";
    i.backend = backend_state_name(backend_.state());
    return i;
}

std::size_t NativeSession::queued_up() const {
    const std::size_t unread = client_ ? evbuffer_get_length(bufferevent_get_input(client_.get())) : 0;
    return backend_.queued_out() + unread;
}

std::size_t NativeSession::queued_down() const {
    const std::size_t unsent = client_ ? evbuffer_get_length(bufferevent_get_output(client_.get())) : 0;
    return backend_.queued_in() + unsent;
}

}  // namespace rtmpt::gateway
