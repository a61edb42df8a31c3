#include "gateway/logging/logger.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <string>

using rtmpt::config::LogLevel;
using rtmpt::gateway::Logger;

namespace {

// A pipe nobody reads until the test says so: the slow journald of a real deployment.
struct Pipe {
    int read_end = -1;
    int write_end = -1;
    Pipe() {
        int fds[2];
        REQUIRE(pipe(fds) == 0);
        read_end = fds[0];
        write_end = fds[1];
        REQUIRE(fcntl(read_end, F_SETFL, O_NONBLOCK) == 0);  // the test's reads must not block
    }
    ~Pipe() {
        close(read_end);
        if (write_end >= 0) close(write_end);
    }
    std::string drain() const {
        std::string out;
        char buf[65536];
        for (ssize_t n; (n = read(read_end, buf, sizeof buf)) > 0;)
            out.append(buf, static_cast<std::size_t>(n));
        return out;
    }
};

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("lines go out at once, with time stamp and level, below the level dropped") {
    Pipe p;
    Logger log(LogLevel::info, p.write_end);
    log.debug("not shown");
    log.info("hello");
    log.warn("careful");
    const std::string out = p.drain();
    CHECK(count(out, "\n") == 2);
    CHECK(out.find(" info hello\n") != std::string::npos);
    CHECK(out.find(" warn careful\n") != std::string::npos);
    CHECK(out.find("not shown") == std::string::npos);
    CHECK(out.size() > 24);
    CHECK(out[4] == '-');
    CHECK(out[23] == 'Z');
    CHECK(log.backlog() == 0);
}

TEST_CASE("a descriptor that takes nothing never blocks the caller; the backlog is bounded") {
    Pipe p;
    Logger log(LogLevel::info, p.write_end);
    const std::string message(200, 'x');
    // Far more than a pipe (64 KiB) and the backlog (1 MiB) hold together. Were a write to block,
    // the test would hang here: the pipe is never read while these are logged.
    const int lines = 10'000;
    for (int i = 0; i < lines; ++i) log.info(std::to_string(i) + " " + message);
    CHECK(log.backlog() <= Logger::kMaxBacklog);
    CHECK(log.backlog() > Logger::kMaxBacklog - 1024);
    CHECK(log.dropped() > 0);

    // The reader catches up: flushes deliver the waiting lines in order, then say what was lost.
    std::string out;
    for (int round = 0; round < 1000 && (log.backlog() > 0 || out.find("dropped") == std::string::npos);
         ++round) {
        out += p.drain();
        log.flush();
    }
    out += p.drain();
    CHECK(log.backlog() == 0);
    const std::size_t delivered = count(out, message);
    CHECK(delivered + log.dropped() == static_cast<std::size_t>(lines));
    // In order, with no line cut: line i holds number i.
    std::size_t at = 0;
    for (std::size_t i = 0; i < delivered; ++i) {
        const std::string expect = " info " + std::to_string(i) + " " + message + "\n";
        const auto found = out.find(expect, at);
        REQUIRE(found != std::string::npos);
        at = found + expect.size();
    }
    CHECK(out.find("warn log: " + std::to_string(log.dropped()) +
                   " lines dropped while stderr took no more\n") != std::string::npos);
}

TEST_CASE("a closed descriptor loses lines without blocking or growing") {
    Pipe p;
    close(p.read_end);
    p.read_end = open("/dev/null", O_RDONLY);
    Logger log(LogLevel::info, p.write_end);
    std::signal(SIGPIPE, SIG_IGN);  // as the daemon does
    log.info("into the void");      // EPIPE
    CHECK(log.backlog() == 0);
}
