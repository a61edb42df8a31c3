// The first byte of every /send and /idle reply tells the client how long to wait before its
// next idle. Flash honours it; librtmp and ffmpeg read and ignore it. We follow Red5, whose
// schedule every Flash version was tested against: 0x01 while data flows, and after ten empty
// replies in a row a back-off through 0x03, 0x05, 0x09, 0x11 up to 0x21 (about half a second).
#pragma once

#include <cstdint>

namespace rtmpt::proto {

class PollingByte {
  public:
    static constexpr std::uint8_t kActive = 0x01;
    static constexpr std::uint8_t kSlowest = 0x21;
    static constexpr unsigned kEmptyRepliesBeforeBackoff = 10;

    // The byte for the reply about to be sent, given whether it carries backend bytes.
    [[nodiscard]] std::uint8_t next(bool reply_has_data);

  private:
    unsigned empty_in_a_row_ = 0;
    std::uint8_t delay_ = 0;  // the byte is delay_ + 1: 0, 2, 4, 8, 16, 32
};

}  // namespace rtmpt::proto
