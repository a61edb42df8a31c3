// Session ids: 128 random bits, base64url without padding (22 characters), so that no client
// can guess another's id. The randomness comes from the caller: this file stays pure.
//
// With several gateway nodes behind one load balancer, an id starts with the node's tag and a
// dot ("n1.Hk3..."), so that the balancer can send every request of a session to the node that
// opened it by reading the path alone. The dot is in neither the tag's alphabet nor base64url's,
// so the tag ends at the first dot, whatever its length. Real clients echo the id verbatim:
// librtmp keeps the open reply's body minus its last byte, ffmpeg trims trailing white space from
// a read of at most 64 bytes; a dot is an unreserved URL character that neither alters.
//
// A gateway with several workers (process.workers) puts one more character in front of the
// random part, after the tag: the worker that owns the session, as one base64url digit. Any
// worker can then tell from the path alone which one a request belongs to, and every id keeps
// its 128 random bits. With one worker there is no such character: the ids are as before.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rtmpt::proto {

inline constexpr std::size_t kSessionIdRandomBytes = 16;
inline constexpr std::size_t kSessionIdLength = 22;  // the random part
inline constexpr std::size_t kMaxNodeTagLength = 16;
inline constexpr char kNodeTagSeparator = '.';
// One base64url digit names the worker.
inline constexpr unsigned kMaxWorkers = 64;
// The longest id a route may carry: a full tag, its dot, the worker digit and the random part
// (40, well below ffmpeg's 64-byte read of the open reply).
inline constexpr std::size_t kMaxSessionIdLength = kMaxNodeTagLength + 1 + 1 + kSessionIdLength;

using SessionIdEntropy = std::array<std::uint8_t, kSessionIdRandomBytes>;

// 1..kMaxNodeTagLength of [A-Za-z0-9_-]: characters that need no escaping in a URL path, a log
// line or an HAProxy map.
[[nodiscard]] bool is_valid_node_tag(std::string_view tag);

// The random part alone when node_tag is empty, else "<node_tag>.<random part>"; with `worker`
// (below kMaxWorkers), its digit goes right before the random part.
// node_tag must be empty or pass is_valid_node_tag (the config checks it at load).
[[nodiscard]] std::string format_session_id(const SessionIdEntropy& random_bytes,
                                            std::string_view node_tag = {},
                                            std::optional<unsigned> worker = {});

// The worker a well-formed id names, or nothing for an id without a worker digit (the part after
// the tag is not exactly one digit longer than a random part).
[[nodiscard]] std::optional<unsigned> worker_of(std::string_view id);

// True for 1..kMaxSessionIdLength URL-safe characters, optionally split once by a dot after a
// valid node tag: what a route may carry as an id. Whether such a session exists is the session
// table's business.
[[nodiscard]] bool is_well_formed_session_id(std::string_view id);

// The tag an id starts with, or empty for an untagged id. Meaningful for well-formed ids.
[[nodiscard]] std::string_view node_tag_of(std::string_view id);

}  // namespace rtmpt::proto
