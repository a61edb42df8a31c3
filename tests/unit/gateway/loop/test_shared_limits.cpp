// SharedLimits: the process-wide http.max_connections, session.max_sessions and
// session.max_sessions_per_client that several workers take from at once.
#include "gateway/loop/shared_limits.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <string>
#include <thread>
#include <vector>

using namespace rtmpt::gateway;

TEST_CASE("connections: exactly max are taken, and one given back can be taken again") {
    SharedLimits limits;
    CHECK(limits.connections() == 0);
    CHECK(limits.take_connection(3));
    CHECK(limits.take_connection(3));
    CHECK(limits.take_connection(3));
    CHECK(limits.connections() == 3);
    CHECK_FALSE(limits.take_connection(3));
    CHECK_FALSE(limits.take_connection(3));
    CHECK(limits.connections() == 3);  // a refusal takes nothing
    limits.give_back_connection();
    CHECK(limits.connections() == 2);
    CHECK(limits.take_connection(3));
    CHECK_FALSE(limits.take_connection(3));
    // A higher limit (a reload) lets more in; a lower one lets none in until enough are back.
    CHECK(limits.take_connection(4));
    CHECK(limits.connections() == 4);
    CHECK_FALSE(limits.take_connection(2));
    for (int i = 0; i < 4; ++i) limits.give_back_connection();
    CHECK(limits.connections() == 0);
    CHECK(limits.take_connection(2));
    // Sessions are counted apart.
    CHECK(limits.sessions() == 0);
}

TEST_CASE("a limit of 0 takes nothing") {
    SharedLimits limits;
    CHECK_FALSE(limits.take_connection(0));
    CHECK_FALSE(limits.take_session(0));
    CHECK(limits.connections() == 0);
    CHECK(limits.sessions() == 0);
}

TEST_CASE("sessions: exactly max are taken, and one given back can be taken again") {
    SharedLimits limits;
    for (int i = 0; i < 5; ++i) CHECK(limits.take_session(5));
    CHECK(limits.sessions() == 5);
    CHECK_FALSE(limits.take_session(5));
    limits.give_back_session();
    limits.give_back_session();
    CHECK(limits.sessions() == 3);
    CHECK(limits.take_session(5));
    CHECK(limits.take_session(5));
    CHECK_FALSE(limits.take_session(5));
    CHECK(limits.connections() == 0);
}

TEST_CASE("per client: at most cap each, counted by address") {
    SharedLimits limits;
    CHECK(limits.take_client("192.0.2.1", 2));
    CHECK(limits.take_client("192.0.2.1", 2));
    CHECK_FALSE(limits.take_client("192.0.2.1", 2));
    // Another address has its own count.
    CHECK(limits.take_client("192.0.2.2", 2));
    CHECK(limits.take_client("2001:db8::1", 2));
    CHECK(limits.take_client("2001:db8::1", 2));
    CHECK_FALSE(limits.take_client("2001:db8::1", 2));
    // One given back is one to take again, no more.
    limits.give_back_client("192.0.2.1");
    CHECK(limits.take_client("192.0.2.1", 2));
    CHECK_FALSE(limits.take_client("192.0.2.1", 2));
    // Back to none, and the address starts over.
    limits.give_back_client("192.0.2.1");
    limits.give_back_client("192.0.2.1");
    CHECK(limits.take_client("192.0.2.1", 1));
    CHECK_FALSE(limits.take_client("192.0.2.1", 1));
    // The per-client table does not touch the global counts.
    CHECK(limits.sessions() == 0);
    CHECK(limits.connections() == 0);
}

TEST_CASE("per client: giving back an address that holds nothing changes nothing") {
    SharedLimits limits;
    limits.give_back_client("198.51.100.9");  // never taken
    CHECK(limits.take_client("198.51.100.9", 1));
    CHECK_FALSE(limits.take_client("198.51.100.9", 1));
    limits.give_back_client("198.51.100.9");
    limits.give_back_client("198.51.100.9");  // once more than taken: nothing left to give back
    CHECK(limits.take_client("198.51.100.9", 1));
    CHECK_FALSE(limits.take_client("198.51.100.9", 1));
}

TEST_CASE("per client: cap 0 is no cap, but every session is counted") {
    SharedLimits limits;
    for (int i = 0; i < 1000; ++i) REQUIRE(limits.take_client("192.0.2.1", 0));
    // A reload that sets a cap finds the count: 1000 open, so a cap of 1000 refuses, 1001 takes one.
    CHECK_FALSE(limits.take_client("192.0.2.1", 1000));
    CHECK_FALSE(limits.take_client("192.0.2.1", 5));
    CHECK(limits.take_client("192.0.2.1", 1001));
    CHECK_FALSE(limits.take_client("192.0.2.1", 1001));
    // Capped takes are counted for an uncapped view too.
    CHECK(limits.take_client("192.0.2.1", 0));
    for (int i = 0; i < 1002; ++i) limits.give_back_client("192.0.2.1");
    CHECK(limits.take_client("192.0.2.1", 1));
    CHECK_FALSE(limits.take_client("192.0.2.1", 1));
    // A refused address keeps nothing behind: another address is unaffected throughout.
    CHECK(limits.take_client("192.0.2.2", 1));
}

