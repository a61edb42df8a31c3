// The admin listener: GET /metrics (Prometheus text format), /healthz and /sessions, on its own
// addresses (admin.listen, loopback by default) on the supervisor's loop. /metrics and /sessions
// ask every worker for its report (through its mailbox: each reads its own live state, without
// locks) and answer once the last one is in. Nothing here can change that state.
#pragma once

#include "gateway/admin/admin_connection.hpp"
#include "gateway/admin/health_probe.hpp"
#include "gateway/client/listener.hpp"
#include "gateway/logging/log_throttle.hpp"
#include "gateway/loop/event_ptr.hpp"
#include "proto/http_reply.hpp"

#include <llhttp.h>

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rtmpt::gateway {

class Supervisor;
struct WorkerReport;

class AdminServer {
  public:
    explicit AdminServer(Supervisor& supervisor);
    ~AdminServer();
    AdminServer(const AdminServer&) = delete;
    AdminServer& operator=(const AdminServer&) = delete;

    // Opens every admin.listen address; false (with errors logged) if any cannot be opened.
    [[nodiscard]] bool open();

    void accept(evutil_socket_t fd, std::string peer);
    // A complete request: answers it now, or (for /healthz) once the backend probe is done.
    void handle(AdminConnection& connection, llhttp_method_t method, std::string_view target);
    // Frees the connection at the next turn of the loop: it may be in one of its callbacks now.
    void retire(AdminConnection& connection);
    // An admin request answered 4xx: counted (admin_errors), and logged at most once a second.
    void note_error(const std::string& peer, proto::HttpStatus status, std::string_view why);

    [[nodiscard]] std::string health_page(const HealthProbe::Result& probe) const;

    [[nodiscard]] event_base* base() const;
    [[nodiscard]] HealthProbe& probe() { return probe_; }
    [[nodiscard]] std::size_t connection_count() const { return connections_.size(); }

  private:
    [[nodiscard]] std::string metrics_page(std::vector<WorkerReport>& reports);
    [[nodiscard]] static std::string sessions_page(std::vector<WorkerReport>& reports);
    static void on_reap(evutil_socket_t, short, void* arg);

    Supervisor& supervisor_;
    std::uint64_t next_serial_ = 0;  // tells a connection from a later one at the same address
    const double start_time_;        // Unix time, for rtmpt_gateway_start_time_seconds
    std::vector<std::unique_ptr<Listener>> listeners_;
    std::unordered_map<AdminConnection*, std::unique_ptr<AdminConnection>> connections_;
    std::vector<std::unique_ptr<AdminConnection>> retired_;
    EventPtr reaper_;
    HealthProbe probe_;
    LogThrottle refusal_log_;  // admin.max_connections refusals
    LogThrottle error_log_;    // 4xx answers
};

}  // namespace rtmpt::gateway
