// rtmpt-gateway: terminates RTMPT on HTTP keep-alive connections and relays each tunnel
// session over one native RTMP connection to a fixed backend.
#include "build_info.hpp"
#include "config/config.hpp"
#include "config/example.hpp"
#include "gateway/logging/logger.hpp"
#include "gateway/loop/supervisor.hpp"
#include "gateway/process/cli.hpp"
#include "gateway/process/man_page.hpp"
#include "gateway/process/privileges.hpp"

#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>

int main(int argc, char** argv) {
    using namespace rtmpt;
    std::string error;
    const auto cl = gateway::parse_command_line(argc, argv, error);
    if (!cl) {
        std::cerr << "rtmpt-gateway: " << error << "\n"
                  << "Try 'rtmpt-gateway --help'.\n";
        return 2;
    }
    switch (cl->action) {
        case gateway::CommandLine::Action::version:
            std::cout << "rtmpt-gateway " << RTMPT_GATEWAY_VERSION << "\n";
            return 0;
        case gateway::CommandLine::Action::help:
            std::cout << gateway::usage_text();
            return 0;
        case gateway::CommandLine::Action::print_example_config:
            std::cout << config::example_yaml();
            return 0;
        case gateway::CommandLine::Action::print_man_page:
            std::cout << gateway::man_page(RTMPT_GATEWAY_VERSION);
            return 0;
        default:
            break;
    }

    const config::LoadResult loaded = config::load_file(cl->config_path);
    if (!loaded.config) {
        for (const auto& e : loaded.errors) std::cerr << config::format_error(e) << "\n";
        std::cerr << cl->config_path << ": " << loaded.errors.size() << " error(s)\n";
        return 1;
    }
    gateway::PrivilegePlan privileges;
    if (std::string error; !gateway::plan_privileges(loaded.config->process, privileges, error)) {
        std::cerr << cl->config_path << ": " << error << "\n";
        return 1;
    }
    if (cl->action == gateway::CommandLine::Action::test_config) {
        if (const auto& tls = loaded.config->tls; !tls.listen.empty()) {
            // The pair must load and match; say when the certificate runs out.
            auto ctx = gateway::TlsContext::load(tls.certificate, tls.key, tls.sni_directory);
            if (auto* error = std::get_if<std::string>(&ctx)) {
                std::cerr << cl->config_path << ": tls: " << *error << "\n";
                return 1;
            }
            for (const auto& c : std::get<gateway::TlsContextPtr>(ctx)->certificates()) {
                char when[32] = "?";
                if (std::tm tm{}; gmtime_r(&c.not_after, &tm) != nullptr)
                    std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
                std::cout << c.file << ": " << c.subject << ", expires " << when << " (in "
                          << static_cast<long long>(std::difftime(c.not_after, std::time(nullptr)) / 86400)
                          << " days)\n";
            }
        }
        std::cout << cl->config_path << ": configuration is valid\n";
        return 0;
    }

    // A client vanishing mid-write must be an error return, not a process-killing signal.
    std::signal(SIGPIPE, SIG_IGN);
    // The supervisor's signal events put back the handlers they found when it goes; with "ignore" found,
    // a late SIGHUP or SIGTERM cannot cut the last log lines (the stats line) short.
    std::signal(SIGHUP, SIG_IGN);
    std::signal(SIGTERM, SIG_IGN);
    std::signal(SIGINT, SIG_IGN);

    const config::Config& cfg = *loaded.config;
    gateway::Logger log(cfg.log.level, 2,
                        gateway::parse_log_format(cfg.log.format).value_or(gateway::LogFormat::text));
    log.info(std::string("rtmpt-gateway ") + RTMPT_GATEWAY_VERSION + " starting, backend " +
             cfg.backend.address.host + ":" + std::to_string(cfg.backend.address.port));
    if (std::string error; !gateway::may_start(privileges, error)) {
        log.error(error);
        return 1;
    }
    // Start-up may throw (an eventfd or a thread the kernel refuses): said in one line, not a core dump.
    std::unique_ptr<gateway::Supervisor> supervisor;
    try {
        supervisor = std::make_unique<gateway::Supervisor>(cfg, log, cl->config_path);
        if (!supervisor->start()) return 1;
    } catch (const std::exception& e) {
        log.error(std::string("cannot start: ") + e.what());
        return 1;
    }
    std::string done;
    if (std::string error; !gateway::drop_privileges(privileges, done, error)) {
        log.error(error);
        return 1;
    }
    log.info(done);
    const int status = supervisor->run();
    log.info("stopped");
    return status;
}
