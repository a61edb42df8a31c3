// The process: its workers (one event loop and thread each, gateway/loop/worker.hpp) and the parts
// there is one of per process, on a loop of their own on the main thread: signals, the
// configuration and its reloads, the drain, the admin listener, the log's backlog, and the sum of
// the workers' counters. It binds every listening socket itself (one per worker and address, with
// SO_REUSEPORT), so that a reload gets all its addresses or changes nothing, and tells the workers
// what changed through their mailboxes. Nothing here runs on a request's path.
#pragma once

#include "config/config.hpp"
#include "gateway/client/tls_context.hpp"
#include "gateway/logging/logger.hpp"
#include "gateway/loop/config_snapshot.hpp"
#include "gateway/loop/counters.hpp"
#include "gateway/loop/event_ptr.hpp"
#include "gateway/loop/mailbox.hpp"
#include "gateway/loop/worker.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace rtmpt::gateway {

class AdminServer;

class Supervisor {
  public:
    enum class RunState {
        running,   // serving
        draining,  // SIGTERM/SIGINT: opens refused, live sessions run on until process.shutdown_timeout
        stopping,  // the workers are ending their sessions and stopping; the process exits after them
    };

    Supervisor(const config::Config& config, Logger& log, std::string config_path);
    ~Supervisor();
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    // Makes the workers and binds every listener, before privileges are dropped; false (logged)
    // if anything cannot be opened.
    [[nodiscard]] bool start();
    // Starts the worker threads and runs until they have all stopped; the process exit status.
    [[nodiscard]] int run();

    // SIGHUP: re-reads the config file. Keys apply to sessions opened from now on; live sessions
    // keep the configuration they opened with. A file with errors changes nothing.
    void reload();
    // SIGTERM/SIGINT: refuse new sessions and let live ones run on for up to
    // process.shutdown_timeout, then stop. A second call stops at once.
    void drain();

    // Asks every worker for its report; `done` gets them all, on this loop, once the last is in.
    // Never called if the workers have stopped first.
    void gather(bool with_rows, std::function<void(std::vector<WorkerReport>)> done);

    [[nodiscard]] event_base* base() const { return base_.get(); }
    [[nodiscard]] evdns_base* dns() const { return dns_.get(); }
    [[nodiscard]] const config::Config& config() const { return current_->config; }
    [[nodiscard]] const Logger& log() const { return log_; }
    // The process's own counters (admin, reloads, the log); the workers keep theirs.
    [[nodiscard]] Counters& counters() { return counters_; }
    // What the process's sums start from: the counters above, with the log's drop count as of
    // now. The stats line and /metrics add every worker's to them.
    [[nodiscard]] Counters own_counters() const;
    [[nodiscard]] const TlsContextPtr& tls_context() const { return tls_; }
    [[nodiscard]] RunState run_state() const { return run_state_; }
    [[nodiscard]] std::size_t worker_count() const { return workers_.size(); }

  private:
    // Binds `wanted`'s addresses that are not open yet (in `listening_`, for `listen`), one socket
    // per worker; on any failure closes what it bound and returns false. Result: per address, one
    // socket per worker.
    [[nodiscard]] bool bind_listeners(
        const std::vector<config::HostPort>& wanted, bool tls, bool numeric_only,
        std::vector<std::pair<config::HostPort, std::vector<ListenSocket>>>& out);
    // Loads tls.certificate and tls.key into a new context; null (logged, naming the file) if
    // the pair does not load.
    [[nodiscard]] TlsContextPtr load_tls(const config::TlsConfig& tls, std::string_view context);
    // Runs `ask` on every worker, each on its own thread; the Task it returns (if any) runs here,
    // and `done` runs here once every worker's has.
    void ask_every_worker(std::function<Task(Worker&)> ask, std::function<void()> done);
    // Runs `task` on every worker, each on its own thread, then `done` here once all have.
    void on_every_worker(std::function<void(Worker&)> task, std::function<void()> done);
    // Posts `what` to the first `count` workers, with no answer awaited.
    void tell_workers(void (Worker::*what)(), std::size_t count);
    void shut_down();
    // The second step of shut_down, once every worker has ended its sessions (or after a
    // deadline, should one never answer).
    void stop_workers();
    void janitor();
    void worker_stopped(std::size_t index);
    static void on_stop_deadline(evutil_socket_t, short, void* arg);
    static void on_janitor(evutil_socket_t, short, void* arg);
    static void on_stop_signal(evutil_socket_t, short, void* arg);
    static void on_reload_signal(evutil_socket_t, short, void* arg);

    ConfigSnapshotPtr current_;
    Logger& log_;
    const std::string config_path_;
    EventBasePtr base_;
    DnsBasePtr dns_;
    Mailbox mailbox_;
    Counters counters_;
    TlsContextPtr tls_;
    // The `listen` addresses bound now, with the address each is bound to, for the log.
    std::vector<std::pair<config::HostPort, std::string>> listening_;

    WorkerGroup group_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::vector<std::thread> threads_;
    std::size_t stopped_ = 0;     // workers whose loop has ended
    bool worker_failed_ = false;  // a worker's loop ended before it was told to stop
    bool stop_sent_ = false;      // stop_workers has run
    bool drain_started_ = false;  // every worker refuses opens: the drain's end may be judged

    EventPtr janitor_;
    EventPtr stop_deadline_;
    EventPtr sigint_;
    EventPtr sigterm_;
    EventPtr sighup_;
    RunState run_state_ = RunState::running;
    std::chrono::steady_clock::time_point drain_deadline_{};
    std::unique_ptr<AdminServer> admin_;  // none when admin.listen is []
};

// The workers process.workers asks for: itself, or with 0 the CPUs this process may run on.
[[nodiscard]] unsigned worker_count(const config::ProcessConfig& process);

}  // namespace rtmpt::gateway
