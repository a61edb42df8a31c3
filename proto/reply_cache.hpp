// Keeps the last few replies of a session by sequence number, so that a client retrying a
// request whose reply it lost (HaishinKit retries once with the same number) gets the same
// bytes again instead of a second application of its body.
//
// Replies are shared, not copied: the one cached is the one the connection writes. The cache is
// bounded in count and in bytes: past its byte budget the oldest replies go first, but the newest
// always stays, since the reply a client retries is the one it was waiting for. A retry of an
// evicted reply is refused, never answered with other bytes.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>

namespace rtmpt::proto {

class ReplyCache {
  public:
    using Reply = std::shared_ptr<const std::string>;
    static constexpr std::size_t kDepth = 8;

    // The byte budget that holds the two newest full replies, heads included: the reply a client
    // retries and one answered after it on another connection (Flash polls on several).
    [[nodiscard]] static constexpr std::size_t budget_for(std::size_t reply_max_bytes) {
        return 2 * (reply_max_bytes + kHeadAllowance);
    }
    static constexpr std::size_t kHeadAllowance = 512;  // status line and headers of one reply

    explicit ReplyCache(std::size_t max_bytes = std::numeric_limits<std::size_t>::max())
        : max_bytes_(max_bytes) {}

    void store(std::uint64_t seq, Reply reply);

    // The cached reply of `seq`, or null if it is not (or no longer) held.
    [[nodiscard]] Reply find(std::uint64_t seq) const;

    // Bytes held, for memory accounting.
    [[nodiscard]] std::size_t bytes() const { return bytes_; }

  private:
    struct Entry {
        std::uint64_t seq = 0;
        Reply reply;  // null: unused
    };
    void evict(Entry& e);

    std::array<Entry, kDepth> entries_{};  // a ring; next_slot_ is the oldest
    std::size_t next_slot_ = 0;
    std::size_t bytes_ = 0;
    const std::size_t max_bytes_;
};

}  // namespace rtmpt::proto
