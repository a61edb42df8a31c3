#include "proto/proxy_protocol.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

using rtmpt::proto::build_proxy_header;
using rtmpt::proto::Endpoint;
using rtmpt::proto::IpAddress;
using rtmpt::proto::kProxyV1MaxBytes;
using rtmpt::proto::kProxyV2FixedBytes;
using rtmpt::proto::parse_endpoint;
using rtmpt::proto::parse_proxy_header;
using rtmpt::proto::ProxyHeader;
using rtmpt::proto::ProxyVersion;
using rtmpt::proto::to_string;
using Status = ProxyHeader::Status;
using Problem = ProxyHeader::Problem;

namespace {

// Generous enough for every header here but the ones that test max_bytes.
constexpr std::size_t kMax = 1024;

// The v2 signature, as a string (it holds a NUL).
const std::string kSig("\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A", 12);

IpAddress ip(const char* text) {
    const auto a = IpAddress::parse(text);
    REQUIRE_MESSAGE(a.has_value(), text);
    return *a;
}

Endpoint ep(const char* address, std::uint16_t port) {
    return Endpoint{ip(address), port};
}

ProxyHeader parse(std::string_view text, std::size_t max_bytes = kMax) {
    const std::vector<std::uint8_t> bytes(text.begin(), text.end());
    return parse_proxy_header(std::span<const std::uint8_t>(bytes), max_bytes);
}

std::string be16(unsigned v) {
    return {static_cast<char>((v >> 8) & 0xFF), static_cast<char>(v & 0xFF)};
}

// A v2 header: signature, version and command, family and transport, `length` (the body's own
// size unless given), body.
std::string v2(unsigned ver_cmd, unsigned fam, const std::string& body, std::optional<unsigned> length = {}) {
    return kSig + static_cast<char>(ver_cmd) + static_cast<char>(fam) + be16(length.value_or(body.size())) +
           body;
}

// An IPv4 address block: 192.0.2.1:1234 -> 198.51.100.2:80.
std::string inet_block() {
    return std::string("\xC0\x00\x02\x01\xC6\x33\x64\x02", 8) + be16(1234) + be16(80);
}

// An IPv6 address block: [2001:db8::1]:1234 -> [2001:db8::2]:443.
std::string inet6_block() {
    std::string src(16, '\0');
    std::string dst(16, '\0');
    src[0] = dst[0] = '\x20';
    src[1] = dst[1] = '\x01';
    src[2] = dst[2] = '\x0d';
    src[3] = dst[3] = '\xb8';
    src[15] = '\x01';
    dst[15] = '\x02';
    return src + dst + be16(1234) + be16(443);
}

std::string tlv(unsigned type, const std::string& value) {
    return static_cast<char>(type) + be16(value.size()) + value;
}

void check_invalid(const ProxyHeader& h, Problem problem, std::string_view error) {
    CHECK(h.status == Status::invalid);
    CHECK(h.problem == problem);
    CHECK(h.error == error);
    CHECK(h.length == 0);
    CHECK_FALSE(h.source.has_value());
    CHECK_FALSE(h.destination.has_value());
}

void check_malformed(std::string_view text, std::string_view error, std::size_t max_bytes = kMax) {
    CAPTURE(text);
    check_invalid(parse(text, max_bytes), Problem::malformed, error);
}

void check_incomplete(std::string_view text, std::size_t max_bytes = kMax) {
    const ProxyHeader h = parse(text, max_bytes);
    CHECK(h.status == Status::incomplete);
    CHECK(h.problem == Problem::none);
    CHECK(h.error.empty());
    CHECK(h.length == 0);
    CHECK_FALSE(h.source.has_value());
}

// A complete header without addresses (v1 UNKNOWN, v2 LOCAL, UNIX, UNSPEC).
void check_no_addresses(std::string_view text, ProxyVersion version, std::size_t tlvs = 0) {
    CAPTURE(text);
    const ProxyHeader h = parse(text);
    CHECK(h.status == Status::complete);
    CHECK(h.problem == Problem::none);
    CHECK(h.error.empty());
    CHECK(h.version == version);
    CHECK(h.length == text.size());
    CHECK_FALSE(h.source.has_value());
    CHECK_FALSE(h.destination.has_value());
    CHECK(h.tlvs == tlvs);
}

// Every prefix of `header` is incomplete, the whole is complete with its length, and bytes after
// it change nothing. Returns the result for the whole.
ProxyHeader check_prefixes(const std::string& header, std::size_t max_bytes = kMax) {
    for (std::size_t n = 0; n < header.size(); ++n) {
        CAPTURE(n);
        check_incomplete(std::string_view(header).substr(0, n), max_bytes);
    }
    const ProxyHeader whole = parse(header, max_bytes);
    REQUIRE(whole.status == Status::complete);
    CHECK(whole.problem == Problem::none);
    CHECK(whole.length == header.size());
    for (const std::string& after : {std::string("GET / HTTP/1.1\r\n\r\n"), std::string("\x03\x00\n\r\n", 5),
                                     std::string(300, '\n'), header}) {
        const ProxyHeader more = parse(header + after, max_bytes);
        CHECK(more.status == whole.status);
        CHECK(more.problem == whole.problem);
        CHECK(more.length == whole.length);
        CHECK(more.version == whole.version);
        CHECK(more.source == whole.source);
        CHECK(more.destination == whole.destination);
        CHECK(more.tlvs == whole.tlvs);
    }
    return whole;
}

}  // namespace

