#include "proto/sequence_window.hpp"

namespace rtmpt::proto {

SequenceWindow::Verdict SequenceWindow::classify(std::uint64_t seq) {
    switch (base_) {
        case Base::unknown:
            // No client starts above 1: anything else is not an RTMPT client we know.
            if (seq > 1) return Verdict::out_of_window;
            base_ = seq == 0 ? Base::fixed : Base::awaiting;
            next_ = 0;
            return Verdict::in_window;
        case Base::awaiting:
            // Counted from a provisional 0, so every request that waits would still be in the
            // window if the base turns out to be 0; a 0 decides it.
            if (seq == 0) base_ = Base::fixed;
            return seq > kAhead ? Verdict::out_of_window : Verdict::in_window;
        case Base::fixed:
            break;
    }
    if (seq < next_) return Verdict::already_seen;
    if (seq - next_ > kAhead) return Verdict::out_of_window;
    return Verdict::in_window;
}

void SequenceWindow::settle_base() {
    if (base_ != Base::awaiting) return;
    base_ = Base::fixed;
    first_ = 1;
    next_ = 1;
}

}  // namespace rtmpt::proto
