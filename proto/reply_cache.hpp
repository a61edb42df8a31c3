// Keeps the last few replies of a session by sequence number, so that a client retrying a
// request whose reply it lost (HaishinKit retries once with the same number) gets the same
// bytes again instead of a second application of its body.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rtmpt::proto {

class ReplyCache {
  public:
    static constexpr std::size_t kDepth = 8;

    void store(std::uint64_t seq, std::string reply);

    // The cached reply of `seq`, if it is still among the last kDepth stored.
    [[nodiscard]] std::optional<std::string_view> find(std::uint64_t seq) const;

    // Bytes held, for memory accounting.
    [[nodiscard]] std::size_t bytes() const;

  private:
    struct Entry {
        std::uint64_t seq = 0;
        bool used = false;
        std::string reply;
    };
    std::array<Entry, kDepth> entries_{};
    std::size_t next_slot_ = 0;
};

}  // namespace rtmpt::proto
