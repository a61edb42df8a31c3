// Mailbox: tasks posted from any thread, run in order on the loop that owns the mailbox.
#include "gateway/loop/mailbox.hpp"

#include <doctest/doctest.h>

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace rtmpt::gateway;

namespace {

// The descriptor of the one event a fresh base holds besides ours: the mailbox's eventfd.
int mailbox_fd(event_base* base) {
    int fd = -1;
    event_base_foreach_event(
        base,
        [](const event_base*, const event* ev, void* arg) {
            if (event_get_fd(ev) >= 0) *static_cast<int*>(arg) = event_get_fd(ev);
            return 0;
        },
        &fd);
    return fd;
}

// How many wake-ups are waiting on the eventfd (and takes them, as the loop would).
std::uint64_t take_wakeups(int fd) {
    std::uint64_t count = 0;
    return ::read(fd, &count, sizeof count) == sizeof count ? count : 0;
}

std::size_t open_descriptors() {
    std::size_t n = 0;
    if (DIR* dir = opendir("/proc/self/fd")) {
        while (readdir(dir) != nullptr) ++n;
        closedir(dir);
    }
    return n;
}

// One turn of the loop: what is ready runs, once. (EVLOOP_NONBLOCK alone goes on turning while
// callbacks keep being activated, as a task posting another does.)
void one_turn(event_base* base) {
    event_base_loopexit(base, nullptr);
    event_base_loop(base, EVLOOP_NONBLOCK);
}

// Turns the loop until `done` or 10 s: a timer keeps a blocking turn from waiting forever.
template <typename Done>
void turn_until(event_base* base, Done done) {
    EventPtr tick(event_new(
        base, -1, EV_PERSIST, [](evutil_socket_t, short, void*) {}, nullptr));
    const timeval period{0, 20'000};
    event_add(tick.get(), &period);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done() && std::chrono::steady_clock::now() < deadline) event_base_loop(base, EVLOOP_ONCE);
}

// libevent's allocator, as libevent's default (malloc, realloc, free), but failing on demand.
std::atomic<bool> g_fail_libevent_malloc{false};
void* failing_malloc(std::size_t n) {
    return g_fail_libevent_malloc.exchange(false) ? nullptr : std::malloc(n);
}
void* plain_realloc(void* p, std::size_t n) {
    return std::realloc(p, n);
}
void plain_free(void* p) {
    std::free(p);
}

// Counts its destructions, so that a task's captures can be seen going.
struct Probe {
    explicit Probe(int& destroyed) : destroyed_(&destroyed) {}
    ~Probe() { ++*destroyed_; }
    Probe(const Probe&) = delete;
    Probe& operator=(const Probe&) = delete;
    int* destroyed_;
};

}  // namespace

TEST_CASE("Task: empty by default, runs what it holds, holds what cannot be copied") {
    Task empty;
    CHECK_FALSE(static_cast<bool>(empty));
    int destroyed = 0;
    int ran = 0;
    {
        Task task([probe = std::make_unique<Probe>(destroyed), &ran] { ++ran; });
        CHECK(static_cast<bool>(task));
        task();
        task();
        CHECK(ran == 2);
        CHECK(destroyed == 0);
        Task moved = std::move(task);
        CHECK(static_cast<bool>(moved));
        moved();
        CHECK(ran == 3);
        CHECK(destroyed == 0);
    }
    CHECK(destroyed == 1);  // once, with the task that held it last
}

TEST_CASE("tasks run in the order they were posted, at the loop's next turn, after one wake-up") {
    EventBasePtr base(event_base_new());
    Mailbox mailbox(base.get());
    std::vector<int> ran;
    for (int i = 0; i < 100; ++i) mailbox.post([&ran, i] { ran.push_back(i); });
    CHECK(ran.empty());  // posting runs nothing
    one_turn(base.get());
    std::vector<int> expected(100);
    std::iota(expected.begin(), expected.end(), 0);
    CHECK(ran == expected);
    // Nothing more: a turn with nothing posted runs nothing.
    one_turn(base.get());
    CHECK(ran.size() == 100);
    // A Task posted as such runs like a lambda.
    mailbox.post(Task([&ran] { ran.push_back(100); }));
    one_turn(base.get());
    CHECK(ran.back() == 100);
}

