#include "gateway/admin/admin_connection.hpp"

#include "gateway/admin/admin_server.hpp"
#include "gateway/loop/timeval.hpp"
#include "proto/plain_reply.hpp"

namespace rtmpt::gateway {

using proto::HttpStatus;

const llhttp_settings_t& AdminConnection::parser_settings() {
    static const llhttp_settings_t settings = [] {
        llhttp_settings_t s;
        llhttp_settings_init(&s);
        s.on_url = &AdminConnection::on_url;
        s.on_header_field = &AdminConnection::on_header_bytes;
        s.on_header_value = &AdminConnection::on_header_bytes;
        s.on_headers_complete = &AdminConnection::on_headers_complete;
        s.on_message_complete = &AdminConnection::on_message_complete;
        return s;
    }();
    return settings;
}

AdminConnection::AdminConnection(AdminServer& server, evutil_socket_t fd, std::string peer,
                                 std::uint64_t serial)
    : server_(server), peer_(std::move(peer)), serial_(serial) {
    llhttp_init(&parser_, HTTP_REQUEST, &parser_settings());
    parser_.data = this;
    bev_.reset(bufferevent_socket_new(server.base(), fd, BEV_OPT_CLOSE_ON_FREE));
    bufferevent_setcb(bev_.get(), &AdminConnection::on_read, &AdminConnection::on_write,
                      &AdminConnection::on_event, this);
    // One timeout for the whole exchange: a silent or non-reading client cannot hold one of the
    // few admin connections for long.
    const timeval tv = to_timeval(kRequestTimeout);
    bufferevent_set_timeouts(bev_.get(), &tv, &tv);
    bufferevent_enable(bev_.get(), EV_READ | EV_WRITE);
}

AdminConnection::~AdminConnection() {
    server_.probe().forget(*this);
}

void AdminConnection::on_read(bufferevent*, void* arg) {
    static_cast<AdminConnection*>(arg)->parse_input();
}

void AdminConnection::parse_input() {
    evbuffer* in = bufferevent_get_input(bev_.get());
    while (state_ == State::reading && evbuffer_get_length(in) > 0) {
        evbuffer_iovec vec;
        if (evbuffer_peek(in, -1, nullptr, &vec, 1) < 1) return;
        const llhttp_errno_t err =
            llhttp_execute(&parser_, static_cast<const char*>(vec.iov_base), vec.iov_len);
        if (err == HPE_OK || err == HPE_PAUSED) {
            // Paused: the request is complete. Whatever follows it is not read.
            evbuffer_drain(in, vec.iov_len);
            continue;
        }
        const HttpStatus status = refusal_.value_or(HttpStatus::bad_request);
        const std::string_view why =
            status == HttpStatus::header_fields_too_large ? "request header too large\n"
            : status == HttpStatus::payload_too_large     ? "admin requests take no body\n"
                                                          : "malformed request\n";
        server_.note_error(peer_, status, why);
        reply(proto::plain_response(status, "text/plain", why));
        return;
    }
    if (state_ != State::reading) {
        evbuffer_drain(in, evbuffer_get_length(in));
        bufferevent_disable(bev_.get(), EV_READ);
    }
}

int AdminConnection::on_url(llhttp_t* p, const char* at, std::size_t len) {
    auto* self = static_cast<AdminConnection*>(p->data);
    if (on_header_bytes(p, at, len) != 0) return -1;
    self->target_.append(at, len);
    return 0;
}

int AdminConnection::on_header_bytes(llhttp_t* p, const char*, std::size_t len) {
    auto* self = static_cast<AdminConnection*>(p->data);
    self->header_bytes_ += len;
    if (self->header_bytes_ <= kMaxHeaderBytes) return 0;
    self->refusal_ = HttpStatus::header_fields_too_large;
    return -1;
}

int AdminConnection::on_headers_complete(llhttp_t* p) {
    // No admin endpoint takes a body: refuse one as soon as it is announced, rather than read it.
    const bool body = ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0) || (p->flags & F_CHUNKED);
    if (!body && !p->upgrade) return 0;
    static_cast<AdminConnection*>(p->data)->refusal_ =
        p->upgrade ? HttpStatus::bad_request : HttpStatus::payload_too_large;
    return -1;
}

int AdminConnection::on_message_complete(llhttp_t* p) {
    auto* self = static_cast<AdminConnection*>(p->data);
    const auto method = static_cast<llhttp_method_t>(llhttp_get_method(p));
    self->server_.handle(*self, method, self->target_);
    return HPE_PAUSED;
}

void AdminConnection::reply(std::string response) {
    if (state_ == State::writing || state_ == State::closed) return;
    state_ = State::writing;
    bufferevent_write(bev_.get(), response.data(), response.size());
}

void AdminConnection::on_probe_result(const HealthProbe::Result& result) {
    if (state_ != State::waiting) return;
    reply(server_.health_page(result));
}

void AdminConnection::on_write(bufferevent* bev, void* arg) {
    auto* self = static_cast<AdminConnection*>(arg);
    if (self->state_ == State::writing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        self->close_now();
}

void AdminConnection::on_event(bufferevent*, short what, void* arg) {
    auto* self = static_cast<AdminConnection*>(arg);
    // A client that half-closes after its request still gets the reply.
    if ((what & BEV_EVENT_EOF) && self->state_ != State::reading) {
        bufferevent_disable(self->bev_.get(), EV_READ);
        return;
    }
    // Timeout, error, or the end of the stream before a whole request.
    self->close_now();
}

void AdminConnection::close_now() {
    if (state_ == State::closed) return;
    state_ = State::closed;
    bufferevent_disable(bev_.get(), EV_READ | EV_WRITE);
    bufferevent_setcb(bev_.get(), nullptr, nullptr, nullptr, nullptr);
    server_.probe().forget(*this);
    server_.retire(*this);
}

}  // namespace rtmpt::gateway
