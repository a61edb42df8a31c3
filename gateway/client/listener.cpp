#include "gateway/client/listener.hpp"

#include "gateway/logging/logger.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rtmpt::gateway {
namespace {

// Out of descriptors, every accept fails at once and the listener stays readable: retrying
// in a tight loop would burn a core. Waiting a moment lets connections close meanwhile.
constexpr timeval kAcceptPause{0, 100'000};

}  // namespace

std::string format_address(const sockaddr* addr) {
    char host[INET6_ADDRSTRLEN] = "?";
    if (addr->sa_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
    }
    if (addr->sa_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
    }
    return "unknown";
}

ListenSocket::~ListenSocket() {
    if (fd_ >= 0) ::close(fd_);
}

namespace {

// One socket on `ai`'s address; on failure -1 with `error` set.
// `listening`: false for a probe, which is only bound.
int bind_one(const addrinfo* ai, const std::string& what, bool reuse_port, bool listening,
             std::string& error) {
    const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
        error = "cannot create socket for " + what + ": " + std::strerror(errno);
        return -1;
    }
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    // Only with several workers: a lone socket keeps the port to itself, as it always has.
    if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        error = "cannot share " + what + " between workers (SO_REUSEPORT): " + std::strerror(errno);
        ::close(fd);
        return -1;
    }
    // "[::]:80" means IPv6 only, so that "0.0.0.0:80" can be listed beside it.
    if (ai->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || (listening && ::listen(fd, SOMAXCONN) != 0)) {
        error = "cannot listen on " + what + ": " + std::strerror(errno);
        ::close(fd);
        return -1;
    }
    return fd;
}

}  // namespace

std::variant<std::vector<ListenSocket>, std::string> open_listen_sockets(const config::HostPort& address,
                                                                         unsigned count, bool numeric_only) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV | (numeric_only ? AI_NUMERICHOST : 0);
    addrinfo* found = nullptr;
    const std::string port = std::to_string(address.port);
    const std::string what = address.host + ":" + port;
    // Blocking resolution is fine before the loops run; a reload passes numeric_only.
    if (const int rc = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
        std::string error = "cannot resolve listen address " + what + ": " + gai_strerror(rc);
        if (numeric_only && rc == EAI_NONAME)
            error += " (a reload takes IP addresses only; restart to use a name)";
        return error;
    }
    std::vector<ListenSocket> sockets;
    std::string error;
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    if (count == 1) {
        // A lone socket keeps the port to itself, as it always has.
        if (const int fd = bind_one(found, what, false, true, error); fd >= 0) {
            getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
            sockets.emplace_back(fd, format_address(reinterpret_cast<sockaddr*>(&bound)));
        }
        freeaddrinfo(found);
        if (sockets.empty()) return error;
        return sockets;
    }
    // A group shares its port with any SO_REUSEPORT socket of this user, ours included: another
    // listen address that overlaps this one (the same address in tls.listen, 0.0.0.0 beside
    // 127.0.0.1) would silently take a share of its connections. A probe bound without the option
    // first fails on such an overlap as one socket would, and picks the port when it is 0, so that
    // every worker's socket binds the same one.
    const int probe = bind_one(found, what, false, false, error);
    if (probe >= 0) {
        getsockname(probe, reinterpret_cast<sockaddr*>(&bound), &len);
        ::close(probe);
        addrinfo same = *found;
        same.ai_addr = reinterpret_cast<sockaddr*>(&bound);
        same.ai_addrlen = len;
        const std::string shown = format_address(reinterpret_cast<sockaddr*>(&bound));
        for (unsigned i = 0; i < count; ++i) {
            const int fd = bind_one(&same, what, true, true, error);
            if (fd < 0) {
                sockets.clear();
                break;
            }
            sockets.emplace_back(fd, shown);
        }
    }
    freeaddrinfo(found);
    if (sockets.empty()) return error;
    return sockets;
}

Listener::Listener(event_base* base, const Logger& log, Counters& counters, const config::HostPort& address,
                   ListenSocket socket, AcceptFn on_accept)
    : base_(base),
      log_(log),
      counters_(counters),
      address_(address),
      socket_(std::move(socket)),
      on_accept_(std::move(on_accept)),
      bound_(socket_.bound()) {}

bool Listener::start() {
    const int fd = socket_.release();
    listener_.reset(evconnlistener_new(base_, &Listener::on_accept, this,
                                       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd));
    if (!listener_) {
        error_ = "cannot watch listening socket " + bound_;
        ::close(fd);
        return false;
    }
    evconnlistener_set_error_cb(listener_.get(), &Listener::on_error);
    resume_timer_.reset(evtimer_new(base_, &Listener::on_resume, this));
    return true;
}

void Listener::on_accept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int, void* arg) {
    auto* self = static_cast<Listener*>(arg);
    self->on_accept_(fd, format_address(addr));
}

void Listener::on_error(evconnlistener*, void* arg) {
    auto* self = static_cast<Listener*>(arg);
    const int err = EVUTIL_SOCKET_ERROR();
    const std::string why = evutil_socket_error_to_string(err);
    if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM) {
        self->log_.error("accept on " + self->bound_ + " failed: " + why);
        return;
    }
    evconnlistener_disable(self->listener_.get());
    ++self->counters_.accept_pauses;
    evtimer_add(self->resume_timer_.get(), &kAcceptPause);
    // One line for the first pause and then one in a hundred: a long shortage must not flood the log.
    if (self->pauses_++ % 100 == 0) {
        self->log_.warn("accept on " + self->bound_ + " paused for 100ms: " + why +
                        " (pauses so far: " + std::to_string(self->pauses_) + ")");
    }
}

void Listener::on_resume(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<Listener*>(arg);
    evconnlistener_enable(self->listener_.get());
}

}  // namespace rtmpt::gateway
