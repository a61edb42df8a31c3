#include "proto/session_id.hpp"

#include "proto/route.hpp"

namespace rtmpt::proto {
namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

bool is_url_safe(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

}  // namespace

std::string format_session_id(const SessionIdEntropy& random_bytes) {
    std::string id;
    id.reserve(kSessionIdLength);
    std::uint32_t acc = 0;
    int bits = 0;
    for (const std::uint8_t byte : random_bytes) {
        acc = (acc << 8) | byte;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            id.push_back(kAlphabet[(acc >> bits) & 0x3f]);
        }
    }
    if (bits > 0) id.push_back(kAlphabet[(acc << (6 - bits)) & 0x3f]);
    return id;
}

bool is_well_formed_session_id(std::string_view id) {
    if (id.empty() || id.size() > kMaxSessionIdLength) return false;
    for (const char c : id) {
        if (!is_url_safe(c)) return false;
    }
    return true;
}

}  // namespace rtmpt::proto
