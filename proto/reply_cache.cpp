#include "proto/reply_cache.hpp"

namespace rtmpt::proto {

void ReplyCache::evict(Entry& e) {
    if (e.reply) bytes_ -= e.reply->size();
    e.reply.reset();
}

void ReplyCache::store(std::uint64_t seq, Reply reply) {
    if (!reply) return;
    Entry& e = entries_[next_slot_];
    evict(e);
    e.seq = seq;
    bytes_ += reply->size();
    e.reply = std::move(reply);
    next_slot_ = (next_slot_ + 1) % kDepth;
    // Over budget: drop from the oldest, never the entry just stored.
    for (std::size_t i = 0; i + 1 < kDepth && bytes_ > max_bytes_; ++i)
        evict(entries_[(next_slot_ + i) % kDepth]);
}

ReplyCache::Reply ReplyCache::find(std::uint64_t seq) const {
    for (const Entry& e : entries_) {
        if (e.reply && e.seq == seq) return e.reply;
    }
    return nullptr;
}

}  // namespace rtmpt::proto
