// One event loop with everything that lives on it: listeners, client connections, sessions,
// backend links. A session belongs to exactly one worker for its whole life, and nothing a worker
// owns is touched by another thread: workers reach each other only through their mailboxes, and
// share only the process-wide limits (WorkerGroup). Several run side by side, one per thread
// (gateway/loop/supervisor.hpp starts them).
//
// libevent runs without its thread locks (no evthread_use_pthreads): each event base is used by
// the one thread that runs it, and nothing else calls into it. Keep it so: another thread that
// wants something done on a worker posts a task to its mailbox.
//
// A session's requests may arrive on any connection, so on any worker. The session id names its
// worker (proto/session_id.hpp); a request that reaches another worker is handed over: its route,
// body and what identifies the client go to the owner's mailbox, the owner answers it into a
// ReplySlot of its own, and that reply comes back through the first worker's mailbox into the
// connection's slot. The connection stays where it is, so its replies leave in request order as
// they always have, and one connection may carry sessions of several workers.
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
#include "gateway/loop/mailbox.hpp"
#include "gateway/loop/shared_limits.hpp"
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

class Worker;

// What the workers of one process share. `workers` is filled before any loop runs and does not
// change while they run: any thread may read it. A worker being destroyed (every loop has
// stopped) clears its own entry, so that the others' last replies to it go nowhere.
struct WorkerGroup {
    SharedLimits limits;
    std::vector<Worker*> workers;
};

// One session as /sessions lists it, owned: it travels from its worker to the admin's loop.
struct SessionRow {
    std::string id;
    std::string client;
    SessionInfo info;  // id and client point into the row once it has come to rest
};

