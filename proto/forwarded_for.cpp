#include "proto/forwarded_for.hpp"

#include <algorithm>
#include <optional>

namespace rtmpt::proto {
namespace {

[[nodiscard]] std::string_view trim(std::string_view s) {
    constexpr std::string_view kSpace = " \t";
    const auto first = s.find_first_not_of(kSpace);
    if (first == std::string_view::npos) return {};
    return s.substr(first, s.find_last_not_of(kSpace) - first + 1);
}

// One X-Forwarded-For entry: an address, maybe with a port.
[[nodiscard]] std::optional<IpAddress> parse_entry(std::string_view entry) {
    if (entry.starts_with('[')) {
        const auto close = entry.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        const std::string_view rest = entry.substr(close + 1);
        if (!rest.empty() &&
            (rest.size() < 2 || rest[0] != ':' ||
             !std::all_of(rest.begin() + 1, rest.end(), [](char c) { return c >= '0' && c <= '9'; })))
            return std::nullopt;
        return IpAddress::parse(entry.substr(1, close - 1));
    }
    // One colon: IPv4 with a port. More: a bare IPv6 address.
    if (std::count(entry.begin(), entry.end(), ':') == 1) {
        const auto colon = entry.find(':');
        const std::string_view port = entry.substr(colon + 1);
        if (port.empty() ||
            !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return std::nullopt;
        entry = entry.substr(0, colon);
    }
    return IpAddress::parse(entry);
}

}  // namespace

bool any_contains(std::span<const IpNetwork> networks, const IpAddress& address) {
    return std::any_of(networks.begin(), networks.end(),
                       [&](const IpNetwork& n) { return n.contains(address); });
}

ForwardedClient resolve_forwarded_client(const IpAddress& peer, std::string_view forwarded_for,
                                         std::span<const IpNetwork> trusted) {
    ForwardedClient client{peer};
    std::string_view rest = forwarded_for;
    while (any_contains(trusted, client.address) && !rest.empty()) {
        const auto comma = rest.rfind(',');
        const std::string_view entry = trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
        if (entry.empty()) continue;
        const std::optional<IpAddress> hop = parse_entry(entry);
        if (!hop) {
            client.malformed = true;
            break;
        }
        client.address = *hop;
        ++client.hops;
    }
    return client;
}

}  // namespace rtmpt::proto
