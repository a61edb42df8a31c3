#include "proto/forwarded_for.hpp"

#include <doctest/doctest.h>

#include <vector>

using rtmpt::proto::ForwardedClient;
using rtmpt::proto::IpAddress;
using rtmpt::proto::IpNetwork;
using rtmpt::proto::resolve_forwarded_client;

namespace {

IpAddress ip(const char* text) {
    return IpAddress::parse(text).value();
}

std::vector<IpNetwork> nets(std::initializer_list<const char*> texts) {
    std::vector<IpNetwork> out;
    for (const char* t : texts) out.push_back(IpNetwork::parse(t).network.value());
    return out;
}

const std::vector<IpNetwork> kProxies = nets({"10.0.0.0/8", "2001:db8:1::/48"});

ForwardedClient resolve(const char* peer, const char* header) {
    return resolve_forwarded_client(ip(peer), header, kProxies);
}

}  // namespace

TEST_CASE("an untrusted peer's X-Forwarded-For is ignored") {
    const auto c = resolve("203.0.113.5", "198.51.100.1");
    CHECK(c.address == ip("203.0.113.5"));
    CHECK(c.hops == 0);
    CHECK_FALSE(c.malformed);
}

TEST_CASE("a trusted proxy's last entry is the client") {
    // The client wrote the first entry itself; only the proxy's own entry is believed.
    const auto c = resolve("10.0.0.2", "1.1.1.1, 198.51.100.7");
    CHECK(c.address == ip("198.51.100.7"));
    CHECK(c.hops == 1);
}

TEST_CASE("a chain of trusted proxies is walked to the first untrusted hop") {
    const auto c = resolve("10.0.0.2", "203.0.113.9,10.9.9.9, 10.1.1.1");
    CHECK(c.address == ip("203.0.113.9"));
    CHECK(c.hops == 3);
}

TEST_CASE("when every hop is trusted the leftmost is the client") {
    const auto c = resolve("10.0.0.2", "10.0.0.3, 10.0.0.4");
    CHECK(c.address == ip("10.0.0.3"));
    CHECK(c.hops == 2);
}

TEST_CASE("a trusted peer without the header is the client") {
    CHECK(resolve("10.0.0.2", "").address == ip("10.0.0.2"));
    CHECK(resolve("10.0.0.2", " , ").address == ip("10.0.0.2"));
}

TEST_CASE("entries may carry ports, IPv6 brackets and spaces") {
    CHECK(resolve("10.0.0.2", "198.51.100.7:4711").address == ip("198.51.100.7"));
    CHECK(resolve("10.0.0.2", "[2001:db8::7]:4711").address == ip("2001:db8::7"));
    CHECK(resolve("10.0.0.2", "[2001:db8::7]").address == ip("2001:db8::7"));
    CHECK(resolve("10.0.0.2", "\t2001:db8::7 ").address == ip("2001:db8::7"));
    CHECK(resolve("2001:db8:1::5", "192.0.2.1").address == ip("192.0.2.1"));
    CHECK(resolve("10.0.0.2", "::ffff:192.0.2.1").address == ip("192.0.2.1"));
}

TEST_CASE("a malformed entry stops the walk at the last believed hop") {
    for (const char* bad : {"unknown", "198.51.100.7:", "198.51.100.7:x", "[2001:db8::7", "[2001:db8::7]x",
                            "[2001:db8::7]:", "[2001:db8::7]:8a", "_hidden", "1.2.3.4.5"}) {
        CAPTURE(bad);
        const auto c = resolve("10.0.0.2", bad);
        CHECK(c.address == ip("10.0.0.2"));
        CHECK(c.malformed);
        CHECK(c.hops == 0);
    }
    const auto c = resolve("10.0.0.2", "garbage, 10.0.0.7");
    CHECK(c.address == ip("10.0.0.7"));
    CHECK(c.hops == 1);
    CHECK(c.malformed);
    // Past the first untrusted hop nothing is read, so garbage there does not matter.
    CHECK_FALSE(resolve("10.0.0.2", "garbage, 203.0.113.9").malformed);
}

TEST_CASE("without trusted proxies nothing is believed") {
    const auto c = resolve_forwarded_client(ip("10.0.0.2"), "198.51.100.7", {});
    CHECK(c.address == ip("10.0.0.2"));
    CHECK(c.hops == 0);
}
