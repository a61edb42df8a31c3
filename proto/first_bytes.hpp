// What a connection speaks, told from its first byte, as FMS and Wowza do on their shared ports.
// RTMP's C0 is 0x03 (plain) or 0x06, 0x08, 0x09 (RTMPE); the RTMP specification keeps 32..255
// out of C0 precisely so that text protocols can be told apart. HTTP begins with a method's
// upper-case letter; TLS with a handshake record, 0x16.
#pragma once

#include <cstdint>
#include <string_view>

namespace rtmpt::proto {

enum class FirstByte {
    rtmp,   // RTMP's C0, plain or RTMPE: relayed byte for byte to the backend
    tls,    // a TLS handshake record
    other,  // HTTP, or anything else: the HTTP parser decides (and refuses what is not HTTP)
};

[[nodiscard]] FirstByte classify_first_byte(std::uint8_t byte);

[[nodiscard]] std::string_view first_byte_name(FirstByte kind);

}  // namespace rtmpt::proto
