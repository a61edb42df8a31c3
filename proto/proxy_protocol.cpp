#include "proto/proxy_protocol.hpp"

#include <algorithm>
#include <array>
#include <charconv>

namespace rtmpt::proto {
namespace {

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr std::array<std::uint8_t, 12> kV2Signature{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                    0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

// v2 address block sizes: two IPv4 addresses and ports, two IPv6 ones, two UNIX paths.
constexpr std::size_t kInetBlock = 12;
constexpr std::size_t kInet6Block = 36;
constexpr std::size_t kUnixBlock = 216;

enum V2Family : std::uint8_t { unspec = 0, inet = 1, inet6 = 2, unix_socket = 3 };
enum V2Transport : std::uint8_t { unspec_transport = 0, stream = 1, dgram = 2 };

ProxyHeader refused(ProxyHeader::Problem problem, std::string error) {
    ProxyHeader h;
    h.status = ProxyHeader::Status::invalid;
    h.problem = problem;
    h.error = std::move(error);
    return h;
}

// True while `bytes` may still become `prefix` (all of it seen so far matches).
template <typename Prefix>
bool starts_like(std::span<const std::uint8_t> bytes, const Prefix& prefix) {
    const std::size_t n = std::min(bytes.size(), std::size(prefix));
    for (std::size_t i = 0; i < n; ++i) {
        if (bytes[i] != static_cast<std::uint8_t>(prefix[i])) return false;
    }
    return true;
}

// Decimal, 0 to 65535, no sign, no leading zeros (the protocol's own rule).
std::optional<std::uint16_t> parse_port(std::string_view text) {
    if (text.empty() || text.size() > 5 || (text.size() > 1 && text.front() == '0')) return std::nullopt;
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(value);
}

// An address of the family TCP4 or TCP6 names: dotted quad for TCP4, IPv6 text for TCP6.
std::optional<IpAddress> parse_v1_address(std::string_view text, bool v6) {
    if ((text.find(':') != std::string_view::npos) != v6) return std::nullopt;
    return IpAddress::parse(text);
}

ProxyHeader parse_v1(std::span<const std::uint8_t> bytes) {
    const std::size_t scan = std::min(bytes.size(), kProxyV1MaxBytes);
    const auto* begin = bytes.data();
    const auto* lf = std::find(begin, begin + scan, std::uint8_t{'\n'});
    if (lf == begin + scan) {
        if (bytes.size() >= kProxyV1MaxBytes) {
            return refused(ProxyHeader::Problem::too_long,
                           "v1 header without its end in " + std::to_string(kProxyV1MaxBytes) + " bytes");
        }
        return {};
    }
    const auto length = static_cast<std::size_t>(lf - begin) + 1;
    if (length < 2 || begin[length - 2] != '\r') {
        return refused(ProxyHeader::Problem::malformed, "v1 line ends without CR");
    }
    const std::string_view line(reinterpret_cast<const char*>(begin) + kV1Prefix.size(),
                                length - 2 - kV1Prefix.size());

    ProxyHeader h;
    h.status = ProxyHeader::Status::complete;
    h.version = ProxyVersion::v1;
    h.length = length;
    // UNKNOWN may be followed by anything: the receiver ignores it and uses the real ends.
    if (line == "UNKNOWN" || line.starts_with("UNKNOWN ")) return h;

    std::array<std::string_view, 5> field{};
    std::size_t count = 0;
    std::size_t from = 0;
    while (true) {
        const std::size_t space = line.find(' ', from);
        if (count == field.size())
            return refused(ProxyHeader::Problem::malformed, "v1 line has too many fields");
        field[count++] =
            line.substr(from, space == std::string_view::npos ? std::string_view::npos : space - from);
        if (space == std::string_view::npos) break;
        from = space + 1;
    }
    if (field[0] != "TCP4" && field[0] != "TCP6") {
        return refused(ProxyHeader::Problem::malformed, "v1 protocol is neither TCP4, TCP6 nor UNKNOWN");
    }
    if (count != field.size()) return refused(ProxyHeader::Problem::malformed, "v1 line has too few fields");
    const bool v6 = field[0] == "TCP6";
    const auto source = parse_v1_address(field[1], v6);
    const auto destination = parse_v1_address(field[2], v6);
    if (!source || !destination) {
        return refused(ProxyHeader::Problem::malformed,
                       std::string("v1 address is not ") + (v6 ? "IPv6" : "an IPv4 dotted quad"));
    }
    const auto source_port = parse_port(field[3]);
    const auto destination_port = parse_port(field[4]);
    if (!source_port || !destination_port)
        return refused(ProxyHeader::Problem::malformed, "v1 port is no port");
    h.source = Endpoint{*source, *source_port};
    h.destination = Endpoint{*destination, *destination_port};
    return h;
}

std::uint16_t read16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

ProxyHeader parse_v2(std::span<const std::uint8_t> bytes, std::size_t max_bytes) {
    if (bytes.size() < kProxyV2FixedBytes) return {};
    const std::uint8_t version = bytes[12] >> 4;
    const std::uint8_t command = bytes[12] & 0x0F;
    const std::uint8_t family = bytes[13] >> 4;
    const std::uint8_t transport = bytes[13] & 0x0F;
    const std::size_t length = kProxyV2FixedBytes + read16(&bytes[14]);
    if (version != 2) {
        return refused(ProxyHeader::Problem::malformed,
                       "v2 signature with version " + std::to_string(version));
    }
    if (command > 1) return refused(ProxyHeader::Problem::malformed, "v2 command " + std::to_string(command));
    if (family > unix_socket || transport > dgram) {
        return refused(ProxyHeader::Problem::malformed, "v2 address family or transport unknown");
    }
    if (length > max_bytes) {
        return refused(ProxyHeader::Problem::too_long, "v2 header of " + std::to_string(length) +
                                                           " bytes; at most " + std::to_string(max_bytes) +
                                                           " are read");
    }
    if (bytes.size() < length) return {};

    ProxyHeader h;
    h.status = ProxyHeader::Status::complete;
    h.version = ProxyVersion::v2;
    h.length = length;
    const std::uint8_t* p = bytes.data() + kProxyV2FixedBytes;
    const std::size_t block = length - kProxyV2FixedBytes;
    std::size_t used = 0;  // address bytes, before the TLVs
    // LOCAL: the balancer speaking for itself (a health check); its address block, if any, is
    // skipped whole and means nothing.
    if (command == 0) return h;
    // An unspecified transport carries addresses the receiver must not rely on: the connection's
    // own ends count, as for LOCAL. A datagram flow cannot be what arrived on a TCP connection.
    if (transport == dgram)
        return refused(ProxyHeader::Problem::malformed, "v2 header names a datagram flow");
    switch (family) {
        case inet: {
            if (block < kInetBlock)
                return refused(ProxyHeader::Problem::malformed, "v2 IPv4 address block short");
            if (transport == stream) {
                h.source = Endpoint{IpAddress::v4({p[0], p[1], p[2], p[3]}), read16(p + 8)};
                h.destination = Endpoint{IpAddress::v4({p[4], p[5], p[6], p[7]}), read16(p + 10)};
            }
            used = kInetBlock;
            break;
        }
        case inet6: {
            if (block < kInet6Block)
                return refused(ProxyHeader::Problem::malformed, "v2 IPv6 address block short");
            if (transport == stream) {
                std::array<std::uint8_t, 16> src{};
                std::array<std::uint8_t, 16> dst{};
                std::copy_n(p, 16, src.begin());
                std::copy_n(p + 16, 16, dst.begin());
                h.source = Endpoint{IpAddress::v6(src), read16(p + 32)};
                h.destination = Endpoint{IpAddress::v6(dst), read16(p + 34)};
            }
            used = kInet6Block;
            break;
        }
        case unix_socket:
            // No IP to name: the connection's own ends count, as for UNSPEC.
            if (block < kUnixBlock)
                return refused(ProxyHeader::Problem::malformed, "v2 UNIX address block short");
            used = kUnixBlock;
            break;
        default:
            break;
    }
    // The TLVs carry what the balancer knew (ALPN, SNI, its own ids): not needed here, but
    // walked, so that a record claiming more bytes than the header has is caught.
    std::size_t at = used;
    while (at < block) {
        if (block - at < 3) return refused(ProxyHeader::Problem::malformed, "v2 TLV cut short");
        const std::size_t value = read16(p + at + 1);
        if (block - at - 3 < value)
            return refused(ProxyHeader::Problem::malformed, "v2 TLV runs past the header");
        at += 3 + value;
        ++h.tlvs;
    }
    return h;
}

// `a` as 16 bytes: IPv6 as it is, IPv4 as ::ffff:a.b.c.d.
std::array<std::uint8_t, 16> as_v6(const IpAddress& a) {
    if (a.family() == IpAddress::Family::v6) return a.bytes();
    std::array<std::uint8_t, 16> out{};
    out[10] = 0xff;
    out[11] = 0xff;
    std::copy_n(a.bytes().begin(), 4, out.begin() + 12);
    return out;
}

std::string v6_text(const std::array<std::uint8_t, 16>& bytes) {
    // IpAddress::v6 would turn a mapped address back into IPv4; the text is written by hand.
    const IpAddress plain = IpAddress::v6(bytes);
    if (plain.family() == IpAddress::Family::v6) return plain.to_string();
    return "::ffff:" + plain.to_string();
}

void put16(std::string& out, std::uint16_t v) {
    out += static_cast<char>(v >> 8);
    out += static_cast<char>(v & 0xFF);
}

}  // namespace

std::string to_string(const Endpoint& endpoint) {
    const std::string host = endpoint.address.to_string();
    const std::string port = std::to_string(endpoint.port);
    return endpoint.address.family() == IpAddress::Family::v6 ? "[" + host + "]:" + port : host + ":" + port;
}

std::optional<Endpoint> parse_endpoint(std::string_view text) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    std::string_view host = text.substr(0, colon);
    const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
    if (bracketed) host = host.substr(1, host.size() - 2);
    // Brackets go with IPv6 and only with it, as to_string writes them.
    if (bracketed != (host.find(':') != std::string_view::npos)) return std::nullopt;
    const auto address = IpAddress::parse(host);
    const auto port = parse_port(text.substr(colon + 1));
    if (!address || !port) return std::nullopt;
    return Endpoint{*address, *port};
}

ProxyHeader parse_proxy_header(std::span<const std::uint8_t> bytes, std::size_t max_bytes) {
    if (starts_like(bytes, kV1Prefix)) {
        return bytes.size() < kV1Prefix.size() ? ProxyHeader{} : parse_v1(bytes);
    }
    if (starts_like(bytes, kV2Signature)) {
        return bytes.size() < kV2Signature.size() ? ProxyHeader{} : parse_v2(bytes, max_bytes);
    }
    return refused(ProxyHeader::Problem::not_proxy, "no PROXY header signature");
}

std::string build_proxy_header(ProxyVersion version, const std::optional<Endpoint>& source,
                               const std::optional<Endpoint>& destination) {
    const bool known = source.has_value();
    // A destination we could not read is written as the unspecified address of the source's family.
    const Endpoint src = known ? *source : Endpoint{};
    const Endpoint dst = destination ? *destination
                         : src.address.family() == IpAddress::Family::v4
                             ? Endpoint{IpAddress::v4({0, 0, 0, 0}), 0}
                             : Endpoint{IpAddress::v6({}), 0};
    const bool v4 =
        src.address.family() == IpAddress::Family::v4 && dst.address.family() == IpAddress::Family::v4;

    if (version == ProxyVersion::v1) {
        if (!known) return "PROXY UNKNOWN\r\n";
        std::string line = v4 ? "PROXY TCP4 " : "PROXY TCP6 ";
        line += v4 ? src.address.to_string() : v6_text(as_v6(src.address));
        line += ' ';
        line += v4 ? dst.address.to_string() : v6_text(as_v6(dst.address));
        line += ' ' + std::to_string(src.port) + ' ' + std::to_string(dst.port) + "\r\n";
        return line;
    }

    std::string out(kV2Signature.begin(), kV2Signature.end());
    out += static_cast<char>(0x21);  // version 2, PROXY
    if (!known) {
        out += static_cast<char>(0x00);  // AF_UNSPEC, no addresses
        put16(out, 0);
        return out;
    }
    out += static_cast<char>(v4 ? (inet << 4 | stream) : (inet6 << 4 | stream));
    put16(out, static_cast<std::uint16_t>(v4 ? kInetBlock : kInet6Block));
    if (v4) {
        out.append(reinterpret_cast<const char*>(src.address.bytes().data()), 4);
        out.append(reinterpret_cast<const char*>(dst.address.bytes().data()), 4);
    } else {
        const auto s = as_v6(src.address);
        const auto d = as_v6(dst.address);
        out.append(reinterpret_cast<const char*>(s.data()), s.size());
        out.append(reinterpret_cast<const char*>(d.data()), d.size());
    }
    put16(out, src.port);
    put16(out, dst.port);
    return out;
}

std::string build_proxy_local_header(ProxyVersion version) {
    if (version == ProxyVersion::v1) return "PROXY UNKNOWN\r\n";
    std::string out(kV2Signature.begin(), kV2Signature.end());
    out += static_cast<char>(0x20);  // version 2, LOCAL
    out += static_cast<char>(0x00);  // AF_UNSPEC
    put16(out, 0);
    return out;
}

}  // namespace rtmpt::proto