TEST_CASE("the protocol's sizes") {
    CHECK(kProxyV1MaxBytes == 107);
    CHECK(kProxyV2FixedBytes == 16);
    CHECK(kSig.size() == 12);
}

// ---------------------------------------------------------------------------------------------
// Endpoints

TEST_CASE("endpoints as text") {
    CHECK(to_string(ep("192.0.2.1", 4000)) == "192.0.2.1:4000");
    CHECK(to_string(ep("2001:db8::1", 4000)) == "[2001:db8::1]:4000");
    CHECK(to_string(ep("::ffff:192.0.2.1", 80)) == "192.0.2.1:80");
    CHECK(to_string(ep("::", 0)) == "[::]:0");
    CHECK(to_string(Endpoint{}) == "0.0.0.0:0");
}

TEST_CASE("parse_endpoint reads what to_string writes") {
    const auto v4 = parse_endpoint("1.2.3.4:80");
    REQUIRE(v4.has_value());
    CHECK(*v4 == ep("1.2.3.4", 80));
    const auto v6 = parse_endpoint("[::1]:443");
    REQUIRE(v6.has_value());
    CHECK(*v6 == ep("::1", 443));
    CHECK(parse_endpoint("0.0.0.0:0") == ep("0.0.0.0", 0));
    CHECK(parse_endpoint("255.255.255.255:65535") == ep("255.255.255.255", 65535));
    for (const Endpoint& e : {ep("192.0.2.1", 4000), ep("2001:db8::1", 1), ep("::", 0),
                              ep("::1.2.3.4", 65535), ep("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535)}) {
        CAPTURE(to_string(e));
        CHECK(parse_endpoint(to_string(e)) == e);
    }
}

TEST_CASE("parse_endpoint takes a bracketed IPv4 or IPv4-mapped address as IPv4") {
    // Not what to_string writes, but accepted: the brackets are stripped whatever they hold.
    CHECK_FALSE(parse_endpoint("[1.2.3.4]:80"));
    CHECK(parse_endpoint("[::ffff:1.2.3.4]:80") == ep("1.2.3.4", 80));
}

TEST_CASE("parse_endpoint refuses anything else") {
    for (const char* bad : {"",
                            ":",
                            "1.2.3.4",
                            "::1:80",
                            "::1",
                            "[::1]",
                            "[::1]:",
                            "1.2.3.4:",
                            ":80",
                            "[]:80",
                            "[:80",
                            "[::1:80",
                            "::1]:80",
                            "1.2.3.4:65536",
                            "1.2.3.4:99999",
                            "1.2.3.4:123456",
                            "1.2.3.4:080",
                            "1.2.3.4:00",
                            "1.2.3.4:-1",
                            "1.2.3.4:+1",
                            "1.2.3.4:8a",
                            "1.2.3.4: 80",
                            "1.2.3:80",
                            "example.org:80",
                            "[example.org]:80",
                            "[[::1]]:80",
                            "1.2.3.4:80:80"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_endpoint(bad).has_value());
    }
}

// ---------------------------------------------------------------------------------------------
// The builder

TEST_CASE("v1: IPv4 both ends is TCP4") {
    CHECK(build_proxy_header(ProxyVersion::v1, ep("192.0.2.1", 1234), ep("198.51.100.2", 80)) ==
          "PROXY TCP4 192.0.2.1 198.51.100.2 1234 80\r\n");
    CHECK(build_proxy_header(ProxyVersion::v1, ep("0.0.0.0", 0), ep("255.255.255.255", 65535)) ==
          "PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n");
}

TEST_CASE("v1: IPv6 both ends is TCP6") {
    CHECK(build_proxy_header(ProxyVersion::v1, ep("2001:db8::1", 1234), ep("2001:db8::2", 443)) ==
          "PROXY TCP6 2001:db8::1 2001:db8::2 1234 443\r\n");
}

TEST_CASE("v1: one end IPv6 makes both TCP6, the IPv4 one mapped") {
    CHECK(build_proxy_header(ProxyVersion::v1, ep("2001:db8::1", 1234), ep("192.0.2.1", 80)) ==
          "PROXY TCP6 2001:db8::1 ::ffff:192.0.2.1 1234 80\r\n");
    CHECK(build_proxy_header(ProxyVersion::v1, ep("192.0.2.1", 1234), ep("2001:db8::1", 80)) ==
          "PROXY TCP6 ::ffff:192.0.2.1 2001:db8::1 1234 80\r\n");
}

TEST_CASE("v1: an IPv4-mapped client is IPv4") {
    CHECK(build_proxy_header(ProxyVersion::v1, ep("::ffff:1.2.3.4", 5000), ep("5.6.7.8", 80)) ==
          "PROXY TCP4 1.2.3.4 5.6.7.8 5000 80\r\n");
}

TEST_CASE("v1: an unknown client is UNKNOWN, whatever the destination") {
    CHECK(build_proxy_header(ProxyVersion::v1, std::nullopt, ep("192.0.2.1", 80)) == "PROXY UNKNOWN\r\n");
    CHECK(build_proxy_header(ProxyVersion::v1, std::nullopt, std::nullopt) == "PROXY UNKNOWN\r\n");
}

TEST_CASE("v1: an unknown destination is the unspecified address of the client's family") {
    CHECK(build_proxy_header(ProxyVersion::v1, ep("192.0.2.1", 1234), std::nullopt) ==
          "PROXY TCP4 192.0.2.1 0.0.0.0 1234 0\r\n");
    CHECK(build_proxy_header(ProxyVersion::v1, ep("2001:db8::1", 1234), std::nullopt) ==
          "PROXY TCP6 2001:db8::1 :: 1234 0\r\n");
}

TEST_CASE("v1: the longest header fits in 107 bytes") {
    const char* all = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    const std::string h = build_proxy_header(ProxyVersion::v1, ep(all, 65535), ep(all, 65535));
    CHECK(h.size() == 104);
    CHECK(h.size() <= kProxyV1MaxBytes);
    check_prefixes(h);
}

TEST_CASE("v2: IPv4 both ends is INET, 12 bytes of addresses") {
    const std::string h = build_proxy_header(ProxyVersion::v2, ep("192.0.2.1", 1234), ep("198.51.100.2", 80));
    CHECK(h == v2(0x21, 0x11, inet_block()));
    CHECK(h.size() == 28);
}

TEST_CASE("v2: IPv6 both ends is INET6, 36 bytes of addresses") {
    const std::string h =
        build_proxy_header(ProxyVersion::v2, ep("2001:db8::1", 1234), ep("2001:db8::2", 443));
    CHECK(h == v2(0x21, 0x21, inet6_block()));
    CHECK(h.size() == 52);
}

TEST_CASE("v2: one end IPv6 makes both INET6, the IPv4 one mapped") {
    const std::string h = build_proxy_header(ProxyVersion::v2, ep("2001:db8::1", 1234), ep("192.0.2.1", 80));
    REQUIRE(h.size() == 52);
    CHECK(h.substr(0, 12) == kSig);
    CHECK(h[12] == '\x21');
    CHECK(h[13] == '\x21');  // AF_INET6, STREAM
    CHECK(h.substr(14, 2) == be16(36));
    CHECK(h.substr(16, 16) == inet6_block().substr(0, 16));
    CHECK(h.substr(32, 16) == std::string("\0\0\0\0\0\0\0\0\0\0\xff\xff\xc0\x00\x02\x01", 16));
    CHECK(h.substr(48) == be16(1234) + be16(80));

    const std::string r = build_proxy_header(ProxyVersion::v2, ep("192.0.2.1", 1234), ep("2001:db8::2", 80));
    REQUIRE(r.size() == 52);
    CHECK(r[13] == '\x21');
    CHECK(r.substr(16, 16) == std::string("\0\0\0\0\0\0\0\0\0\0\xff\xff\xc0\x00\x02\x01", 16));
    CHECK(r.substr(32, 16) == inet6_block().substr(16, 16));
}

TEST_CASE("v2: an IPv4-mapped client is IPv4") {
    const std::string h =
        build_proxy_header(ProxyVersion::v2, ep("::ffff:192.0.2.1", 1234), ep("198.51.100.2", 80));
    CHECK(h == v2(0x21, 0x11, inet_block()));
}

TEST_CASE("v2: an unknown client is the PROXY command with AF_UNSPEC and no addresses") {
    const std::string unspec = kSig + std::string("\x21\x00\x00\x00", 4);
    CHECK(build_proxy_header(ProxyVersion::v2, std::nullopt, ep("192.0.2.1", 80)) == unspec);
    CHECK(build_proxy_header(ProxyVersion::v2, std::nullopt, std::nullopt) == unspec);
    check_no_addresses(unspec, ProxyVersion::v2);
}

TEST_CASE("v2: an unknown destination is the unspecified address of the client's family") {
    CHECK(build_proxy_header(ProxyVersion::v2, ep("192.0.2.1", 1234), std::nullopt) ==
          v2(0x21, 0x11, std::string("\xC0\x00\x02\x01\0\0\0\0", 8) + be16(1234) + be16(0)));
    CHECK(build_proxy_header(ProxyVersion::v2, ep("2001:db8::1", 1234), std::nullopt) ==
          v2(0x21, 0x21, inet6_block().substr(0, 16) + std::string(16, '\0') + be16(1234) + be16(0)));
}

TEST_CASE("build then parse gives the same ends, both versions") {
    struct Case {
        const char* source;
        std::uint16_t source_port;
        const char* destination;
        std::uint16_t destination_port;
    };
    for (const Case& c :
         {Case{"192.0.2.1", 1234, "198.51.100.2", 80}, Case{"0.0.0.0", 0, "255.255.255.255", 65535},
          Case{"2001:db8::1", 1234, "2001:db8::2", 443}, Case{"::", 0, "::1", 65535},
          Case{"::1.2.3.4", 1, "fe80::1", 2}, Case{"2001:db8::1", 1234, "192.0.2.1", 80},
          Case{"192.0.2.1", 1234, "2001:db8::1", 80}, Case{"::ffff:1.2.3.4", 5000, "5.6.7.8", 80},
          Case{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
               65535}}) {
        const Endpoint source = ep(c.source, c.source_port);
        const Endpoint destination = ep(c.destination, c.destination_port);
        for (const ProxyVersion version : {ProxyVersion::v1, ProxyVersion::v2}) {
            CAPTURE(c.source);
            CAPTURE(c.destination);
            CAPTURE(static_cast<int>(version));
            const std::string header = build_proxy_header(version, source, destination);
            const ProxyHeader h = check_prefixes(header);
            CHECK(h.version == version);
            CHECK(h.source == source);
            CHECK(h.destination == destination);
            CHECK(h.tlvs == 0);
        }
    }
}

TEST_CASE("build then parse without a client gives no addresses, both versions") {
    for (const ProxyVersion version : {ProxyVersion::v1, ProxyVersion::v2}) {
        const ProxyHeader h = check_prefixes(build_proxy_header(version, std::nullopt, ep("192.0.2.1", 80)));
        CHECK(h.version == version);
        CHECK_FALSE(h.source.has_value());
        CHECK_FALSE(h.destination.has_value());
    }
}

// ---------------------------------------------------------------------------------------------
// Which protocol, if any

TEST_CASE("no bytes yet is incomplete") {
    check_incomplete("");
}

TEST_CASE("bytes that are no PROXY header") {
    for (const std::string& text :
         {std::string("GET / HTTP/1.1\r\n\r\n"), std::string("POST /open/1 HTTP/1.1\r\n"),
          std::string("\x03", 1), std::string("\x03\x00\x00\x00\x00", 5), std::string("PROXZ"),
          std::string("PROXYZ"), std::string("PROXY\r\n"), std::string("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"),
          std::string("\x16\x03\x01"), std::string("\r\n\r\n\x01", 5),
          std::string("\r\n\r\n\x00\r\n\x51\x55\x49\x54\x0B", 12),
          std::string("\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0B\x21\x11\x00\x00", 16),
          std::string("\n")}) {
        CAPTURE(text);
        check_invalid(parse(text), Problem::not_proxy, "no PROXY header signature");
    }
}

TEST_CASE("a start of either signature is incomplete") {
    const std::string v1 = "PROXY ";
    for (std::size_t n = 0; n <= v1.size(); ++n) check_incomplete(v1.substr(0, n));
    for (std::size_t n = 0; n < kProxyV2FixedBytes; ++n) {
        CAPTURE(n);
        // Whatever follows the signature: nothing is read before the fixed part is whole.
        check_incomplete((kSig + std::string("\xFF\xFF\xFF\xFF", 4)).substr(0, n));
    }
}

// ---------------------------------------------------------------------------------------------
// Version 1

TEST_CASE("v1: TCP4 and TCP6") {
    const ProxyHeader h4 = check_prefixes("PROXY TCP4 192.0.2.1 198.51.100.2 1234 80\r\n");
    CHECK(h4.version == ProxyVersion::v1);
    CHECK(h4.source == ep("192.0.2.1", 1234));
    CHECK(h4.destination == ep("198.51.100.2", 80));
    CHECK(h4.tlvs == 0);

    const ProxyHeader h6 = check_prefixes("PROXY TCP6 2001:db8::1 2001:db8::2 0 65535\r\n");
    CHECK(h6.version == ProxyVersion::v1);
    CHECK(h6.source == ep("2001:db8::1", 0));
    CHECK(h6.destination == ep("2001:db8::2", 65535));
}

TEST_CASE("v1: TCP6 may carry IPv4-mapped addresses, which are IPv4") {
    const ProxyHeader h = check_prefixes("PROXY TCP6 ::ffff:192.0.2.1 2001:db8::1 1234 80\r\n");
    CHECK(h.source == ep("192.0.2.1", 1234));
    CHECK(h.source->address.family() == IpAddress::Family::v4);
    CHECK(h.destination == ep("2001:db8::1", 80));
}

TEST_CASE("v1: UNKNOWN, alone or with anything after it") {
    for (const char* text : {"PROXY UNKNOWN\r\n", "PROXY UNKNOWN 192.0.2.1 198.51.100.2 1234 80\r\n",
                             "PROXY UNKNOWN ffff:f:f:f:f:f:f:ffff ffff:f:f:f:f:f:f:ffff 65535 65535\r\n",
                             "PROXY UNKNOWN whatever it says\r\n", "PROXY UNKNOWN \r\n"}) {
        check_no_addresses(text, ProxyVersion::v1);
        check_prefixes(text);
    }
}

TEST_CASE("v1: a line must end in CRLF") {
    check_malformed("PROXY TCP4 192.0.2.1 198.51.100.2 1234 80\n", "v1 line ends without CR");
    check_malformed("PROXY UNKNOWN\n", "v1 line ends without CR");
    check_malformed("PROXY \n", "v1 line ends without CR");
    check_malformed("PROXY \r\r\n\n", "v1 protocol is neither TCP4, TCP6 nor UNKNOWN");
    // A lone CR is no end; the CR before the LF that ends the line is.
    check_malformed("PROXY TCP4 192.0.2.1\r 198.51.100.2 1234 80\r\n",
                    "v1 address is not an IPv4 dotted quad");
}

TEST_CASE("v1: 107 bytes without a LF are too long; the last byte may be the LF") {
    const std::string start = "PROXY UNKNOWN ";
    const std::string longest = start + std::string(kProxyV1MaxBytes - start.size() - 2, 'x') + "\r\n";
    REQUIRE(longest.size() == 107);
    check_no_addresses(longest, ProxyVersion::v1);
    check_prefixes(longest);

    const std::string no_end = start + std::string(kProxyV1MaxBytes - start.size(), 'x');
    REQUIRE(no_end.size() == 107);
    check_incomplete(no_end.substr(0, 106));
    check_invalid(parse(no_end), Problem::too_long, "v1 header without its end in 107 bytes");
    check_invalid(parse(no_end + "\r\n"), Problem::too_long, "v1 header without its end in 107 bytes");
    // One byte too many: a LF as the 108th byte is not looked for.
    const std::string one_more = longest.substr(0, 105) + "x\r\n";
    REQUIRE(one_more.size() == 108);
    check_invalid(parse(one_more), Problem::too_long, "v1 header without its end in 107 bytes");
    check_invalid(parse(one_more.substr(0, 107)), Problem::too_long,
                  "v1 header without its end in 107 bytes");
    // max_bytes is for v2 only.
    CHECK(parse(longest, 16).status == Status::complete);
    CHECK(parse(longest, 0).status == Status::complete);
}

TEST_CASE("v1: fields") {
    check_malformed("PROXY TCP4 192.0.2.1 198.51.100.2 1234 80 9\r\n", "v1 line has too many fields");
    check_malformed("PROXY TCP4 192.0.2.1 198.51.100.2 1234 80 \r\n", "v1 line has too many fields");
    check_malformed("PROXY TCP4  192.0.2.1 198.51.100.2 1234 80\r\n", "v1 line has too many fields");
    check_malformed("PROXY A B C D E F G H\r\n", "v1 line has too many fields");
    check_malformed("PROXY TCP4 192.0.2.1 198.51.100.2 1234\r\n", "v1 line has too few fields");
    check_malformed("PROXY TCP4\r\n", "v1 line has too few fields");
    check_malformed("PROXY TCP6 ::1 ::1\r\n", "v1 line has too few fields");
    check_malformed("PROXY TCP4 \r\n", "v1 line has too few fields");
}

TEST_CASE("v1: the protocol is TCP4, TCP6 or UNKNOWN") {
    for (const char* text :
         {"PROXY TCP5 192.0.2.1 198.51.100.2 1234 80\r\n", "PROXY UDP4 192.0.2.1 198.51.100.2 1234 80\r\n",
          "PROXY tcp4 192.0.2.1 198.51.100.2 1234 80\r\n", "PROXY \r\n", "PROXY  TCP4\r\n",
          "PROXY UNKNOWNX\r\n", "PROXY UNKNOWN\t\r\n", "PROXY unknown\r\n", "PROXY TCP\r\n"}) {
        check_malformed(text, "v1 protocol is neither TCP4, TCP6 nor UNKNOWN");
    }
}

TEST_CASE("v1: addresses of the family the protocol names") {
    const char* not_v4 = "v1 address is not an IPv4 dotted quad";
    const char* not_v6 = "v1 address is not IPv6";
    check_malformed("PROXY TCP4 2001:db8::1 198.51.100.2 1234 80\r\n", not_v4);
    check_malformed("PROXY TCP4 192.0.2.1 2001:db8::1 1234 80\r\n", not_v4);
    check_malformed("PROXY TCP4 ::ffff:192.0.2.1 198.51.100.2 1234 80\r\n", not_v4);
    check_malformed("PROXY TCP4 192.0.2 198.51.100.2 1234 80\r\n", not_v4);
    check_malformed("PROXY TCP4 192.0.2.1 256.0.0.1 1234 80\r\n", not_v4);
    check_malformed("PROXY TCP4 localhost 198.51.100.2 1234 80\r\n", not_v4);
    check_malformed("PROXY TCP6 192.0.2.1 2001:db8::2 1234 80\r\n", not_v6);
    check_malformed("PROXY TCP6 2001:db8::1 192.0.2.1 1234 80\r\n", not_v6);
    check_malformed("PROXY TCP6 2001:db8::g 2001:db8::2 1234 80\r\n", not_v6);
    check_malformed("PROXY TCP6 [2001:db8::1] 2001:db8::2 1234 80\r\n", not_v6);
    check_malformed("PROXY TCP6 2001:db8::1 fe80::1%eth0 1234 80\r\n", not_v6);
}

TEST_CASE("v1: ports are decimal 0 to 65535 without leading zeros") {
    const std::string start = "PROXY TCP4 192.0.2.1 198.51.100.2 ";
    for (const std::string bad : {"080", "00", "0080", "65536", "99999", "100000", "123456", "8a", "a8",
                                  "0x50", "-1", "+1", "1.5", "８０"}) {
        CAPTURE(bad);
        check_malformed(start + bad + " 80\r\n", "v1 port is no port");
        check_malformed(start + "80 " + bad + "\r\n", "v1 port is no port");
    }
    check_malformed(start + std::string("8\0", 2) + " 80\r\n", "v1 port is no port");
    // Empty: two spaces in a row, or none after the last.
    check_malformed(start + " 80\r\n", "v1 port is no port");
    check_malformed(start.substr(0, start.size() - 1) + " 1234 \r\n", "v1 port is no port");
    for (const std::uint16_t port : {0, 1, 9, 10, 80, 65535}) {
        const ProxyHeader h = parse(start + std::to_string(port) + " " + std::to_string(port) + "\r\n");
        CHECK(h.status == Status::complete);
        CHECK(h.source == ep("192.0.2.1", port));
        CHECK(h.destination == ep("198.51.100.2", port));
    }
}

// ---------------------------------------------------------------------------------------------
// Version 2

TEST_CASE("v2: INET") {
    const ProxyHeader h = check_prefixes(v2(0x21, 0x11, inet_block()));
    CHECK(h.version == ProxyVersion::v2);
    CHECK(h.length == 28);
    CHECK(h.source == ep("192.0.2.1", 1234));
    CHECK(h.destination == ep("198.51.100.2", 80));
    CHECK(h.tlvs == 0);
}

TEST_CASE("v2: INET6") {
    const ProxyHeader h = check_prefixes(v2(0x21, 0x21, inet6_block()));
    CHECK(h.version == ProxyVersion::v2);
    CHECK(h.length == 52);
    CHECK(h.source == ep("2001:db8::1", 1234));
    CHECK(h.destination == ep("2001:db8::2", 443));
    CHECK(h.tlvs == 0);
}

TEST_CASE("v2: INET6 with IPv4-mapped addresses gives IPv4") {
    const std::string mapped("\0\0\0\0\0\0\0\0\0\0\xff\xff\xc0\x00\x02\x01", 16);
    const ProxyHeader h = check_prefixes(v2(0x21, 0x21, mapped + mapped + be16(1) + be16(2)));
    CHECK(h.source == ep("192.0.2.1", 1));
    CHECK(h.destination == ep("192.0.2.1", 2));
}

TEST_CASE("v2: the version must be 2") {
    for (const unsigned ver_cmd : {0x01U, 0x11U, 0x31U, 0xF1U, 0x10U}) {
        CAPTURE(ver_cmd);
        const std::string h = v2(ver_cmd, 0x11, inet_block());
        check_invalid(parse(h), Problem::malformed,
                      "v2 signature with version " + std::to_string(ver_cmd >> 4));
        // Refused as soon as the fixed part is there.
        check_invalid(parse(h.substr(0, 16)), Problem::malformed,
                      "v2 signature with version " + std::to_string(ver_cmd >> 4));
        check_incomplete(h.substr(0, 15));
    }
}

TEST_CASE("v2: the command is LOCAL or PROXY") {
    for (const unsigned command : {2U, 3U, 15U}) {
        CAPTURE(command);
        const std::string h = v2(0x20 | command, 0x11, inet_block());
        check_invalid(parse(h), Problem::malformed, "v2 command " + std::to_string(command));
        check_invalid(parse(h.substr(0, 16)), Problem::malformed, "v2 command " + std::to_string(command));
    }
}

TEST_CASE("v2: family at most AF_UNIX, transport at most DGRAM") {
    for (const unsigned fam : {0x41U, 0x51U, 0xF1U, 0x13U, 0x1FU, 0x03U, 0x40U, 0x33U, 0xFFU}) {
        CAPTURE(fam);
        for (const unsigned ver_cmd : {0x20U, 0x21U}) {
            const std::string h = v2(ver_cmd, fam, inet_block());
            check_invalid(parse(h), Problem::malformed, "v2 address family or transport unknown");
            check_invalid(parse(h.substr(0, 16)), Problem::malformed,
                          "v2 address family or transport unknown");
        }
    }
}

TEST_CASE("v2: a datagram flow is refused once the header is whole") {
    for (const unsigned fam : {0x12U, 0x22U, 0x32U, 0x02U}) {
        CAPTURE(fam);
        const std::string h = v2(0x21, fam, std::string(216, '\0'));
        for (std::size_t n = 0; n < h.size(); ++n) check_incomplete(h.substr(0, n));
        check_malformed(h, "v2 header names a datagram flow");
    }
}

TEST_CASE("v2: LOCAL carries no addresses, whatever its block holds") {
    check_no_addresses(v2(0x20, 0x00, ""), ProxyVersion::v2);
    check_prefixes(v2(0x20, 0x00, ""));
    check_no_addresses(v2(0x20, 0x11, inet_block()), ProxyVersion::v2);
    check_no_addresses(v2(0x20, 0x21, inet6_block()), ProxyVersion::v2);
    check_no_addresses(v2(0x20, 0x12, inet_block()), ProxyVersion::v2);  // even DGRAM
    check_no_addresses(v2(0x20, 0x32, std::string(216, 'u')), ProxyVersion::v2);
    // A block too short for its family, or TLVs that would not walk, are skipped unread.
    check_no_addresses(v2(0x20, 0x11, "abc"), ProxyVersion::v2);
    check_no_addresses(v2(0x20, 0x21, inet_block()), ProxyVersion::v2);
    check_no_addresses(v2(0x20, 0x11, inet_block() + std::string("\x01\x00\x09x", 4)), ProxyVersion::v2);
    check_no_addresses(v2(0x20, 0x00, std::string(1000, '\xFF')), ProxyVersion::v2);
}

TEST_CASE("v2: UNIX and UNSPEC carry no IP addresses") {
    check_no_addresses(v2(0x21, 0x31, std::string(216, '/')), ProxyVersion::v2);
    check_prefixes(v2(0x21, 0x31, std::string(216, '/')));
    check_no_addresses(v2(0x21, 0x30, std::string(216, '/')), ProxyVersion::v2);
    check_no_addresses(v2(0x21, 0x00, ""), ProxyVersion::v2);
    check_no_addresses(v2(0x21, 0x01, ""), ProxyVersion::v2);
}

TEST_CASE("v2: an address block shorter than its family needs") {
    check_malformed(v2(0x21, 0x11, inet_block().substr(0, 11)), "v2 IPv4 address block short");
    check_malformed(v2(0x21, 0x11, ""), "v2 IPv4 address block short");
    check_malformed(v2(0x21, 0x21, inet6_block().substr(0, 35)), "v2 IPv6 address block short");
    // 12 bytes are enough for INET, not INET6.
    check_malformed(v2(0x21, 0x21, inet_block()), "v2 IPv6 address block short");
    check_malformed(v2(0x21, 0x31, std::string(215, '/')), "v2 UNIX address block short");
    check_malformed(v2(0x21, 0x31, ""), "v2 UNIX address block short");
}

TEST_CASE("v2: TLVs after the addresses are walked and counted") {
    const std::string alpn = tlv(0x01, "h2");
    const std::string noop = tlv(0x04, "");
    const std::string big = tlv(0xE0, std::string(300, 'v'));

    ProxyHeader h = check_prefixes(v2(0x21, 0x11, inet_block() + alpn + noop));
    CHECK(h.tlvs == 2);
    CHECK(h.length == 16 + 12 + 5 + 3);
    CHECK(h.source == ep("192.0.2.1", 1234));

    h = check_prefixes(v2(0x21, 0x21, inet6_block() + big));
    CHECK(h.tlvs == 1);
    CHECK(h.destination == ep("2001:db8::2", 443));

    check_no_addresses(v2(0x21, 0x31, std::string(216, '/') + alpn + alpn + alpn), ProxyVersion::v2, 3);
    // AF_UNSPEC: the TLVs start right after the fixed part.
    check_no_addresses(v2(0x21, 0x00, noop + alpn), ProxyVersion::v2, 2);
    check_no_addresses(v2(0x21, 0x00, noop), ProxyVersion::v2, 1);
}

TEST_CASE("v2: a TLV cut short") {
    for (const std::string& rest : {std::string("\x01", 1), std::string("\x01\x00", 2)}) {
        check_malformed(v2(0x21, 0x11, inet_block() + rest), "v2 TLV cut short");
        check_malformed(v2(0x21, 0x11, inet_block() + tlv(0x01, "h2") + rest), "v2 TLV cut short");
        check_malformed(v2(0x21, 0x00, rest), "v2 TLV cut short");
    }
    // INET addresses in 35 bytes of an INET6 block: the 23 after them are no TLVs.
    check_malformed(v2(0x21, 0x11, inet6_block().substr(0, 35)), "v2 TLV runs past the header");
}

TEST_CASE("v2: a TLV whose value runs past the header") {
    check_malformed(v2(0x21, 0x11, inet_block() + std::string("\x01\x00\x03", 3) + "ab"),
                    "v2 TLV runs past the header");
    check_malformed(v2(0x21, 0x11, inet_block() + tlv(0x01, "h2") + "\x02\xFF\xFF"),
                    "v2 TLV runs past the header");
    check_malformed(v2(0x21, 0x21, inet6_block() + std::string("\x01\x00\x01", 3)),
                    "v2 TLV runs past the header");
    check_malformed(v2(0x21, 0x00, std::string("\x04\x00\x01", 3)), "v2 TLV runs past the header");
}

TEST_CASE("v2: longer than max_bytes is refused as soon as the length shows it") {
    const std::string h = v2(0x21, 0x11, inet_block() + tlv(0xE0, std::string(100, 'v')));
    REQUIRE(h.size() == 131);
    const char* error = "v2 header of 131 bytes; at most 130 are read";
    check_incomplete(h.substr(0, 15), 130);
    check_invalid(parse(h.substr(0, 16), 130), Problem::too_long, error);
    check_invalid(parse(h, 130), Problem::too_long, error);
    // Exactly max_bytes is fine.
    CHECK(check_prefixes(h, 131).tlvs == 1);

    // The largest length the field can say, with nothing of it sent yet.
    check_invalid(parse(kSig + "\x21\x11\xFF\xFF", 4096), Problem::too_long,
                  "v2 header of 65551 bytes; at most 4096 are read");
    CHECK(parse(kSig + "\x21\x11\xFF\xFF", 65551).status == Status::incomplete);
    // LOCAL too: its bytes would have to be read to be skipped.
    check_invalid(parse(v2(0x20, 0x00, std::string(200, '\0')), 100), Problem::too_long,
                  "v2 header of 216 bytes; at most 100 are read");
    // A max_bytes below the fixed part refuses every v2 header.
    check_invalid(parse(kSig + std::string("\x21\x00\x00\x00", 4), 15), Problem::too_long,
                  "v2 header of 16 bytes; at most 15 are read");
    // A broken fixed part is malformed first.
    check_malformed(kSig + "\x11\x11\xFF\xFF", "v2 signature with version 1", 100);
}

TEST_CASE("v2: addresses with an unspecified transport are not relied on") {
    for (const unsigned fam : {0x10U, 0x20U}) {
        const std::string block = fam == 0x10U ? inet_block() : inet6_block();
        const ProxyHeader h = parse(v2(0x21, fam, block + std::string("\x01\x00\x00", 3)));
        CHECK(h.status == ProxyHeader::Status::complete);
        CHECK(h.length == kProxyV2FixedBytes + block.size() + 3);
        CHECK(h.tlvs == 1);
        CHECK_FALSE(h.source);
        CHECK_FALSE(h.destination);
    }
}
