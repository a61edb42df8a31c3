// IP addresses and networks as the access rules see them: parsed from config text and from
// X-Forwarded-For, compared without sockets. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the
// IPv4 address it carries, so one rule covers a client whichever socket family it arrived on.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rtmpt::proto {

class IpAddress {
  public:
    enum class Family : std::uint8_t { v4, v6 };

    // "192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1" (taken as IPv4). No brackets, ports, zones.
    [[nodiscard]] static std::optional<IpAddress> parse(std::string_view text);
    [[nodiscard]] static IpAddress v4(const std::array<std::uint8_t, 4>& bytes);
    [[nodiscard]] static IpAddress v6(const std::array<std::uint8_t, 16>& bytes);

    [[nodiscard]] Family family() const { return family_; }
    [[nodiscard]] unsigned bits() const { return family_ == Family::v4 ? 32 : 128; }
    // Bit `i` counted from the most significant bit of the first byte.
    [[nodiscard]] bool bit(unsigned i) const { return (bytes_[i / 8] >> (7 - i % 8)) & 1U; }

    // Network byte order; an IPv4 address fills the first four.
    [[nodiscard]] const std::array<std::uint8_t, 16>& bytes() const { return bytes_; }

    // The canonical text: dotted quad, or RFC 5952 IPv6.
    [[nodiscard]] std::string to_string() const;

    friend auto operator<=>(const IpAddress&, const IpAddress&) = default;

  private:
    Family family_ = Family::v4;
    std::array<std::uint8_t, 16> bytes_{};  // IPv4 uses the first four
};

// A network in CIDR notation: "10.0.0.0/8", "2001:db8::/32"; a bare address is a /32 or /128.
class IpNetwork {
  public:
    struct Parsed;
    // Host bits set below the prefix ("10.1.2.3/8") are refused: the rule would not mean what it
    // seems to say.
    [[nodiscard]] static Parsed parse(std::string_view text);

    [[nodiscard]] bool contains(const IpAddress& address) const;
    [[nodiscard]] std::string to_string() const;

    friend bool operator==(const IpNetwork&, const IpNetwork&) = default;

  private:
    IpNetwork(IpAddress base, unsigned prefix) : base_(base), prefix_(prefix) {}

    IpAddress base_;
    unsigned prefix_ = 0;
};

struct IpNetwork::Parsed {
    std::optional<IpNetwork> network;
    std::string error;  // set when network is empty
};

}  // namespace rtmpt::proto
