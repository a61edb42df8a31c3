// A native RTMP client (rtmp:// or rtmps://) that came in on a gateway port: its bytes are relayed
// both ways, unchanged, over one backend connection. It has a session's limits (the caps, access
// rules, max_lifetime, max_bytes, an idle timeout for bytes either way, the handshake deadline),
// its log lines, its counters and its row in /sessions, as an RTMPT session has.
#pragma once

#include "gateway/loop/config_snapshot.hpp"
#include "gateway/loop/event_ptr.hpp"
#include "gateway/tunnel/backend_link.hpp"
#include "gateway/tunnel/session_base.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rtmpt::gateway {

class Worker;

class NativeSession final : public SessionBase, private BackendEvents {
  public:
    enum class State {
        open,   // bytes flow
        ended,  // logged; the client connection lingers until its last bytes are out
    };

    // `client`: the client's connection, handed over by the HTTP side once its first bytes were
    // RTMP; `first_bytes` are what was read from it before, and go to the backend first.
    NativeSession(Worker& worker, std::string id, std::string client, std::string client_address,
                  Transport transport, std::string backend_preamble, BufferEventPtr client_connection,
                  std::string_view first_bytes);
    ~NativeSession() override;

    void start() override;
    void check_timers(Clock::time_point now) override;
    void end(CloseReason reason, std::string_view detail = {}) override;
    [[nodiscard]] bool ended() const override { return state_ == State::ended; }
    [[nodiscard]] SessionInfo info(Clock::time_point now) const override;
    [[nodiscard]] std::size_t queued_up() const override;
    [[nodiscard]] std::size_t queued_down() const override;

  private:
    // C0 and C1: until this much has come from the client, its handshake is not in.
    static constexpr std::uint64_t kHandshakeBytes = 1 + 1536;

    void on_backend_connected() override;
    void on_backend_data() override;
    void on_backend_drained() override;
    void on_backend_gone(CloseReason reason, std::string detail) override;

    static void on_client_read(bufferevent* bev, void* arg);
    static void on_client_write(bufferevent* bev, void* arg);
    static void on_client_event(bufferevent* bev, short what, void* arg);
    static void on_client_done(evutil_socket_t, short, void* arg);

    // Client bytes to the backend, while it takes them; reading the client stops while it does not.
    void pump_up();
    // Backend bytes to the client, while its output has room.
    void pump_down();
    // The backend has gone and everything it sent has been handed to the client: end.
    void finish_if_delivered();
    [[nodiscard]] bool over_byte_limit() const;
    [[nodiscard]] const config::Config& cfg() const { return snapshot_->config; }

    Worker& worker_;
    const ConfigSnapshotPtr snapshot_;  // before backend_, which keeps a reference into it
    Clock::time_point last_activity_;   // the last byte either way
    State state_ = State::open;
    BackendLink backend_;
    BufferEventPtr client_;
    EventPtr client_done_;  // the client's end of stream, handled on the next turn of the loop
    std::string first_bytes_;
    std::optional<CloseReason> backend_end_;
    std::string backend_detail_;
};

}  // namespace rtmpt::gateway
