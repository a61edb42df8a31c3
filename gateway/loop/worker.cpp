#include "gateway/loop/worker.hpp"

#include "build_info.hpp"
#include "config/reload.hpp"
#include "gateway/admin/admin_server.hpp"
#include "gateway/tunnel/entropy.hpp"
#include "gateway/tunnel/native_session.hpp"
#include "proto/forwarded_for.hpp"
#include "proto/route.hpp"
#include "proto/session_id.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
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

Worker::Worker(const config::Config& config, Logger& log)
    : current_(std::make_shared<const ConfigSnapshot>(config)),
      log_(log),
      base_(event_base_new()),
      dns_(evdns_base_new(base_.get(), EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE)),
      reaper_(event_new(base_.get(), -1, 0, &Worker::on_reap, this)),
      janitor_(event_new(base_.get(), -1, EV_PERSIST, &Worker::on_janitor, this)),
      sigint_(evsignal_new(base_.get(), SIGINT, &Worker::on_stop_signal, this)),
      sigterm_(evsignal_new(base_.get(), SIGTERM, &Worker::on_stop_signal, this)),
      sighup_(evsignal_new(base_.get(), SIGHUP, &Worker::on_reload_signal, this)) {}

Worker::~Worker() {
    admin_.reset();  // it reads sessions and connections for its pages
    // Sessions first: they hand unsent bytes to the linger set and reach into the worker.
    sessions_.clear();
    retired_sessions_.clear();
    connections_.clear();
    retired_connections_.clear();
    intakes_.clear();
    retired_intakes_.clear();
}

bool Worker::start() {
    if (!dns_) log_.warn("no DNS resolver configured: backend host names cannot be resolved");
    // Signals first: once "listening" is logged, a SIGTERM must already mean a clean stop.
    event_add(sigint_.get(), nullptr);
    event_add(sigterm_.get(), nullptr);
    event_add(sighup_.get(), nullptr);
    if (!open_listeners(config().listen, /*numeric_only=*/false)) return false;
    if (!config().tls.listen.empty()) {
        // The key is read here, before privileges are dropped: it may be readable by root only.
        tls_ = load_tls(config().tls, "cannot start");
        if (!tls_) return false;
        for (const auto& address : config().tls.listen) {
            auto listener = std::make_unique<Listener>(
                *this, address,
                [this](evutil_socket_t fd, std::string peer) { accept(fd, std::move(peer), true); });
            if (!listener->open()) {
                log_.error(listener->error());
                return false;
            }
            log_.info("listening for TLS on " + listener->bound_address());
            tls_listeners_.push_back(std::move(listener));
        }
    }
    if (!config().admin.listen.empty()) {
        admin_ = std::make_unique<AdminServer>(*this);
        if (!admin_->open()) return false;
    }
    event_add(janitor_.get(), &kJanitorPeriod);
    return true;
}

bool Worker::open_listeners(const std::vector<config::HostPort>& wanted, bool numeric_only) {
    std::vector<std::unique_ptr<Listener>> opened;
    bool ok = true;
    for (const auto& address : wanted) {
        const bool open_already = std::any_of(listeners_.begin(), listeners_.end(),
                                              [&](const auto& l) { return l->address() == address; });
        if (open_already) continue;
        auto listener = std::make_unique<Listener>(*this, address);
        if (!listener->open(numeric_only)) {
            log_.error(listener->error());
            ok = false;
            continue;
        }
        opened.push_back(std::move(listener));
    }
    if (!ok) return false;  // `opened` closes what this call bound
    for (auto& listener : opened) {
        log_.info("listening on " + listener->bound_address());
        listeners_.push_back(std::move(listener));
    }
    return true;
}

void Worker::close_listeners_not_in(const std::vector<config::HostPort>& wanted) {
    std::erase_if(listeners_, [&](const std::unique_ptr<Listener>& l) {
        if (std::find(wanted.begin(), wanted.end(), l->address()) != wanted.end()) return false;
        // Connections accepted on it stay: they may carry live sessions' requests.
        log_.info("no longer listening on " + l->bound_address());
        return true;
    });
}