TEST_CASE("many threads hammering the limits never get past them") {
    constexpr std::size_t kMaxConnections = 7;
    constexpr std::size_t kMaxSessions = 5;
    constexpr std::uint32_t kCap = 2;
    constexpr int kThreads = 8;
    constexpr int kRounds = 20000;
    const std::vector<std::string> addresses{"192.0.2.1", "192.0.2.2", "2001:db8::1"};

    SharedLimits limits;
    // What the threads hold, counted apart from SharedLimits: never above a limit, at any moment.
    std::atomic<int> connections{0};
    std::atomic<int> sessions{0};
    std::vector<std::atomic<int>> per_client(addresses.size());
    std::atomic<int> peak_connections{0};
    std::atomic<int> peak_sessions{0};
    std::atomic<int> peak_client{0};
    std::atomic<int> over{0};  // a limit seen exceeded
    std::atomic<long> refused{0};
    std::atomic<bool> go{false};

    const auto raise = [](std::atomic<int>& peak, int now) {
        int seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            while (!go.load()) std::this_thread::yield();
            for (int i = 0; i < kRounds; ++i) {
                if (limits.take_connection(kMaxConnections)) {
                    const int now = ++connections;
                    raise(peak_connections, now);
                    if (now > static_cast<int>(kMaxConnections) || limits.connections() > kMaxConnections)
                        ++over;
                    // As a worker admits a session: the global slot first, then the client's.
                    const std::size_t a = static_cast<std::size_t>(t + i) % addresses.size();
                    if (limits.take_session(kMaxSessions)) {
                        const int s = ++sessions;
                        raise(peak_sessions, s);
                        if (s > static_cast<int>(kMaxSessions) || limits.sessions() > kMaxSessions) ++over;
                        if (limits.take_client(addresses[a], kCap)) {
                            const int c = ++per_client[a];
                            raise(peak_client, c);
                            if (c > static_cast<int>(kCap)) ++over;
                            if (i % 3 == 0) std::this_thread::yield();
                            --per_client[a];
                            limits.give_back_client(addresses[a]);
                        } else {
                            ++refused;
                        }
                        --sessions;
                        limits.give_back_session();
                    } else {
                        ++refused;
                    }
                    --connections;
                    limits.give_back_connection();
                } else {
                    ++refused;
                }
            }
        });
    }
    go = true;
    for (std::thread& t : threads) t.join();

    CHECK(over.load() == 0);
    CHECK(peak_connections.load() <= static_cast<int>(kMaxConnections));
    CHECK(peak_sessions.load() <= static_cast<int>(kMaxSessions));
    CHECK(peak_client.load() <= static_cast<int>(kCap));
    CHECK(peak_connections.load() >= 1);
    CHECK(refused.load() > 0);  // the limits were reached, not merely stayed under
    // Everything came back: every limit takes its whole allowance again, and no more.
    CHECK(limits.connections() == 0);
    CHECK(limits.sessions() == 0);
    for (std::size_t i = 0; i < kMaxConnections; ++i) CHECK(limits.take_connection(kMaxConnections));
    CHECK_FALSE(limits.take_connection(kMaxConnections));
    for (std::size_t i = 0; i < kMaxSessions; ++i) CHECK(limits.take_session(kMaxSessions));
    CHECK_FALSE(limits.take_session(kMaxSessions));
    for (const std::string& address : addresses) {
        CAPTURE(address);
        CHECK(limits.take_client(address, kCap));
        CHECK(limits.take_client(address, kCap));
        CHECK_FALSE(limits.take_client(address, kCap));
    }
}

TEST_CASE("threads taking without giving back get exactly max between them") {
    constexpr std::size_t kMax = 1000;
    constexpr int kThreads = 8;
    SharedLimits limits;
    std::atomic<std::size_t> connections{0};
    std::atomic<std::size_t> sessions{0};
    std::atomic<std::size_t> clients{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
            while (!go.load()) std::this_thread::yield();
            for (std::size_t i = 0; i < kMax; ++i) {
                if (limits.take_connection(kMax)) ++connections;
                if (limits.take_session(kMax)) ++sessions;
                if (limits.take_client("192.0.2.1", kMax)) ++clients;
            }
        });
    }
    go = true;
    for (std::thread& t : threads) t.join();
    CHECK(connections.load() == kMax);
    CHECK(sessions.load() == kMax);
    CHECK(clients.load() == kMax);
    CHECK(limits.connections() == kMax);
    CHECK(limits.sessions() == kMax);
}
