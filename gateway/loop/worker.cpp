#include "gateway/loop/worker.hpp"

#include "gateway/tunnel/entropy.hpp"
#include "gateway/tunnel/native_session.hpp"
#include "proto/forwarded_for.hpp"
#include "proto/route.hpp"
#include "proto/session_id.hpp"

#include <algorithm>
#include <ctime>

namespace rtmpt::gateway {

using proto::HttpStatus;
using proto::RouteKind;

namespace {

// "1.2.3.4:5678" -> "1.2.3.4", "[::1]:5678" -> "[::1]": what per-client limits count by.
std::string address_without_port(const std::string& peer) {
    const auto colon = peer.rfind(':');
    return colon == std::string::npos ? peer : peer.substr(0, colon);
}

// A tagged id that names another node came through a load balancer that routes wrongly: say so,
// since that, not an expired session, is then what the operator has to fix.
std::string misrouted_note(std::string_view session_id, std::string_view own_tag) {
    const std::string_view tag = proto::node_tag_of(session_id);
    if (tag.empty() || tag == own_tag) return {};
    return " (its tag names node " + std::string(tag) + ", this is " +
           (own_tag.empty() ? std::string("an untagged node") : "node " + std::string(own_tag)) +
           ": check the load balancer's routing)";
}

// Moves `item` from the live table to the list the reaper frees; false if it was not live.
template <typename T>
bool move_to_retired(std::unordered_map<T*, std::unique_ptr<T>>& live,
                     std::vector<std::unique_ptr<T>>& retired, T& item) {
    const auto it = live.find(&item);
    if (it == live.end()) return false;
    retired.push_back(std::move(it->second));
    live.erase(it);
    return true;
}

// Idle sessions are found by a sweep over all sessions, not a timer each: cheap at this
// period even with the maximum number of sessions, and precise enough for timeouts of seconds.
constexpr timeval kJanitorPeriod{0, 250'000};

}  // namespace

Worker::Worker(WorkerGroup& group, unsigned index, ConfigSnapshotPtr snapshot, TlsContextPtr tls,
               const Logger& log)
    : group_(group),
      index_(index),
      current_(std::move(snapshot)),
      log_(log),
      base_(event_base_new()),
      dns_(evdns_base_new(base_.get(), EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE)),
      mailbox_(base_.get()),
      tls_(std::move(tls)),
      reaper_(event_new(base_.get(), -1, 0, &Worker::on_reap, this)),
      janitor_(event_new(base_.get(), -1, EV_PERSIST, &Worker::on_janitor, this)) {
    event_add(janitor_.get(), &kJanitorPeriod);
}

Worker::~Worker() {
    // From here on no other worker sends this one anything (see take_handed).
    if (index_ < group_.workers.size() && group_.workers[index_] == this) group_.workers[index_] = nullptr;
    // What is still live gives back its share of the process-wide limits.
    for (const auto& [id, session] : sessions_) give_back_admission(session->client_address());
    for (std::size_t i = 0; i < connection_count(); ++i) group_.limits.give_back_connection();
    // Sessions first: they hand unsent bytes to the linger set and reach into the worker.
    sessions_.clear();
    retired_sessions_.clear();
    connections_.clear();
    retired_connections_.clear();
    intakes_.clear();
    retired_intakes_.clear();
}

bool Worker::add_listener(const config::HostPort& address, ListenSocket socket, bool tls) {
    auto listener = std::make_unique<Listener>(
        base_.get(), log_, counters_, address, std::move(socket),
        [this, tls](evutil_socket_t fd, std::string peer) { accept(fd, std::move(peer), tls); });
    if (!listener->start()) {
        log_.error(listener->error());
        return false;
    }
    (tls ? tls_listeners_ : listeners_).push_back(std::move(listener));
    return true;
}

void Worker::close_listeners_not_in(const std::vector<config::HostPort>& wanted) {
    // Connections accepted on a closed listener stay: they may carry live sessions' requests.
    std::erase_if(listeners_, [&](const std::unique_ptr<Listener>& l) {
        return std::find(wanted.begin(), wanted.end(), l->address()) == wanted.end();
    });
}

void Worker::apply_reload(ConfigSnapshotPtr snapshot, TlsContextPtr tls,
                          std::vector<std::pair<config::HostPort, ListenSocket>> sockets) {
    if (run_state_ != RunState::running) return;
    // New addresses first, old ones after: some listener accepts at every moment.
    for (auto& [address, socket] : sockets) (void)add_listener(address, std::move(socket), false);
    close_listeners_not_in(snapshot->config.listen);
    tls_ = std::move(tls);
    current_ = std::move(snapshot);
}

int Worker::run() {
    if (event_base_dispatch(base_.get()) < 0) {
        log_.error("event loop failed");
        return 1;
    }
    return 0;
}

WorkerReport Worker::report(bool with_rows) const {
    WorkerReport r;
    r.index = index_;
    r.counters = counters_;
    r.sessions = sessions_.size();
    r.connections = connection_count();
    r.lingering = linger_.size();
    for (const auto& [id, session] : sessions_) {
        r.queued_up += session->queued_up();
        r.queued_down += session->queued_down();
    }
    if (timespec cpu{}; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu) == 0)
        r.cpu_seconds = static_cast<double>(cpu.tv_sec) + static_cast<double>(cpu.tv_nsec) / 1e9;
    if (with_rows) {
        const auto now = Clock::now();
        r.rows.reserve(sessions_.size());
        for (const auto& [id, session] : sessions_) {
            SessionRow row{id, session->client(), session->info(now)};
            row.info.worker = index_;
            r.rows.push_back(std::move(row));
        }
    }
    return r;
}

void Worker::accept(evutil_socket_t fd, std::string peer, bool tls) {
    if (!group_.limits.take_connection(config().http.max_connections)) {
        ++counters_.connections_refused;
        if (refusal_log_.due(Clock::now())) {
            log_.warn("connection refused client=" + peer + ": http.max_connections reached (" +
                      std::to_string(counters_.connections_refused) + " refused so far)");
        }
        evutil_closesocket(fd);
        return;
    }
    ++counters_.connections_accepted;
    ClientPeer client = tcp_peer(std::move(peer));
    const auto& balancers = config().access.proxy_protocol_from;
    if (client.endpoint && proto::any_contains(balancers, client.endpoint->address)) {
        auto intake = std::make_unique<ProxyIntake>(*this, fd, std::move(client.shown), tls);
        ProxyIntake* key = intake.get();
        intakes_.emplace(key, std::move(intake));
        return;
    }
    start_connection(fd, std::move(client), tls);
}

void Worker::accept_proxied(ProxyIntake& intake, evutil_socket_t fd, ClientPeer peer, bool tls) {
    // The intake's connection slot passes to the connection: not given back in between, where
    // another worker could take it.
    if (move_to_retired(intakes_, retired_intakes_, intake)) schedule_reaper();
    start_connection(fd, std::move(peer), tls);
}

void Worker::start_connection(evutil_socket_t fd, ClientPeer peer, bool tls) {
    SSL* ssl = nullptr;
    if (tls && (!tls_ || (ssl = tls_->new_connection()) == nullptr)) {
        log_.error("connection refused client=" + peer.shown +
                   ": cannot start TLS: " + take_tls_error("out of memory"));
        evutil_closesocket(fd);
        group_.limits.give_back_connection();
        return;
    }
    auto connection = std::make_unique<HttpConnection>(*this, fd, std::move(peer), ssl, tls ? tls_ : nullptr);
    HttpConnection* key = connection.get();
    connections_.emplace(key, std::move(connection));
}

void Worker::handle_request(HttpConnection& connection, HttpRequest&& request, ReplySlotPtr slot) {
    ++counters_.requests;
    if (request.method != HTTP_POST) {
        ++counters_.refused_method;
        log_.info("http client=" + connection.peer() + " answered 405: method " +
                  llhttp_method_name(request.method) + " is not POST");
        slot->fill(replies().error(HttpStatus::method_not_allowed, "RTMPT requests are POST", false));
        return;
    }
    const proto::Route route = proto::parse_route(request.target);
    slot->set_kind(route.kind);
    switch (route.kind) {
        case RouteKind::ident2:
            if (config().http.ident2.empty()) {
                slot->fill(replies().error(HttpStatus::not_found, "no ident2", false));
            } else {
                slot->fill(replies().text(config().http.ident2));
            }
            return;
        case RouteKind::open:
            open_session(identify(connection, request, config().access), std::move(slot),
                         connection.tls() ? Transport::rtmpts : Transport::rtmpt);
            return;
        case RouteKind::send:
        case RouteKind::idle:
        case RouteKind::close: {
            if (const unsigned owner = owner_of(route.session_id); owner != index_) {
                hand_over(owner, connection, std::move(request), route, std::move(slot));
                return;
            }
            serve_tunnel(route.kind, route.session_id, route.seq, std::move(request.body), connection.peer(),
                         std::move(slot), [&] { return origin_of(connection, request); });
            return;
        }
        case RouteKind::unknown:
            break;
    }
    ++counters_.unknown_path;
    // The target is client text: cut and keep it printable so the log line stays one line.
    std::string shown = request.target.substr(0, 64);
    for (char& c : shown) {
        if (c < 0x20 || c > 0x7e) c = '?';
    }
    log_.info("http client=" + connection.peer() + " answered 404: not an RTMPT path " + shown);
    slot->fill(replies().error(HttpStatus::not_found, "not an RTMPT path", false));
}

unsigned Worker::owner_of(std::string_view id) const {
    if (group_.workers.size() < 2) return index_;
    const std::optional<unsigned> owner = proto::worker_of(id);
    // An id of no worker of ours is answered here: as unknown as on any worker.
    return owner && *owner < group_.workers.size() ? *owner : index_;
}

template <typename OriginFn>
void Worker::serve_tunnel(RouteKind kind, std::string_view session_id, std::optional<std::uint64_t> seq,
                          std::string body, std::string_view peer, ReplySlotPtr slot, OriginFn&& origin) {
    const auto it = sessions_.find(std::string(session_id));
    // A native RTMP relay's id is no tunnel's: as unknown as any other.
    Session* session = it == sessions_.end() ? nullptr : it->second->rtmpt();
    if (session == nullptr) {
        ++counters_.unknown_session;
        log_.info("http client=" + std::string(peer) + " answered 404: unknown session sid=" +
                  std::string(session_id) + misrouted_note(session_id, config().node.tag));
        slot->fill(replies().error(HttpStatus::not_found, "unknown session", false));
        return;
    }
    // The session's own access settings: a reload must not turn on binding, or change whose
    // X-Forwarded-For is believed, for a session opened before it.
    if (const config::AccessConfig& access = session->cfg().access; access.bind_session_to_client) {
        const ClientIdentity client = identify(origin(), access);
        if (client.address != session->client_address()) {
            ++counters_.refused_other_client;
            log_.info("http client=" + client.shown + " answered 403: session sid=" + it->first +
                      " belongs to " + session->client_address());
            slot->fill(replies().error(HttpStatus::forbidden, "session belongs to another address", false));
            return;
        }
    }
    session->submit(kind, seq, std::move(body), std::move(slot));
}

void Worker::hand_over(unsigned owner, HttpConnection& connection, HttpRequest&& request,
                       const proto::Route& route, ReplySlotPtr slot) {
    ++counters_.requests_handed_over;
    HandedRequest handed{
        route.kind,        std::string(route.session_id),  route.seq,       std::move(request.body),
        connection.peer(), origin_of(connection, request), std::move(slot), index_};
    Worker& to = *group_.workers[owner];
    to.mailbox().post([&to, handed = std::move(handed)]() mutable { to.take_handed(std::move(handed)); });
}

void Worker::take_handed(HandedRequest request) {
    // The reply goes back to the connection's worker, which alone may touch its slot. A slot
    // dropped unfilled (the loop stopping) still answers, so the connection never waits forever.
    // The worker is looked up when the reply is ready: once the loops have stopped, workers are
    // destroyed one by one, and one that is gone takes no more replies.
    auto local = std::make_shared<ReplySlot>(nullptr);
    local->forward_to([&group = group_, from = request.from,
                       slot = std::move(request.slot)](SharedReply reply) mutable {
        Worker* back = group.workers[from];
        if (back == nullptr) return;
        back->mailbox().post([back, slot = std::move(slot), reply = std::move(reply)] {
            if (reply) {
                slot->fill(reply);
            } else {
                slot->fill(back->replies().error(HttpStatus::service_unavailable, "shutting down", false));
            }
        });
    });
    local->set_kind(request.kind);
    serve_tunnel(request.kind, request.session_id, request.seq, std::move(request.body), request.peer,
                 std::move(local), [&]() -> const RequestOrigin& { return request.origin; });
}

Worker::RequestOrigin Worker::origin_of(const HttpConnection& connection, const HttpRequest& request) const {
    return RequestOrigin{direct_identity(connection), connection.hops(), request.forwarded_for};
}

std::optional<proto::Endpoint> Worker::local_for_header(const HttpConnection& connection) const {
    // Read only for a header that names it: a getsockname per session otherwise wasted.
    if (!config::backend_proxy_version(config().backend)) return std::nullopt;
    return connection.local_endpoint();
}

ClientIdentity Worker::direct_identity(const HttpConnection& connection) const {
    const std::optional<proto::Endpoint>& endpoint = connection.peer_endpoint();
    if (!endpoint)
        return ClientIdentity{
            address_without_port(connection.peer()), connection.peer(), std::nullopt, {}, {}};
    return ClientIdentity{endpoint->address.to_string(), connection.peer(), endpoint->address, endpoint,
                          local_for_header(connection)};
}

ClientIdentity Worker::identify(const HttpConnection& connection, const HttpRequest& request,
                                const config::AccessConfig& access) {
    if (access.trusted_proxies.empty()) return direct_identity(connection);
    return identify(origin_of(connection, request), access);
}

ClientIdentity Worker::identify(const RequestOrigin& origin, const config::AccessConfig& access) {
    const ClientIdentity& direct = origin.direct;
    if (!direct.ip) return direct;
    const proto::IpAddress& peer = *direct.ip;
    const auto& trusted = access.trusted_proxies;
    if (trusted.empty() || !proto::any_contains(trusted, peer)) return direct;
    const proto::ForwardedClient forwarded =
        proto::resolve_forwarded_client(peer, origin.forwarded_for, trusted);
    if (forwarded.malformed) {
        ++counters_.forwarded_unreadable;
        log_.info("http client=" + direct.shown +
                  " X-Forwarded-For has an entry that is no address; the client is taken to be " +
                  forwarded.address.to_string());
    }
    if (forwarded.hops == 0) return direct;
    const std::string address = forwarded.address.to_string();
    return ClientIdentity{address, address + " via=" + origin.hops, forwarded.address,
                          proto::Endpoint{forwarded.address, 0}, direct.local};
}

const char* Worker::access_refusal(const ClientIdentity& client) const {
    const auto& deny = config().access.deny;
    const auto& allow = config().access.allow;
    if (deny.empty() && allow.empty()) return nullptr;
    // Rules exist but the address cannot be read: refuse, since no rule can be shown to allow it.
    if (!client.ip) return "address unreadable";
    if (proto::any_contains(deny, *client.ip)) return "access.deny";
    if (!allow.empty() && !proto::any_contains(allow, *client.ip)) return "not in access.allow";
    return nullptr;
}

Worker::Admission Worker::admit(const ClientIdentity& client) {
    // Access first: a refused address learns nothing about the gateway's load.
    if (const char* rule = access_refusal(client)) {
        ++counters_.refused_access;
        log_.warn("session refused client=" + client.shown + ": " + rule);
        return Admission::access;
    }
    if (run_state_ != RunState::running) {
        ++counters_.refused_draining;
        // Behind a load balancer that retries opens elsewhere these come in bursts: once a second.
        if (drain_refusal_log_.due(Clock::now())) {
            log_.info("session refused client=" + client.shown + ": shutting down (" +
                      std::to_string(counters_.refused_draining) + " refused so far)");
        }
        return Admission::draining;
    }
    if (!group_.limits.take_session(config().session.max_sessions)) {
        ++counters_.refused_max_sessions;
        log_.warn("session refused client=" + client.shown + ": session.max_sessions reached");
        return Admission::full;
    }
    if (!group_.limits.take_client(client.address, config().session.max_sessions_per_client)) {
        group_.limits.give_back_session();
        ++counters_.refused_per_client;
        log_.warn("session refused client=" + client.shown + ": session.max_sessions_per_client reached");
        return Admission::per_client;
    }
    return Admission::ok;
}

void Worker::give_back_admission(const std::string& client_address) {
    group_.limits.give_back_client(client_address);
    group_.limits.give_back_session();
}

std::optional<std::string> Worker::new_session_id(const ClientIdentity& client) {
    std::string id;
    do {
        proto::SessionIdEntropy entropy{};
        if (!fill_random(entropy)) {
            log_.error("session refused client=" + client.shown + ": no randomness from the kernel");
            return std::nullopt;
        }
        id = proto::format_session_id(
            entropy, config().node.tag,
            group_.workers.size() > 1 ? std::optional<unsigned>(index_) : std::nullopt);
    } while (sessions_.contains(id));
    return id;
}

std::string Worker::backend_preamble(const ClientIdentity& client) const {
    const auto version = config::backend_proxy_version(config().backend);
    if (!version) return {};
    return proto::build_proxy_header(*version, client.endpoint, client.local);
}

SessionBase& Worker::add_session(std::unique_ptr<SessionBase> session) {
    SessionBase& s = *session;
    ++counters_.sessions_opened;
    ++counters_.transport_sessions[static_cast<std::size_t>(s.transport())];
    sessions_.emplace(s.id(), std::move(session));
    return s;
}

void Worker::open_session(const ClientIdentity& client, ReplySlotPtr slot, Transport transport) {
    switch (admit(client)) {
        case Admission::ok:
            break;
        case Admission::access:
            slot->fill(replies().error(HttpStatus::forbidden, "address not allowed", false));
            return;
        case Admission::draining:
            slot->fill(replies().error(HttpStatus::service_unavailable, "shutting down", false));
            return;
        case Admission::full:
            slot->fill(replies().error(HttpStatus::service_unavailable, "no session available", false));
            return;
        case Admission::per_client:
            slot->fill(
                replies().error(HttpStatus::too_many_requests, "too many sessions from this address", false));
            return;
    }
    const std::optional<std::string> id = new_session_id(client);
    if (!id) {
        give_back_admission(client.address);
        slot->fill(replies().error(HttpStatus::internal_error, "cannot create session", false));
        return;
    }
    SessionBase& s = add_session(std::make_unique<Session>(*this, *id, client.shown, client.address,
                                                           transport, backend_preamble(client)));
    slot->fill(replies().tunnel(*id + "\n"));
    s.start();
}

void Worker::open_native(HttpConnection& connection, BufferEventPtr client, std::string_view first_bytes) {
    // Native RTMP carries no headers: the peer is the client, and a refusal can only close.
    const ClientIdentity identity = direct_identity(connection);
    if (admit(identity) != Admission::ok) return;  // `client` goes, closing the connection
    const std::optional<std::string> id = new_session_id(identity);
    if (!id) {
        give_back_admission(identity.address);
        return;
    }
    const Transport transport = connection.tls() ? Transport::rtmps : Transport::rtmp;
    SessionBase& s = add_session(std::make_unique<NativeSession>(*this, *id, identity.shown, identity.address,
                                                                 transport, backend_preamble(identity),
                                                                 std::move(client), first_bytes));
    s.start();
}

void Worker::retire(HttpConnection& connection) {
    if (!move_to_retired(connections_, retired_connections_, connection)) return;
    group_.limits.give_back_connection();
    schedule_reaper();
}

void Worker::retire(SessionBase& session) {
    const auto it = sessions_.find(session.id());
    if (it == sessions_.end()) return;
    give_back_admission(session.client_address());
    retired_sessions_.push_back(std::move(it->second));
    sessions_.erase(it);
    schedule_reaper();
}

void Worker::retire(ProxyIntake& intake) {
    if (!move_to_retired(intakes_, retired_intakes_, intake)) return;
    group_.limits.give_back_connection();
    schedule_reaper();
}

void Worker::schedule_reaper() {
    event_active(reaper_.get(), 0, 0);
}

void Worker::reap() {
    retired_sessions_.clear();
    retired_connections_.clear();
    retired_intakes_.clear();
}

void Worker::drain() {
    if (run_state_ == RunState::running) run_state_ = RunState::draining;
    // Listeners stay open: a live session's client may open a new connection for its next request.
}

void Worker::sweep_sessions(Clock::time_point now) {
    // end() retires sessions from the map, so collect first.
    std::vector<SessionBase*> all;
    all.reserve(sessions_.size());
    for (auto& [id, s] : sessions_) all.push_back(s.get());
    for (SessionBase* s : all) s->check_timers(now);
}

void Worker::shut_down() {
    end_all();
    stop_after_grace();
}

void Worker::end_all() {
    if (run_state_ == RunState::stopping) return;
    run_state_ = RunState::stopping;
    listeners_.clear();
    tls_listeners_.clear();
    std::vector<SessionBase*> all;
    for (auto& [id, s] : sessions_) all.push_back(s.get());
    for (SessionBase* s : all) s->end(CloseReason::shutdown);
    event_del(janitor_.get());
}

void Worker::stop_after_grace() {
    // Let queued replies and lingering backend bytes go out, then stop.
    const timeval grace{0, 200'000};
    event_base_loopexit(base_.get(), &grace);
}

void Worker::on_reap(evutil_socket_t, short, void* arg) {
    static_cast<Worker*>(arg)->reap();
}
void Worker::on_janitor(evutil_socket_t, short, void* arg) {
    static_cast<Worker*>(arg)->sweep_sessions(Clock::now());
}

}  // namespace rtmpt::gateway