TlsContextPtr Worker::load_tls(const config::TlsConfig& tls, std::string_view context) {
    auto loaded = TlsContext::load(tls.certificate, tls.key, tls.sni_directory);
    if (auto* error = std::get_if<std::string>(&loaded)) {
        log_.error(std::string(context) + ": tls: " + *error);
        return nullptr;
    }
    TlsContextPtr ctx = std::move(std::get<TlsContextPtr>(loaded));
    for (const auto& c : ctx->certificates()) {
        char left[32];
        std::snprintf(left, sizeof left, "%.1f", std::difftime(c.not_after, std::time(nullptr)) / 86400);
        log_.info("tls certificate file=" + c.file + " subject=" + c.subject + " expires_in_days=" + left);
    }
    return ctx;
}

void Worker::apply_log_settings(const config::LogConfig& log) {
    log_.set_level(log.level);
    log_.set_format(parse_log_format(log.format).value_or(LogFormat::text));
}

void Worker::reload() {
    if (run_state_ != RunState::running) {
        log_.warn("reload ignored: shutting down");
        return;
    }
    if (config_path_.empty()) {
        log_.warn("reload ignored: no configuration file");
        return;
    }
    config::LoadResult loaded = config::load_file(config_path_);
    if (!loaded.config) {
        ++counters_.reloads_failed;
        for (const auto& e : loaded.errors) log_.error("reload refused: " + config::format_error(e));
        log_.error("reload refused: " + std::to_string(loaded.errors.size()) + " error(s) in " +
                   config_path_ + "; the running configuration stays");
        return;
    }
    config::Config next = std::move(*loaded.config);
    const config::ReloadPlan plan = config::plan_reload(config(), next);
    for (const std::string& key : plan.needs_restart) {
        log_.warn("reload: " + key +
                  " changed but applies only at the next start; it keeps its running value");
    }
    // The certificate and key are read again on every reload, changed or not: a renewal
    // (certbot) replaces the files and ends in a reload. New connections get the new pair; live
    // ones keep theirs. A pair that does not load refuses the whole reload.
    TlsContextPtr next_tls = tls_;
    if (!tls_listeners_.empty() && next.tls.certificate.empty()) {
        // The tls section was taken out: its listeners stay until a restart (tls.listen is read
        // at start only), and so does the pair they serve.
        log_.warn(
            "reload: tls.certificate is empty but TLS listeners stay until a restart; they keep "
            "the running certificate");
    } else if (!tls_listeners_.empty()) {
        next_tls = load_tls(next.tls, "reload refused");
        if (!next_tls) {
            ++counters_.reloads_failed;
            log_.error("reload refused: the TLS certificate or key of " + config_path_ +
                       " does not load; the running configuration stays");
            return;
        }
    }
    // New addresses first, old ones after: some listener accepts at every moment.
    // A host name would mean a blocking lookup inside the running loop: IP addresses only here.
    if (!open_listeners(next.listen, /*numeric_only=*/true)) {
        ++counters_.reloads_failed;
        log_.error("reload refused: cannot listen on every address of " + config_path_ +
                   "; the running configuration stays");
        return;
    }
    close_listeners_not_in(next.listen);
    apply_log_settings(next.log);
    tls_ = std::move(next_tls);
    current_ = std::make_shared<const ConfigSnapshot>(std::move(next));
    ++counters_.reloads;
    std::string changed;
    for (const std::string& key : plan.changed) changed += (changed.empty() ? "" : ",") + key;
    log_.info("reloaded file=" + config_path_ + " changed=" + (changed.empty() ? "none" : changed) +
              ": new sessions use it; " + std::to_string(sessions_.size()) + " live sessions keep theirs");
}

int Worker::run() {
    if (event_base_dispatch(base_.get()) < 0) {
        log_.error("event loop failed");
        return 1;
    }
    return 0;
}