TEST_CASE("a burst of posts writes the eventfd once: only the post into an empty queue wakes") {
    EventBasePtr base(event_base_new());
    Mailbox mailbox(base.get());
    const int fd = mailbox_fd(base.get());
    REQUIRE(fd >= 0);
    int ran = 0;
    CHECK(take_wakeups(fd) == 0);
    mailbox.post([&ran] { ++ran; });
    mailbox.post([&ran] { ++ran; });
    mailbox.post([&ran] { ++ran; });
    CHECK(take_wakeups(fd) == 1);
    // The queue is not empty yet: another post joins the batch without a wake-up.
    mailbox.post([&ran] { ++ran; });
    CHECK(take_wakeups(fd) == 0);
    mailbox.run_pending();
    CHECK(ran == 4);
    // Empty again: the next post wakes.
    mailbox.post([&ran] { ++ran; });
    CHECK(take_wakeups(fd) == 1);
    mailbox.run_pending();
    CHECK(ran == 5);
}

TEST_CASE("posts from other threads all run, on the loop's thread, each thread's in its order") {
    EventBasePtr base(event_base_new());
    Mailbox mailbox(base.get());
    constexpr int kThreads = 4;
    constexpr int kPosts = 5000;
    const std::thread::id loop_thread = std::this_thread::get_id();
    // Touched by the tasks only, so only on the loop's thread.
    std::vector<std::vector<int>> seen(kThreads);
    int total = 0;
    int elsewhere = 0;
    std::atomic<bool> go{false};
    std::vector<std::thread> producers;
    for (int t = 0; t < kThreads; ++t) {
        producers.emplace_back([&, t] {
            while (!go.load()) std::this_thread::yield();
            for (int i = 0; i < kPosts; ++i) {
                mailbox.post([&, t, i] {
                    if (std::this_thread::get_id() != loop_thread) ++elsewhere;
                    seen[static_cast<std::size_t>(t)].push_back(i);
                    ++total;
                });
                if (i % 512 == 0) std::this_thread::yield();
            }
        });
    }
    go = true;
    // The loop runs while the threads post: batches are swapped out under their feet.
    turn_until(base.get(), [&] { return total == kThreads * kPosts; });
    for (std::thread& p : producers) p.join();
    turn_until(base.get(), [&] { return total == kThreads * kPosts; });
    CHECK(total == kThreads * kPosts);
    CHECK(elsewhere == 0);
    std::vector<int> expected(kPosts);
    std::iota(expected.begin(), expected.end(), 0);
    for (int t = 0; t < kThreads; ++t) {
        CAPTURE(t);
        CHECK(seen[static_cast<std::size_t>(t)] == expected);
    }
}

TEST_CASE("a loop blocked in its wait is woken by a post from another thread") {
    EventBasePtr base(event_base_new());
    Mailbox mailbox(base.get());
    bool ran = false;
    std::thread poster([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        mailbox.post([&ran] { ran = true; });
    });
    // Nothing else is pending on the base: only the eventfd can end this wait.
    const auto before = std::chrono::steady_clock::now();
    event_base_loop(base.get(), EVLOOP_ONCE);
    poster.join();
    CHECK(ran);
    CHECK(std::chrono::steady_clock::now() - before < std::chrono::seconds(5));
}

TEST_CASE("a task that posts another: the new one runs at the next wake-up, not in the same batch") {
    EventBasePtr base(event_base_new());
    Mailbox mailbox(base.get());
    std::vector<int> ran;
    mailbox.post([&] {
        ran.push_back(1);
        mailbox.post([&] { ran.push_back(3); });
    });
    mailbox.post([&] { ran.push_back(2); });
    one_turn(base.get());
    CHECK(ran == std::vector<int>{1, 2});
    // The inner post woke the loop again by itself.
    one_turn(base.get());
    CHECK(ran == std::vector<int>{1, 2, 3});
    // Left to turn on, a loop runs such tasks one after the other until none is posted.
    ran.clear();
    mailbox.post([&] {
        ran.push_back(1);
        mailbox.post([&] { ran.push_back(2); });
    });
    event_base_loop(base.get(), EVLOOP_NONBLOCK);
    CHECK(ran == std::vector<int>{1, 2});

    // A chain: each task posts the next, one per turn; none is lost or run twice.
    int chain = 0;
    std::function<void()> link = [&] {
        if (++chain < 50) mailbox.post([&] { link(); });
    };
    mailbox.post([&] { link(); });
    for (int turn = 0; turn < 10; ++turn) one_turn(base.get());
    CHECK(chain == 10);  // one link a turn
    for (int turn = 0; turn < 200 && chain < 50; ++turn) one_turn(base.get());
    CHECK(chain == 50);
    one_turn(base.get());
    CHECK(chain == 50);
}

