#include "config/host_port.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>

namespace rtmpt::config {
namespace {

[[nodiscard]] bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
[[nodiscard]] bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
[[nodiscard]] char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

[[nodiscard]] bool inet_ok(int family, const std::string& text) {
    std::array<unsigned char, 16> buf{};
    return inet_pton(family, text.c_str(), buf.data()) == 1;
}

// RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.
[[nodiscard]] bool is_dns_name(std::string_view host) {
    if (host.empty() || host.size() > 253) return false;
    std::size_t start = 0;
    while (true) {
        const std::size_t dot = host.find('.', start);
        const std::string_view label =
            host.substr(start, dot == std::string_view::npos ? host.npos : dot - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
        for (char c : label) {
            if (!is_alpha(c) && !is_digit(c) && c != '-') return false;
        }
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

// The interface name after '%' in "fe80::1%eth0".
[[nodiscard]] bool is_zone(std::string_view zone) {
    return !zone.empty() && std::all_of(zone.begin(), zone.end(), [](char c) {
        return is_alpha(c) || is_digit(c) || c == '_' || c == '-' || c == '.';
    });
}

[[nodiscard]] Parsed<std::string> check_ipv6(std::string_view host) {
    const std::size_t pct = host.find('%');
    const std::string addr(host.substr(0, pct));
    if (!inet_ok(AF_INET6, addr) || (pct != host.npos && !is_zone(host.substr(pct + 1)))) {
        return Parsed<std::string>::fail("invalid IPv6 address " + quoted(host));
    }
    return Parsed<std::string>::ok(std::string(host));
}

[[nodiscard]] Parsed<std::string> check_host(std::string_view host) {
    if (host.empty()) return Parsed<std::string>::fail("missing host before ':'");
    // All digits and dots can only be meant as IPv4; without this "300.1.1.1" would pass as a name.
    const bool numeric =
        std::all_of(host.begin(), host.end(), [](char c) { return is_digit(c) || c == '.'; });
    if (numeric) {
        if (!inet_ok(AF_INET, std::string(host))) {
            return Parsed<std::string>::fail("invalid IPv4 address " + quoted(host));
        }
        return Parsed<std::string>::ok(std::string(host));
    }
    if (!is_dns_name(host)) return Parsed<std::string>::fail("invalid host name " + quoted(host));
    return Parsed<std::string>::ok(std::string(host));
}

[[nodiscard]] Parsed<std::uint16_t> check_port(std::string_view port) {
    if (port.empty()) return Parsed<std::uint16_t>::fail("missing port after ':'");
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), is_digit)) {
        return Parsed<std::uint16_t>::fail("port must be a number 0..65535, got " + quoted(port));
    }
    unsigned value = 0;
    for (char c : port) value = value * 10 + static_cast<unsigned>(c - '0');
    if (value > 65535)
        return Parsed<std::uint16_t>::fail("port must be a number 0..65535, got " + quoted(port));
    return Parsed<std::uint16_t>::ok(static_cast<std::uint16_t>(value));
}

}  // namespace

Parsed<HostPort> parse_host_port(std::string_view text) {
    const std::string expected = "expected host:port like 127.0.0.1:1935 or [::1]:1935, got " + quoted(text);
    // Control bytes (a YAML escape can put a NUL in) would be cut off by the C calls that check
    // and resolve the host, so "[::1\0evil]" must not pass as "::1".
    for (const char c : text) {
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) == 0x7f) {
            return Parsed<HostPort>::fail(expected);
        }
    }
    std::string_view host_text;
    std::string_view port_text;
    bool bracketed = false;
    if (!text.empty() && text.front() == '[') {
        const std::size_t close = text.find(']');
        if (close == text.npos || close + 1 >= text.size() || text[close + 1] != ':') {
            return Parsed<HostPort>::fail(expected);
        }
        host_text = text.substr(1, close - 1);
        port_text = text.substr(close + 2);
        bracketed = true;
    } else {
        const std::size_t colon = text.rfind(':');
        if (colon == text.npos) return Parsed<HostPort>::fail(expected);
        host_text = text.substr(0, colon);
        port_text = text.substr(colon + 1);
        // Without brackets the port of "::1:80" cannot be told from the address.
        if (host_text.find(':') != host_text.npos) {
            return Parsed<HostPort>::fail("an IPv6 address needs brackets, like [::1]:1935, got " +
                                          quoted(text));
        }
    }
    const Parsed<std::string> host = bracketed ? check_ipv6(host_text) : check_host(host_text);
    if (!host.value) return Parsed<HostPort>::fail(host.error);
    const Parsed<std::uint16_t> port = check_port(port_text);
    if (!port.value) return Parsed<HostPort>::fail(port.error);
    return Parsed<HostPort>::ok(HostPort{*host.value, *port.value});
}

std::string format_host_port(const HostPort& hp) {
    const bool ipv6 = hp.host.find(':') != std::string::npos;
    return (ipv6 ? "[" + hp.host + "]" : hp.host) + ":" + std::to_string(hp.port);
}

bool same_address(const HostPort& a, const HostPort& b) {
    return a.port == b.port && std::equal(a.host.begin(), a.host.end(), b.host.begin(), b.host.end(),
                                          [](char x, char y) { return lower(x) == lower(y); });
}

}  // namespace rtmpt::config