void Worker::accept(evutil_socket_t fd, std::string peer, bool tls) {
    if (connection_count() >= config().http.max_connections) {
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
    retire(intake);
    start_connection(fd, std::move(peer), tls);
}

void Worker::start_connection(evutil_socket_t fd, ClientPeer peer, bool tls) {
    SSL* ssl = nullptr;
    if (tls && (!tls_ || (ssl = tls_->new_connection()) == nullptr)) {
        log_.error("connection refused client=" + peer.shown +
                   ": cannot start TLS: " + take_tls_error("out of memory"));
        evutil_closesocket(fd);
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
            const auto it = sessions_.find(std::string(route.session_id));
            // A native RTMP relay's id is no tunnel's: as unknown as any other.
            Session* session = it == sessions_.end() ? nullptr : it->second->rtmpt();
            if (session == nullptr) {
                ++counters_.unknown_session;
                log_.info("http client=" + connection.peer() +
                          " answered 404: unknown session sid=" + std::string(route.session_id) +
                          misrouted_note(route.session_id, config().node.tag));
                slot->fill(replies().error(HttpStatus::not_found, "unknown session", false));
                return;
            }
            // The session's own access settings: a reload must not turn on binding, or change whose
            // X-Forwarded-For is believed, for a session opened before it.
            if (const config::AccessConfig& access = session->cfg().access; access.bind_session_to_client) {
                const ClientIdentity client = identify(connection, request, access);
                if (client.address != session->client_address()) {
                    ++counters_.refused_other_client;
                    log_.info("http client=" + client.shown + " answered 403: session sid=" + it->first +
                              " belongs to " + session->client_address());
                    slot->fill(
                        replies().error(HttpStatus::forbidden, "session belongs to another address", false));
                    return;
                }
            }
            session->submit(route.kind, route.seq, std::move(request.body), std::move(slot));
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
    ClientIdentity direct = direct_identity(connection);
    if (!direct.ip) return direct;
    const proto::IpAddress& peer = *direct.ip;
    const auto& trusted = access.trusted_proxies;
    if (trusted.empty() || !proto::any_contains(trusted, peer)) return direct;
    const proto::ForwardedClient forwarded =
        proto::resolve_forwarded_client(peer, request.forwarded_for, trusted);
    if (forwarded.malformed) {
        ++counters_.forwarded_unreadable;
        log_.info("http client=" + connection.peer() +
                  " X-Forwarded-For has an entry that is no address; the client is taken to be " +
                  forwarded.address.to_string());
    }
    if (forwarded.hops == 0) return direct;
    const std::string address = forwarded.address.to_string();
    return ClientIdentity{address, address + " via=" + connection.hops(), forwarded.address,
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
    if (sessions_.size() >= config().session.max_sessions) {
        ++counters_.refused_max_sessions;
        log_.warn("session refused client=" + client.shown + ": session.max_sessions reached");
        return Admission::full;
    }
    const std::uint32_t per_client_cap = config().session.max_sessions_per_client;
    if (per_client_cap != 0 && sessions_per_client_[client.address] >= per_client_cap) {
        ++counters_.refused_per_client;
        log_.warn("session refused client=" + client.shown + ": session.max_sessions_per_client reached");
        return Admission::per_client;
    }
    return Admission::ok;
}

std::optional<std::string> Worker::new_session_id(const ClientIdentity& client) {
    std::string id;
    do {
        proto::SessionIdEntropy entropy{};
        if (!fill_random(entropy)) {
            log_.error("session refused client=" + client.shown + ": no randomness from the kernel");
            return std::nullopt;
        }
        id = proto::format_session_id(entropy, config().node.tag);
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
    ++sessions_per_client_[s.client_address()];
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
    if (!id) return;
    const Transport transport = connection.tls() ? Transport::rtmps : Transport::rtmp;
    SessionBase& s = add_session(std::make_unique<NativeSession>(*this, *id, identity.shown, identity.address,
                                                                 transport, backend_preamble(identity),
                                                                 std::move(client), first_bytes));
    s.start();
}

void Worker::retire(HttpConnection& connection) {
    if (move_to_retired(connections_, retired_connections_, connection)) schedule_reaper();
}

void Worker::retire(SessionBase& session) {
    const auto it = sessions_.find(session.id());
    if (it == sessions_.end()) return;
    if (const auto per = sessions_per_client_.find(session.client_address());
        per != sessions_per_client_.end() && --per->second == 0) {
        sessions_per_client_.erase(per);
    }
    retired_sessions_.push_back(std::move(it->second));
    sessions_.erase(it);
    schedule_reaper();
}

void Worker::retire(ProxyIntake& intake) {
    if (move_to_retired(intakes_, retired_intakes_, intake)) schedule_reaper();
}

void Worker::schedule_reaper() {
    event_active(reaper_.get(), 0, 0);
}

void Worker::reap() {
    retired_sessions_.clear();
    retired_connections_.clear();
    retired_intakes_.clear();
}

void Worker::janitor() {
    log_.flush();                                  // lines stderr could not take at once
    counters_.log_lines_dropped = log_.dropped();  // current for /metrics, not only the stats line
    const auto now = Clock::now();
    sweep_sessions(now);
    if (run_state_ != RunState::draining) return;
    if (sessions_.empty()) {
        log_.info("drained: every session has ended");
        shut_down();
    } else if (now >= drain_deadline_) {
        log_.info("process.shutdown_timeout reached: ending " + std::to_string(sessions_.size()) +
                  " sessions");
        shut_down();
    }
}

void Worker::drain() {
    if (run_state_ == RunState::stopping) return;
    if (run_state_ == RunState::draining) {
        log_.info("second stop signal: ending " + std::to_string(sessions_.size()) + " sessions now");
        shut_down();
        return;
    }
    const config::Duration timeout = config().process.shutdown_timeout;
    if (sessions_.empty() || timeout.count() == 0) {
        shut_down();
        return;
    }
    run_state_ = RunState::draining;
    drain_deadline_ = Clock::now() + timeout;
    // Listeners stay open: a live session's client may open a new connection for its next request.
    log_.info("draining sessions=" + std::to_string(sessions_.size()) + ": new sessions refused; open ones " +
              "may run on for up to " + std::to_string(timeout.count()) +
              "ms (a second signal ends them now)");
}

void Worker::sweep_sessions(Clock::time_point now) {
    // end() retires sessions from the map, so collect first.
    std::vector<SessionBase*> all;
    all.reserve(sessions_.size());
    for (auto& [id, s] : sessions_) all.push_back(s.get());
    for (SessionBase* s : all) s->check_timers(now);
}

void Worker::shut_down() {
    if (run_state_ == RunState::stopping) return;
    run_state_ = RunState::stopping;
    log_.info("shutting down: " + std::to_string(sessions_.size()) + " sessions");
    listeners_.clear();
    tls_listeners_.clear();
    std::vector<SessionBase*> all;
    for (auto& [id, s] : sessions_) all.push_back(s.get());
    for (SessionBase* s : all) s->end(CloseReason::shutdown);
    counters_.log_lines_dropped = log_.dropped();
    log_.info("stats " + counters_.format());
    event_del(janitor_.get());
    // The signal events stay: drain() and reload() do nothing now, whereas deleting them would put
    // the default handlers back, and a SIGHUP (logrotate, systemctl reload) would kill the process
    // before its last replies and lines are out.
    // Let queued replies and lingering backend bytes go out, then stop.
    const timeval grace{0, 200'000};
    event_base_loopexit(base_.get(), &grace);
}

void Worker::on_reap(evutil_socket_t, short, void* arg) {
    static_cast<Worker*>(arg)->reap();
}
void Worker::on_janitor(evutil_socket_t, short, void* arg) {
    static_cast<Worker*>(arg)->janitor();
}
void Worker::on_stop_signal(evutil_socket_t, short, void* arg) {
    static_cast<Worker*>(arg)->drain();
}
void Worker::on_reload_signal(evutil_socket_t, short, void* arg) {
    static_cast<Worker*>(arg)->reload();
}

}  // namespace rtmpt::gateway