TEST_CASE("run_pending runs what is queued, without the loop") {
    EventBasePtr base(event_base_new());
    Mailbox mailbox(base.get());
    std::vector<int> ran;
    mailbox.run_pending();  // nothing queued: nothing happens
    CHECK(ran.empty());
    mailbox.post([&] { ran.push_back(1); });
    mailbox.post([&] {
        ran.push_back(2);
        mailbox.post([&] { ran.push_back(4); });
    });
    mailbox.post([&] { ran.push_back(3); });
    mailbox.run_pending();
    CHECK(ran == std::vector<int>{1, 2, 3});
    mailbox.run_pending();
    CHECK(ran == std::vector<int>{1, 2, 3, 4});
    // The wake-ups they wrote are still there: the loop's turn takes them and runs nothing twice.
    one_turn(base.get());
    CHECK(ran == std::vector<int>{1, 2, 3, 4});
    mailbox.run_pending();
    CHECK(ran.size() == 4);
}

TEST_CASE("tasks never run are destroyed with the mailbox, captures and all") {
    EventBasePtr base(event_base_new());
    int destroyed = 0;
    int ran = 0;
    const std::size_t descriptors = open_descriptors();
    {
        Mailbox mailbox(base.get());
        for (int i = 0; i < 3; ++i) {
            mailbox.post([probe = std::make_unique<Probe>(destroyed), &ran] { ++ran; });
        }
        // And from another thread, as a worker's reply to a loop that has stopped.
        std::thread other(
            [&] { mailbox.post([probe = std::make_unique<Probe>(destroyed), &ran] { ++ran; }); });
        other.join();
        CHECK(destroyed == 0);
    }
    CHECK(ran == 0);
    CHECK(destroyed == 4);
    // Its event is off the base and its eventfd closed.
    CHECK(event_base_get_num_events(base.get(), EVENT_BASE_COUNT_ADDED) == 0);
    CHECK(open_descriptors() == descriptors);
    one_turn(base.get());  // nothing of it is left to fire
    CHECK(ran == 0);
}

TEST_CASE("tasks that ran are destroyed once they have run") {
    EventBasePtr base(event_base_new());
    Mailbox mailbox(base.get());
    int destroyed = 0;
    int ran = 0;
    mailbox.post([probe = std::make_unique<Probe>(destroyed), &ran] { ++ran; });
    mailbox.post([probe = std::make_unique<Probe>(destroyed), &ran] { ++ran; });
    mailbox.run_pending();
    CHECK(ran == 2);
    CHECK(destroyed == 2);
}

TEST_CASE("many mailboxes come and go without keeping a descriptor") {
    EventBasePtr base(event_base_new());
    const std::size_t descriptors = open_descriptors();
    for (int i = 0; i < 200; ++i) {
        Mailbox mailbox(base.get());
        mailbox.post([] {});
    }
    CHECK(open_descriptors() == descriptors);
}

TEST_CASE("a mailbox that cannot be made throws and keeps nothing") {
    const std::size_t descriptors = open_descriptors();
    SUBCASE("no event base to watch its eventfd on") {
        // libevent says why on stderr; quiet here.
        event_set_log_callback([](int, const char*) {});
        CHECK_THROWS_AS(Mailbox(nullptr), std::runtime_error);
        event_set_log_callback(nullptr);
    }
    SUBCASE("no memory for its event") {
        EventBasePtr base(event_base_new());
        event_set_mem_functions(&failing_malloc, &plain_realloc, &plain_free);
        g_fail_libevent_malloc = true;
        std::string what;
        try {
            Mailbox mailbox(base.get());
        } catch (const std::runtime_error& e) {
            what = e.what();
        }
        event_set_mem_functions(nullptr, nullptr, nullptr);
        CHECK_FALSE(g_fail_libevent_malloc.load());  // the event's allocation was the one refused
        CHECK(what == "cannot watch a mailbox's eventfd");
        CHECK(event_base_get_num_events(base.get(), EVENT_BASE_COUNT_ADDED) == 0);
    }
    SUBCASE("no descriptor left for the eventfd") {
        EventBasePtr base(event_base_new());
        rlimit saved{};
        REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
        // The lowest free descriptor becomes the limit, so that no new one can be made.
        const int lowest = ::dup(0);
        REQUIRE(lowest >= 0);
        ::close(lowest);
        rlimit tight = saved;
        tight.rlim_cur = static_cast<rlim_t>(lowest);
        REQUIRE(setrlimit(RLIMIT_NOFILE, &tight) == 0);
        std::string what;
        try {
            Mailbox mailbox(base.get());
        } catch (const std::runtime_error& e) {
            what = e.what();
        }
        REQUIRE(setrlimit(RLIMIT_NOFILE, &saved) == 0);
        CHECK(what.starts_with("cannot create an eventfd: "));
        CHECK(event_base_get_num_events(base.get(), EVENT_BASE_COUNT_ADDED) == 0);
    }
    CHECK(open_descriptors() == descriptors);
}
