// One native TCP RTMP connection to the backend, owned by one session.
// Its input buffer is the session's backend-to-client queue: reading stops at
// session.queue_max_bytes, so a client that stops polling stops the gateway reading the backend
// instead of growing memory.
#pragma once

#include "config/config.hpp"
#include "gateway/loop/event_ptr.hpp"
#include "gateway/tunnel/close_reason.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace rtmpt::gateway {

class LingerSet;

// What a backend link tells its owner. Calls come from the event loop only.
class BackendEvents {
  public:
    virtual void on_backend_connected() = 0;
    virtual void on_backend_data() = 0;     // new bytes are queued for the client
    virtual void on_backend_drained() = 0;  // the outgoing queue fell below its low mark
    // The connection is gone: backend_connect_failed, backend_closed (end of stream) or
    // backend_error, with a detail for the log; bytes already queued stay readable.
    virtual void on_backend_gone(CloseReason reason, std::string detail) = 0;

  protected:
    ~BackendEvents() = default;
};

class BackendLink {
  public:
    enum class State {
        idle,        // not started
        connecting,  // name resolution and TCP connect under way; writes are queued
        connected,   // bytes flow both ways
        read_only,   // our writes failed (reset): what the backend sent before is still read, to its end
        gone,        // closed or failed; only the queued input remains
    };

    // `scratch` is the worker's read buffer: one read takes at most its size.
    BackendLink(BackendEvents& owner, event_base* base, evdns_base* dns, const config::BackendConfig& cfg,
                std::size_t queue_max_bytes, std::span<char> scratch);
    ~BackendLink();
    BackendLink(const BackendLink&) = delete;
    BackendLink& operator=(const BackendLink&) = delete;

    // Starts the non-blocking connect; failures arrive as on_backend_gone. `preamble` (a PROXY
    // header) is the first thing the backend gets, before any client byte.
    void connect(std::string_view preamble = {});

    // Queues client bytes for the backend; returns how many were taken. Dropped (0) once writes
    // have failed or the link is gone: nowhere to send them.
    std::size_t write(std::string_view bytes);

    // True while the outgoing queue is at or above queue_max_bytes: stop applying client bytes.
    [[nodiscard]] bool congested() const;

    [[nodiscard]] std::size_t queued_in() const;   // bytes waiting to go to the client
    [[nodiscard]] std::size_t queued_out() const;  // client bytes not yet taken by the backend
    // Reads what the backend socket holds now, so that up to `want` bytes are queued (within
    // queue_max_bytes): a reply then carries what the backend has sent, not only what the loop
    // has read so far. The end of the stream or an error found here is reported from the loop.
    void top_up(std::size_t want);
    // Appends up to `max` queued backend bytes to `out`; returns how many.
    std::size_t take(std::string& out, std::size_t max);
    // Moves up to `max` queued backend bytes onto the end of `out` (a native client's output);
    // returns how many.
    std::size_t move_to(evbuffer* out, std::size_t max);

    [[nodiscard]] State state() const { return state_; }
    [[nodiscard]] bool gone() const { return state_ == State::gone; }
    // From connect() to connected, once connected (name resolution included).
    [[nodiscard]] std::chrono::steady_clock::duration connect_time() const { return connect_time_; }

    // Ends the link; unsent client bytes are still flushed through `linger`.
    void close(LingerSet& linger);

  private:
    static void on_readable(evutil_socket_t fd, short what, void* arg);
    void read_backend();
    // One read of at most `max` bytes onto the queue (read_into), noting whether a stream flows.
    ssize_t read_some(std::size_t max);
    static void on_write(bufferevent* bev, void* arg);
    static void on_event(bufferevent* bev, short what, void* arg);
    void handle_event(short what);
    // Reading was paused by a full queue: resume once the client side has taken some.
    void resume_if_room(evbuffer* in);
    void mark_gone(CloseReason reason, std::string detail);
    // Our writes failed (a reset): stop writing, keep reading what the backend sent before it.
    void writes_failed(CloseReason reason, std::string detail);

    BackendEvents& owner_;
    event_base* base_;
    evdns_base* dns_;
    const config::BackendConfig& cfg_;
    std::size_t queue_max_;
    std::span<char> scratch_;
    State state_ = State::idle;
    BufferEventPtr bev_;    // connects and writes; its input buffer is the queue to the client
    EventPtr read_event_;   // reads the socket (see socket_io.hpp); made once connected
    EvBufferPtr leftover_;  // backend bytes still owed to the client after the link is gone
    // Why writes failed, reported once the read side has ended too (state read_only).
    CloseReason write_failure_ = CloseReason::backend_error;
    std::string write_failure_detail_;
    // The end of stream (0) or read error (errno) that top_up() met, for read_backend to report.
    std::optional<int> read_end_;
    bool flowing_ = false;            // the last read got bytes: top_up() may find more
    bool big_reads_ = false;          // the last read was large: read into the queue directly
    bool reading_paused_ = false;     // the queue to the client is full: on_read stopped reading
    std::size_t preamble_bytes_ = 0;  // the preamble's size: while connecting, not client bytes owed
    std::chrono::steady_clock::time_point connect_started_{};
    std::chrono::steady_clock::duration connect_time_{};
};

// "connecting", "connected", ...: the names of the states, for /sessions.
[[nodiscard]] std::string_view backend_state_name(BackendLink::State state);

}  // namespace rtmpt::gateway
