// libFuzzer driver: arbitrary bytes as the first bytes of a connection that must begin with a
// PROXY protocol header (proto/proxy_protocol.cpp), read with several max_bytes.
//
// Properties checked on every input, for each max_bytes:
//  - parse_proxy_header returns (never crashes, never reads past the bytes: ASan watches that);
//  - its fields agree with its status: incomplete has no problem, no error, no length and no
//    addresses; invalid has a problem, an error, no length and no addresses; complete has no
//    problem and no error; a source comes with a destination and the other way round;
//  - not_proxy exactly when the bytes part from both "PROXY " and the v2 signature (an
//    independent reading);
//  - a complete v1 header is at most 107 bytes, starts with "PROXY ", ends with its first LF
//    after a CR, has no TLVs, and its ports are written as the fields say; a complete v2 header is
//    16 bytes plus its length field, at most max_bytes, version 2 with command LOCAL or PROXY,
//    its addresses and ports are the bytes of its block, and its TLV count is what an independent
//    walk finds;
//  - an incomplete v1 header is shorter than 107 bytes; an incomplete v2 one shorter than the
//    fixed part or than its length, which is within max_bytes;
//  - the verdict is final: every prefix shorter than the first decided one is incomplete, a
//    complete header is decided at exactly its length, and longer prefixes (the input itself
//    among them) give the same result;
//  - max_bytes matters to v2 only, and only as too_long: a v2 header whose length exceeds
//    max_bytes is too_long, else the result is what it is without a limit;
//  - the addresses of a complete header, built again into a header of either version, parse back
//    to the same addresses (IPv4-mapped IPv6 reads as IPv4, so a mixed pair comes back as it
//    went); a built v1 header is at most 107 bytes, a built v2 one at most 52; building without a
//    client gives a header without addresses;
//  - to_string and parse_endpoint round-trip those addresses, and the input read as an endpoint,
//    if it is one, reads the same once written back.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "proto/proxy_protocol.hpp"
#include "tests/fuzz/property.hpp"

