#include "gateway/loop/supervisor.hpp"

#include "config/reload.hpp"
#include "gateway/admin/admin_server.hpp"
#include "proto/session_id.hpp"

#include <sched.h>

#include <pthread.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <system_error>

namespace rtmpt::gateway {
namespace {

// Often enough to flush the log's backlog and to notice the end of a drain promptly.
constexpr timeval kJanitorPeriod{0, 250'000};

// Signals go to the supervisor's loop only: worker threads block them from birth.
[[nodiscard]] sigset_t process_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    return set;
}

}  // namespace

unsigned worker_count(const config::ProcessConfig& process) {
    unsigned n = process.workers;
    if (n == 0) {
        cpu_set_t cpus;
        CPU_ZERO(&cpus);
        n = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? static_cast<unsigned>(CPU_COUNT(&cpus)) : 1;
    }
    return std::clamp(n, 1u, proto::kMaxWorkers);
}

Supervisor::Supervisor(const config::Config& config, Logger& log, std::string config_path)
    : current_(std::make_shared<const ConfigSnapshot>(config)),
      log_(log),
      config_path_(std::move(config_path)),
      base_(event_base_new()),
      dns_(evdns_base_new(base_.get(), EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE)),
      mailbox_(base_.get()),
      janitor_(event_new(base_.get(), -1, EV_PERSIST, &Supervisor::on_janitor, this)),
      stop_deadline_(evtimer_new(base_.get(), &Supervisor::on_stop_deadline, this)),
      sigint_(evsignal_new(base_.get(), SIGINT, &Supervisor::on_stop_signal, this)),
      sigterm_(evsignal_new(base_.get(), SIGTERM, &Supervisor::on_stop_signal, this)),
      sighup_(evsignal_new(base_.get(), SIGHUP, &Supervisor::on_reload_signal, this)) {}

Supervisor::~Supervisor() {
    admin_.reset();  // it asks the workers for its pages
    // Only reached with threads running if run() was left by an exception: stop them, or the
    // joins below would wait forever.
    tell_workers(&Worker::shut_down, threads_.size());
    for (std::thread& t : threads_) {
        if (t.joinable()) t.join();
    }
}

TlsContextPtr Supervisor::load_tls(const config::TlsConfig& tls, std::string_view context) {
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

bool Supervisor::bind_listeners(const std::vector<config::HostPort>& wanted, bool tls, bool numeric_only,
                                std::vector<std::pair<config::HostPort, std::vector<ListenSocket>>>& out) {
    bool ok = true;
    for (const auto& address : wanted) {
        if (!tls && std::any_of(listening_.begin(), listening_.end(),
                                [&](const auto& l) { return l.first == address; }))
            continue;
        auto sockets = open_listen_sockets(address, static_cast<unsigned>(workers_.size()), numeric_only);
        if (auto* error = std::get_if<std::string>(&sockets)) {
            log_.error(*error);
            ok = false;
            continue;
        }
        out.emplace_back(address, std::move(std::get<std::vector<ListenSocket>>(sockets)));
    }
    if (!ok) out.clear();  // closes what this call bound
    return ok;
}

bool Supervisor::start() {
    if (!dns_) log_.warn("no DNS resolver configured: backend host names cannot be resolved");
    // Signals first: once "listening" is logged, a SIGTERM must already mean a clean stop.
    event_add(sigint_.get(), nullptr);
    event_add(sigterm_.get(), nullptr);
    event_add(sighup_.get(), nullptr);
    if (!config().tls.listen.empty()) {
        // The key is read here, before privileges are dropped: it may be readable by root only.
        tls_ = load_tls(config().tls, "cannot start");
        if (!tls_) return false;
    }
    const unsigned n = gateway::worker_count(config().process);
    group_.workers.reserve(n);
    for (unsigned i = 0; i < n; ++i) {
        workers_.push_back(std::make_unique<Worker>(group_, i, current_, tls_, log_));
        group_.workers.push_back(workers_.back().get());
    }
    const auto hand_out = [&](const std::vector<config::HostPort>& addresses, bool tls) {
        std::vector<std::pair<config::HostPort, std::vector<ListenSocket>>> bound;
        if (!bind_listeners(addresses, tls, /*numeric_only=*/false, bound)) return false;
        for (auto& [address, sockets] : bound) {
            const std::string where = sockets.front().bound();
            log_.info(std::string(tls ? "listening for TLS on " : "listening on ") + where);
            for (std::size_t i = 0; i < sockets.size(); ++i) {
                if (!workers_[i]->add_listener(address, std::move(sockets[i]), tls)) return false;
            }
            if (!tls) listening_.emplace_back(address, where);
        }
        return true;
    };
    if (!hand_out(config().listen, false)) return false;
    if (!hand_out(config().tls.listen, true)) return false;
    if (!config().admin.listen.empty()) {
        admin_ = std::make_unique<AdminServer>(*this);
        if (!admin_->open()) return false;
    }
    event_add(janitor_.get(), &kJanitorPeriod);
    log_.info("workers=" + std::to_string(n) + (config().process.workers == 0 ? " (one per CPU)" : ""));
    return true;
}

int Supervisor::run() {
    const sigset_t signals = process_signals();
    sigset_t old;
    pthread_sigmask(SIG_BLOCK, &signals, &old);
    std::vector<int> status(workers_.size(), 0);
    std::string failed;
    for (std::size_t i = 0; i < workers_.size() && failed.empty(); ++i) {
        try {
            threads_.emplace_back([this, i, &status] {
                status[i] = workers_[i]->run();
                mailbox_.post([this, i] { worker_stopped(i); });
            });
        } catch (const std::system_error& e) {
            failed = e.what();
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (!failed.empty()) {
        // The workers that did start stop again, after their short grace: they have no sessions.
        log_.error("cannot start worker " + std::to_string(threads_.size()) + ": " + failed);
        tell_workers(&Worker::shut_down, threads_.size());
        for (std::thread& t : threads_) t.join();
        threads_.clear();
        return 1;
    }
    int result = 0;
    if (event_base_dispatch(base_.get()) < 0) {
        log_.error("event loop failed");
        result = 1;
        tell_workers(&Worker::shut_down, workers_.size());
    }
    for (std::thread& t : threads_) t.join();
    threads_.clear();
    // The threads are joined: their counters may be read here.
    Counters total = own_counters();
    for (const auto& w : workers_) total += w->counters();
    log_.info("stats " + total.format());
    for (const int s : status) result = std::max(result, s);
    return worker_failed_ ? std::max(result, 1) : result;
}

void Supervisor::worker_stopped(std::size_t index) {
    if (run_state_ != RunState::stopping) {
        // Its listeners would hold a share of new connections in an accept queue nobody reads,
        // and requests handed to it would wait forever: stop everything, and exit non-zero so
        // that the service manager restarts the process.
        log_.error("worker " + std::to_string(index) + " stopped unexpectedly: stopping the process");
        worker_failed_ = true;
        shut_down();
    }
    if (++stopped_ == workers_.size()) event_base_loopexit(base_.get(), nullptr);
}

void Supervisor::tell_workers(void (Worker::*what)(), std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
        Worker& worker = *workers_[i];
        worker.mailbox().post([&worker, what] { (worker.*what)(); });
    }
}

Counters Supervisor::own_counters() const {
    Counters own = counters_;
    own.log_lines_dropped = log_.dropped();
    return own;
}

void Supervisor::ask_every_worker(std::function<Task(Worker&)> ask, std::function<void()> done) {
    struct Pending {
        std::size_t left = 0;
        std::function<void()> done;
    };
    // Touched on this loop only; the workers merely carry the pointer there and back.
    auto pending = std::make_shared<Pending>();
    pending->left = workers_.size();
    pending->done = std::move(done);
    // Called by every worker thread: `ask` only reads what it captured.
    auto shared_ask = std::make_shared<const std::function<Task(Worker&)>>(std::move(ask));
    for (auto& w : workers_) {
        Worker& worker = *w;
        worker.mailbox().post([this, &worker, shared_ask, pending] {
            mailbox_.post([pending, answer = (*shared_ask)(worker)]() mutable {
                if (answer) answer();
                if (--pending->left == 0) pending->done();
            });
        });
    }
}

void Supervisor::on_every_worker(std::function<void(Worker&)> task, std::function<void()> done) {
    ask_every_worker(
        [task = std::move(task)](Worker& worker) {
            task(worker);
            return Task();
        },
        std::move(done));
}

void Supervisor::gather(bool with_rows, std::function<void(std::vector<WorkerReport>)> done) {
    // Filled on this loop only, each report in its worker's place.
    auto reports = std::make_shared<std::vector<WorkerReport>>(workers_.size());
    ask_every_worker(
        [with_rows, reports](Worker& worker) {
            return Task([reports, report = worker.report(with_rows)]() mutable {
                const std::size_t i = report.index;
                (*reports)[i] = std::move(report);
            });
        },
        [reports, done = std::move(done)] { done(std::move(*reports)); });
}

void Supervisor::reload() {
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
    if (tls_ && next.tls.certificate.empty()) {
        // The tls section was taken out: its listeners stay until a restart (tls.listen is read
        // at start only), and so does the pair they serve.
        log_.warn(
            "reload: tls.certificate is empty but TLS listeners stay until a restart; they keep "
            "the running certificate");
    } else if (tls_) {
        next_tls = load_tls(next.tls, "reload refused");
        if (!next_tls) {
            ++counters_.reloads_failed;
            log_.error("reload refused: the TLS certificate or key of " + config_path_ +
                       " does not load; the running configuration stays");
            return;
        }
    }
    // A host name would mean a blocking lookup inside the running loop: IP addresses only here.
    std::vector<std::pair<config::HostPort, std::vector<ListenSocket>>> bound;
    if (!bind_listeners(next.listen, /*tls=*/false, /*numeric_only=*/true, bound)) {
        ++counters_.reloads_failed;
        log_.error("reload refused: cannot listen on every address of " + config_path_ +
                   "; the running configuration stays");
        return;
    }
    std::vector<std::string> lines;
    for (const auto& [address, sockets] : bound) {
        lines.push_back("listening on " + sockets.front().bound());
        listening_.emplace_back(address, sockets.front().bound());
    }
    std::erase_if(listening_, [&](const auto& l) {
        if (std::find(next.listen.begin(), next.listen.end(), l.first) != next.listen.end()) return false;
        lines.push_back("no longer listening on " + l.second);
        return true;
    });
    log_.set_level(next.log.level);
    log_.set_format(parse_log_format(next.log.format).value_or(LogFormat::text));
    tls_ = std::move(next_tls);
    current_ = std::make_shared<const ConfigSnapshot>(std::move(next));
    // Each worker takes its own socket of every new address; a worker touches only its element.
    auto sockets = std::make_shared<std::vector<std::vector<std::pair<config::HostPort, ListenSocket>>>>(
        workers_.size());
    for (auto& [address, set] : bound) {
        for (std::size_t i = 0; i < set.size(); ++i) (*sockets)[i].emplace_back(address, std::move(set[i]));
    }
    ++counters_.reloads;
    std::string changed;
    for (const std::string& key : plan.changed) changed += (changed.empty() ? "" : ",") + key;
    // Logged once every worker runs by the new configuration: whoever reads "reloaded" may count on it.
    on_every_worker(
        [snapshot = current_, tls = tls_, sockets](Worker& worker) {
            worker.apply_reload(snapshot, tls, std::move((*sockets)[worker.index()]));
        },
        [this, lines = std::move(lines),
         done = "reloaded file=" + config_path_ + " changed=" + (changed.empty() ? "none" : changed)] {
            for (const std::string& line : lines) log_.info(line);
            log_.info(done + ": new sessions use it; " + std::to_string(group_.limits.sessions()) +
                      " live sessions keep theirs");
        });
}

void Supervisor::drain() {
    if (run_state_ == RunState::stopping) return;
    const std::size_t sessions = group_.limits.sessions();
    if (run_state_ == RunState::draining) {
        log_.info("second stop signal: ending " + std::to_string(sessions) + " sessions now");
        shut_down();
        return;
    }
    const config::Duration timeout = config().process.shutdown_timeout;
    if (sessions == 0 || timeout.count() == 0) {
        shut_down();
        return;
    }
    run_state_ = RunState::draining;
    drain_deadline_ = std::chrono::steady_clock::now() + timeout;
    // Listeners stay open: a live session's client may open a new connection for its next request.
    // Logged, and the end of the drain judged, once every worker refuses opens.
    on_every_worker([](Worker& worker) { worker.drain(); },
                    [this, timeout] {
                        if (run_state_ != RunState::draining) return;
                        drain_started_ = true;
                        log_.info("draining sessions=" + std::to_string(group_.limits.sessions()) +
                                  ": new sessions refused; open ones may run on for up to " +
                                  std::to_string(timeout.count()) + "ms (a second signal ends them now)");
                    });
}

void Supervisor::shut_down() {
    if (run_state_ == RunState::stopping) return;
    run_state_ = RunState::stopping;
    log_.info("shutting down: " + std::to_string(group_.limits.sessions()) + " sessions");
    // Every worker ends its sessions first; their last replies to other workers' connections are
    // then queued before any loop starts its final grace. A worker that never answers (its loop
    // gone) holds the others back for a second at most.
    on_every_worker([](Worker& worker) { worker.end_all(); }, [this] { stop_workers(); });
    const timeval deadline{1, 0};
    evtimer_add(stop_deadline_.get(), &deadline);
    // The signal events stay: drain() and reload() do nothing now, whereas deleting them would put
    // the default handlers back, and a SIGHUP (logrotate, systemctl reload) would kill the process
    // before its last replies and lines are out. The loop ends when the last worker has stopped.
}

void Supervisor::stop_workers() {
    if (stop_sent_) return;
    stop_sent_ = true;
    evtimer_del(stop_deadline_.get());
    tell_workers(&Worker::stop_after_grace, workers_.size());
}

void Supervisor::on_stop_deadline(evutil_socket_t, short, void* arg) {
    static_cast<Supervisor*>(arg)->stop_workers();
}

void Supervisor::janitor() {
    log_.flush();  // lines stderr could not take at once
    if (run_state_ != RunState::draining || !drain_started_) return;
    if (group_.limits.sessions() == 0) {
        log_.info("drained: every session has ended");
        shut_down();
    } else if (std::chrono::steady_clock::now() >= drain_deadline_) {
        log_.info("process.shutdown_timeout reached: ending " + std::to_string(group_.limits.sessions()) +
                  " sessions");
        shut_down();
    }
}

void Supervisor::on_janitor(evutil_socket_t, short, void* arg) {
    static_cast<Supervisor*>(arg)->janitor();
}
void Supervisor::on_stop_signal(evutil_socket_t, short, void* arg) {
    static_cast<Supervisor*>(arg)->drain();
}
void Supervisor::on_reload_signal(evutil_socket_t, short, void* arg) {
    static_cast<Supervisor*>(arg)->reload();
}

}  // namespace rtmpt::gateway
