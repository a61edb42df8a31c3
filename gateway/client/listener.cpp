#include "gateway/client/listener.hpp"

#include "gateway/loop/worker.hpp"

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

Listener::Listener(Worker& worker, const config::HostPort& address, AcceptFn on_accept)
    : worker_(worker), address_(address), on_accept_(std::move(on_accept)) {}

bool Listener::open(bool numeric_only) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV | (numeric_only ? AI_NUMERICHOST : 0);
    addrinfo* found = nullptr;
    const std::string port = std::to_string(address_.port);
    const std::string what = address_.host + ":" + port;
    // Blocking resolution is fine before the loop runs; a reload passes numeric_only.
    if (const int rc = getaddrinfo(address_.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
        error_ = "cannot resolve listen address " + what + ": " + gai_strerror(rc);
        if (numeric_only && rc == EAI_NONAME)
            error_ += " (a reload takes IP addresses only; restart to use a name)";
        return false;
    }
    const addrinfo* ai = found;
    const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
        error_ = "cannot create socket for " + what + ": " + std::strerror(errno);
        freeaddrinfo(found);
        return false;
    }
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    // "[::]:80" means IPv6 only, so that "0.0.0.0:80" can be listed beside it.
    if (ai->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
        error_ = "cannot listen on " + what + ": " + std::strerror(errno);
        ::close(fd);
        freeaddrinfo(found);
        return false;
    }
    freeaddrinfo(found);

    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
    bound_ = format_address(reinterpret_cast<sockaddr*>(&bound));

    listener_.reset(evconnlistener_new(worker_.base(), &Listener::on_accept, this,
                                       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd));
    if (!listener_) {
        error_ = "cannot watch listening socket " + what;
        ::close(fd);
        return false;
    }
    evconnlistener_set_error_cb(listener_.get(), &Listener::on_error);
    resume_timer_.reset(evtimer_new(worker_.base(), &Listener::on_resume, this));
    return true;
}

void Listener::on_accept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int, void* arg) {
    auto* self = static_cast<Listener*>(arg);
    if (self->on_accept_) {
        self->on_accept_(fd, format_address(addr));
    } else {
        self->worker_.accept(fd, format_address(addr));
    }
}

void Listener::on_error(evconnlistener*, void* arg) {
    auto* self = static_cast<Listener*>(arg);
    const int err = EVUTIL_SOCKET_ERROR();
    const std::string why = evutil_socket_error_to_string(err);
    if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM) {
        self->worker_.log().error("accept on " + self->bound_ + " failed: " + why);
        return;
    }
    evconnlistener_disable(self->listener_.get());
    ++self->worker_.counters().accept_pauses;
    evtimer_add(self->resume_timer_.get(), &kAcceptPause);
    // One line for the first pause and then one in a hundred: a long shortage must not flood the log.
    if (self->pauses_++ % 100 == 0) {
        self->worker_.log().warn("accept on " + self->bound_ + " paused for 100ms: " + why +
                                 " (pauses so far: " + std::to_string(self->pauses_) + ")");
    }
}

void Listener::on_resume(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<Listener*>(arg);
    evconnlistener_enable(self->listener_.get());
}

}  // namespace rtmpt::gateway
