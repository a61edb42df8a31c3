// One event loop with everything that lives on it: listeners, client connections, sessions,
// backend links. A session belongs to exactly one worker; nothing here is shared between
// workers, so several can run side by side, one per thread.
#pragma once

#include "config/config.hpp"
#include "gateway/client/http_connection.hpp"
#include "gateway/client/listener.hpp"
#include "gateway/client/proxy_intake.hpp"
#include "gateway/client/tls_context.hpp"
#include "gateway/logging/log_throttle.hpp"
#include "gateway/logging/logger.hpp"
#include "gateway/loop/config_snapshot.hpp"
#include "gateway/loop/counters.hpp"
#include "gateway/loop/event_ptr.hpp"
#include "gateway/tunnel/linger_set.hpp"
#include "gateway/tunnel/session.hpp"
#include "proto/http_reply.hpp"

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace rtmpt::gateway {

class AdminServer;

// Who a request is from, as access rules, per-client limits, session binding and logs see it.
struct ClientIdentity {
    std::string address;  // the client's IP, canonical: what limits count and sessions bind to
    std::string shown;    // for logs: "192.0.2.1:4000", or "198.51.100.7 via=10.0.0.2:4000"
    std::optional<proto::IpAddress> ip;
    // For the backend's PROXY header: the client (port 0 when X-Forwarded-For named it: the
    // header gives no port) and the address it connected to.
    std::optional<proto::Endpoint> endpoint;
    std::optional<proto::Endpoint> local;
};

class Worker {
  public:
    enum class RunState {
        running,   // serving: sessions open and run
        draining,  // SIGTERM/SIGINT: opens refused, live sessions run on until process.shutdown_timeout
        stopping,  // sessions ended; the loop exits once the last replies are out
    };

    Worker(const config::Config& config, Logger& log);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    // Opens every listener; false (with errors logged) if any cannot be opened.
    [[nodiscard]] bool start();
    // Runs until SIGINT/SIGTERM and the drain after it; returns the process exit status.
    [[nodiscard]] int run();

    // The file SIGHUP re-reads; without one, SIGHUP is logged and ignored.
    void set_config_path(std::string path) { config_path_ = std::move(path); }
    // SIGHUP: re-reads the config file. Keys apply to sessions opened from now on; live sessions
    // keep the configuration they opened with. A file with errors changes nothing.
    void reload();
    // SIGTERM/SIGINT: refuse new sessions and let live ones run on for up to
    // process.shutdown_timeout, then stop. A second call stops at once.
    void drain();

    // `tls`: accepted on a TLS listener (tls.listen): the connection speaks HTTPS.
    // From a balancer in access.proxy_protocol_from, the connection first goes to a ProxyIntake.
    void accept(evutil_socket_t fd, std::string peer, bool tls = false);
    // `intake` has read its PROXY header: the connection starts over from the client it named.
    void accept_proxied(ProxyIntake& intake, evutil_socket_t fd, ClientPeer peer, bool tls);
    void handle_request(HttpConnection& connection, HttpRequest&& request, ReplySlotPtr slot);

    // Frees the object at the next turn of the loop: it may be in the middle of a callback now.
    void retire(HttpConnection& connection);
    void retire(SessionBase& session);
    void retire(ProxyIntake& intake);
    // The first bytes on `connection` were native RTMP: it hands its socket (`client`, with the
    // bytes read so far) over to a relay session, admitted by the same rules as an RTMPT open.
    void open_native(HttpConnection& connection, BufferEventPtr client, std::string_view first_bytes);

    // Test hooks, for tests/fuzz/fuzz_gateway.cpp, which runs a Worker without start() or run()
    // (no listeners, no signals, no janitor timer) and must not wait for real time: the
    // janitor's sweep as if the clock read `now`, and the stop that SIGINT or SIGTERM causes.
    void sweep_sessions(Clock::time_point now);
    void shut_down();

    [[nodiscard]] event_base* base() const { return base_.get(); }
    [[nodiscard]] evdns_base* dns() const { return dns_.get(); }
    // The current configuration: what new sessions and new requests get.
    [[nodiscard]] const config::Config& config() const { return current_->config; }
    [[nodiscard]] const ConfigSnapshotPtr& snapshot() const { return current_; }
    // The certificate new TLS connections get; null when tls.listen is [].
    [[nodiscard]] const TlsContextPtr& tls_context() const { return tls_; }
    [[nodiscard]] const Logger& log() const { return log_; }
    [[nodiscard]] const proto::ReplyBuilder& replies() const { return current_->replies; }
    [[nodiscard]] RunState run_state() const { return run_state_; }
    [[nodiscard]] LingerSet& linger() { return linger_; }
    [[nodiscard]] Counters& counters() { return counters_; }
    // Where client sockets are read into, one buffer per worker: requests are parsed from it in
    // place (only an unfinished rest is kept by the connection).
    [[nodiscard]] std::span<char> client_scratch() { return client_scratch_; }
    // Where backend sockets are read into before the bytes are copied into a queue sized to what
    // came. Not the client's: a request parsed from that one may cause a backend read.
    [[nodiscard]] std::span<char> backend_scratch() { return backend_scratch_; }

    // For the admin pages: read-only views of the live state.
    [[nodiscard]] const Counters& counters() const { return counters_; }
    [[nodiscard]] const std::unordered_map<std::string, std::unique_ptr<SessionBase>>& sessions() const {
        return sessions_;
    }
    [[nodiscard]] std::size_t connection_count() const { return connections_.size() + intakes_.size(); }
    [[nodiscard]] std::size_t linger_count() const { return linger_.size(); }

  private:
    // The client as the connection shows it (the TCP peer, or a balancer's PROXY header's client).
    [[nodiscard]] ClientIdentity direct_identity(const HttpConnection& connection) const;
    [[nodiscard]] ClientIdentity identify(const HttpConnection& connection, const HttpRequest& request,
                                          const config::AccessConfig& access);
    // The access rule that refuses `client` a session, or nullptr when it may open one.
    [[nodiscard]] const char* access_refusal(const ClientIdentity& client) const;
    // Why a new session may not open, counted and logged, or ok.
    enum class Admission { ok, access, draining, full, per_client };
    [[nodiscard]] Admission admit(const ClientIdentity& client);
    [[nodiscard]] std::optional<std::string> new_session_id(const ClientIdentity& client);
    // The address `connection`'s client reached, when backend.proxy_protocol will name it.
    [[nodiscard]] std::optional<proto::Endpoint> local_for_header(const HttpConnection& connection) const;
    // What a new session's backend connection starts with: its PROXY header, or nothing.
    [[nodiscard]] std::string backend_preamble(const ClientIdentity& client) const;
    void start_connection(evutil_socket_t fd, ClientPeer peer, bool tls);
    SessionBase& add_session(std::unique_ptr<SessionBase> session);
    void open_session(const ClientIdentity& client, ReplySlotPtr slot, Transport transport);
    void schedule_reaper();
    void reap();
    void janitor();
    // Opens the listeners of `wanted` that are not open yet; on any failure closes the ones it
    // opened and returns false, so a reload either gets all its addresses or changes nothing.
    [[nodiscard]] bool open_listeners(const std::vector<config::HostPort>& wanted, bool numeric_only);
    void close_listeners_not_in(const std::vector<config::HostPort>& wanted);
    void apply_log_settings(const config::LogConfig& log);
    // Loads tls.certificate and tls.key into a new context; null (logged, naming the file) if
    // the pair does not load.
    [[nodiscard]] TlsContextPtr load_tls(const config::TlsConfig& tls, std::string_view context);
    static void on_reap(evutil_socket_t, short, void* arg);
    static void on_janitor(evutil_socket_t, short, void* arg);
    static void on_stop_signal(evutil_socket_t, short, void* arg);
    static void on_reload_signal(evutil_socket_t, short, void* arg);

    ConfigSnapshotPtr current_;
    Logger& log_;
    std::string config_path_;
    EventBasePtr base_;
    DnsBasePtr dns_;
    LingerSet linger_;
    Counters counters_;
    std::vector<char> client_scratch_ = std::vector<char>(64 * 1024);
    // Below 64 KiB so that a full read fits one 64 KiB evbuffer chain, header included.
    std::vector<char> backend_scratch_ = std::vector<char>(64 * 1024 - 256);
    std::unordered_map<std::string, std::uint32_t> sessions_per_client_;  // client address -> open sessions
    LogThrottle refusal_log_;        // connections refused at http.max_connections
    LogThrottle drain_refusal_log_;  // opens refused while draining

    std::vector<std::unique_ptr<Listener>> listeners_;
    std::vector<std::unique_ptr<Listener>> tls_listeners_;  // opened at start only (tls.listen)
    TlsContextPtr tls_;
    std::unordered_map<HttpConnection*, std::unique_ptr<HttpConnection>> connections_;
    std::unordered_map<std::string, std::unique_ptr<SessionBase>> sessions_;
    std::vector<std::unique_ptr<HttpConnection>> retired_connections_;
    // Balancers' connections whose PROXY header is still coming; counted as connections.
    std::unordered_map<ProxyIntake*, std::unique_ptr<ProxyIntake>> intakes_;
    std::vector<std::unique_ptr<ProxyIntake>> retired_intakes_;
    std::vector<std::unique_ptr<SessionBase>> retired_sessions_;

    EventPtr reaper_;
    EventPtr janitor_;
    EventPtr sigint_;
    EventPtr sigterm_;
    EventPtr sighup_;
    RunState run_state_ = RunState::running;
    Clock::time_point drain_deadline_{};
    std::unique_ptr<AdminServer> admin_;  // none when admin.listen is []
};

}  // namespace rtmpt::gateway
