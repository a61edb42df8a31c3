#include "proto/sequence_window.hpp"

namespace rtmpt::proto {

SequenceWindow::Verdict SequenceWindow::classify(std::uint64_t seq) {
    if (!has_base_) {
        // The first request of a session cannot be overtaken: the client needs the reply to
        // its handshake before it has anything else to send. So its number is the base.
        if (seq > 1) return Verdict::out_of_window;
        has_base_ = true;
        next_ = seq;
        return Verdict::in_window;
    }
    if (seq < next_) return Verdict::already_seen;
    if (seq - next_ > kAhead) return Verdict::out_of_window;
    return Verdict::in_window;
}

}  // namespace rtmpt::proto
