#include "proto/ip_address.hpp"

#include <doctest/doctest.h>

#include <string>

using rtmpt::proto::IpAddress;
using rtmpt::proto::IpNetwork;

namespace {

IpAddress ip(const char* text) {
    const auto a = IpAddress::parse(text);
    REQUIRE_MESSAGE(a.has_value(), text);
    return *a;
}

IpNetwork net(const char* text) {
    auto parsed = IpNetwork::parse(text);
    REQUIRE_MESSAGE(parsed.network.has_value(), text, ": ", parsed.error);
    return *parsed.network;
}

std::string net_error(const char* text) {
    const auto parsed = IpNetwork::parse(text);
    CHECK_FALSE(parsed.network.has_value());
    return parsed.error;
}

}  // namespace

TEST_CASE("addresses parse to their canonical text") {
    CHECK(ip("192.0.2.1").to_string() == "192.0.2.1");
    CHECK(ip("192.0.2.1").family() == IpAddress::Family::v4);
    CHECK(ip("2001:DB8:0:0::1").to_string() == "2001:db8::1");
    CHECK(ip("::1").family() == IpAddress::Family::v6);
    // An IPv4-mapped address is the IPv4 address.
    CHECK(ip("::ffff:192.0.2.1") == ip("192.0.2.1"));
    CHECK(ip("::ffff:192.0.2.1").to_string() == "192.0.2.1");
}

TEST_CASE("text that is not one address is refused") {
    for (const char* bad :
         {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4:80", "[::1]", "::1%lo", "fe80::1%eth0",
          "example.org", " 1.2.3.4", "1.2.3.4 ", "unknown", "::g"}) {
        CAPTURE(bad);
        CHECK_FALSE(IpAddress::parse(bad).has_value());
    }
    CHECK_FALSE(IpAddress::parse(std::string(100, '1')).has_value());
    CHECK_FALSE(IpAddress::parse(std::string_view("1.2.3.4\0", 8)).has_value());
}

TEST_CASE("addresses order and compare by family, then bytes") {
    CHECK(ip("10.0.0.1") < ip("10.0.0.2"));
    CHECK(ip("10.0.0.1") != ip("::a00:1"));
}

TEST_CASE("networks contain the addresses under their prefix") {
    const IpNetwork ten = net("10.0.0.0/8");
    CHECK(ten.contains(ip("10.255.1.2")));
    CHECK_FALSE(ten.contains(ip("11.0.0.0")));
    CHECK(ten.contains(ip("::ffff:10.1.1.1")));
    CHECK_FALSE(ten.contains(ip("::a01:101")));  // same bits, other family
    CHECK(net("0.0.0.0/0").contains(ip("203.0.113.9")));
    CHECK_FALSE(net("0.0.0.0/0").contains(ip("2001:db8::1")));
    CHECK(net("::/0").contains(ip("2001:db8::1")));
    CHECK(net("192.0.2.7").contains(ip("192.0.2.7")));
    CHECK_FALSE(net("192.0.2.7").contains(ip("192.0.2.6")));
    CHECK(net("2001:db8::/32").contains(ip("2001:db8:ffff::1")));
    CHECK_FALSE(net("2001:db8::/32").contains(ip("2001:db9::1")));
    CHECK(net("192.0.2.128/25").contains(ip("192.0.2.200")));
    CHECK_FALSE(net("192.0.2.128/25").contains(ip("192.0.2.127")));
    // Written against 128 bits, an IPv4-mapped network is the IPv4 network.
    CHECK(net("::ffff:10.0.0.0/104") == ten);
    CHECK(net("::ffff:10.0.0.0/104").to_string() == "10.0.0.0/8");
}

TEST_CASE("networks print in CIDR notation") {
    CHECK(net("10.0.0.0/8").to_string() == "10.0.0.0/8");
    CHECK(net("2001:db8::1").to_string() == "2001:db8::1/128");
    CHECK(net("192.0.2.7").to_string() == "192.0.2.7/32");
}

TEST_CASE("bad networks are refused with a reason") {
    CHECK(net_error("10.0.0.0/33") == "prefix length must be 0..32");
    CHECK(net_error("10.0.0.0/") == "prefix length must be 0..32");
    CHECK(net_error("10.0.0.0/8x") == "prefix length must be 0..32");
    CHECK(net_error("10.0.0.0/-1") == "prefix length must be 0..32");
    CHECK(net_error("::/129") == "prefix length must be 0..128");
    CHECK(net_error("::ffff:10.0.0.0/95") == "prefix length must be 96..128");
    CHECK(net_error("10.1.2.3/8") == "host bits are set below the /8 prefix");
    CHECK(net_error("2001:db8::1/32") == "host bits are set below the /32 prefix");
    CHECK(net_error("ten/8").starts_with("expected an IP address or network"));
    CHECK(net_error("").starts_with("expected an IP address or network"));
}
