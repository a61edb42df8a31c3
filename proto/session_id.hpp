// Session ids: 128 random bits, base64url without padding (22 characters), so that no client
// can guess another's id. The randomness comes from the caller: this file stays pure.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace rtmpt::proto {

inline constexpr std::size_t kSessionIdRandomBytes = 16;
inline constexpr std::size_t kSessionIdLength = 22;

using SessionIdEntropy = std::array<std::uint8_t, kSessionIdRandomBytes>;

[[nodiscard]] std::string format_session_id(const SessionIdEntropy& random_bytes);

// True for 1..kMaxSessionIdLength URL-safe characters: what a route may carry as an id.
// Whether such a session exists is the session table's business.
[[nodiscard]] bool is_well_formed_session_id(std::string_view id);

}  // namespace rtmpt::proto
