#include "gateway/admin/admin_server.hpp"

#include "build_info.hpp"
#include "config/host_port.hpp"
#include "gateway/admin/admin_json.hpp"
#include "gateway/admin/metrics.hpp"
#include "gateway/loop/supervisor.hpp"
#include "proto/plain_reply.hpp"
#include "proto/prometheus.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>

namespace rtmpt::gateway {

using proto::HttpStatus;

namespace {

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kText = "text/plain; charset=utf-8";

[[nodiscard]] double unix_now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

[[nodiscard]] double seconds_between(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double>(to - from).count();
}

}  // namespace

AdminServer::AdminServer(Supervisor& supervisor)
    : supervisor_(supervisor),
      start_time_(unix_now()),
      reaper_(event_new(supervisor.base(), -1, 0, &AdminServer::on_reap, this)),
      probe_(supervisor.base(), supervisor.dns()) {}

AdminServer::~AdminServer() {
    connections_.clear();
    retired_.clear();
}

event_base* AdminServer::base() const {
    return supervisor_.base();
}

bool AdminServer::open() {
    bool ok = true;
    for (const auto& address : supervisor_.config().admin.listen) {
        auto sockets = open_listen_sockets(address, 1);
        if (auto* error = std::get_if<std::string>(&sockets)) {
            supervisor_.log().error("admin: " + *error);
            ok = false;
            continue;
        }
        auto listener = std::make_unique<Listener>(
            supervisor_.base(), supervisor_.log(), supervisor_.counters(), address,
            std::move(std::get<std::vector<ListenSocket>>(sockets).front()),
            [this](evutil_socket_t fd, std::string peer) { accept(fd, std::move(peer)); });
        if (!listener->start()) {
            supervisor_.log().error("admin: " + listener->error());
            ok = false;
            continue;
        }
        supervisor_.log().info("admin listening on " + listener->bound_address());
        listeners_.push_back(std::move(listener));
    }
    return ok;
}

void AdminServer::accept(evutil_socket_t fd, std::string peer) {
    if (connections_.size() >= supervisor_.config().admin.max_connections) {
        const std::uint64_t refused = ++supervisor_.counters().admin_refused;
        // A scraper retrying in a loop must not flood the log: once a second, with the count.
        if (refusal_log_.due(Clock::now())) {
            supervisor_.log().warn("admin connection refused client=" + peer +
                                   ": admin.max_connections reached (" + std::to_string(refused) +
                                   " refused so far)");
        }
        evutil_closesocket(fd);
        return;
    }
    auto connection = std::make_unique<AdminConnection>(*this, fd, std::move(peer), ++next_serial_);
    AdminConnection* key = connection.get();
    connections_.emplace(key, std::move(connection));
}

void AdminServer::handle(AdminConnection& connection, llhttp_method_t method, std::string_view target) {
    const std::string_view path = target.substr(0, target.find('?'));
    const bool known = path == "/metrics" || path == "/healthz" || path == "/sessions";
    if (!known) {
        note_error(connection.peer(), HttpStatus::not_found, "not an admin endpoint");
        connection.reply(proto::plain_response(HttpStatus::not_found, kText,
                                               "not found: the admin endpoints are /metrics, /healthz and "
                                               "/sessions\n"));
        return;
    }
    if (method != HTTP_GET) {
        note_error(connection.peer(), HttpStatus::method_not_allowed, "method is not GET");
        connection.reply(
            proto::plain_response(HttpStatus::method_not_allowed, kText, "only GET\n", "Allow: GET\r\n"));
        return;
    }
    if (path == "/metrics" || path == "/sessions") {
        connection.wait_for_reports();
        const bool metrics = path == "/metrics";
        AdminConnection* asked = &connection;
        const std::uint64_t serial = connection.serial();
        supervisor_.gather(!metrics, [this, asked, serial, metrics](std::vector<WorkerReport> reports) {
            // The connection may have gone (and another taken its address) while the workers answered.
            const auto it = connections_.find(asked);
            if (it == connections_.end() || asked->serial() != serial) return;
            if (metrics) {
                asked->reply(proto::plain_response(HttpStatus::ok, proto::kExpositionContentType,
                                                   metrics_page(reports)));
            } else {
                asked->reply(proto::plain_response(HttpStatus::ok, kJson, sessions_page(reports)));
            }
        });
    } else if (supervisor_.run_state() != Supervisor::RunState::running) {
        // Draining: say so at once, so load balancers stop sending new sessions here.
        connection.reply(health_page(probe_.last().value_or(HealthProbe::Result{})));
    } else {
        connection.wait_for_probe();
        const auto proxy = config::backend_proxy_version(supervisor_.config().backend);
        probe_.check(connection, supervisor_.config().backend.address,
                     supervisor_.config().admin.health_probe_timeout,
                     proxy ? proto::build_proxy_local_header(*proxy) : std::string());
    }
}

void AdminServer::note_error(const std::string& peer, HttpStatus status, std::string_view why) {
    const std::uint64_t errors = ++supervisor_.counters().admin_errors;
    // A misconfigured scraper repeats itself: one line a second, with the count.
    if (error_log_.due(Clock::now())) {
        std::string reason(why);
        while (!reason.empty() && reason.back() == '\n') reason.pop_back();
        supervisor_.log().info("admin client=" + peer + " answered " +
                               std::to_string(static_cast<int>(status)) + ": " + reason + " (" +
                               std::to_string(errors) + " so far)");
    }
}

std::string AdminServer::health_page(const HealthProbe::Result& probe) const {
    const std::string address = config::format_host_port(supervisor_.config().backend.address);
    HealthReport report;
    report.shutting_down = supervisor_.run_state() != Supervisor::RunState::running;
    report.backend_ok = probe.ok;
    report.backend_address = address;
    report.backend_detail = probe.detail.empty() ? std::string_view("not checked") : probe.detail;
    report.checked_seconds_ago =
        probe.detail.empty() ? 0 : seconds_between(probe.at, HealthProbe::Clock::now());
    const HttpStatus status = healthy(report) ? HttpStatus::ok : HttpStatus::service_unavailable;
    return proto::plain_response(status, kJson, health_json(report));
}

std::string AdminServer::metrics_page(std::vector<WorkerReport>& reports) {
    Counters total = supervisor_.own_counters();
    Gauges g;
    for (const WorkerReport& r : reports) {
        total += r.counters;
        g.sessions_active += r.sessions;
        g.connections_open += r.connections;
        g.backend_lingering += r.lingering;
        g.queued_up += r.queued_up;
        g.queued_down += r.queued_down;
        g.workers.push_back(WorkerGauges{r.index, r.sessions, r.connections, r.counters.requests,
                                         r.counters.requests_handed_over, r.cpu_seconds});
    }
    g.admin_connections_open = connections_.size();
    g.start_time_seconds = start_time_;
    g.version = RTMPT_GATEWAY_VERSION;
    if (const auto& tls = supervisor_.tls_context()) {
        for (const auto& c : tls->certificates()) {
            g.certificate_expiry.emplace_back(c.file, std::difftime(c.not_after, std::time(nullptr)));
        }
    }
    return render_metrics(total, g);
}

std::string AdminServer::sessions_page(std::vector<WorkerReport>& reports) {
    std::vector<SessionInfo> list;
    for (WorkerReport& r : reports) {
        for (SessionRow& row : r.rows) {
            // The rows have come to rest: point their views at their own strings.
            row.info.id = row.id;
            row.info.client = row.client;
            list.push_back(row.info);
        }
    }
    // Oldest first: a stable order for people reading it, whatever the hash map's.
    std::sort(list.begin(), list.end(),
              [](const SessionInfo& a, const SessionInfo& b) { return a.age_seconds > b.age_seconds; });
    return sessions_json(list);
}

void AdminServer::retire(AdminConnection& connection) {
    const auto it = connections_.find(&connection);
    if (it == connections_.end()) return;
    retired_.push_back(std::move(it->second));
    connections_.erase(it);
    event_active(reaper_.get(), 0, 0);
}

void AdminServer::on_reap(evutil_socket_t, short, void* arg) {
    static_cast<AdminServer*>(arg)->retired_.clear();
}

}  // namespace rtmpt::gateway