// What a worker reports for /metrics, /sessions and the stats line, made on its own thread.
struct WorkerReport {
    unsigned index = 0;
    Counters counters;
    std::uint64_t sessions = 0;
    std::uint64_t connections = 0;
    std::uint64_t lingering = 0;
    std::uint64_t queued_up = 0;
    std::uint64_t queued_down = 0;
    double cpu_seconds = 0;        // the worker thread's CPU time, user and system
    std::vector<SessionRow> rows;  // only when asked for
};

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

    // `index`: this worker's place in group.workers, the digit its session ids carry when the
    // group has more than one. `tls`: the certificate new TLS connections get (null without
    // tls.listen).
    Worker(WorkerGroup& group, unsigned index, ConfigSnapshotPtr snapshot, TlsContextPtr tls,
           const Logger& log);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    // Starts accepting on `socket`, a socket of `address` bound for this worker; `tls`: a
    // tls.listen socket. False (logged) if the loop cannot watch it.
    [[nodiscard]] bool add_listener(const config::HostPort& address, ListenSocket socket, bool tls);
    // Runs the loop until shut_down() and the grace after it.
    [[nodiscard]] int run();

    // A reload, on this worker's thread: new sessions and connections get `snapshot` and `tls`;
    // `sockets` are the listen addresses it adds (bound for this worker), and listeners whose
    // address the new `listen` no longer names close. Live sessions keep their configuration.
    void apply_reload(ConfigSnapshotPtr snapshot, TlsContextPtr tls,
                      std::vector<std::pair<config::HostPort, ListenSocket>> sockets);
    // SIGTERM/SIGINT reached this worker: new sessions are refused; live ones run on until
    // shut_down(). The supervisor decides when that is, for all workers at once.
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

    // The stop, in two steps so that every worker has ended its sessions (and so sent their last
    // replies to the other workers' connections) before any loop starts its last grace period:
    // end_all closes the listeners and ends every session; stop_after_grace lets queued replies
    // and lingering bytes go out for a moment, then ends the loop.
    void end_all();
    void stop_after_grace();
    // Both at once: for a worker alone (tests, a failed start).
    void shut_down();
    // For /metrics, /sessions and the stats line; `with_rows`: one row per session.
    [[nodiscard]] WorkerReport report(bool with_rows) const;

    // Test hook, for tests/fuzz/fuzz_gateway.cpp, which runs Workers without run() and must not
    // wait for real time: the janitor's sweep as if the clock read `now`.
    void sweep_sessions(Clock::time_point now);

    [[nodiscard]] unsigned index() const { return index_; }
    [[nodiscard]] Mailbox& mailbox() { return mailbox_; }
    [[nodiscard]] event_base* base() const { return base_.get(); }
    [[nodiscard]] evdns_base* dns() const { return dns_.get(); }
    // The current configuration: what new sessions and new requests get.
    [[nodiscard]] const config::Config& config() const { return current_->config; }
    [[nodiscard]] const ConfigSnapshotPtr& snapshot() const { return current_; }
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

    [[nodiscard]] const Counters& counters() const { return counters_; }
    [[nodiscard]] const std::unordered_map<std::string, std::unique_ptr<SessionBase>>& sessions() const {
        return sessions_;
    }
    [[nodiscard]] std::size_t connection_count() const { return connections_.size() + intakes_.size(); }

  private:
    // Who sent a tunnel request, as far as the connection it came on knows: what the session's
    // worker needs to apply access.bind_session_to_client and to log. Made only for a request
    // that is handed over, or that its session must check.
    struct RequestOrigin {
        ClientIdentity direct;
        std::string hops;           // the connection's hops() for "via="
        std::string forwarded_for;  // the request's X-Forwarded-For
    };
    // A send, idle or close handed over from another worker, with the slot its reply goes in.
    struct HandedRequest {
        proto::RouteKind kind = proto::RouteKind::idle;
        std::string session_id;
        std::optional<std::uint64_t> seq;
        std::string body;
        std::string peer;  // the connection's peer, for log lines
        RequestOrigin origin;
        ReplySlotPtr slot;  // the connection's: filled on its own worker only
        unsigned from = 0;
    };

    // The client as the connection shows it (the TCP peer, or a balancer's PROXY header's client).
    [[nodiscard]] ClientIdentity direct_identity(const HttpConnection& connection) const;
    [[nodiscard]] RequestOrigin origin_of(const HttpConnection& connection, const HttpRequest& request) const;
    [[nodiscard]] ClientIdentity identify(const HttpConnection& connection, const HttpRequest& request,
                                          const config::AccessConfig& access);
    [[nodiscard]] ClientIdentity identify(const RequestOrigin& origin, const config::AccessConfig& access);
    // The worker whose session `id` names; this one for an id that names none of the group's.
    [[nodiscard]] unsigned owner_of(std::string_view id) const;
    // A send, idle or close for a session of this worker. `origin` is asked for only when the
    // session binds to its client.
    template <typename OriginFn>
    void serve_tunnel(proto::RouteKind kind, std::string_view session_id, std::optional<std::uint64_t> seq,
                      std::string body, std::string_view peer, ReplySlotPtr slot, OriginFn&& origin);
    void hand_over(unsigned owner, HttpConnection& connection, HttpRequest&& request,
                   const proto::Route& route, ReplySlotPtr slot);
    // On the owner's thread: serves `request`, answering into a slot that sends the reply back.
    void take_handed(HandedRequest request);
    // The access rule that refuses `client` a session, or nullptr when it may open one.
    [[nodiscard]] const char* access_refusal(const ClientIdentity& client) const;
    // Why a new session may not open, counted and logged, or ok.
    enum class Admission { ok, access, draining, full, per_client };
    // With ok, a session slot and one of the client's are taken: add_session keeps them, or
    // give_back_admission returns them.
    [[nodiscard]] Admission admit(const ClientIdentity& client);
    void give_back_admission(const std::string& client_address);
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
    void close_listeners_not_in(const std::vector<config::HostPort>& wanted);
    static void on_reap(evutil_socket_t, short, void* arg);
    static void on_janitor(evutil_socket_t, short, void* arg);

    WorkerGroup& group_;
    const unsigned index_;
    ConfigSnapshotPtr current_;
    const Logger& log_;
    EventBasePtr base_;
    DnsBasePtr dns_;
    Mailbox mailbox_;
    LingerSet linger_;
    Counters counters_;
    std::vector<char> client_scratch_ = std::vector<char>(64 * 1024);
    // Below 64 KiB so that a full read fits one 64 KiB evbuffer chain, header included.
    std::vector<char> backend_scratch_ = std::vector<char>(64 * 1024 - 256);
    LogThrottle refusal_log_;        // connections refused at http.max_connections
    LogThrottle drain_refusal_log_;  // opens refused while draining

    std::vector<std::unique_ptr<Listener>> listeners_;
    std::vector<std::unique_ptr<Listener>> tls_listeners_;  // given at start only (tls.listen)
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
    RunState run_state_ = RunState::running;
};

}  // namespace rtmpt::gateway
