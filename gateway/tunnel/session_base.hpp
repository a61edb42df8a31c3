// What every session has, however its client came: an id, a client, a transport, limits checked
// by the worker's janitor, an end with one log line, and a row in /sessions. The RTMPT session
// (Session) and the native RTMP relay (NativeSession) are the two kinds; the worker keeps both in
// one table, so session caps, per-client caps, the drain and the admin pages cover both alike.
#pragma once

#include "gateway/admin/admin_json.hpp"
#include "gateway/tunnel/close_reason.hpp"
#include "gateway/tunnel/transport.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace rtmpt::gateway {

class Session;
using Clock = std::chrono::steady_clock;

class SessionBase {
  public:
    // `backend_preamble`: what the backend connection starts with (a PROXY header), or empty.
    SessionBase(std::string id, std::string client, std::string client_address, Transport transport,
                std::string backend_preamble)
        : opened_at_(Clock::now()),
          backend_preamble_(std::move(backend_preamble)),
          id_(std::move(id)),
          client_(std::move(client)),
          client_address_(std::move(client_address)),
          transport_(transport) {}
    virtual ~SessionBase() = default;
    SessionBase(const SessionBase&) = delete;
    SessionBase& operator=(const SessionBase&) = delete;

    virtual void start() = 0;
    // Called by the worker's janitor: ends the session past one of its time limits.
    virtual void check_timers(Clock::time_point now) = 0;
    virtual void end(CloseReason reason, std::string_view detail = {}) = 0;
    [[nodiscard]] virtual bool ended() const = 0;

    // For the admin pages. The info points into the session: use it before the session can end.
    [[nodiscard]] virtual SessionInfo info(Clock::time_point now) const = 0;
    [[nodiscard]] virtual std::size_t queued_up() const = 0;
    [[nodiscard]] virtual std::size_t queued_down() const = 0;

    // The RTMPT session, or null for a native relay: only RTMPT sessions take tunnel requests.
    [[nodiscard]] virtual Session* rtmpt() { return nullptr; }

    [[nodiscard]] const std::string& id() const { return id_; }
    [[nodiscard]] const std::string& client() const { return client_; }
    [[nodiscard]] const std::string& client_address() const { return client_address_; }
    [[nodiscard]] Transport transport() const { return transport_; }

  protected:
    // "session end sid=... client=... age=...s up=N down=N <fields> transport=... closing
    // because: <reason>[: <detail>]": the one line every session ends with, whatever its kind.
    // `fields`: the kind's own "key=value " pairs, or empty.
    [[nodiscard]] std::string end_line(CloseReason reason, std::string_view detail,
                                       std::string_view fields) const;
    // /sessions' fields that every kind fills alike; `last_active` is the kind's idea of activity.
    [[nodiscard]] SessionInfo common_info(Clock::time_point now, Clock::time_point last_active) const;

    const Clock::time_point opened_at_;
    std::uint64_t bytes_up_ = 0;    // client -> backend, forwarded
    std::uint64_t bytes_down_ = 0;  // backend -> client, delivered (RTMPT: put into replies)
    const std::string backend_preamble_;

  private:
    const std::string id_;
    const std::string client_;
    const std::string client_address_;  // client_ without the port: what per-client limits count
    const Transport transport_;
};

}  // namespace rtmpt::gateway
