#include "proto/session_id.hpp"

#include <algorithm>

namespace rtmpt::proto {
namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

bool is_url_safe(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool all_url_safe(std::string_view text) {
    return std::all_of(text.begin(), text.end(), is_url_safe);
}

}  // namespace

bool is_valid_node_tag(std::string_view tag) {
    return !tag.empty() && tag.size() <= kMaxNodeTagLength && all_url_safe(tag);
}

std::string format_session_id(const SessionIdEntropy& random_bytes, std::string_view node_tag,
                              std::optional<unsigned> worker) {
    std::string id;
    id.reserve(node_tag.size() + 2 + kSessionIdLength);
    if (!node_tag.empty()) {
        id.append(node_tag);
        id.push_back(kNodeTagSeparator);
    }
    if (worker) id.push_back(kAlphabet[*worker % kMaxWorkers]);
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
    const auto dot = id.find(kNodeTagSeparator);
    if (dot == std::string_view::npos) return all_url_safe(id);
    const std::string_view rest = id.substr(dot + 1);
    return is_valid_node_tag(id.substr(0, dot)) && !rest.empty() && all_url_safe(rest);
}

std::optional<unsigned> worker_of(std::string_view id) {
    const auto dot = id.find(kNodeTagSeparator);
    const std::string_view rest = dot == std::string_view::npos ? id : id.substr(dot + 1);
    if (rest.size() != kSessionIdLength + 1) return std::nullopt;
    const auto digit = kAlphabet.find(rest.front());
    if (digit == std::string_view::npos) return std::nullopt;
    return static_cast<unsigned>(digit);
}

std::string_view node_tag_of(std::string_view id) {
    const auto dot = id.find(kNodeTagSeparator);
    return dot == std::string_view::npos ? std::string_view{} : id.substr(0, dot);
}

}  // namespace rtmpt::proto
