#include "proto/first_bytes.hpp"

namespace rtmpt::proto {

FirstByte classify_first_byte(std::uint8_t byte) {
    switch (byte) {
        case 0x03:  // RTMP
        case 0x06:  // RTMPE
        case 0x08:  // RTMPE, XTEA
        case 0x09:  // RTMPE, Blowfish
            return FirstByte::rtmp;
        case 0x16:
            return FirstByte::tls;
        default:
            return FirstByte::other;
    }
}

std::string_view first_byte_name(FirstByte kind) {
    switch (kind) {
        case FirstByte::rtmp:
            return "rtmp";
        case FirstByte::tls:
            return "tls";
        case FirstByte::other:
            return "other";
    }
    return "other";
}

}  // namespace rtmpt::proto
