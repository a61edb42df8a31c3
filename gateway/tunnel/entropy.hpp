// Unpredictable bytes from the kernel's CSPRNG, for session ids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace rtmpt::gateway {

// False only if the kernel cannot supply randomness; a caller must then refuse, never fall
// back to something guessable.
[[nodiscard]] bool fill_random(std::span<std::uint8_t> out);

}  // namespace rtmpt::gateway
