#include "proto/polling_byte.hpp"

namespace rtmpt::proto {

std::uint8_t PollingByte::next(bool reply_has_data) {
    if (reply_has_data) {
        empty_in_a_row_ = 0;
        delay_ = 0;
        return kActive;
    }
    if (empty_in_a_row_ < kEmptyRepliesBeforeBackoff) {
        ++empty_in_a_row_;
        return kActive;
    }
    if (delay_ == 0) {
        delay_ = 2;
    } else if (delay_ + 1 < kSlowest) {
        delay_ = static_cast<std::uint8_t>(delay_ * 2);
    }
    return static_cast<std::uint8_t>(delay_ + 1);
}

}  // namespace rtmpt::proto
