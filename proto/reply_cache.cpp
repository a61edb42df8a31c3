#include "proto/reply_cache.hpp"

namespace rtmpt::proto {

void ReplyCache::store(std::uint64_t seq, std::string reply) {
    Entry& e = entries_[next_slot_];
    e.seq = seq;
    e.used = true;
    e.reply = std::move(reply);
    next_slot_ = (next_slot_ + 1) % kDepth;
}

std::optional<std::string_view> ReplyCache::find(std::uint64_t seq) const {
    for (const Entry& e : entries_) {
        if (e.used && e.seq == seq) return std::string_view{e.reply};
    }
    return std::nullopt;
}

std::size_t ReplyCache::bytes() const {
    std::size_t total = 0;
    for (const Entry& e : entries_) total += e.reply.size();
    return total;
}

}  // namespace rtmpt::proto
