// How one event loop asks another to do something: a queue of tasks that any thread may post to
// and only the owning loop runs, in the order they were posted. The queue takes a mutex for a
// moment on each side; the owning loop is woken through an eventfd, written only when the queue
// goes from empty to not empty, so a burst of posts costs one wake-up.
//
// Tasks posted after the owning loop has stopped are never run: they are destroyed with the
// mailbox, on whichever thread destroys it (after the loop's thread has been joined).
#pragma once

#include "gateway/loop/event_ptr.hpp"

#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace rtmpt::gateway {

// A move-only callable (C++20 has no std::move_only_function): tasks own what they carry, such as
// a request's body or the reply slot it must be answered in.
class Task {
  public:
    Task() = default;
    template <typename F>
    explicit Task(F fn) : impl_(std::make_unique<Impl<F>>(std::move(fn))) {}

    void operator()() { impl_->run(); }
    [[nodiscard]] explicit operator bool() const { return impl_ != nullptr; }

  private:
    struct Base {
        virtual ~Base() = default;
        virtual void run() = 0;
    };
    template <typename F>
    struct Impl final : Base {
        explicit Impl(F f) : fn(std::move(f)) {}
        void run() override { fn(); }
        F fn;
    };
    std::unique_ptr<Base> impl_;
};

class Mailbox {
  public:
    // Watches its eventfd on `base`, the loop that runs the tasks. Throws at start-up only.
    explicit Mailbox(event_base* base);
    ~Mailbox();
    Mailbox(const Mailbox&) = delete;
    Mailbox& operator=(const Mailbox&) = delete;

    // From any thread.
    void post(Task task);
    template <typename F>
    void post(F fn) {
        post(Task(std::move(fn)));
    }

    // Runs what is queued now, on the owning loop's thread: for drivers that turn the loop by hand.
    void run_pending();

  private:
    static void on_wake(evutil_socket_t fd, short, void* arg);

    int fd_ = -1;
    EventPtr event_;
    std::mutex mutex_;
    std::vector<Task> queue_;    // guarded by mutex_
    std::vector<Task> running_;  // the owning loop's: the batch being run
};

}  // namespace rtmpt::gateway