namespace {

using rtmpt::proto::build_proxy_header;
using rtmpt::proto::Endpoint;
using rtmpt::proto::IpAddress;
using rtmpt::proto::kProxyV1MaxBytes;
using rtmpt::proto::kProxyV2FixedBytes;
using rtmpt::proto::parse_endpoint;
using rtmpt::proto::parse_proxy_header;
using rtmpt::proto::ProxyHeader;
using rtmpt::proto::ProxyVersion;
using Status = ProxyHeader::Status;
using Problem = ProxyHeader::Problem;
using Bytes = std::span<const std::uint8_t>;

[[noreturn]] void fail(const std::string& what) {
    rtmpt::fuzz::property_violated("fuzz_proxy_header", what);
}

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr std::array<std::uint8_t, 12> kV2Signature{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                    0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
// The largest v2 header: the fixed part and a 16-bit length. As max_bytes, no limit at all.
constexpr std::size_t kUnlimited = kProxyV2FixedBytes + 0xFFFF;
// The limits each input is read with: one below the fixed part, the fixed part alone, the largest
// header the builder writes, a UNIX block with a TLV, the gateway's own (ProxyIntake's 2 KiB), and
// none.
constexpr std::array<std::size_t, 6> kMaxBytes{0, 16, 52, 235, 2048, kUnlimited};

std::string describe(const ProxyHeader& h) {
    static constexpr const char* kStatus[] = {"incomplete", "complete", "invalid"};
    static constexpr const char* kProblem[] = {"none", "not_proxy", "malformed", "too_long"};
    const auto status = static_cast<std::size_t>(h.status);
    const auto problem = static_cast<std::size_t>(h.problem);
    if (status >= std::size(kStatus) || problem >= std::size(kProblem))
        return "status or problem out of range";
    std::string out = kStatus[status];
    if (h.status == Status::invalid) out += std::string(" ") + kProblem[problem] + ": " + h.error;
    if (h.status == Status::complete) {
        out +=
            " v" + std::to_string(static_cast<int>(h.version)) + " of " + std::to_string(h.length) + " bytes";
        if (h.source) out += ", " + to_string(*h.source) + " -> " + to_string(*h.destination);
        if (h.destination && !h.source) out += ", only a destination";
        out += ", " + std::to_string(h.tlvs) + " TLVs";
    }
    return out;
}

bool same(const ProxyHeader& a, const ProxyHeader& b) {
    return a.status == b.status && a.problem == b.problem && a.error == b.error && a.length == b.length &&
           a.version == b.version && a.source == b.source && a.destination == b.destination &&
           a.tlvs == b.tlvs;
}

ProxyHeader parse(Bytes bytes, std::size_t max_bytes) {
    return parse_proxy_header(bytes, max_bytes);
}

ProxyHeader parse(const std::string& text, std::size_t max_bytes) {
    return parse_proxy_header(Bytes(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()),
                              max_bytes);
}

template <typename Prefix>
bool starts_like(Bytes bytes, const Prefix& prefix) {
    const std::size_t n = std::min(bytes.size(), std::size(prefix));
    for (std::size_t i = 0; i < n; ++i) {
        if (bytes[i] != static_cast<std::uint8_t>(prefix[i])) return false;
    }
    return true;
}

std::uint16_t be16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}

// The length a v2 fixed part declares, once it is there.
std::optional<std::size_t> v2_length(Bytes bytes) {
    if (bytes.size() < kProxyV2FixedBytes || !starts_like(bytes, kV2Signature)) return std::nullopt;
    return kProxyV2FixedBytes + be16(&bytes[14]);
}

void check_fields(const ProxyHeader& h) {
    REQUIRE(h.source.has_value() == h.destination.has_value(),
            "a source without a destination or the reverse: " + describe(h));
    switch (h.status) {
        case Status::incomplete:
        case Status::invalid: {
            const bool invalid = h.status == Status::invalid;
            REQUIRE((h.problem != Problem::none) == invalid, "problem does not match status: " + describe(h));
            REQUIRE(h.error.empty() != invalid, "error does not match status: " + describe(h));
            REQUIRE(h.length == 0 && !h.source && h.tlvs == 0,
                    "fields set on an undecided header: " + describe(h));
            break;
        }
        case Status::complete:
            REQUIRE(h.problem == Problem::none && h.error.empty(), "complete with a problem: " + describe(h));
            REQUIRE(h.length > 0, "complete with no length");
            break;
        default:
            fail("status out of range");
    }
}

void check_v1_complete(Bytes bytes, const ProxyHeader& h) {
    REQUIRE(h.length <= kProxyV1MaxBytes && h.length >= kV1Prefix.size() + 2, "v1 length: " + describe(h));
    REQUIRE(h.tlvs == 0, "v1 with TLVs");
    const std::string_view line(reinterpret_cast<const char*>(bytes.data()), h.length);
    REQUIRE(line.starts_with(kV1Prefix), "complete v1 without its prefix");
    REQUIRE(line.ends_with("\r\n"), "complete v1 without CRLF");
    REQUIRE(line.find('\n') == h.length - 1, "complete v1 past its first LF");
    const std::string_view fields = line.substr(kV1Prefix.size(), h.length - kV1Prefix.size() - 2);
    if (!h.source) {
        REQUIRE(fields == "UNKNOWN" || fields.starts_with("UNKNOWN "), "v1 without addresses, not UNKNOWN");
        return;
    }
    const std::string_view protocol = fields.substr(0, 5);
    REQUIRE(protocol == "TCP4 " || protocol == "TCP6 ", "v1 addresses without TCP4 or TCP6");
    // The ports have one spelling: the last two fields are exactly the numbers.
    const std::string ports =
        " " + std::to_string(h.source->port) + " " + std::to_string(h.destination->port);
    REQUIRE(fields.ends_with(ports), "v1 ports are not the fields: " + describe(h));
    // TCP4 carries IPv4 only; TCP6 anything (an IPv4-mapped address reads as IPv4).
    if (protocol == "TCP4 ") {
        REQUIRE(h.source->address.family() == IpAddress::Family::v4 &&
                    h.destination->address.family() == IpAddress::Family::v4,
                "TCP4 with IPv6: " + describe(h));
    }
}

std::array<std::uint8_t, 16> as_v6(const IpAddress& a) {
    if (a.family() == IpAddress::Family::v6) return a.bytes();
    std::array<std::uint8_t, 16> out{};
    out[10] = out[11] = 0xFF;
    std::copy_n(a.bytes().begin(), 4, out.begin() + 12);
    return out;
}

void check_v2_complete(Bytes bytes, const ProxyHeader& h, std::size_t max_bytes) {
    REQUIRE(h.length == v2_length(bytes), "v2 length is not its field: " + describe(h));
    REQUIRE(h.length <= max_bytes, "v2 longer than max_bytes: " + describe(h));
    REQUIRE(bytes[12] == 0x20 || bytes[12] == 0x21, "v2 complete with a version or command not allowed");
    const unsigned family = bytes[13] >> 4;
    const unsigned transport = bytes[13] & 0x0F;
    REQUIRE(family <= 3 && transport <= 2, "v2 complete with a family or transport not allowed");
    const std::uint8_t* block = bytes.data() + kProxyV2FixedBytes;
    const std::size_t block_size = h.length - kProxyV2FixedBytes;
    if (bytes[12] == 0x20) {
        REQUIRE(!h.source && h.tlvs == 0, "v2 LOCAL with addresses or TLVs: " + describe(h));
        return;
    }
    REQUIRE(transport != 2, "v2 datagram flow accepted");
    std::size_t used = 0;
    if ((family == 1 || family == 2) && transport == 0) {
        // Addresses under an unspecified transport are not relied on, but their block is skipped.
        REQUIRE(!h.source && block_size >= (family == 1 ? 12U : 36U),
                "v2 INET/INET6 with an unspecified transport: " + describe(h));
        used = family == 1 ? 12 : 36;
    } else if (family == 1) {
        REQUIRE(h.source && block_size >= 12, "v2 INET without its addresses: " + describe(h));
        REQUIRE(h.source->address == IpAddress::v4({block[0], block[1], block[2], block[3]}) &&
                    h.destination->address == IpAddress::v4({block[4], block[5], block[6], block[7]}) &&
                    h.source->port == be16(block + 8) && h.destination->port == be16(block + 10),
                "v2 INET addresses are not the block's: " + describe(h));
        used = 12;
    } else if (family == 2) {
        REQUIRE(h.source && block_size >= 36, "v2 INET6 without its addresses: " + describe(h));
        REQUIRE(std::equal(block, block + 16, as_v6(h.source->address).begin()) &&
                    std::equal(block + 16, block + 32, as_v6(h.destination->address).begin()) &&
                    h.source->port == be16(block + 32) && h.destination->port == be16(block + 34),
                "v2 INET6 addresses are not the block's: " + describe(h));
        used = 36;
    } else {
        REQUIRE(!h.source, "v2 UNIX or UNSPEC with addresses: " + describe(h));
        if (family == 3) {
            REQUIRE(block_size >= 216, "v2 UNIX block short, yet complete");
            used = 216;
        }
    }
    std::size_t tlvs = 0;
    for (std::size_t at = used; at < block_size; ++tlvs) {
        REQUIRE(block_size - at >= 3, "v2 complete with a TLV cut short");
        at += 3 + be16(block + at + 1);
        REQUIRE(at <= block_size, "v2 complete with a TLV past its end");
    }
    REQUIRE(h.tlvs == tlvs, "v2 TLV count: " + describe(h) + ", walked " + std::to_string(tlvs));
}

// Once a prefix is decided, every longer one says the same.
void check_final(Bytes bytes, std::size_t max_bytes, const ProxyHeader& whole) {
    std::size_t decided = 0;
    ProxyHeader first;
    for (; decided <= bytes.size(); ++decided) {
        first = parse(bytes.first(decided), max_bytes);
        if (first.status != Status::incomplete) break;
    }
    if (decided > bytes.size()) {
        REQUIRE(whole.status == Status::incomplete, "the input is decided, none of its prefixes is");
        return;
    }
    if (first.status == Status::complete) {
        REQUIRE(first.length == decided, "complete at " + std::to_string(decided) + ": " + describe(first));
    }
    REQUIRE(same(first, whole), "decided at " + std::to_string(decided) + " as " + describe(first) +
                                    ", the whole input is " + describe(whole));
    for (const std::size_t n : {decided + 1, (decided + bytes.size()) / 2, bytes.size() - 1}) {
        if (n <= decided || n > bytes.size()) continue;
        const ProxyHeader later = parse(bytes.first(n), max_bytes);
        REQUIRE(same(first, later), "decided at " + std::to_string(decided) + " as " + describe(first) +
                                        ", at " + std::to_string(n) + " " + describe(later));
    }
}

void check_endpoint_text(const Endpoint& e) {
    const auto back = parse_endpoint(to_string(e));
    REQUIRE(back == e, "parse_endpoint(to_string(e)) is not e: " + to_string(e));
}

void check_rebuilt(const ProxyHeader& h) {
    static constexpr std::array<std::uint8_t, 16> kZero16{};
    for (const ProxyVersion version : {ProxyVersion::v1, ProxyVersion::v2}) {
        const std::string built = build_proxy_header(version, h.source, h.destination);
        REQUIRE(built.size() <= (version == ProxyVersion::v1 ? kProxyV1MaxBytes : 52),
                "built header too long: " + std::to_string(built.size()));
        const ProxyHeader again = parse(built, 52);
        REQUIRE(again.status == Status::complete && again.length == built.size() && again.version == version,
                "built header does not parse: " + describe(again) + " from " + describe(h));
        REQUIRE(again.source == h.source && again.destination == h.destination,
                "built header parses to other addresses: " + describe(again) + " from " + describe(h));
        // Without a client: no addresses, whatever the destination.
        const ProxyHeader unknown = parse(build_proxy_header(version, std::nullopt, h.destination), 52);
        REQUIRE(unknown.status == Status::complete && !unknown.source && unknown.version == version,
                "header without a client: " + describe(unknown));
        // Without a destination: the client's family's unspecified address, port 0.
        const ProxyHeader no_destination = parse(build_proxy_header(version, h.source, std::nullopt), 52);
        REQUIRE(no_destination.status == Status::complete && no_destination.source == h.source &&
                    no_destination.destination && no_destination.destination->port == 0 &&
                    no_destination.destination->address.family() == h.source->address.family() &&
                    no_destination.destination->address.bytes() == kZero16,
                "header without a destination: " + describe(no_destination));
    }
    check_endpoint_text(*h.source);
    check_endpoint_text(*h.destination);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const Bytes bytes(data, size);
    // FUZZ_TRACE=1 shows what an input reads as with each max_bytes.
    static const bool trace = std::getenv("FUZZ_TRACE") != nullptr;

    const bool v1_like = starts_like(bytes, kV1Prefix);
    const bool v2_like = starts_like(bytes, kV2Signature);
    const std::optional<std::size_t> declared = v2_length(bytes);
    // What the fixed part allows, read independently: version 2, LOCAL or PROXY, a family up to
    // AF_UNIX and a transport up to DGRAM. Only then does the length count.
    const bool fixed_part_valid = declared && bytes[12] >> 4 == 2 && (bytes[12] & 0x0F) <= 1 &&
                                  bytes[13] >> 4 <= 3 && (bytes[13] & 0x0F) <= 2;
    const ProxyHeader unlimited = parse(bytes, kUnlimited);

    for (const std::size_t max_bytes : kMaxBytes) {
        const ProxyHeader h = max_bytes == kUnlimited ? unlimited : parse(bytes, max_bytes);
        if (trace) std::fprintf(stderr, "max_bytes %zu: %s\n", max_bytes, describe(h).c_str());
        check_fields(h);
        REQUIRE((h.problem == Problem::not_proxy) == (!v1_like && !v2_like),
                "not_proxy disagrees with the signatures: " + describe(h));

        // max_bytes: v2 only, and only as too_long.
        if (declared && fixed_part_valid && *declared > max_bytes) {
            REQUIRE(h.problem == Problem::too_long, "v2 header of " + std::to_string(*declared) +
                                                        " bytes with max_bytes " + std::to_string(max_bytes) +
                                                        ": " + describe(h));
        } else if (max_bytes != kUnlimited) {
            REQUIRE(same(h, unlimited), "max_bytes " + std::to_string(max_bytes) + " changes " +
                                            describe(unlimited) + " into " + describe(h));
        }

        if (h.status == Status::incomplete) {
            if (v1_like) REQUIRE(size < kProxyV1MaxBytes, "v1 incomplete at 107 bytes");
            if (v2_like && declared) {
                REQUIRE(size < *declared && *declared <= max_bytes,
                        "v2 incomplete though its length is there");
            }
        }
        if (h.status == Status::complete) {
            REQUIRE(h.length <= size, "complete past the input");
            REQUIRE(h.version == (v1_like ? ProxyVersion::v1 : ProxyVersion::v2),
                    "version is not the signature's");
            if (h.version == ProxyVersion::v1) {
                check_v1_complete(bytes, h);
            } else {
                check_v2_complete(bytes, h, max_bytes);
            }
            // Its own bytes alone say the same.
            REQUIRE(same(parse(bytes.first(h.length), max_bytes), h),
                    "a complete header's own bytes say otherwise");
        }
        check_final(bytes, max_bytes, h);
    }

    if (unlimited.status == Status::complete && unlimited.source) check_rebuilt(unlimited);

    // The input as an endpoint's text: if it reads, writing it back reads the same.
    if (const auto e = parse_endpoint(std::string_view(reinterpret_cast<const char*>(data), size))) {
        check_endpoint_text(*e);
    }
    return 0;
}
