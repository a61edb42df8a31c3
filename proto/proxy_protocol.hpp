// The PROXY protocol (HAProxy's, versions 1 and 2): the header a load balancer puts before a
// connection's own bytes to name the client it accepted, and the header we put before a backend
// connection's bytes to name ours. Pure: bytes in, bytes out.
#pragma once

#include "proto/ip_address.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace rtmpt::proto {

// One end of a TCP connection.
struct Endpoint {
    IpAddress address;
    std::uint16_t port = 0;

    friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// "192.0.2.1:4000", "[2001:db8::1]:4000"
[[nodiscard]] std::string to_string(const Endpoint& endpoint);
// The reverse of to_string; nothing for anything else.
[[nodiscard]] std::optional<Endpoint> parse_endpoint(std::string_view text);

enum class ProxyVersion : std::uint8_t { v1 = 1, v2 = 2 };

// Version 1 is one text line of at most this many bytes, CRLF included.
inline constexpr std::size_t kProxyV1MaxBytes = 107;
// Version 2's fixed part: the 12-byte signature, version and command, family, length.
inline constexpr std::size_t kProxyV2FixedBytes = 16;

// What the first bytes of a connection that must begin with a PROXY header say.
struct ProxyHeader {
    enum class Status {
        incomplete,  // every byte so far belongs to a header that has not ended yet
        complete,    // a whole header of `length` bytes; the connection's own bytes follow it
        invalid,     // not a PROXY header, or a broken one: `error` says why
    };
    // Why a header is invalid, as a metric label; `error` has the detail for the log.
    enum class Problem {
        none,
        not_proxy,  // the bytes are not a PROXY header at all (no signature)
        malformed,  // a signature, then something the protocol does not allow
        too_long,   // longer than the reader accepts
    };

    Status status = Status::incomplete;
    Problem problem = Problem::none;
    std::string error;
    std::size_t length = 0;
    ProxyVersion version = ProxyVersion::v1;
    // The addresses the header carries. Absent for v2 LOCAL (a balancer's own health check), v1
    // UNKNOWN, and families that are no IP (AF_UNIX, AF_UNSPEC): the connection's own ends count.
    std::optional<Endpoint> source;
    std::optional<Endpoint> destination;
    std::size_t tlvs = 0;  // v2 type-length-value records skipped after the addresses
};

// Reads a header from the start of `bytes`. A v2 header longer than `max_bytes` (fixed part
// included) is refused as soon as its length field shows it; v1 is bounded by its own 107 bytes.
[[nodiscard]] ProxyHeader parse_proxy_header(std::span<const std::uint8_t> bytes, std::size_t max_bytes);

// The header naming `source` as the client of a connection to `destination`. When one end is
// IPv4 and the other IPv6, the IPv4 one is written as IPv4-mapped IPv6, as the protocol needs
// both of one family. Without a source (the client's address is not known), v1 says UNKNOWN and
// v2 sends the PROXY command with no addresses (AF_UNSPEC).
[[nodiscard]] std::string build_proxy_header(ProxyVersion version, const std::optional<Endpoint>& source,
                                             const std::optional<Endpoint>& destination);

// The header of a connection that speaks for nobody but its maker (a health check): v1's
// "PROXY UNKNOWN", v2's LOCAL command. The receiver uses the connection's own addresses.
[[nodiscard]] std::string build_proxy_local_header(ProxyVersion version);

}  // namespace rtmpt::proto
