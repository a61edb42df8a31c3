#include "gateway/loop/mailbox.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace rtmpt::gateway {

Mailbox::Mailbox(event_base* base) {
    fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd_ < 0) throw std::runtime_error(std::string("cannot create an eventfd: ") + std::strerror(errno));
    event_.reset(event_new(base, fd_, EV_READ | EV_PERSIST, &Mailbox::on_wake, this));
    if (!event_ || event_add(event_.get(), nullptr) != 0) {
        ::close(fd_);
        throw std::runtime_error("cannot watch a mailbox's eventfd");
    }
}

Mailbox::~Mailbox() {
    event_.reset();
    ::close(fd_);
}

void Mailbox::post(Task task) {
    bool wake = false;
    {
        const std::lock_guard lock(mutex_);
        wake = queue_.empty();
        queue_.push_back(std::move(task));
    }
    if (!wake) return;  // a wake-up is already on its way for the batch this joins
    const std::uint64_t one = 1;
    // Only EAGAIN can fail here (the counter at its maximum), and then the loop is woken anyway.
    [[maybe_unused]] const ssize_t n = ::write(fd_, &one, sizeof one);
}

void Mailbox::run_pending() {
    {
        const std::lock_guard lock(mutex_);
        running_.swap(queue_);
    }
    // Run outside the lock: a task may post to this mailbox again (to be run on the next wake-up).
    for (Task& task : running_) task();
    running_.clear();
}

void Mailbox::on_wake(evutil_socket_t fd, short, void* arg) {
    std::uint64_t count = 0;
    [[maybe_unused]] const ssize_t n = ::read(fd, &count, sizeof count);
    static_cast<Mailbox*>(arg)->run_pending();
}

}  // namespace rtmpt::gateway
