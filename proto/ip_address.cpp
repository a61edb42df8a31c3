#include "proto/ip_address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace rtmpt::proto {
namespace {

constexpr std::array<std::uint8_t, 12> kV4MappedPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

// inet_pton wants a NUL-terminated string; addresses are short, so anything longer is not one.
constexpr std::size_t kMaxText = 64;

}  // namespace

IpAddress IpAddress::v4(const std::array<std::uint8_t, 4>& bytes) {
    IpAddress a;
    a.family_ = Family::v4;
    std::copy(bytes.begin(), bytes.end(), a.bytes_.begin());
    return a;
}

IpAddress IpAddress::v6(const std::array<std::uint8_t, 16>& bytes) {
    if (std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), bytes.begin())) {
        return v4({bytes[12], bytes[13], bytes[14], bytes[15]});
    }
    IpAddress a;
    a.family_ = Family::v6;
    a.bytes_ = bytes;
    return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
    // inet_pton would stop at a NUL and accept what came before it.
    if (text.empty() || text.size() >= kMaxText || text.find('\0') != std::string_view::npos)
        return std::nullopt;
    char buf[kMaxText];
    std::copy(text.begin(), text.end(), buf);
    buf[text.size()] = '\0';
    if (text.find(':') == std::string_view::npos) {
        std::array<std::uint8_t, 4> b{};
        if (inet_pton(AF_INET, buf, b.data()) != 1) return std::nullopt;
        return v4(b);
    }
    std::array<std::uint8_t, 16> b{};
    if (inet_pton(AF_INET6, buf, b.data()) != 1) return std::nullopt;
    return v6(b);
}

std::string IpAddress::to_string() const {
    char buf[INET6_ADDRSTRLEN];
    const int af = family_ == Family::v4 ? AF_INET : AF_INET6;
    if (inet_ntop(af, bytes_.data(), buf, sizeof buf) == nullptr) return "?";
    return buf;
}

IpNetwork::Parsed IpNetwork::parse(std::string_view text) {
    const auto slash = text.find('/');
    const std::string_view address_text = text.substr(0, slash);
    const std::optional<IpAddress> base = IpAddress::parse(address_text);
    if (!base) return {std::nullopt, "expected an IP address or network like 10.0.0.0/8 or 2001:db8::/32"};
    // An IPv4-mapped network is written against 128 bits; it keeps meaning the same IPv4 range.
    const bool mapped =
        base->family() == IpAddress::Family::v4 && address_text.find(':') != std::string_view::npos;
    const unsigned written_bits = mapped ? 128 : base->bits();
    unsigned prefix = base->bits();
    if (slash != std::string_view::npos) {
        const std::string_view digits = text.substr(slash + 1);
        const char* end = digits.data() + digits.size();
        unsigned written = 0;
        const auto [ptr, ec] = std::from_chars(digits.data(), end, written);
        const unsigned least = mapped ? 96 : 0;
        if (digits.empty() || ec != std::errc{} || ptr != end || written < least || written > written_bits) {
            return {std::nullopt,
                    "prefix length must be " + std::to_string(least) + ".." + std::to_string(written_bits)};
        }
        prefix = written - least;
    }
    for (unsigned i = prefix; i < base->bits(); ++i) {
        if (base->bit(i)) {
            return {std::nullopt, "host bits are set below the /" + std::to_string(prefix) + " prefix"};
        }
    }
    return {IpNetwork(*base, prefix), {}};
}

bool IpNetwork::contains(const IpAddress& address) const {
    if (address.family() != base_.family()) return false;
    for (unsigned i = 0; i < prefix_; ++i) {
        if (address.bit(i) != base_.bit(i)) return false;
    }
    return true;
}

std::string IpNetwork::to_string() const {
    return base_.to_string() + "/" + std::to_string(prefix_);
}

}  // namespace rtmpt::proto
