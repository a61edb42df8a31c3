// One RTMPT tunnel session: the client's requests, applied in sequence order whatever
// connection carried them, mapped onto one backend connection.
#pragma once

#include "gateway/admin/admin_json.hpp"
#include "gateway/client/reply_slot.hpp"
#include "gateway/loop/config_snapshot.hpp"
#include "gateway/loop/event_ptr.hpp"
#include "gateway/tunnel/backend_link.hpp"
#include "gateway/tunnel/close_reason.hpp"
#include "gateway/tunnel/session_base.hpp"
#include "proto/polling_byte.hpp"
#include "proto/reply_cache.hpp"
#include "proto/route.hpp"
#include "proto/sequence_window.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rtmpt::gateway {

class Worker;

class Session final : public SessionBase, private BackendEvents {
  public:
    enum class State {
        open,   // requests are applied and answered
        ended,  // torn down and logged; waiting for the worker to free it
    };

    // `transport`: rtmpt or rtmpts, after the connection whose /open made the session.
    Session(Worker& worker, std::string id, std::string client, std::string client_address,
            Transport transport, std::string backend_preamble);
    ~Session() override;

    void start() override;

    // One tunnel request (send, idle or close) for this session; its reply goes into `slot`.
    void submit(proto::RouteKind kind, std::optional<std::uint64_t> seq, std::string body, ReplySlotPtr slot);

    // Called by the worker's janitor: ends the session if the client has stopped polling, never
    // sent its handshake, or the session has outlived session.max_lifetime.
    void check_timers(Clock::time_point now) override;

    void end(CloseReason reason, std::string_view detail = {}) override;
    [[nodiscard]] bool ended() const override { return state_ == State::ended; }
    [[nodiscard]] Session* rtmpt() override { return this; }

    [[nodiscard]] State state() const { return state_; }
    // The configuration as it was when the session opened: reloads do not change a live session.
    [[nodiscard]] const config::Config& cfg() const { return snapshot_->config; }

    // For the admin pages. The info points into the session: use it before the session can end.
    [[nodiscard]] SessionInfo info(Clock::time_point now) const override;
    [[nodiscard]] std::size_t queued_up() const override { return backend_.queued_out() + pending_bytes_; }
    [[nodiscard]] std::size_t queued_down() const override { return backend_.queued_in(); }

  private:
    // A request waiting for its turn, with every slot that asked for it (a retry of a waiting
    // request gets the same reply as the original).
    // A request and its retries share one reply; more retries than this of one waiting request
    // are refused rather than each holding a slot (and its connection) open.
    static constexpr std::size_t kMaxWaiters = 4;

    struct PendingRequest {
        proto::RouteKind kind = proto::RouteKind::idle;
        std::string body;
        std::vector<ReplySlotPtr> waiters;
    };

    void on_backend_connected() override;
    void on_backend_data() override;
    void on_backend_drained() override;
    void on_backend_gone(CloseReason reason, std::string detail) override;

    void pump();
    // True when some number between the next expected one and `seq` has not arrived.
    [[nodiscard]] bool behind_gap(std::uint64_t seq) const;
    void finish_close_if_due();
    [[nodiscard]] bool over_byte_limit() const;
    void apply(std::uint64_t seq, PendingRequest req);
    // `read_socket`: read the backend socket first, for what it holds beyond the queue.
    void answer(std::uint64_t seq, std::vector<ReplySlotPtr>& waiters, bool read_socket);
    // Why an idle is held back: nothing to send yet (session.idle_hold), or some bytes but less
    // than a full reply while the stream flows (session.coalesce_wait).
    enum class Hold {
        for_data,  // waiting for the backend's first bytes
        for_more,  // bytes are queued; waiting for a full reply's worth
    };
    using Duration = config::Duration;
    void hold(std::uint64_t seq, PendingRequest req, Hold kind, Duration wait);
    [[nodiscard]] bool may_coalesce() const;
    // Whether idles may wait for fuller replies: coalescing is on and the stream has started.
    [[nodiscard]] bool streaming() const;
    // The backend bytes that make a reply full.
    [[nodiscard]] std::size_t reply_target() const;
    void release_held();
    [[nodiscard]] bool may_hold() const;
    void answer_with_error(std::vector<ReplySlotPtr>& waiters, int status, std::string_view why);
    static void on_hold_timeout(evutil_socket_t, short, void* arg);
    void await_base();
    void end_base_wait();
    static void on_base_wait_end(evutil_socket_t, short, void* arg);

    [[nodiscard]] const proto::ReplyBuilder& replies() const { return snapshot_->replies; }

    Worker& worker_;
    const ConfigSnapshotPtr snapshot_;  // before backend_, which keeps a reference into it
    Clock::time_point last_request_at_;
    State state_ = State::open;

    BackendLink backend_;
    proto::SequenceWindow window_;
    proto::ReplyCache cache_;
    proto::PollingByte polling_;
    std::map<std::uint64_t, PendingRequest> pending_;  // in window, not yet applied
    std::size_t pending_bytes_ = 0;                    // their bodies; past a gap, capped at queue_max_bytes
    std::optional<Clock::time_point> gap_since_;       // when requests began waiting for a missing number
    // Made only when a session's first request to arrive is numbered 1: runs out
    // session.sequence_base_wait after it, unless a 0 comes first.
    EventPtr base_timer_;

    // Closes without a sequence number (HaishinKit, RootEncoder): answered once everything the
    // client sent before them has been applied.
    std::vector<ReplySlotPtr> close_waiters_;

    std::optional<std::uint64_t> held_seq_;  // an idle held back until data arrives or the hold ends
    std::vector<ReplySlotPtr> held_waiters_;
    Hold hold_kind_ = Hold::for_data;
    EventPtr hold_timer_;

    // Why the backend went away, reported when the client has drained what it left.
    std::optional<CloseReason> backend_end_;
    std::string backend_detail_;

    bool handshake_seen_ = false;      // the client has sent its first bytes
    std::uint64_t requests_ = 0;       // tunnel requests received, retries included
    std::uint64_t empty_replies_ = 0;  // send/idle replies with no backend bytes: the polling cost
};

}  // namespace rtmpt::gateway
