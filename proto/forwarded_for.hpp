// Who a request really comes from when it reached us through proxies: X-Forwarded-For read from
// the right, believing each hop only while the hop that reported it is a trusted proxy. The
// leftmost entries are whatever the client wrote, so they count for nothing unless every proxy
// to their right is ours.
#pragma once

#include "proto/ip_address.hpp"

#include <cstddef>
#include <span>
#include <string_view>

namespace rtmpt::proto {

struct ForwardedClient {
    IpAddress address;       // the client: the first untrusted hop, or the leftmost if all are trusted
    std::size_t hops = 0;    // X-Forwarded-For entries believed
    bool malformed = false;  // an entry a trusted hop reported is not an address: walking stopped there
};

// `forwarded_for` is every X-Forwarded-For field of the request joined with ','. Entries may carry
// a port ("192.0.2.1:5000", "[2001:db8::1]:5000"); empty entries are skipped.
[[nodiscard]] ForwardedClient resolve_forwarded_client(const IpAddress& peer, std::string_view forwarded_for,
                                                       std::span<const IpNetwork> trusted);

[[nodiscard]] bool any_contains(std::span<const IpNetwork> networks, const IpAddress& address);

}  // namespace rtmpt::proto
