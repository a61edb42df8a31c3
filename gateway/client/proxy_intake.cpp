#include "gateway/client/proxy_intake.hpp"

#include "gateway/loop/timeval.hpp"
#include "gateway/loop/worker.hpp"

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace rtmpt::gateway {

ProxyIntake::ProxyIntake(Worker& worker, evutil_socket_t fd, std::string peer, bool tls)
    : worker_(worker),
      fd_(fd),
      peer_(std::move(peer)),
      tls_(tls),
      read_event_(event_new(worker.base(), fd, EV_READ | EV_PERSIST, &ProxyIntake::on_readable, this)),
      deadline_(evtimer_new(worker.base(), &ProxyIntake::on_deadline, this)) {
    event_add(read_event_.get(), nullptr);
    const timeval deadline = to_timeval(worker.config().http.header_timeout);
    evtimer_add(deadline_.get(), &deadline);
}

ProxyIntake::~ProxyIntake() {
    read_event_.reset();  // before the descriptor it watches is closed
    if (fd_ >= 0) evutil_closesocket(fd_);
}

void ProxyIntake::on_readable(evutil_socket_t, short, void* arg) {
    static_cast<ProxyIntake*>(arg)->read_header();
}

void ProxyIntake::on_deadline(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<ProxyIntake*>(arg);
    self->fail(Failure::timeout, "no whole header within http.header_timeout (" +
                                     std::to_string(self->header_.size()) + " bytes came)");
}

void ProxyIntake::read_header() {
    if (state_ != State::reading) return;
    // Peek, so that the bytes after the header stay in the socket for whoever reads next (the
    // TLS handshake, the HTTP parser). Every peeked byte of an unfinished header is header, so
    // it is taken off at once: the socket is then empty and readiness means new bytes.
    std::array<std::uint8_t, kMaxHeaderBytes> peeked;
    const std::size_t room = kMaxHeaderBytes - header_.size();
    ssize_t n;
    do {
        n = ::recv(fd_, peeked.data(), room, MSG_PEEK);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        fail(Failure::closed, std::string("read failed: ") + std::strerror(errno));
        return;
    }
    if (n == 0 && header_.empty()) {
        // A balancer's TCP health check on the traffic port: connect, close. Not a failure, and
        // frequent (every few seconds from every zone): counted apart, logged at debug.
        ++worker_.counters().proxy_empty;
        worker_.log().debug("proxy client=" + peer_ + " closed before any byte (a TCP health check?)");
        close();
        return;
    }
    if (n == 0) {
        fail(Failure::closed,
             "closed after " + std::to_string(header_.size()) + " bytes of an unfinished header");
        return;
    }
    const std::size_t had = header_.size();
    header_.insert(header_.end(), peeked.begin(), peeked.begin() + n);
    const proto::ProxyHeader header = proto::parse_proxy_header(header_, kMaxHeaderBytes);
    switch (header.status) {
        case proto::ProxyHeader::Status::invalid:
            fail(header.problem == proto::ProxyHeader::Problem::not_proxy  ? Failure::not_proxy
                 : header.problem == proto::ProxyHeader::Problem::too_long ? Failure::too_long
                                                                           : Failure::malformed,
                 header.error);
            return;
        case proto::ProxyHeader::Status::incomplete:
            break;
        case proto::ProxyHeader::Status::complete:
            header_.resize(header.length);
            break;
    }
    // Take off exactly the header's bytes; the peek showed they are there.
    const std::size_t take = header_.size() - had;
    ssize_t got;
    do {
        got = ::recv(fd_, peeked.data(), take, 0);
    } while (got < 0 && errno == EINTR);
    if (got != static_cast<ssize_t>(take)) {
        fail(Failure::closed, "the socket gave back less than it showed");
        return;
    }
    if (header.status == proto::ProxyHeader::Status::complete) finish(header);
}

void ProxyIntake::finish(const proto::ProxyHeader& header) {
    state_ = State::done;
    read_event_.reset();
    evtimer_del(deadline_.get());
    ++worker_.counters().proxy_headers;
    const std::string version = header.version == proto::ProxyVersion::v1 ? "v1" : "v2";
    ClientPeer client;
    if (header.source) {
        client.endpoint = header.source;
        client.local = header.destination;
        client.via = peer_;
        client.shown = proto::to_string(*header.source) + " via=" + peer_;
        worker_.log().debug("proxy client=" + client.shown + " PROXY " + version + " header of " +
                            std::to_string(header.length) + " bytes" +
                            (header.tlvs ? ", " + std::to_string(header.tlvs) + " TLVs skipped" : ""));
    } else {
        // LOCAL, UNKNOWN or a family without an IP: the balancer speaks for itself.
        client = tcp_peer(peer_);
        worker_.log().debug("proxy client=" + peer_ + " PROXY " + version +
                            " header names no client: the connection is the balancer's own");
    }
    client.accepted_at = accepted_at_;
    const evutil_socket_t fd = fd_;
    fd_ = -1;
    worker_.accept_proxied(*this, fd, std::move(client), tls_);
}

void ProxyIntake::fail(Failure failure, std::string_view why) {
    if (state_ != State::reading) return;
    state_ = State::done;
    Counters& c = worker_.counters();
    std::string_view key;
    switch (failure) {
        case Failure::not_proxy:
            ++c.proxy_failed_not_proxy;
            key = "not_proxy";
            break;
        case Failure::malformed:
            ++c.proxy_failed_malformed;
            key = "malformed";
            break;
        case Failure::too_long:
            ++c.proxy_failed_too_long;
            key = "too_long";
            break;
        case Failure::timeout:
            ++c.proxy_failed_timeout;
            key = "timeout";
            break;
        case Failure::closed:
            ++c.proxy_failed_closed;
            key = "closed";
            break;
    }
    worker_.log().info("proxy client=" + peer_ + " closing because: PROXY header " + std::string(key) + ": " +
                       std::string(why));
    close();
}

void ProxyIntake::close() {
    state_ = State::done;
    read_event_.reset();
    evtimer_del(deadline_.get());
    if (fd_ >= 0) evutil_closesocket(fd_);
    fd_ = -1;
    worker_.retire(*this);
}

}  // namespace rtmpt::gateway
