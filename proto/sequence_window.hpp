// Orders the requests of one session by their sequence numbers, whatever TCP connection
// carried them (Flash overlaps requests on several connections) and catches retries.
// One counter covers send, idle and close. The base is learned from the first request: 0 for
// Flash, librtmp, ffmpeg and most others, 1 for the Red5 Java client.
#pragma once

#include <cstdint>
#include <optional>

namespace rtmpt::proto {

class SequenceWindow {
  public:
    // How far ahead of the next expected number a request may arrive and wait for the gap to
    // fill. The nginx module parks 4; browsers rarely overlap more than a handful.
    static constexpr std::uint64_t kAhead = 8;

    enum class Verdict {
        in_window,      // next expected or up to kAhead beyond: queue it, apply it in order
        already_seen,   // below the next expected: a retry, answered from the reply cache
        out_of_window,  // too far ahead, or a first number that is not a known base
    };

    [[nodiscard]] Verdict classify(std::uint64_t seq);

    // The request numbered next() has been applied.
    void advance() { ++next_; }

    [[nodiscard]] std::uint64_t next() const { return next_; }
    [[nodiscard]] bool has_base() const { return has_base_; }

  private:
    std::uint64_t next_ = 0;
    bool has_base_ = false;
};

}  // namespace rtmpt::proto
