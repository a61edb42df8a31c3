#include "gateway/client/http_connection.hpp"

#include "gateway/loop/timeval.hpp"
#include "gateway/loop/worker.hpp"
#include "gateway/net/socket_reset.hpp"
#include "proto/first_bytes.hpp"
#include "proto/plain_reply.hpp"

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <span>

namespace rtmpt::gateway {

using proto::HttpStatus;

namespace {

// A request target for a log line: at most 128 bytes, anything but visible ASCII as '?', so the
// line stays one line and one field; ':' as its URL escape %3A, since a field ending in ':' would
// end the fields of the line (gateway/logging/log_format.hpp).
[[nodiscard]] std::string printable_target(std::string_view target) {
    std::string shown;
    for (const char c : target.substr(0, 128)) {
        if (c == ':') {
            shown += "%3A";
        } else {
            shown += (c <= 0x20 || c > 0x7e) ? '?' : c;
        }
    }
    return shown;
}

constexpr Refusal kMalformed{HttpStatus::bad_request, "malformed request", &Counters::refused_malformed};
constexpr Refusal kUpgrade{HttpStatus::bad_request, "protocol upgrade not supported",
                           &Counters::refused_upgrade};
constexpr Refusal kHeaderTooLarge{HttpStatus::header_fields_too_large, "request header too large",
                                  &Counters::refused_header_too_large};
constexpr Refusal kBodyTooLarge{HttpStatus::payload_too_large, "request body too large",
                                &Counters::refused_body_too_large};
constexpr Refusal kHeaderTimeout{HttpStatus::request_timeout, "request header timeout",
                                 &Counters::refused_header_timeout};

[[nodiscard]] char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

void ReplySlot::fill(std::string response) {
    if (filled_) return;
    fill(std::make_shared<const std::string>(std::move(response)));
}

void ReplySlot::fill(SharedReply response) {
    if (filled_) return;
    filled_ = true;
    if (forward_) {
        forward_(std::move(response));
        return;
    }
    response_ = std::move(response);
    if (connection_) connection_->flush_ready_replies();
}

const llhttp_settings_t& HttpConnection::parser_settings() {
    static const llhttp_settings_t settings = [] {
        llhttp_settings_t s;
        llhttp_settings_init(&s);
        s.on_message_begin = &HttpConnection::on_message_begin;
        s.on_url = &HttpConnection::on_url;
        s.on_header_field = &HttpConnection::on_header_field;
        s.on_header_value = &HttpConnection::on_header_value;
        s.on_header_value_complete = &HttpConnection::on_header_value_complete;
        s.on_headers_complete = &HttpConnection::on_headers_complete;
        s.on_body = &HttpConnection::on_body;
        s.on_message_complete = &HttpConnection::on_message_complete;
        return s;
    }();
    return settings;
}

HttpConnection::HttpConnection(Worker& worker, evutil_socket_t fd, ClientPeer peer, SSL* tls,
                               TlsContextPtr context)
    : worker_(worker),
      peer_(std::move(peer.shown)),
      via_(std::move(peer.via)),
      peer_endpoint_(peer.endpoint),
      local_(peer.local),
      local_known_(peer.local.has_value()),
      // Room for two full replies: enough to keep the pipe busy, little enough that a client
      // that pipelines and never reads cannot make us buffer without end.
      unsent_limit_(std::max<std::size_t>(2 * worker.config().session.reply_max_bytes, 64 * 1024)),
      fd_(fd),
      tls_(tls != nullptr),
      tls_context_(std::move(context)) {
    llhttp_init(&parser_, HTTP_REQUEST, &parser_settings());
    parser_.data = this;
    header_timer_.reset(evtimer_new(worker.base(), &HttpConnection::on_header_timeout, this));

    const int one = 1;
    // Replies must leave at once: a held-back reply stalls the client's next request.
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    if (tls_) {
        // OpenSSL's bufferevent: it does the handshake, then decrypts into its input and encrypts
        // from its output. Our direct socket reads and writes (socket_io.hpp) cannot apply here.
        bev_.reset(bufferevent_openssl_socket_new(worker.base(), fd, tls, BUFFEREVENT_SSL_ACCEPTING,
                                                  BEV_OPT_CLOSE_ON_FREE));
        // Clients (ffmpeg among them) close without TLS's close_notify: an end, not an error.
        bufferevent_openssl_set_allow_dirty_shutdown(bev_.get(), 1);
        bufferevent_setcb(bev_.get(), &HttpConnection::on_tls_readable, &HttpConnection::on_write,
                          &HttpConnection::on_event, this);
    } else {
        bev_.reset(bufferevent_socket_new(worker.base(), fd, BEV_OPT_CLOSE_ON_FREE));
        bufferevent_setcb(bev_.get(), nullptr, &HttpConnection::on_write, &HttpConnection::on_event, this);
    }
    // What the socket did not take at once goes out in large writes, not libevent's 16 KiB a turn.
    bufferevent_set_max_single_write(bev_.get(), unsent_limit_);
    // A client that takes none of our reply bytes for this long is gone.
    const timeval tv = to_timeval(worker.config().http.keepalive_timeout);
    bufferevent_set_timeouts(bev_.get(), nullptr, &tv);
    bufferevent_enable(bev_.get(), EV_WRITE);
    // A connection with no request for this long is closed (the timeout restarts on every read).
    read_event_.reset(
        tls_ ? event_new(worker.base(), -1, 0, &HttpConnection::on_readable, this)
             : event_new(worker.base(), fd, EV_READ | EV_PERSIST, &HttpConnection::on_readable, this));
    start_reading();
    // The first bytes (and, on a TLS listener, the handshake before them) have a deadline that no
    // dribbled byte restarts: the header timeout's, from the accept. A silent connection would
    // otherwise hold its descriptor for the whole keep-alive timeout.
    // Behind a PROXY header, the accept was the balancer's connection, some time ago.
    auto first_bytes_within = worker.config().http.header_timeout;
    if (peer.accepted_at) {
        first_bytes_within -= std::chrono::duration_cast<config::Duration>(std::chrono::steady_clock::now() -
                                                                           *peer.accepted_at);
        first_bytes_within = std::max(first_bytes_within, config::Duration{1});
    }
    const timeval deadline = to_timeval(first_bytes_within);
    evtimer_add(header_timer_.get(), &deadline);
}

HttpConnection::~HttpConnection() {
    for (auto& slot : replies_) slot->detach();
}

std::string HttpConnection::hops() const {
    if (via_.empty() || !peer_endpoint_) return peer_;
    return proto::to_string(*peer_endpoint_) + "," + via_;
}

const std::optional<proto::Endpoint>& HttpConnection::local_endpoint() const {
    if (!local_known_) {
        local_known_ = true;
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        if (getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
            local_ = proto::parse_endpoint(format_address(reinterpret_cast<const sockaddr*>(&ss)));
        }
    }
    return local_;
}

void HttpConnection::start_reading() {
    const timeval tv = to_timeval(worker_.config().http.keepalive_timeout);
    if (tls_) {
        // The read timeout (the keep-alive timeout, and the handshake's deadline) restarts on
        // every read, as the plain connection's read event's does.
        bufferevent_set_timeouts(bev_.get(), &tv, &tv);
        bufferevent_enable(bev_.get(), EV_READ);
        return;
    }
    event_add(read_event_.get(), &tv);
}

void HttpConnection::stop_reading() {
    if (tls_) bufferevent_disable(bev_.get(), EV_READ);
    event_del(read_event_.get());
}

void HttpConnection::on_tls_readable(bufferevent*, void* arg) {
    static_cast<HttpConnection*>(arg)->read_from_client(EV_READ);
}

ssize_t HttpConnection::receive(std::span<char> into) {
    if (tls_) {
        evbuffer* in = bufferevent_get_input(bev_.get());
        const int n = evbuffer_remove(in, into.data(), into.size());
        if (n > 0) {
            // More than one read's worth decrypted: the rest is parsed on a later turn, as a
            // plain socket's would be after its next readable event.
            if (evbuffer_get_length(in) > 0) event_active(read_event_.get(), EV_READ, 0);
            return n;
        }
        if (tls_eof_) return 0;
        errno = EAGAIN;
        return -1;
    }
    ssize_t n;
    do {
        n = ::recv(fd_, into.data(), into.size(), 0);
    } while (n < 0 && errno == EINTR);
    return n;
}

void HttpConnection::on_readable(evutil_socket_t, short what, void* arg) {
    static_cast<HttpConnection*>(arg)->read_from_client(what);
}

void HttpConnection::read_from_client(short what) {
    if ((what & EV_TIMEOUT) && !(what & EV_READ)) {
        // Still waiting on a session for a reply: not idle, keep the connection.
        if (replies_.empty()) close_now("keep-alive timeout");
        return;
    }
    if (eof_ || state_ != State::reading || !unparsed_.empty()) {
        // Woken by resume_reading(): what is already buffered is parsed first, and more is read
        // only if that leaves room. Reading on regardless would let a pipelining client grow
        // the buffer by a read's worth for each reply it gets.
        parse_input();
        if (eof_ || state_ != State::reading || !unparsed_.empty()) return;
    }
    const std::span<char> scratch = worker_.client_scratch();
    const ssize_t n = receive(scratch);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (mid_request_) note_truncated("lost the connection");
        close_now("connection error");
        return;
    }
    if (n == 0) {
        client_eof();
        return;
    }
    // Nothing is buffered here (see above): requests are parsed where they were read, and only
    // what a pause leaves unparsed is kept.
    const auto got = static_cast<std::size_t>(n);
    if (!sniffed_) {
        evtimer_del(header_timer_.get());
        // One port, every protocol: the first byte tells native RTMP from HTTP (inside TLS on a
        // TLS listener, so rtmps:// from rtmpts://).
        sniffed_ = true;
        if (proto::classify_first_byte(static_cast<std::uint8_t>(scratch[0])) == proto::FirstByte::rtmp) {
            hand_to_native(std::string_view(scratch.data(), got));
            return;
        }
    }
    const std::optional<std::size_t> used = execute(scratch.data(), got);
    if (!used) return;
    if (*used < got) unparsed_.assign(scratch.data() + *used, got - *used);
    after_parse();
    // ffmpeg writes a POST's headers and body in two sends without TCP_NODELAY: acking at once
    // releases the body instead of letting the client's Nagle wait for our delayed ACK (~40 ms a
    // request). Likewise a request whose reply is held. A request answered already carries the
    // ACK in its reply, so no extra segment is sent for it.
    if (state_ != State::draining && (mid_request_ || !replies_.empty())) {
        const int one = 1;
        setsockopt(fd_, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
    }
}

std::optional<std::size_t> HttpConnection::execute(const char* data, std::size_t len) {
    std::size_t used = 0;
    while (used < len && state_ == State::reading) {
        parsing_ = true;
        const llhttp_errno_t err = llhttp_execute(&parser_, data + used, len - used);
        parsing_ = false;
        if (err == HPE_OK) return len;
        if (err == HPE_PAUSED) {
            // We paused after a complete request (too many outstanding, or last on this connection).
            used = static_cast<std::size_t>(llhttp_get_error_pos(&parser_) - data);
            llhttp_resume(&parser_);
            continue;
        }
        if (limit_) {
            refuse(*limit_);
        } else {
            refuse(kMalformed, llhttp_errno_name(err));
        }
        return std::nullopt;
    }
    return used;
}

void HttpConnection::parse_input() {
    if (parsing_) return;
    if (state_ == State::reading && !unparsed_.empty()) {
        const std::optional<std::size_t> used = execute(unparsed_.data(), unparsed_.size());
        if (!used) return;
        unparsed_.erase(0, *used);
        // A long pause must not keep a large buffer for the connection's life.
        if (unparsed_.empty()) unparsed_.shrink_to_fit();
    }
    after_parse();
}

void HttpConnection::after_parse() {
    if (eof_ && state_ == State::reading && unparsed_.empty()) {
        // Everything the client sent before its FIN has been parsed; what is owed goes out, then we close.
        if (mid_request_) note_truncated("closed the connection");
        state_ = State::draining;
    }
    if (state_ == State::paused || state_ == State::draining) stop_reading();
    if (eof_ && state_ == State::draining && replies_.empty() &&
        evbuffer_get_length(bufferevent_get_output(bev_.get())) == 0) {
        close_now("client closed");
    }
}

void HttpConnection::client_eof() {
    // A half-close still wants every request it sent before the FIN answered, pipelined ones
    // included: parse what is buffered (now, or once a paused connection resumes), then write
    // what is owed and close.
    eof_ = true;
    stop_reading();
    if (state_ == State::reading) {
        parse_input();
    } else if (state_ == State::draining && replies_.empty() &&
               evbuffer_get_length(bufferevent_get_output(bev_.get())) == 0) {
        close_now("client closed");
    }
}

bool HttpConnection::over_limits() const {
    return replies_.size() >= kMaxOutstanding ||
           evbuffer_get_length(bufferevent_get_output(bev_.get())) >= unsent_limit_;
}

void HttpConnection::resume_reading() {
    if (state_ != State::paused || over_limits()) return;
    state_ = State::reading;
    // After the client's FIN there is nothing more to read, only what is buffered to parse.
    if (!eof_) start_reading();
    // Parse what is already buffered on a later turn of the loop, never from here: a reply
    // filled by another connection's request would otherwise parse this connection's next
    // request on the same stack, and a chain of connections could recurse without bound.
    // After a FIN this also runs after_parse(), which moves the connection on to draining.
    if (!unparsed_.empty() || eof_ ||
        (tls_ && (tls_eof_ || evbuffer_get_length(bufferevent_get_input(bev_.get())) > 0))) {
        event_active(read_event_.get(), EV_READ, 0);
    }
}

int HttpConnection::on_message_begin(llhttp_t* p) {
    auto* self = static_cast<HttpConnection*>(p->data);
    self->request_ = HttpRequest{};
    self->header_bytes_ = 0;
    self->mid_request_ = true;
    self->headers_done_ = false;
    self->header_field_.clear();
    self->header_field_done_ = true;
    self->header_value_started_ = false;
    const timeval tv = to_timeval(self->worker_.config().http.header_timeout);
    evtimer_add(self->header_timer_.get(), &tv);
    return 0;
}

bool HttpConnection::count_header_bytes(std::size_t len) {
    header_bytes_ += len;
    if (header_bytes_ <= worker_.config().http.max_header_bytes) return true;
    limit_ = &kHeaderTooLarge;
    return false;
}

int HttpConnection::on_url(llhttp_t* p, const char* at, std::size_t len) {
    auto* self = static_cast<HttpConnection*>(p->data);
    if (!self->count_header_bytes(len)) return -1;
    self->request_.target.append(at, len);
    return 0;
}

int HttpConnection::on_header_field(llhttp_t* p, const char* at, std::size_t len) {
    auto* self = static_cast<HttpConnection*>(p->data);
    if (!self->count_header_bytes(len)) return -1;
    if (self->header_field_done_) self->header_field_.clear();
    self->header_field_done_ = false;
    // Only one name matters; a longer one need not be kept (header bytes are capped anyway).
    constexpr std::size_t kLongestWanted = 16;
    for (std::size_t i = 0; i < len && self->header_field_.size() <= kLongestWanted; ++i)
        self->header_field_ += lower(at[i]);
    return 0;
}

int HttpConnection::on_header_value(llhttp_t* p, const char* at, std::size_t len) {
    auto* self = static_cast<HttpConnection*>(p->data);
    if (!self->count_header_bytes(len)) return -1;
    if (self->header_field_ == "x-forwarded-for") {
        // Several X-Forwarded-For fields are one list, in order (RFC 9110 5.3).
        std::string& list = self->request_.forwarded_for;
        if (!self->header_value_started_ && !list.empty()) list += ',';
        self->header_value_started_ = true;
        list.append(at, len);
    }
    return 0;
}

int HttpConnection::on_header_value_complete(llhttp_t* p) {
    auto* self = static_cast<HttpConnection*>(p->data);
    self->header_field_done_ = true;
    self->header_value_started_ = false;
    return 0;
}

int HttpConnection::on_headers_complete(llhttp_t* p) {
    auto* self = static_cast<HttpConnection*>(p->data);
    self->request_.method = static_cast<llhttp_method_t>(llhttp_get_method(p));
    self->headers_done_ = true;
    evtimer_del(self->header_timer_.get());
    if (p->upgrade) {
        // RTMPT is plain request/response; whatever follows an upgrade is not ours to parse.
        self->limit_ = &kUpgrade;
        return -1;
    }
    // Decide from Content-Length before reading a byte of the body.
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > self->worker_.config().http.max_body_bytes) {
        self->limit_ = &kBodyTooLarge;
        return -1;
    }
    return 0;
}

int HttpConnection::on_body(llhttp_t* p, const char* at, std::size_t len) {
    auto* self = static_cast<HttpConnection*>(p->data);
    // Chunked bodies have no length up front: count as they come.
    if (self->request_.body.size() + len > self->worker_.config().http.max_body_bytes) {
        self->limit_ = &kBodyTooLarge;
        return -1;
    }
    self->request_.body.append(at, len);
    return 0;
}

int HttpConnection::on_message_complete(llhttp_t* p) {
    auto* self = static_cast<HttpConnection*>(p->data);
    self->mid_request_ = false;
    const bool keep_alive = llhttp_should_keep_alive(p) != 0;
    auto slot = std::make_shared<ReplySlot>(self);
    self->replies_.push_back(slot);
    if (self->worker_.config().log.access) {
        slot->set_access_note(AccessNote{llhttp_method_name(self->request_.method),
                                         printable_target(self->request_.target), self->request_.body.size(),
                                         std::chrono::steady_clock::now()});
    }
    if (!keep_alive) self->state_ = State::draining;
    self->worker_.handle_request(*self, std::move(self->request_), std::move(slot));
    if (self->state_ == State::reading && self->over_limits()) self->state_ = State::paused;
    return self->state_ == State::reading ? 0 : HPE_PAUSED;
}

void HttpConnection::refuse(const Refusal& refusal, std::string_view detail) {
    std::string why{refusal.why};
    if (!detail.empty()) why += ": " + std::string(detail);
    ++(worker_.counters().*refusal.counter);
    worker_.log().info("http client=" + peer_ + " refused with " +
                       std::to_string(static_cast<int>(refusal.status)) + ": " + why);
    evtimer_del(header_timer_.get());
    state_ = State::draining;
    stop_reading();
    auto slot = std::make_shared<ReplySlot>(this);
    replies_.push_back(slot);
    if (worker_.config().log.access) {
        // The request never completed: its method and target may be all there is of it.
        slot->set_access_note(AccessNote{headers_done_ ? llhttp_method_name(request_.method) : "-",
                                         request_.target.empty() ? "-" : printable_target(request_.target),
                                         request_.body.size(), std::chrono::steady_clock::now()});
    }
    slot->fill(worker_.replies().error(refusal.status, why, /*close=*/true));
}

void HttpConnection::note_truncated(std::string_view what) {
    mid_request_ = false;
    ++worker_.counters().requests_truncated;
    std::string where = "in its headers";
    if (headers_done_) {
        where = "after " + std::to_string(request_.body.size());
        if (parser_.flags & F_CONTENT_LENGTH)
            where += " of " + std::to_string(request_.body.size() + parser_.content_length);
        where += " body bytes";
    }
    worker_.log().info("http client=" + peer_ + " " + std::string(what) + " mid-request, " + where);
}

void HttpConnection::on_header_timeout(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<HttpConnection*>(arg);
    if (self->tls_ && !self->tls_ready_) {
        self->tls_handshake_failed("timeout", "no TLS handshake within http.header_timeout");
        return;
    }
    if (!self->sniffed_) {
        ++self->worker_.counters().first_bytes_timeouts;
        self->worker_.log().info("http client=" + self->peer_ +
                                 " closed: no first byte within http.header_timeout");
        self->close_now("no first byte");
        return;
    }
    if (self->state_ != State::draining) self->refuse(kHeaderTimeout);
}

void HttpConnection::flush_ready_replies() {
    bool all_out = false;
    while (!replies_.empty() && replies_.front()->filled()) {
        SharedReply response = replies_.front()->take_response();
        worker_.counters().count_reply(replies_.front()->kind(), *response);
        if (const auto& note = replies_.front()->access_note()) log_access(*note, *response);
        replies_.pop_front();
        if (state_ == State::draining && replies_.empty())
            response = std::make_shared<const std::string>(proto::mark_connection_close(*response));
        if (tls_) {
            queue_behind(bufferevent_get_output(bev_.get()), *response, response);
        } else {
            all_out = write_through(bev_.get(), *response, response);
        }
    }
    if (all_out && state_ == State::draining && replies_.empty()) {
        // Nothing is queued, so no write callback will come to close the connection: ask for one,
        // on a later turn of the loop (we may be inside the parser now).
        bufferevent_trigger(bev_.get(), EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
    }
    resume_reading();
}

void HttpConnection::log_access(const AccessNote& note, std::string_view response) const {
    const std::optional<int> status = proto::response_status(response);
    const std::size_t head_end = response.find("\r\n\r\n");
    const std::size_t body = head_end == std::string_view::npos ? 0 : response.size() - head_end - 4;
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - note.received).count();
    char took[32];
    std::snprintf(took, sizeof took, "%.3f", ms);
    worker_.log().info("access client=" + peer_ + " method=" + note.method + " path=" + note.target +
                       " status=" + (status ? std::to_string(*status) : "-") + " in=" +
                       std::to_string(note.body_bytes) + " out=" + std::to_string(body) + " ms=" + took);
}

void HttpConnection::on_write(bufferevent* bev, void* arg) {
    auto* self = static_cast<HttpConnection*>(arg);
    if (self->state_ == State::draining && self->replies_.empty() &&
        evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
        self->close_now("done");
        return;
    }
    self->resume_reading();
}

void HttpConnection::on_event(bufferevent*, short what, void* arg) {
    auto* self = static_cast<HttpConnection*>(arg);
    if (self->tls_ && !(what & BEV_EVENT_WRITING)) {
        self->on_tls_event(what);
        return;
    }
    // Plain connections read for themselves (read_from_client): only writes report here.
    if (what & BEV_EVENT_TIMEOUT) {
        reset_on_close(self->fd_);
        ++self->worker_.counters().write_timeouts;
        self->close_now("write timeout: the client takes no reply bytes");
        return;
    }
    if (self->mid_request_) self->note_truncated("lost the connection");
    self->close_now("connection error");
}

void HttpConnection::on_tls_event(short what) {
    if (what & BEV_EVENT_CONNECTED) {
        tls_ready_ = true;
        ++worker_.counters().tls_handshakes;
        // The first bytes inside TLS get a deadline of their own, from the end of the handshake.
        const timeval deadline = to_timeval(worker_.config().http.header_timeout);
        evtimer_add(header_timer_.get(), &deadline);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        if (!tls_ready_) {
            tls_handshake_failed("timeout", "no bytes of the TLS handshake within http.keepalive_timeout");
            return;
        }
        // Still waiting on a session for a reply: not idle, keep the connection.
        if (replies_.empty()) {
            close_now("keep-alive timeout");
        } else {
            bufferevent_enable(bev_.get(), EV_READ);
        }
        return;
    }
    if ((what & BEV_EVENT_EOF) && tls_ready_) {
        // Parse what was decrypted before the end, then answer and close as a plain FIN does.
        // On a later turn: libevent 2.1 reports the end before it commits the bytes read with it.
        tls_eof_ = true;
        // libevent stops both events at a TLS end: replies still owed need the write (and its
        // deadline) armed again.
        if (evbuffer_get_length(bufferevent_get_output(bev_.get())) != 0)
            bufferevent_enable(bev_.get(), EV_WRITE);
        event_active(read_event_.get(), EV_READ, 0);
        return;
    }
    tls_broken_ = true;
    // The OpenSSL reason, if there is one: what the client did wrong, for the log and a counter.
    const unsigned long code = take_bufferevent_tls_error(bev_.get());
    const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
    const std::string why = reason != nullptr ? reason : (what & BEV_EVENT_EOF) ? "closed" : "socket error";
    if (!tls_ready_) {
        switch (code != 0 ? ERR_GET_REASON(code) : 0) {
            case 0:
            case SSL_R_UNEXPECTED_EOF_WHILE_READING:
                // A TCP probe (a load balancer's check, a port scan) sends nothing: not worth a line each.
                if (BIO_number_read(SSL_get_rbio(bufferevent_openssl_get_ssl(bev_.get()))) == 0) {
                    ++worker_.counters().tls_failed_closed;
                    worker_.log().debug("tls client=" + peer_ + " closed before sending a byte");
                    close_now("closed before the TLS handshake");
                    return;
                }
                tls_handshake_failed("closed", "the client closed during the TLS handshake");
                return;
            case SSL_R_HTTP_REQUEST:
            case SSL_R_HTTPS_PROXY_REQUEST: {
                // Plain HTTP on a TLS port: say so in plain HTTP, as a web server does.
                const std::string answer =
                    worker_.replies().error(proto::HttpStatus::bad_request,
                                            "plain HTTP sent to a TLS port: use https:// or rtmpts://",
                                            /*close=*/true);
                (void)::send(fd_, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
                tls_handshake_failed("not_tls", "plain HTTP on a TLS port: answered 400");
                return;
            }
            case SSL_R_WRONG_VERSION_NUMBER:
            case SSL_R_UNKNOWN_PROTOCOL:
            case SSL_R_PACKET_LENGTH_TOO_LONG:
            case SSL_R_RECORD_LENGTH_MISMATCH:
                tls_handshake_failed("not_tls", why);
                return;
            case SSL_R_UNSUPPORTED_PROTOCOL:
            case SSL_R_NO_PROTOCOLS_AVAILABLE:
            case SSL_R_VERSION_TOO_LOW:
                tls_handshake_failed("version", why);
                return;
            case SSL_R_NO_SHARED_CIPHER:
                tls_handshake_failed("cipher", why);
                return;
            default:
                tls_handshake_failed("other", why);
                return;
        }
    }
    if (mid_request_) note_truncated("lost the connection");
    close_now("TLS connection error: " + why);
}

void HttpConnection::tls_handshake_failed(std::string_view reason_key, std::string_view why) {
    Counters& c = worker_.counters();
    ++(reason_key == "timeout"   ? c.tls_failed_timeout
       : reason_key == "closed"  ? c.tls_failed_closed
       : reason_key == "not_tls" ? c.tls_failed_not_tls
       : reason_key == "version" ? c.tls_failed_version
       : reason_key == "cipher"  ? c.tls_failed_cipher
                                 : c.tls_failed_other);
    worker_.log().info("tls client=" + peer_ + " handshake failed (" + std::string(reason_key) +
                       "): " + std::string(why));
    close_now("TLS handshake failed");
}

void HttpConnection::hand_to_native(std::string_view first_bytes) {
    worker_.log().debug("http client=" + peer_ + " speaks native RTMP: relayed as a session");
    stop_reading();
    evtimer_del(header_timer_.get());
    bufferevent_setcb(bev_.get(), nullptr, nullptr, nullptr, nullptr);
    bufferevent_disable(bev_.get(), EV_READ | EV_WRITE);
    // The session takes the socket (and, under TLS, the bytes decrypted after these); refused,
    // it frees the bufferevent, which closes the connection.
    worker_.open_native(*this, std::move(bev_), first_bytes);
    worker_.retire(*this);
}

void HttpConnection::close_now(std::string_view why) {
    worker_.log().debug("http client=" + peer_ + " connection closed: " + std::string(why));
    stop_reading();
    // TLS's close_notify, best effort: a client that reads on sees an end, not a truncation.
    if (tls_ && tls_ready_ && !tls_broken_) (void)SSL_shutdown(bufferevent_openssl_get_ssl(bev_.get()));
    bufferevent_disable(bev_.get(), EV_READ | EV_WRITE);
    bufferevent_setcb(bev_.get(), nullptr, nullptr, nullptr, nullptr);
    evtimer_del(header_timer_.get());
    for (auto& slot : replies_) slot->detach();
    replies_.clear();
    worker_.retire(*this);
}

}  // namespace rtmpt::gateway
