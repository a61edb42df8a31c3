#include "gateway/net/socket_io.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>

namespace rtmpt::gateway {

ssize_t read_into(evbuffer* buf, evutil_socket_t fd, std::size_t max, std::span<char> scratch,
                  bool expect_much) {
    max = std::min(max, scratch.size());
    ssize_t n;
    if (expect_much) {
        // While a stream flows, read straight into the queue: one copy less. Reserving room in
        // the evbuffer allocates a chain that large, so only when the room is likely to fill.
        evbuffer_iovec vec[2];
        const int n_vec = evbuffer_reserve_space(buf, static_cast<ev_ssize_t>(max), vec, 2);
        if (n_vec < 1) {
            errno = ENOMEM;
            return -1;
        }
        std::size_t room = max;
        iovec iov[2];
        int used = 0;
        for (; used < n_vec && room > 0; ++used) {
            const std::size_t len = std::min(room, vec[used].iov_len);
            iov[used] = iovec{vec[used].iov_base, len};
            room -= len;
        }
        do {
            n = ::readv(fd, iov, used);
        } while (n < 0 && errno == EINTR);
        const int saved = errno;
        std::size_t left = n > 0 ? static_cast<std::size_t>(n) : 0;
        int filled = 0;
        for (; filled < used && left > 0; ++filled) {
            vec[filled].iov_len = std::min(left, iov[filled].iov_len);
            left -= vec[filled].iov_len;
        }
        if (evbuffer_commit_space(buf, vec, filled) != 0) {
            errno = ENOMEM;
            return -1;
        }
        errno = saved;
        return n;
    }
    // Otherwise into the worker's scratch buffer, adding exactly what came.
    do {
        n = ::recv(fd, scratch.data(), max, 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0 && evbuffer_add(buf, scratch.data(), static_cast<std::size_t>(n)) != 0) {
        errno = ENOMEM;
        return -1;
    }
    return n;
}

namespace {

void release_reply(const void*, std::size_t, void* extra) {
    delete static_cast<SharedReply*>(extra);
}

}  // namespace

bool write_through(bufferevent* bev, std::string_view bytes, const SharedReply& keep, int* error) {
    evbuffer* out = bufferevent_get_output(bev);
    std::size_t sent = 0;
    if (evbuffer_get_length(out) == 0) {
        ssize_t n;
        do {
            n = ::send(bufferevent_getfd(bev), bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        } while (n < 0 && errno == EINTR);
        // On an error other than a full socket everything is queued: the bufferevent's own write
        // meets the error and reports it through the owner's event callback, as before.
        if (n > 0) {
            sent = static_cast<std::size_t>(n);
        } else if (error && errno != EAGAIN && errno != EWOULDBLOCK) {
            *error = errno;
        }
    }
    if (sent == bytes.size()) return true;
    queue_behind(out, bytes.substr(sent), keep);
    return false;
}

void queue_behind(evbuffer* out, std::string_view bytes, const SharedReply& keep) {
    if (keep) {
        auto* holder = new SharedReply(keep);
        if (evbuffer_add_reference(out, bytes.data(), bytes.size(), &release_reply, holder) == 0) return;
        delete holder;
    }
    evbuffer_add(out, bytes.data(), bytes.size());
}

}  // namespace rtmpt::gateway
