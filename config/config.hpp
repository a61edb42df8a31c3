// The gateway's configuration: one typed, validated structure loaded from one YAML file.
// Every key is described once, in the directive table of config/directives.cpp; the loader,
// `--help` and the example config all come from that table.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/ip_address.hpp"
#include "proto/proxy_protocol.hpp"

namespace rtmpt::config {

using Duration = std::chrono::milliseconds;

enum class LogLevel { debug, info, warn, error };

// "0.0.0.0:80", "[::]:80", "example.org:1935": host is kept without brackets.
struct HostPort {
    std::string host;
    std::uint16_t port = 0;

    friend bool operator==(const HostPort&, const HostPort&) = default;
};

// This gateway's place among several behind one load balancer.
struct NodeConfig {
    std::string tag;  // starts every session id ("<tag>.<random>"); empty: ids carry no tag

    friend bool operator==(const NodeConfig&, const NodeConfig&) = default;
};

struct BackendConfig {
    HostPort address{"127.0.0.1", 1935};
    Duration connect_timeout{5000};
    Duration write_timeout{10'000};  // the backend taking none of our bytes for this long ends the session
    // "off", "v1" or "v2": the PROXY header every backend connection starts with, naming the client.
    std::string proxy_protocol = "off";

    friend bool operator==(const BackendConfig&, const BackendConfig&) = default;
};

struct SessionConfig {
    Duration idle_timeout{60'000};
    std::uint32_t max_sessions = 10'000;
    std::size_t reply_max_bytes = 64 * 1024;  // the whole reply body, polling byte included
    std::size_t queue_max_bytes = 1024 * 1024;
    // How long an /idle with nothing to return may be held back (FMS IdleAckInterval); 0 answers at once.
    Duration idle_hold{100};
    // How long an /idle that finds backend bytes, but less than a full reply, may wait for more.
    Duration coalesce_wait{5};
    // An opened session must send its first bytes (the RTMP handshake) within this.
    Duration handshake_timeout{10'000};
    // A request waiting for an earlier sequence number ends the session after this long.
    Duration sequence_gap_timeout{5'000};
    // A session whose first request to arrive is numbered 1 waits this long for a 0 (Flash's
    // overlapping start) before its numbers are taken to start at 1 (the Red5 client).
    Duration sequence_base_wait{500};
    Duration max_lifetime{0};                   // 0: unlimited
    std::size_t max_bytes = 0;                  // per direction; 0: unlimited
    std::uint32_t max_sessions_per_client = 0;  // per client address; 0: unlimited

    friend bool operator==(const SessionConfig&, const SessionConfig&) = default;
};

struct HttpConfig {
    Duration keepalive_timeout{120'000};
    Duration header_timeout{10'000};  // a request's line and headers must arrive within this
    std::uint32_t max_connections = 20'000;
    std::size_t max_header_bytes = 8 * 1024;
    std::size_t max_body_bytes = 1024 * 1024;
    std::string mime_type = "application/x-fcs";
    std::string ident2;  // empty: /fcs/ident2 answers 404

    friend bool operator==(const HttpConfig&, const HttpConfig&) = default;
};

// Who may open sessions, and whose word on client addresses is believed.
struct AccessConfig {
    std::vector<proto::IpNetwork> allow;  // empty: every address not denied
    std::vector<proto::IpNetwork> deny;   // checked first
    // Proxies whose X-Forwarded-For names the client, for access rules, per-client limits and logs.
    std::vector<proto::IpNetwork> trusted_proxies;
    // Load balancers whose connections begin with a PROXY header naming the client; nobody
    // else's first bytes are read as one.
    std::vector<proto::IpNetwork> proxy_protocol_from;
    // A session answers only requests from the address that opened it.
    bool bind_session_to_client = false;

    friend bool operator==(const AccessConfig&, const AccessConfig&) = default;
};

// TLS listeners: RTMPTS (RTMPT over HTTPS) for clients whose network lets only HTTPS out.
struct TlsConfig {
    std::vector<HostPort> listen;  // empty: no TLS listener
    std::string certificate;       // PEM: the leaf first, then its chain
    std::string key;               // PEM private key of the leaf
    std::string sni_directory;     // *.pem files (chain and key each), chosen by SNI; empty: none

    friend bool operator==(const TlsConfig&, const TlsConfig&) = default;
};

// The admin listener: metrics, health and the session list, for operators only.
struct AdminConfig {
    // Loopback by default: the endpoints show client addresses and load, not for the public side.
    std::vector<HostPort> listen{HostPort{"127.0.0.1", 9180}};  // empty: no admin listener
    std::uint32_t max_connections = 16;
    // /healthz's TCP connect probe of the backend gives up after this long.
    Duration health_probe_timeout{1000};

    friend bool operator==(const AdminConfig&, const AdminConfig&) = default;
};

// The identity the daemon runs as once its listeners are bound.
struct ProcessConfig {
    std::string user;   // empty: keep the current user
    std::string group;  // empty: the user's primary group
    bool allow_root = false;
    // SIGTERM/SIGINT: sessions may run on this long before they are ended; 0 ends them at once.
    Duration shutdown_timeout{30'000};
    // Event loops, one thread each; 0: one per CPU the process may run on.
    std::uint32_t workers = 0;

    friend bool operator==(const ProcessConfig&, const ProcessConfig&) = default;
};

struct LogConfig {
    LogLevel level = LogLevel::info;
    std::string format = "text";  // text, logfmt or json
    bool access = false;          // one line per HTTP request

    friend bool operator==(const LogConfig&, const LogConfig&) = default;
};

struct Config {
    std::vector<HostPort> listen{HostPort{"0.0.0.0", 80}};
    NodeConfig node;
    BackendConfig backend;
    SessionConfig session;
    HttpConfig http;
    AccessConfig access;
    TlsConfig tls;
    AdminConfig admin;
    ProcessConfig process;
    LogConfig log;

    friend bool operator==(const Config&, const Config&) = default;
};

// One problem found in a config file; all of them are collected in one run.
struct ConfigError {
    std::string file;
    int line = 0;     // 1-based; 0 when the error is not tied to a line
    std::string key;  // dotted path, e.g. "session.idle_timeout"; empty for file-level errors
    std::string message;
};

// "file:line: key: message"
[[nodiscard]] std::string format_error(const ConfigError& e);

struct LoadResult {
    std::optional<Config> config;  // set only when errors is empty
    std::vector<ConfigError> errors;
};

// Parses and validates; never throws.
[[nodiscard]] LoadResult load_file(const std::string& path);
[[nodiscard]] LoadResult load_string(std::string_view yaml, std::string_view file_name);

// Every key with its type, default, bounds and help, for `--help`.
[[nodiscard]] std::string describe_keys();

[[nodiscard]] std::string_view log_level_name(LogLevel level);

// backend.proxy_protocol as a version; nothing when it is off.
[[nodiscard]] std::optional<proto::ProxyVersion> backend_proxy_version(const BackendConfig& backend);

}  // namespace rtmpt::config
