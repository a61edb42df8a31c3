#include "config/directives.hpp"

#include <algorithm>
#include <array>
#include <chrono>

namespace rtmpt::config {
namespace {

using namespace std::chrono_literals;

[[nodiscard]] constexpr std::uint64_t ms(Duration d) {
    return static_cast<std::uint64_t>(d.count());
}
constexpr std::uint64_t kKiB = 1024;
constexpr std::uint64_t kMiB = 1024 * kKiB;
constexpr std::uint64_t kGiB = 1024 * kMiB;

constexpr std::array<std::string_view, 3> kLogFormats{"text", "logfmt", "json"};
constexpr std::array<std::string_view, 3> kProxyProtocols{"off", "v1", "v2"};

// Kept in the order of the YAML file: --help and the generated example follow it.
constexpr std::array kDirectives{
    Directive{
        .name = "listen",
        .type = ValueType::host_port_list,
        .default_text = "0.0.0.0:80",
        .min = 0,
        .max = 65535,
        .help = "Addresses to accept RTMPT (HTTP) connections on; a list, or one address. "
                "IPv6 goes in brackets: \"[::]:80\". Port 0 lets the kernel pick one.",
        .slot = [](Config& c) -> Slot { return &c.listen; },
    },
    Directive{
        .name = "node.tag",
        .type = ValueType::string,
        .default_text = "",
        .min = 0,
        .max = 16,
        .rule = StringRule::node_tag,
        .help = "Tag that starts every session id this gateway hands out (\"n1\" gives \"n1.Hk3...\"), "
                "so a load balancer in front of several gateways can send each request to the node "
                "that opened its session; empty: ids carry no tag.",
        .slot = [](Config& c) -> Slot { return &c.node.tag; },
    },
    Directive{
        .name = "backend.address",
        .type = ValueType::host_port,
        .default_text = "127.0.0.1:1935",
        .min = 1,
        .max = 65535,
        .help = "The RTMP server each RTMPT session is relayed to: IP address or host name, and port.",
        .slot = [](Config& c) -> Slot { return &c.backend.address; },
    },
    Directive{
        .name = "backend.connect_timeout",
        .type = ValueType::duration,
        .default_text = "5s",
        .min = ms(100ms),
        .max = ms(5min),
        .help = "How long to wait for the TCP connection to the backend to be established.",
        .slot = [](Config& c) -> Slot { return &c.backend.connect_timeout; },
    },
    Directive{
        .name = "backend.write_timeout",
        .type = ValueType::duration,
        .default_text = "10s",
        .min = ms(1s),
        .max = ms(5min),
        .help = "A backend that takes none of the bytes waiting for it for this long is considered "
                "stalled, and the session ends.",
        .slot = [](Config& c) -> Slot { return &c.backend.write_timeout; },
    },
    Directive{
        .name = "backend.proxy_protocol",
        .type = ValueType::string,
        .default_text = "off",
        .min = 1,
        .max = 8,
        .rule = StringRule::choice,
        .choices = kProxyProtocols,
        .help = "Start every backend connection with a PROXY protocol header naming the client "
                "(off, v1 or v2): the origin's access rules and logs then see the client, not the "
                "gateway. nginx-rtmp reads v1 only (listen ... proxy_protocol).",
        .slot = [](Config& c) -> Slot { return &c.backend.proxy_protocol; },
    },
    Directive{
        .name = "session.idle_timeout",
        .type = ValueType::duration,
        .default_text = "60s",
        .min = ms(1s),
        .max = ms(24h),
        .help = "A session is closed, with its backend connection, when its client sends no request "
                "for this long.",
        .slot = [](Config& c) -> Slot { return &c.session.idle_timeout; },
    },
    Directive{
        .name = "session.max_sessions",
        .type = ValueType::count,
        .default_text = "10000",
        .min = 1,
        .max = 1'000'000,
        .help = "Most sessions open at once; an /open beyond it is refused.",
        .slot = [](Config& c) -> Slot { return &c.session.max_sessions; },
    },
    Directive{
        .name = "session.reply_max_bytes",
        .type = ValueType::size,
        .default_text = "64KiB",
        .min = kKiB,
        .max = 16 * kMiB,
        .help = "Bytes in one reply body at most, the polling byte included; backend bytes past it wait "
                "for the next request. Behind a proxy that caps the size of a reply (squid's "
                "reply_body_max_size, Adobe's download-size cap), set this to the cap or lower: the proxy "
                "refuses a larger reply, and the bytes in it are lost to the client. A player gets at "
                "most this much per round trip (ffmpeg and librtmp keep one request in flight): keep it "
                "above a stream's bytes per round trip.",
        .slot = [](Config& c) -> Slot { return &c.session.reply_max_bytes; },
    },
    Directive{
        .name = "session.queue_max_bytes",
        .type = ValueType::size,
        .default_text = "1MiB",
        .min = 4 * kKiB,
        .max = kGiB,
        .help = "Bytes queued per direction and session; past it, the gateway stops reading from "
                "that side until the queue drains (backpressure).",
        .slot = [](Config& c) -> Slot { return &c.session.queue_max_bytes; },
    },
    Directive{
        .name = "session.idle_hold",
        .type = ValueType::duration,
        .default_text = "100ms",
        .min = 0,
        .max = ms(5s),
        .help = "How long an /idle with nothing to return may be held back waiting for backend data "
                "(FMS IdleAckInterval); 0 answers at once.",
        .slot = [](Config& c) -> Slot { return &c.session.idle_hold; },
    },
    Directive{
        .name = "session.coalesce_wait",
        .type = ValueType::duration,
        .default_text = "5ms",
        .min = 0,
        .max = ms(5s),
        .help = "How long an /idle that finds backend bytes waiting, but less than a full reply "
                "(session.reply_max_bytes), may wait for more before it is answered; also how long a "
                "held /idle waits after the first bytes arrive. Only once the session has received a "
                "full reply's worth in all, so the handshake and connect exchanges are not slowed. "
                "While a stream flows, replies then carry more bytes each and clients make fewer "
                "requests; each reply is delayed by at most this. 0 answers at once.",
        .slot = [](Config& c) -> Slot { return &c.session.coalesce_wait; },
    },
    Directive{
        .name = "session.handshake_timeout",
        .type = ValueType::duration,
        .default_text = "10s",
        .min = ms(1s),
        .max = ms(5min),
        .help = "An opened session whose client sends no bytes (no RTMP handshake) within this long "
                "is closed: opens alone must not hold backend connections.",
        .slot = [](Config& c) -> Slot { return &c.session.handshake_timeout; },
    },
    Directive{
        .name = "session.sequence_gap_timeout",
        .type = ValueType::duration,
        .default_text = "5s",
        .min = ms(100ms),
        .max = ms(1min),
        .help = "A request that arrived ahead of an earlier sequence number waits this long at most "
                "for the gap to fill; then the session ends (a skipped body would corrupt RTMP).",
        .slot = [](Config& c) -> Slot { return &c.session.sequence_gap_timeout; },
    },
    Directive{
        .name = "session.sequence_base_wait",
        .type = ValueType::duration,
        .default_text = "500ms",
        .min = 0,
        .max = ms(1s),
        .help = "When the first request of a session to arrive is numbered 1, how long it waits for a "
                "request numbered 0 before the numbers are taken to start at 1. Flash sends its first "
                "two requests at once on two connections, and the second may arrive first; the Red5 "
                "client really starts at 1, and its first reply comes this much later. 0 takes 1 as "
                "the start at once.",
        .slot = [](Config& c) -> Slot { return &c.session.sequence_base_wait; },
    },
    Directive{
        .name = "session.max_lifetime",
        .type = ValueType::duration,
        .default_text = "0s",
        .min = 0,
        .max = ms(24h) * 366,
        .help = "Longest life of a session; 0: unlimited. If set, make it at least the length of the "
                "longest stream.",
        .slot = [](Config& c) -> Slot { return &c.session.max_lifetime; },
    },
    Directive{
        .name = "session.max_bytes",
        .type = ValueType::size,
        .default_text = "0",
        .min = 0,
        .max = std::uint64_t{1} << 50,
        .help = "Most bytes a session may carry in each direction: exactly this many are carried, then "
                "the session is closed. 0: unlimited.",
        .slot = [](Config& c) -> Slot { return &c.session.max_bytes; },
    },
    Directive{
        .name = "session.max_sessions_per_client",
        .type = ValueType::count,
        .default_text = "0",
        .min = 0,
        .max = 1'000'000,
        .help = "Most sessions open at once from one client address; an /open beyond it gets 429. "
                "0: unlimited (RTMPT users often share one proxy address).",
        .slot = [](Config& c) -> Slot { return &c.session.max_sessions_per_client; },
    },
    Directive{
        .name = "http.keepalive_timeout",
        .type = ValueType::duration,
        .default_text = "120s",
        .min = ms(1s),
        .max = ms(1h),
        .help = "An HTTP connection with no request in progress is closed after this long.",
        .slot = [](Config& c) -> Slot { return &c.http.keepalive_timeout; },
    },
    Directive{
        .name = "http.header_timeout",
        .type = ValueType::duration,
        .default_text = "10s",
        .min = ms(1s),
        .max = ms(5min),
        .help = "A request's line and headers must arrive within this long once begun (slowloris); "
                "past it the connection gets 408 and is closed. A new connection's first byte, which "
                "tells RTMPT from native RTMP, must come within this long of the accept (on a TLS "
                "listener: the handshake, then the first byte within this long of its end); a silent "
                "connection is closed without a reply.",
        .slot = [](Config& c) -> Slot { return &c.http.header_timeout; },
    },
    Directive{
        .name = "http.max_connections",
        .type = ValueType::count,
        .default_text = "20000",
        .min = 1,
        .max = 1'000'000,
        .help = "Most client connections open at once; a connection beyond it is closed at accept.",
        .slot = [](Config& c) -> Slot { return &c.http.max_connections; },
    },
    Directive{
        .name = "http.max_header_bytes",
        .type = ValueType::size,
        .default_text = "8KiB",
        .min = kKiB,
        .max = kMiB,
        .help = "Largest request line plus headers accepted from a client.",
        .slot = [](Config& c) -> Slot { return &c.http.max_header_bytes; },
    },
    Directive{
        .name = "http.max_body_bytes",
        .type = ValueType::size,
        .default_text = "1MiB",
        .min = kKiB,
        .max = 64 * kMiB,
        .help = "Largest request body accepted from a client.",
        .slot = [](Config& c) -> Slot { return &c.http.max_body_bytes; },
    },
    Directive{
        .name = "http.mime_type",
        .type = ValueType::string,
        .default_text = "application/x-fcs",
        .min = 1,
        .max = 255,
        .rule = StringRule::mime_type,
        .help = "Content-Type of every RTMPT reply.",
        .slot = [](Config& c) -> Slot { return &c.http.mime_type; },
    },
    Directive{
        .name = "http.ident2",
        .type = ValueType::string,
        .default_text = "",
        .min = 0,
        .max = 255,
        .rule = StringRule::printable,
        .help = "Body of the 200 reply to /fcs/ident2; empty: /fcs/ident2 answers 404.",
        .slot = [](Config& c) -> Slot { return &c.http.ident2; },
    },
    Directive{
        .name = "access.allow",
        .type = ValueType::network_list,
        .default_text = "[]",
        .help = "Networks whose clients may open sessions, like 192.0.2.0/24 or 2001:db8::/32; empty: "
                "every address not denied. Others get 403.",
        .slot = [](Config& c) -> Slot { return &c.access.allow; },
    },
    Directive{
        .name = "access.deny",
        .type = ValueType::network_list,
        .default_text = "[]",
        .help = "Networks whose clients may not open sessions (403), checked before access.allow.",
        .slot = [](Config& c) -> Slot { return &c.access.deny; },
    },
    Directive{
        .name = "access.trusted_proxies",
        .type = ValueType::network_list,
        .default_text = "[]",
        .help = "Proxies whose X-Forwarded-For header is believed: the client it names is the one "
                "access rules, per-client limits and logs use. Nobody else's header counts.",
        .slot = [](Config& c) -> Slot { return &c.access.trusted_proxies; },
    },
    Directive{
        .name = "access.proxy_protocol_from",
        .type = ValueType::network_list,
        .default_text = "[]",
        .help = "Load balancers whose connections must begin with a PROXY protocol header (v1 or "
                "v2): the client it names is the client for access rules, limits, logs and the "
                "backend's own header. Connections from anyone else are never read as PROXY.",
        .slot = [](Config& c) -> Slot { return &c.access.proxy_protocol_from; },
    },
    Directive{
        .name = "access.bind_session_to_client",
        .type = ValueType::boolean,
        .default_text = "false",
        .help = "Answer a session's requests only from the client address that opened it (403 "
                "otherwise). Off by default: proxy farms change egress addresses mid-stream.",
        .slot = [](Config& c) -> Slot { return &c.access.bind_session_to_client; },
    },
    Directive{
        .name = "tls.listen",
        .type = ValueType::host_port_list,
        .default_text = "[]",
        .min = 0,
        .max = 65535,
        // Opened once, at start, like admin.listen: a reload keeps them and says a restart is needed.
        .reloadable = false,
        .help = "Addresses to accept RTMPTS (RTMPT over TLS, HTTPS) connections on, e.g. "
                "\"0.0.0.0:443\"; [] turns TLS off. Needs tls.certificate and tls.key. TLS 1.2 and "
                "1.3 only, Mozilla's intermediate cipher list, no renegotiation, no compression.",
        .may_be_empty = true,
        .slot = [](Config& c) -> Slot { return &c.tls.listen; },
    },
    Directive{
        .name = "tls.certificate",
        .type = ValueType::string,
        .default_text = "",
        .min = 0,
        .max = 4096,
        .rule = StringRule::printable,
        .help = "PEM file of the TLS certificate: the leaf first, then its chain (Let's Encrypt's "
                "fullchain.pem). Read at start and again on every reload (SIGHUP), so a renewed "
                "certificate takes effect for new connections; a pair that does not load is refused "
                "whole and the running one stays.",
        .slot = [](Config& c) -> Slot { return &c.tls.certificate; },
    },
    Directive{
        .name = "tls.key",
        .type = ValueType::string,
        .default_text = "",
        .min = 0,
        .max = 4096,
        .rule = StringRule::printable,
        .help = "PEM file of the certificate's private key. Read before privileges are dropped at "
                "start; a reload reads it as process.user, so that user must be able to read it "
                "(Debian: group ssl-cert, mode 0640).",
        .slot = [](Config& c) -> Slot { return &c.tls.key; },
    },
    Directive{
        .name = "tls.sni_directory",
        .type = ValueType::string,
        .default_text = "",
        .min = 0,
        .max = 4096,
        .rule = StringRule::printable,
        .help = "More certificates, chosen by the host name a client asks for (SNI): a directory of "
                "*.pem files, each holding a certificate chain and its private key (HAProxy's crt "
                "directory). A client naming a host that one of them covers (its subjectAltName DNS "
                "names, wildcards included; the first in file name order wins) gets that one; any "
                "other gets tls.certificate. Read with the pair, at start and on every reload; empty: "
                "none.",
        .slot = [](Config& c) -> Slot { return &c.tls.sni_directory; },
    },
    Directive{
        .name = "admin.listen",
        .type = ValueType::host_port_list,
        .default_text = "127.0.0.1:9180",
        .min = 0,
        .max = 65535,
        // Admin listeners are opened once, at start: a reload keeps them and says a restart is needed.
        .reloadable = false,
        .help = "Addresses of the admin listener (GET /metrics, /healthz, /sessions); [] turns it off. "
                "It shows client addresses and load: keep it off the public side.",
        .may_be_empty = true,
        .slot = [](Config& c) -> Slot { return &c.admin.listen; },
    },
    Directive{
        .name = "admin.max_connections",
        .type = ValueType::count,
        .default_text = "16",
        .min = 1,
        .max = 1024,
        .help = "Most admin connections open at once; a connection beyond it is closed at accept.",
        .slot = [](Config& c) -> Slot { return &c.admin.max_connections; },
    },
    Directive{
        .name = "admin.health_probe_timeout",
        .type = ValueType::duration,
        .default_text = "1s",
        .min = ms(100ms),
        .max = ms(30s),
        .help = "How long /healthz waits for a TCP connection to the backend; its result is reused "
                "for 2s, so scrapes cannot hammer the backend.",
        .slot = [](Config& c) -> Slot { return &c.admin.health_probe_timeout; },
    },
    Directive{
        .name = "process.user",
        .type = ValueType::string,
        .default_text = "",
        .min = 0,
        .max = 64,
        .rule = StringRule::printable,
        .reloadable = false,
        .help = "User to switch to once the listeners are bound, so port 80 needs no lasting root; "
                "empty: stay the user that started the gateway.",
        .slot = [](Config& c) -> Slot { return &c.process.user; },
    },
    Directive{
        .name = "process.group",
        .type = ValueType::string,
        .default_text = "",
        .min = 0,
        .max = 64,
        .rule = StringRule::printable,
        .reloadable = false,
        .help = "Group to switch to with process.user; empty: that user's primary group.",
        .slot = [](Config& c) -> Slot { return &c.process.group; },
    },
    Directive{
        .name = "process.allow_root",
        .type = ValueType::boolean,
        .default_text = "false",
        .reloadable = false,
        .help = "Started as root without process.user, the gateway refuses to run unless this is true.",
        .slot = [](Config& c) -> Slot { return &c.process.allow_root; },
    },
    Directive{
        .name = "process.shutdown_timeout",
        .type = ValueType::duration,
        .default_text = "30s",
        .min = 0,
        .max = ms(24h),
        .help = "On SIGTERM or SIGINT the gateway refuses new sessions and lets open ones run on for "
                "up to this long, then ends them and exits; 0 ends them at once. A second signal ends "
                "them at once too.",
        .slot = [](Config& c) -> Slot { return &c.process.shutdown_timeout; },
    },
    Directive{
        .name = "process.workers",
        .type = ValueType::count,
        .default_text = "0",
        .min = 0,
        .max = 64,
        .reloadable = false,
        .help = "Event loops, one thread each, that share the listeners (SO_REUSEPORT) and the "
                "sessions; 0: one per CPU the process may run on. 1 runs everything on one loop.",
        .slot = [](Config& c) -> Slot { return &c.process.workers; },
    },
    Directive{
        .name = "log.level",
        .type = ValueType::log_level,
        .default_text = "info",
        .help = "Least severe message logged: debug, info, warn or error.",
        .slot = [](Config& c) -> Slot { return &c.log.level; },
    },
    Directive{
        .name = "log.format",
        .type = ValueType::string,
        .default_text = "text",
        .min = 1,
        .max = 16,
        .rule = StringRule::choice,
        .choices = kLogFormats,
        .help = "How each log line is written: text (for people), logfmt (key=value) or json (one "
                "object per line); every line is one event.",
        .slot = [](Config& c) -> Slot { return &c.log.format; },
    },
    Directive{
        .name = "log.access",
        .type = ValueType::boolean,
        .default_text = "false",
        .help = "Log one line per HTTP request: client, method, path, status, bytes and time taken.",
        .slot = [](Config& c) -> Slot { return &c.log.access; },
    },
};

constexpr std::array kAtLeast{
    AtLeast{
        .key = "session.queue_max_bytes",
        .other = "session.reply_max_bytes",
        .why = "a reply is taken from the queue, so the queue must be able to hold one",
    },
};

}  // namespace

std::span<const Directive> directives() {
    return kDirectives;
}

std::span<const AtLeast> at_least_rules() {
    return kAtLeast;
}

const Directive* find_directive(std::string_view name) {
    const auto it = std::find_if(kDirectives.begin(), kDirectives.end(),
                                 [&](const Directive& d) { return d.name == name; });
    return it == kDirectives.end() ? nullptr : &*it;
}

bool is_section(std::string_view prefix) {
    return std::any_of(kDirectives.begin(), kDirectives.end(), [&](const Directive& d) {
        return d.name.size() > prefix.size() && d.name.starts_with(prefix) && d.name[prefix.size()] == '.';
    });
}

std::string_view type_name(ValueType type) {
    switch (type) {
        case ValueType::duration:
            return "duration";
        case ValueType::size:
            return "size";
        case ValueType::count:
            return "count";
        case ValueType::string:
            return "string";
        case ValueType::host_port:
            return "host:port";
        case ValueType::host_port_list:
            return "host:port list";
        case ValueType::network_list:
            return "network list";
        case ValueType::boolean:
            return "boolean";
        case ValueType::log_level:
            return "log level";
    }
    return "?";
}

}  // namespace rtmpt::config
