#include "gateway/tunnel/session.hpp"

#include "gateway/loop/timeval.hpp"
#include "gateway/loop/worker.hpp"

#include <cstdio>

namespace rtmpt::gateway {

using proto::HttpStatus;
using proto::RouteKind;

namespace {

// The body of every /close reply; 0x00 is never a polling byte.
constexpr std::string_view kCloseReplyBody{"\0", 1};

}  // namespace

Session::Session(Worker& worker, std::string id, std::string client, std::string client_address,
                 Transport transport, std::string backend_preamble)
    : SessionBase(std::move(id), std::move(client), std::move(client_address), transport,
                  std::move(backend_preamble)),
      worker_(worker),
      snapshot_(worker.snapshot()),
      last_request_at_(opened_at_),
      backend_(*this, worker.base(), worker.dns(), snapshot_->config.backend,
               snapshot_->config.session.queue_max_bytes, worker.backend_scratch()),
      // Retried replies are kept up to two full replies' worth (the newest always): eight cached
      // full replies per session would be 512 MiB at 1000 downloading sessions.
      cache_(proto::ReplyCache::budget_for(snapshot_->config.session.reply_max_bytes)),
      hold_timer_(evtimer_new(worker.base(), &Session::on_hold_timeout, this)) {}

Session::~Session() = default;

void Session::start() {
    worker_.log().info("session open sid=" + id() + " client=" + client() +
                       " transport=" + std::string(transport_name(transport())));
    backend_.connect(backend_preamble_);
}

void Session::submit(RouteKind kind, std::optional<std::uint64_t> seq, std::string body, ReplySlotPtr slot) {
    if (state_ != State::open) {
        slot->fill(replies().error(HttpStatus::not_found, "unknown session", false));
        return;
    }
    last_request_at_ = Clock::now();
    ++requests_;
    // Any new request frees a held idle: the client is active, and a held reply would also
    // block whatever the client pipelined behind it on that connection.
    release_held();
    if (state_ != State::open) {
        slot->fill(replies().error(HttpStatus::not_found, "unknown session", false));
        return;
    }

    if (!seq) {
        close_waiters_.push_back(std::move(slot));
        pump();
        return;
    }

    const bool was_awaiting_base = window_.awaiting_base();
    const auto verdict = window_.classify(*seq);
    if (window_.awaiting_base() != was_awaiting_base) {
        if (was_awaiting_base) {
            // The 0 came after all: Flash's two first requests overtook each other.
            evtimer_del(base_timer_.get());
            ++worker_.counters().sequence_start_reordered;
            worker_.log().debug("session sid=" + id() + " seq 0 arrived after seq 1: numbers start at 0");
        } else {
            await_base();
        }
    }
    switch (verdict) {
        case proto::SequenceWindow::Verdict::in_window: {
            // Bodies parked behind a missing number are capped like any queue: without it, sends
            // on many connections that skip one number park a whole window of max-size bodies.
            // In-order sends waiting for backend room are not refused: that is librtmp pipelining
            // under backpressure, bounded by the window and slowed by TCP.
            const std::size_t cap = cfg().session.queue_max_bytes;
            if (behind_gap(*seq) && !pending_.contains(*seq) && pending_bytes_ + body.size() > cap) {
                ++worker_.counters().refused_queue_full;
                worker_.log().info("session sid=" + id() + " answered 503: seq " + std::to_string(*seq) +
                                   " with " + std::to_string(body.size()) + " bytes would park more than " +
                                   "session.queue_max_bytes; " + std::to_string(pending_bytes_) + " waiting");
                slot->fill(replies().error(HttpStatus::service_unavailable, "session queue full", false));
                return;
            }
            auto [it, inserted] = pending_.try_emplace(*seq);
            if (inserted) {
                it->second.kind = kind;
                it->second.body = std::move(body);
                pending_bytes_ += it->second.body.size();
            } else if (it->second.waiters.size() >= kMaxWaiters) {
                ++worker_.counters().refused_retries;
                worker_.log().info("session sid=" + id() + " answered 400: seq " + std::to_string(*seq) +
                                   " retried more than " + std::to_string(kMaxWaiters - 1) +
                                   " times while waiting");
                slot->fill(replies().error(HttpStatus::bad_request, "too many retries", false));
                return;
            }
            it->second.waiters.push_back(std::move(slot));
            pump();
            return;
        }
        case proto::SequenceWindow::Verdict::already_seen: {
            if (const auto cached = cache_.find(*seq)) {
                ++worker_.counters().retries_from_cache;
                worker_.log().debug("session sid=" + id() + " retry of seq " + std::to_string(*seq) +
                                    " answered from cache");
                slot->fill(cached);
            } else {
                ++worker_.counters().refused_stale_sequence;
                const std::string why = *seq < window_.first()
                                            ? " came after session.sequence_base_wait had taken " +
                                                  std::to_string(window_.first()) + " as the first number"
                                            : " already used and older than the reply cache";
                worker_.log().info("session sid=" + id() + " answered 400: seq " + std::to_string(*seq) +
                                   why + "; expected " + std::to_string(window_.next()));
                slot->fill(replies().error(HttpStatus::bad_request, "sequence number already used", false));
            }
            return;
        }
        case proto::SequenceWindow::Verdict::out_of_window:
            slot->fill(replies().error(HttpStatus::bad_request, "sequence number out of window", false));
            end(CloseReason::sequence_out_of_window,
                "seq " + std::to_string(*seq) + ", expected " +
                    (window_.base() == proto::SequenceWindow::Base::fixed ? std::to_string(window_.next())
                                                                          : std::string("0 or 1 first")));
            return;
    }
}

bool Session::behind_gap(std::uint64_t seq) const {
    // While the base is awaited the numbers may start at 1: a 1 waiting for it, and whatever follows
    // it in order, is not parked behind a gap (a Red5 client's handshake comes as seq 1).
    const std::uint64_t from = window_.awaiting_base() ? 1 : window_.next();
    const auto before =
        static_cast<std::uint64_t>(std::distance(pending_.begin(), pending_.lower_bound(seq)));
    return before < seq - from;
}

void Session::await_base() {
    const auto wait = cfg().session.sequence_base_wait;
    if (wait.count() == 0) {
        window_.settle_base();
        ++worker_.counters().sequence_start_one;
        return;
    }
    if (!base_timer_) base_timer_.reset(evtimer_new(worker_.base(), &Session::on_base_wait_end, this));
    const timeval tv = to_timeval(wait);
    evtimer_add(base_timer_.get(), &tv);
}

void Session::on_base_wait_end(evutil_socket_t, short, void* arg) {
    static_cast<Session*>(arg)->end_base_wait();
}

void Session::end_base_wait() {
    if (state_ != State::open || !window_.awaiting_base()) return;
    window_.settle_base();
    ++worker_.counters().sequence_start_one;
    worker_.log().debug("session sid=" + id() +
                        " no seq 0 within session.sequence_base_wait: numbers start at 1");
    pump();
}

void Session::pump() {
    // Nothing is applied before the first number is known; the base wait bounds this, so no
    // gap deadline runs meanwhile.
    if (window_.awaiting_base()) return;
    while (state_ == State::open) {
        auto it = pending_.find(window_.next());
        if (it == pending_.end()) break;
        // Backpressure: while the backend is not taking bytes, client sends wait in order
        // (and their replies with them), so a fast client slows down instead of growing memory.
        if (it->second.kind == RouteKind::send && backend_.congested()) break;
        const std::uint64_t seq = it->first;
        PendingRequest req = std::move(it->second);
        pending_bytes_ -= req.body.size();
        pending_.erase(it);
        window_.advance();
        apply(seq, std::move(req));
    }
    if (pending_.empty() || pending_.contains(window_.next())) {
        gap_since_.reset();
    } else if (!gap_since_) {
        gap_since_ = Clock::now();
    }
    finish_close_if_due();
}

void Session::finish_close_if_due() {
    if (state_ != State::open || close_waiters_.empty()) return;
    // Sends waiting only for backend room still go first; a gap in the numbers will never
    // fill once the client has said it is done, so it does not hold the close back.
    if (pending_.contains(window_.next())) return;
    end(CloseReason::client_close);
}

void Session::apply(std::uint64_t seq, PendingRequest req) {
    switch (req.kind) {
        case RouteKind::send:
            if (!backend_.gone()) {
                std::string_view body = req.body;
                // The byte cap is exact both ways: bytes past it are not forwarded.
                if (const std::size_t cap = cfg().session.max_bytes; cap != 0) {
                    body = body.substr(0, cap - std::min<std::uint64_t>(cap, bytes_up_));
                }
                const std::size_t sent = backend_.write(body);
                bytes_up_ += sent;
                worker_.counters().count_up(transport(), sent);
            }
            if (!req.body.empty()) handshake_seen_ = true;
            answer(seq, req.waiters, /*read_socket=*/false);
            if (state_ == State::open && over_byte_limit()) end(CloseReason::byte_limit);
            return;
        case RouteKind::idle:
            backend_.top_up(reply_target());
            if (may_hold()) {
                hold(seq, std::move(req), Hold::for_data, cfg().session.idle_hold);
            } else if (may_coalesce()) {
                ++worker_.counters().idles_coalesced;
                hold(seq, std::move(req), Hold::for_more, cfg().session.coalesce_wait);
            } else {
                answer(seq, req.waiters, /*read_socket=*/false);
            }
            return;
        case RouteKind::close:
            // Ended first: once the client has its reply, its places under the session limits are
            // free, on every worker (a next /open may come on another worker's connection at once).
            end(CloseReason::client_close);
            for (auto& w : req.waiters) w->fill(replies().tunnel(kCloseReplyBody));
            return;
        default:
            answer_with_error(req.waiters, 404, "unknown request");
            return;
    }
}

void Session::answer(std::uint64_t seq, std::vector<ReplySlotPtr>& waiters, bool read_socket) {
    if (backend_.gone() && backend_.queued_in() == 0) {
        // Everything the backend sent has been delivered: now the client learns it is over.
        answer_with_error(waiters, 404, "session ended");
        end(backend_end_.value_or(CloseReason::backend_closed), backend_detail_);
        return;
    }
    const std::size_t max = reply_target();
    // Whatever the backend has sent by now goes into a poll's reply, not only what the loop has
    // read. A send's reply is built from the queue alone, as before: a client (or load tool) that
    // counts a send's bytes as delivered once its reply arrives must not find their echo in it.
    if (read_socket) backend_.top_up(max);
    const std::size_t n = std::min(max, backend_.queued_in());
    // Built in place: the head, the polling byte, then the backend bytes copied once from the queue.
    std::string reply = replies().tunnel_head(1 + n);
    reply.push_back(static_cast<char>(polling_.next(n > 0)));
    const std::size_t taken = backend_.take(reply, n);
    bytes_down_ += taken;
    ++(taken == 0 ? worker_.counters().replies_empty : worker_.counters().replies_data);
    worker_.counters().count_down(transport(), taken);
    if (taken == 0) ++empty_replies_;
    auto shared = std::make_shared<const std::string>(std::move(reply));
    for (auto& w : waiters) w->fill(shared);
    cache_.store(seq, std::move(shared));
    if (over_byte_limit()) end(CloseReason::byte_limit);
}

bool Session::over_byte_limit() const {
    const std::size_t cap = cfg().session.max_bytes;
    return cap != 0 && (bytes_up_ >= cap || bytes_down_ >= cap);
}

bool Session::may_hold() const {
    return cfg().session.idle_hold.count() > 0 && !held_seq_ && pending_.empty() &&
           backend_.queued_in() == 0 && !backend_.gone();
}

bool Session::may_coalesce() const {
    const std::size_t queued = backend_.queued_in();
    // Also when the socket was found empty just now: a live stream's bytes come in bursts (a
    // frame at a time), and the next burst is what a fuller reply waits for.
    return streaming() && !held_seq_ && pending_.empty() && queued > 0 && queued < reply_target() &&
           !backend_.gone();
}

bool Session::streaming() const {
    // Not before the session has had a full reply's worth: the handshake and the connect,
    // createStream and publish exchanges are small answers a client waits for, and holding each
    // would slow a publisher's start (measured: 50 ms over ffmpeg's push at 5ms).
    return cfg().session.coalesce_wait.count() > 0 && bytes_down_ >= cfg().session.reply_max_bytes - 1;
}

std::size_t Session::reply_target() const {
    // A full reply: the polling byte and this many backend bytes, or what session.max_bytes leaves.
    // The cap is on the whole body: proxies that cap a reply's size count the polling byte too.
    std::size_t target = cfg().session.reply_max_bytes - 1;
    if (const std::size_t cap = cfg().session.max_bytes; cap != 0) {
        target = std::min<std::size_t>(target, cap - std::min<std::uint64_t>(cap, bytes_down_));
    }
    return target;
}

void Session::hold(std::uint64_t seq, PendingRequest req, Hold kind, Duration wait) {
    held_seq_ = seq;
    held_waiters_ = std::move(req.waiters);
    hold_kind_ = kind;
    const timeval tv = to_timeval(wait);
    evtimer_add(hold_timer_.get(), &tv);
}

void Session::release_held() {
    if (!held_seq_) return;
    evtimer_del(hold_timer_.get());
    const std::uint64_t seq = *held_seq_;
    std::vector<ReplySlotPtr> waiters = std::move(held_waiters_);
    held_seq_.reset();
    held_waiters_.clear();
    answer(seq, waiters, /*read_socket=*/true);
}

void Session::on_hold_timeout(evutil_socket_t, short, void* arg) {
    static_cast<Session*>(arg)->release_held();
}

void Session::answer_with_error(std::vector<ReplySlotPtr>& waiters, int status, std::string_view why) {
    for (auto& w : waiters) w->fill(replies().error(static_cast<HttpStatus>(status), why, false));
}

void Session::check_timers(Clock::time_point now) {
    if (state_ != State::open) return;
    const auto& limits = cfg().session;
    if (limits.max_lifetime.count() != 0 && now - opened_at_ >= limits.max_lifetime) {
        end(CloseReason::max_lifetime);
        return;
    }
    if (!handshake_seen_ && now - opened_at_ >= limits.handshake_timeout) {
        end(CloseReason::handshake_timeout);
        return;
    }
    if (gap_since_ && now - *gap_since_ >= limits.sequence_gap_timeout) {
        end(CloseReason::sequence_gap, "waiting for seq " + std::to_string(window_.next()));
        return;
    }
    if (now - last_request_at_ < limits.idle_timeout) return;
    if (backend_.gone()) {
        end(backend_end_.value_or(CloseReason::backend_closed), backend_detail_);
    } else {
        end(CloseReason::idle_timeout);
    }
}

void Session::on_backend_connected() {
    worker_.counters().backend_connect_seconds.observe(
        std::chrono::duration<double>(backend_.connect_time()).count());
    worker_.log().debug("session sid=" + id() + " backend connected");
}

void Session::on_backend_data() {
    if (!held_seq_) return;
    // A full reply's worth goes at once; less waits out session.coalesce_wait for more.
    if (backend_.queued_in() >= reply_target()) {
        release_held();
        return;
    }
    if (hold_kind_ == Hold::for_more) return;
    if (!streaming()) {
        release_held();
        return;
    }
    // An empty idle was held and the first bytes have come: the stream flows again.
    ++worker_.counters().idles_coalesced;
    hold_kind_ = Hold::for_more;
    const timeval tv = to_timeval(cfg().session.coalesce_wait);
    evtimer_add(hold_timer_.get(), &tv);
}

void Session::on_backend_drained() {
    pump();
}

void Session::on_backend_gone(CloseReason reason, std::string detail) {
    backend_end_ = reason;
    backend_detail_ = std::move(detail);
    // Sends waiting for backend room can go now: their bytes have nowhere to go.
    pump();
    release_held();
    // Nothing left to deliver: end now rather than when the client next asks (or never does).
    if (state_ == State::open && backend_.queued_in() == 0) end(*backend_end_, backend_detail_);
}

void Session::end(CloseReason reason, std::string_view detail) {
    if (state_ != State::open) return;
    state_ = State::ended;
    // Out of the session table and the limits before anything is logged or answered: whoever
    // sees the end line or a reply may open a new session at once, on any worker. The object
    // itself lives on until the worker's reaper runs.
    worker_.retire(*this);
    ++worker_.counters().sessions_closed[static_cast<std::size_t>(reason)];
    evtimer_del(hold_timer_.get());
    if (base_timer_) evtimer_del(base_timer_.get());
    worker_.log().info(
        end_line(reason, detail,
                 "requests=" + std::to_string(requests_) + " empty=" + std::to_string(empty_replies_) + " "));

    // Whatever still waits gets a definite answer rather than a hung request.
    for (auto& w : close_waiters_) w->fill(replies().tunnel(kCloseReplyBody));
    close_waiters_.clear();
    answer_with_error(held_waiters_, 404, "session ended");
    held_waiters_.clear();
    held_seq_.reset();
    for (auto& [seq, req] : pending_) answer_with_error(req.waiters, 404, "session ended");
    pending_.clear();
    pending_bytes_ = 0;
    backend_.close(worker_.linger());
}

SessionInfo Session::info(Clock::time_point now) const {
    SessionInfo i = common_info(now, last_request_at_);
    if (state_ == State::ended) {
        i.state = "ended";
    } else if (!close_waiters_.empty()) {
        i.state = "closing";  // a /close waits for earlier sends
    } else if (!handshake_seen_) {
        i.state = "handshake";  // opened; no client bytes yet
    } else {
        i.state = "open";
    }
    i.backend = backend_state_name(backend_.state());
    return i;
}

}  // namespace rtmpt::gateway
