// Orders the requests of one session by their sequence numbers, whatever TCP connection
// carried them (Flash overlaps requests on several connections) and catches retries.
// One counter covers send, idle and close. The first number is 0 for Flash, librtmp, ffmpeg and
// most others, 1 for the Red5 Java client. A first request numbered 0 fixes the base at once. A
// first request numbered 1 does not: Flash sends /send/0 and /idle/1 at the same moment on two
// connections, and 1 may arrive first. The base then stays open until a 0 arrives (base 0) or
// the caller's bounded wait for one ends (settle_base: base 1).
#pragma once

#include <cstdint>

namespace rtmpt::proto {

class SequenceWindow {
  public:
    // How far ahead of the next expected number a request may arrive and wait for the gap to
    // fill. The nginx module parks 4; browsers rarely overlap more than a handful.
    static constexpr std::uint64_t kAhead = 8;

    enum class Base {
        unknown,   // no numbered request yet
        awaiting,  // a 1 came first: 0 if a 0 still comes, 1 once settle_base() is called
        fixed,     // requests are applied from next() on
    };

    enum class Verdict {
        in_window,      // next expected or up to kAhead beyond: queue it, apply it in order
        already_seen,   // below the next expected: a retry, answered from the reply cache
        out_of_window,  // too far ahead, or a first number that is neither 0 nor 1
    };

    [[nodiscard]] Verdict classify(std::uint64_t seq);

    // The wait for a 0 is over: the numbers start at 1. Does nothing unless the base is awaited.
    void settle_base();

    // The request numbered next() has been applied. Only once the base is fixed.
    void advance() { ++next_; }

    // While the base is awaited, 0: nothing is applied until a 0 arrives or the base settles.
    [[nodiscard]] std::uint64_t next() const { return next_; }
    [[nodiscard]] Base base() const { return base_; }
    // The first number of the session once the base is fixed: 0, or 1 after settle_base().
    [[nodiscard]] std::uint64_t first() const { return first_; }
    [[nodiscard]] bool awaiting_base() const { return base_ == Base::awaiting; }

  private:
    std::uint64_t next_ = 0;
    std::uint64_t first_ = 0;
    Base base_ = Base::unknown;
};

}  // namespace rtmpt::proto
