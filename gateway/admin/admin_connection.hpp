// One connection to the admin listener: one GET request, one reply, then the connection closes.
// Scrapers and health checks ask rarely, so keep-alive and pipelining would buy nothing here but
// states; the request line and headers are capped, bodies are refused, and a connection that
// sends no complete request within kRequestTimeout is closed.
#pragma once

#include "gateway/admin/health_probe.hpp"
#include "gateway/loop/event_ptr.hpp"
#include "proto/http_reply.hpp"

#include <llhttp.h>

#include <chrono>
#include <optional>
#include <string>

namespace rtmpt::gateway {

class AdminServer;

class AdminConnection final : public HealthProbe::Waiter {
  public:
    static constexpr std::size_t kMaxHeaderBytes = 8 * 1024;
    static constexpr std::chrono::seconds kRequestTimeout{10};

    enum class State {
        reading,  // the request is arriving
        waiting,  // the request is in; its reply waits for the backend probe (/healthz) or the
                  // workers' reports (/metrics, /sessions)
        writing,  // the reply is queued; the connection closes once the client has it
        closed,   // handed back to the server to be freed
    };

    // `serial`: unique among the server's connections, so that a late answer can tell this one
    // from a later connection at the same address.
    AdminConnection(AdminServer& server, evutil_socket_t fd, std::string peer, std::uint64_t serial);
    ~AdminConnection();
    AdminConnection(const AdminConnection&) = delete;
    AdminConnection& operator=(const AdminConnection&) = delete;

    [[nodiscard]] const std::string& peer() const { return peer_; }
    [[nodiscard]] State state() const { return state_; }
    [[nodiscard]] std::uint64_t serial() const { return serial_; }

    // The reply waits for the backend probe: on_probe_result will be called.
    void wait_for_probe() { state_ = State::waiting; }
    // The reply waits for the workers' reports: reply() will be called.
    void wait_for_reports() { state_ = State::waiting; }
    // Queues the complete response; the connection closes once it is sent.
    void reply(std::string response);

    void on_probe_result(const HealthProbe::Result& result) override;

  private:
    static void on_read(bufferevent* bev, void* arg);
    static void on_write(bufferevent* bev, void* arg);
    static void on_event(bufferevent* bev, short what, void* arg);

    static int on_url(llhttp_t* p, const char* at, std::size_t len);
    static int on_header_bytes(llhttp_t* p, const char* at, std::size_t len);
    static int on_headers_complete(llhttp_t* p);
    static int on_message_complete(llhttp_t* p);
    static const llhttp_settings_t& parser_settings();

    void parse_input();
    void close_now();

    AdminServer& server_;
    const std::string peer_;
    const std::uint64_t serial_;
    BufferEventPtr bev_;
    llhttp_t parser_{};
    State state_ = State::reading;
    std::string target_;
    std::size_t header_bytes_ = 0;
    // Set by a parser callback that stops the parse for a limit: 431 or 413; else a parse error is 400.
    std::optional<proto::HttpStatus> refusal_;
};

}  // namespace rtmpt::gateway
