// libFuzzer driver: the real gateway (gateway/*/*.cpp: Worker, HttpConnection, Session, BackendLink,
// LingerSet, Mailbox, SharedLimits) between scripted clients and a scripted backend, all in this
// process. Each input gets a fresh WorkerGroup of two Workers, built from a config made here (no
// listeners, no signals, no Supervisor: run() is never called); client connections are
// socketpairs handed to Worker::accept of the worker the script names, the backend is a loopback
// listening socket of this driver, and both loops are turned one iteration at a time, in this one
// thread, with this driver's own socket I/O between iterations, until no byte moves, no callback
// is active and no socket or mailbox of either worker is ready. A session's send, idle or close
// that arrives on the other worker's connection is handed over through the owner's mailbox and
// its reply comes back through the connection worker's one: their eventfds fire on the loops like
// any socket. At the end both Workers are destroyed, so LeakSanitizer sees every session,
// connection, lingering backend and mailbox task freed.
//
// Input: one config byte, then actions separated by "\n|", each a letter and its bytes:
//   c<bytes>  the current client connection sends <bytes>; "$S" becomes the id of the latest
//             session, "$N" its next sequence number. A connection whose first byte is RTMP's C0
//             (0x03, 0x06, 0x08, 0x09) is a native RTMP client: the gateway relays its bytes
//             through a session of their own, which becomes the latest once the driver knows it
//   C<k><bytes>  the same, k+1 times over (each time with the next "$N")
//   n<k><w>   a new client connection (k picks the peer address), accepted on worker w % 2
//             (without <w> the workers take turns, connection by connection); now the current one
//   u<k>      the k-th connection becomes the current one
//   h x p     the current connection half-closes / closes / stops (or resumes) reading replies
//   o s<body> S<k> i k K
//             requests written here for the latest session on the current connection: open,
//             send, a send of (k+1)*64 pattern bytes, idle, close, close without a number
//   b<bytes> B<k>
//             the latest session's backend sends <bytes> / (k+1)*256 pattern bytes
//   e f r q   that backend toggles its echo / half-closes / resets / stops (or resumes) reading
//   t<mask><s>  time passes: pending timeouts fire (1 header timers, 2 client reads, 4 client
//             writes, 8 backend reads, 16 backend writes, 32 other timers such as idle holds),
//             64 the janitor sweeps both workers' sessions as if <s> seconds (default 60) had
//             passed, 128 both workers stop as on SIGTERM; without <mask>, all but the stop
//   T<k>      worker k % 2 stops alone (Worker::shut_down), as when the supervisor's stop has
//             reached one worker and not yet the other: its connections stay, and their requests
//             for the other worker's sessions are still handed over
//   w<k>      the k-th session made becomes the latest
// Config byte: 1 idle_hold of 60 s (held idles end only by events or t), 2 session.max_bytes
// 3000, 4 http.ident2 set, 8 backends start without echo, 16 max_sessions_per_client 2,
// 32 session.max_lifetime 40 s, 64 the input ends with the sessions live: both workers are
// destroyed without stopping (worker 0 first, or with 128 worker 1 first); without 64 both
// workers stop at the end, and once the loops are quiet again every request must have its reply.
//
// No timeout fires by itself: libevent's are 60 s and the janitor never runs on its own. Time
// only passes through `t`, which activates libevent's own timeout events (found with
// event_base_foreach_event) or calls Worker::sweep_sessions with a later clock; the session
// timeouts differ (handshake 10 s, sequence gap 20 s, idle 30 s, lifetime 40 s) so that each can
// be reached. The wait for a seq 0 after a first request numbered 1 is a 60 s libevent timer
// (`t` 32). Session ids come from this driver's fill_random (gateway/tunnel/entropy.cpp is not linked):
// the n-th id of an input is 16 bytes of n after the digit of the worker that opened it ("A" for
// worker 0, "B" for worker 1, as proto::format_session_id writes it for a group of two), so runs
// repeat and the fuzzer can also write ids directly.
//
// Properties checked:
//  - every reply is "HTTP/1.1 <code> <reason>" with a code from 200 400 404 405 408 413 429 431
//    503, CRLF header lines, exactly one Content-Length (that spelling), Connection and
//    Content-Type, no Transfer-Encoding, a non-empty body of exactly Content-Length bytes; no
//    byte follows a "Connection: close" reply;
//  - replies come in request order: reply i answers request i as a mirror parser (llhttp with the
//    callbacks and limits of gateway/client/http_connection.cpp) reads the client's bytes, so its code
//    and body fit that request's method and route; the one reply past the requests is the
//    refusal the mirror predicts (same code, same llhttp error) or a 408 after a header timeout;
//  - "Connection: close" exactly on the reply to a request without keep-alive, or on the last
//    one after a refusal or the client's half-close; a connection the gateway closes without a
//    timeout has answered every request the mirror saw, and never stops inside a reply;
//  - an /open's 200 carries an id this driver made, each id once; a 200 to a tunnel request
//    names a session that was made; tunnel 200 bodies are "\0" (close) or a polling byte of
//    Red5's schedule (0x01 when data follows) and backend bytes, session.reply_max_bytes in
//    all with the polling byte; all 200s to one sequence
//    number of a session are the same bytes (waiters and the reply cache);
//  - downstream: the backend bytes in a session's replies, in sequence order, are a prefix of
//    what its backend sent (no loss inside a known run, no reordering, no duplication);
//  - upstream: what a session's backend received is a prefix of the concatenation, in sequence
//    order, of the bodies the client sent under each number (every candidate body of a number
//    considered, an idle or close adding none); once the loop is quiet and the backend was
//    never closed, reset or timed out and no byte cap applies, it also holds the bodies of
//    every number the gateway is known to have applied (no loss);
//  - native RTMP (a connection whose first byte is RTMP's C0, as proto::classify_first_byte says):
//    no HTTP reply but the 408 of a header timer that fired before that byte was read; the
//    gateway makes one native relay session for it (the worker's table names this connection and
//    transport rtmp) or closes it without a byte (refused at admission, or draining); a native
//    session is made only for such a connection, at most one each, and its id is never answered
//    200 by an /open or a tunnel request; once the loop is quiet, a C0 connection the gateway has
//    read is relayed or closed, and a native client's connection is closed only after its session
//    has ended. RTMPT's reply and sequence properties skip native sessions;
//  - the relay: what a native client received is a prefix of what its backend sent, and what the
//    backend received a prefix of what the client sent from its first byte on; session.max_bytes
//    bounds each way; once the loop is quiet, a live relay whose backend was never closed, reset
//    or timed out, with no byte cap, has moved every byte both ways (no loss); and a relay ended
//    by its backend's end of stream, with nothing else ending it (client close, byte cap, timeout,
//    janitor, stop), has delivered everything the backend sent before the client's connection
//    closed (its lingering close);
//  - hand-over between the two workers: every request on a connection still gets exactly one
//    reply, in order, whichever worker owns its session (the checks above hold for handed-over
//    requests alike: reply i answers request i, no reply past the requests but a refusal); an
//    /open's id names, in its worker digit, the worker whose connection carried the open, and
//    its 22 random characters follow; each worker hands over exactly the send, idle and close
//    requests on its connections whose id names the other worker: no fewer than those answered,
//    no more than those sent (Counters::requests_handed_over); a tunnel request is never answered
//    503 "shutting down" (what a handed-over request's slot sends when dropped unfilled); once
//    both workers have stopped (without config 64) and the loops are quiet, every request the
//    mirror read on a connection still open has been answered;
//  - the process-wide limits: whenever the loops are quiet the group's SharedLimits count exactly
//    the sessions and connections the two workers hold, never more than session.max_sessions and
//    http.max_connections, and both counts are back to zero once the workers are destroyed;
//  - the loops settle: no callback keeps being activated while no byte moves (a worker spinning
//    at 100% CPU), and bytes stop moving within a bound;
//  - AddressSanitizer, UndefinedBehaviorSanitizer and LeakSanitizer over all of it.
#include <arpa/inet.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <linux/sockios.h>
#include <llhttp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "gateway/logging/logger.hpp"
#include "gateway/loop/config_snapshot.hpp"
#include "gateway/loop/worker.hpp"
#include "gateway/tunnel/entropy.hpp"
#include "gateway/tunnel/session_base.hpp"
#include "gateway/tunnel/transport.hpp"
#include "proto/first_bytes.hpp"
#include "proto/http_reply.hpp"
#include "proto/route.hpp"
#include "proto/session_id.hpp"
#include "tests/fuzz/property.hpp"

namespace {

using rtmpt::gateway::Transport;
using rtmpt::proto::HttpStatus;
using rtmpt::proto::RouteKind;

[[noreturn]] void fail(const std::string& what) {
    rtmpt::fuzz::property_violated("fuzz_gateway", what);
}

std::string shown(std::string_view s, std::size_t max = 120) {
    std::string out;
    for (const char ch : s.substr(0, max)) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c >= 0x7f || c == '\\') {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += ch;
        }
    }
    if (s.size() > max) out += "...(" + std::to_string(s.size()) + " bytes)";
    return out;
}

bool g_trace = false;

void trace(const std::string& line) {
    if (g_trace) std::fprintf(stderr, "  %s\n", line.c_str());
}

constexpr std::string_view kDelimiter = "\n|";
constexpr std::string_view kIdent2 = "198.51.100.7";
constexpr std::string_view kNoSession = "nosession";  // "$S" before any session: well-formed, unknown
// Bounds on one settle: a loop that keeps moving bytes this long is spinning.
constexpr int kMaxTurns = 20000;
constexpr int kMaxBusyTurns = 1000;
// How long the end of an input waits for bytes still in the kernel (a retransmit after a drop).
constexpr int kMaxInFlightWaitMs = 2000;
// Turns with no byte moved, no callback active and no gateway socket ready before the loop
// counts as quiet.
constexpr int kQuietTurns = 1;

constexpr int kConfigIdleHold = 1;
constexpr int kConfigByteCap = 2;
constexpr int kConfigIdent2 = 4;
constexpr int kConfigNoEcho = 8;
constexpr int kConfigPerClient = 16;
constexpr int kConfigLifetime = 32;
constexpr int kConfigKeepLive = 64;
constexpr int kConfigWorker1First = 128;
// The workers of each input's group.
constexpr unsigned kWorkers = 2;
constexpr std::size_t kNoWorker = kWorkers;
// Bytes one C action may send: enough for bodies past http.max_body_bytes.
constexpr std::size_t kMaxRepeatedBytes = 64 * 1024;

// The scripted backend's listening socket, shared by all inputs: opened once, drained after each.
int g_listen_fd = -1;
std::uint16_t g_backend_port = 0;

// The configuration of an input, made once per combination of the flags that change it, with what
// the workers build from it (their replies).
const rtmpt::gateway::ConfigSnapshotPtr& snapshot_for(std::uint8_t flags) {
    using std::chrono::milliseconds;
    static std::map<int, rtmpt::gateway::ConfigSnapshotPtr> snapshots;
    const int key =
        flags & (kConfigIdleHold | kConfigByteCap | kConfigIdent2 | kConfigPerClient | kConfigLifetime);
    auto [it, inserted] = snapshots.try_emplace(key);
    if (!inserted) return it->second;
    rtmpt::config::Config c;
    const milliseconds never{60'000};
    c.backend.address = {"127.0.0.1", g_backend_port};
    c.backend.connect_timeout = never;
    c.backend.write_timeout = never;
    c.session.idle_timeout = milliseconds{30'000};
    // Small limits, so that a few actions reach them.
    c.session.max_sessions = 6;
    c.session.reply_max_bytes = 4096;
    c.session.queue_max_bytes = 8192;
    c.session.idle_hold = (key & kConfigIdleHold) ? never : milliseconds{0};
    c.session.handshake_timeout = milliseconds{10'000};
    c.session.sequence_gap_timeout = milliseconds{20'000};
    // A libevent timer like the others: as long, so that it ends only through `t` (a loop turn
    // runs timers whose real time has passed, and an input may take longer than 500 ms).
    c.session.sequence_base_wait = never;
    c.session.max_lifetime = (key & kConfigLifetime) ? milliseconds{40'000} : milliseconds{0};
    c.session.max_bytes = (key & kConfigByteCap) ? 3000 : 0;
    c.session.max_sessions_per_client = (key & kConfigPerClient) ? 2 : 0;
    c.http.keepalive_timeout = never;
    c.http.header_timeout = never;
    c.http.max_connections = 4;
    c.http.max_header_bytes = 1024;
    c.http.max_body_bytes = 8192;
    c.http.ident2 = (key & kConfigIdent2) ? std::string(kIdent2) : std::string();
    it->second = std::make_shared<const rtmpt::gateway::ConfigSnapshot>(std::move(c));
    return it->second;
}

// ---------------------------------------------------------------------------------------------
// The requests of one client connection, as the gateway's parser reads them.

struct ClientRequest {
    llhttp_method_t method = HTTP_POST;
    std::string target;
    std::string body;
    bool keep_alive = true;
    RouteKind kind = RouteKind::unknown;
    std::string sid;
    std::optional<std::uint64_t> seq;
};

struct MirrorRefusal {
    HttpStatus status;
    std::string why;
};

// llhttp with the callbacks and limits of gateway/client/http_connection.cpp, fed every byte the client
// sends, stopping where the gateway stops reading (a request without keep-alive, a refusal).
// Pausing for outstanding replies does not change what is parsed, so it is not modelled.
class RequestMirror {
  public:
    explicit RequestMirror(const rtmpt::config::Config& cfg) : cfg_(cfg) {
        llhttp_settings_init(&settings_);
        settings_.on_message_begin = &RequestMirror::on_message_begin;
        settings_.on_url = &RequestMirror::on_url;
        settings_.on_header_field = &RequestMirror::on_header_field;
        settings_.on_header_value = &RequestMirror::on_header_value;
        settings_.on_headers_complete = &RequestMirror::on_headers_complete;
        settings_.on_body = &RequestMirror::on_body;
        settings_.on_message_complete = &RequestMirror::on_message_complete;
        llhttp_init(&parser_, HTTP_REQUEST, &settings_);
        parser_.data = this;
    }
    RequestMirror(const RequestMirror&) = delete;
    RequestMirror& operator=(const RequestMirror&) = delete;

    void feed(std::string_view bytes) {
        if (stopped_ || bytes.empty()) return;
        const llhttp_errno_t err = llhttp_execute(&parser_, bytes.data(), bytes.size());
        if (err == HPE_OK) return;
        stopped_ = true;
        if (err == HPE_PAUSED) return;  // after a request without keep-alive
        if (limit_) {
            refusal_ = std::move(*limit_);
        } else {
            refusal_ = MirrorRefusal{HttpStatus::bad_request,
                                     std::string("malformed request: ") + llhttp_errno_name(err)};
        }
    }

    [[nodiscard]] const std::vector<ClientRequest>& requests() const { return requests_; }
    [[nodiscard]] const std::optional<MirrorRefusal>& refusal() const { return refusal_; }

  private:
    static RequestMirror& self(llhttp_t* p) { return *static_cast<RequestMirror*>(p->data); }

    bool count_header_bytes(std::size_t len) {
        header_bytes_ += len;
        if (header_bytes_ <= cfg_.http.max_header_bytes) return true;
        limit_ = MirrorRefusal{HttpStatus::header_fields_too_large, "request header too large"};
        return false;
    }
    static int on_message_begin(llhttp_t* p) {
        self(p).request_ = ClientRequest{};
        self(p).header_bytes_ = 0;
        return 0;
    }
    static int on_url(llhttp_t* p, const char* at, std::size_t len) {
        RequestMirror& m = self(p);
        if (!m.count_header_bytes(len)) return -1;
        m.request_.target.append(at, len);
        return 0;
    }
    static int on_header_field(llhttp_t* p, const char*, std::size_t len) {
        return self(p).count_header_bytes(len) ? 0 : -1;
    }
    static int on_header_value(llhttp_t* p, const char*, std::size_t len) {
        return self(p).count_header_bytes(len) ? 0 : -1;
    }
    static int on_headers_complete(llhttp_t* p) {
        RequestMirror& m = self(p);
        m.request_.method = static_cast<llhttp_method_t>(llhttp_get_method(p));
        if (p->upgrade) {
            m.limit_ = MirrorRefusal{HttpStatus::bad_request, "protocol upgrade not supported"};
            return -1;
        }
        if ((p->flags & F_CONTENT_LENGTH) && p->content_length > m.cfg_.http.max_body_bytes) {
            m.limit_ = MirrorRefusal{HttpStatus::payload_too_large, "request body too large"};
            return -1;
        }
        return 0;
    }
    static int on_body(llhttp_t* p, const char* at, std::size_t len) {
        RequestMirror& m = self(p);
        if (m.request_.body.size() + len > m.cfg_.http.max_body_bytes) {
            m.limit_ = MirrorRefusal{HttpStatus::payload_too_large, "request body too large"};
            return -1;
        }
        m.request_.body.append(at, len);
        return 0;
    }
    static int on_message_complete(llhttp_t* p) {
        RequestMirror& m = self(p);
        ClientRequest& r = m.request_;
        r.keep_alive = llhttp_should_keep_alive(p) != 0;
        const rtmpt::proto::Route route = rtmpt::proto::parse_route(r.target);
        r.kind = route.kind;
        r.sid = std::string(route.session_id);
        r.seq = route.seq;
        m.requests_.push_back(std::move(r));
        m.request_ = ClientRequest{};
        return m.requests_.back().keep_alive ? 0 : HPE_PAUSED;
    }

    const rtmpt::config::Config& cfg_;
    llhttp_settings_t settings_{};
    llhttp_t parser_{};
    ClientRequest request_;
    std::size_t header_bytes_ = 0;
    std::optional<MirrorRefusal> limit_;
    std::vector<ClientRequest> requests_;
    std::optional<MirrorRefusal> refusal_;
    bool stopped_ = false;
};

// ---------------------------------------------------------------------------------------------
// Replies as a client reads them.

struct Reply {
    int status = 0;
    bool close = false;
    std::string content_type;
    std::string body;
};

bool status_in_use(int status) {
    switch (status) {
        case 200:
        case 400:
        case 404:
        case 405:
        case 408:
        case 413:
        case 429:
        case 431:
        case 503:
            return true;
        default:
            return false;
    }
}

// Takes one whole reply off the front of `in`, checking its wire format; nothing while the
// reply is incomplete.
std::optional<Reply> take_reply(std::string& in) {
    if (in.empty()) return std::nullopt;
    const auto what = [&] { return "reply \"" + shown(in, 300) + "\": "; };
    constexpr std::string_view kStart = "HTTP/1.1 ";
    const std::size_t n = std::min(in.size(), kStart.size());
    REQUIRE(in.compare(0, n, kStart.substr(0, n)) == 0, what() + "does not start with \"HTTP/1.1 \"");
    const auto head_end = in.find("\r\n\r\n");
    if (head_end == std::string::npos) {
        REQUIRE(in.size() < 4096, what() + "no end of header in 4096 bytes");
        return std::nullopt;
    }
    const std::string_view head = std::string_view(in).substr(0, head_end + 2);
    Reply r;
    const auto status_end = head.find("\r\n");
    const std::string_view status_line = head.substr(0, status_end);
    REQUIRE(status_line.size() >= 14 && status_line[12] == ' ', what() + "malformed status line");
    for (std::size_t i = 9; i < 12; ++i) {
        REQUIRE(status_line[i] >= '0' && status_line[i] <= '9', what() + "status code is not 3 digits");
        r.status = r.status * 10 + (status_line[i] - '0');
    }
    REQUIRE(status_in_use(r.status), what() + "a status the gateway does not use");
    REQUIRE(rtmpt::proto::reason_phrase(static_cast<HttpStatus>(r.status)) == status_line.substr(13),
            what() + "reason phrase does not match the code");

    std::optional<std::size_t> content_length;
    std::size_t content_lengths = 0;
    std::size_t connections = 0;
    std::size_t content_types = 0;
    std::string_view rest = head.substr(status_end + 2);
    while (!rest.empty()) {
        const auto eol = rest.find("\r\n");
        REQUIRE(eol != std::string_view::npos, what() + "header line without CRLF");
        const std::string_view line = rest.substr(0, eol);
        rest = rest.substr(eol + 2);
        for (const char c : line) {
            REQUIRE(c != '\r' && c != '\n' && c != '\0', what() + "bare CR, LF or NUL in a header line");
        }
        const auto colon = line.find(": ");
        REQUIRE(colon != std::string_view::npos && colon > 0, what() + "header line without \"name: \"");
        std::string name(line.substr(0, colon));
        std::transform(name.begin(), name.end(), name.begin(),
                       [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
        const std::string_view value = line.substr(colon + 2);
        if (name == "content-length") {
            ++content_lengths;
            REQUIRE(line.starts_with("Content-Length: "), what() + "Content-Length spelled otherwise");
            REQUIRE(!value.empty() && value.size() <= 9 &&
                        std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }),
                    what() + "Content-Length is not a number");
            content_length = static_cast<std::size_t>(std::stoul(std::string(value)));
        } else if (name == "connection") {
            ++connections;
            REQUIRE(value == "Keep-Alive" || value == "close", what() + "unexpected Connection value");
            r.close = value == "close";
        } else if (name == "content-type") {
            ++content_types;
            r.content_type = std::string(value);
        } else if (name == "transfer-encoding") {
            fail(what() + "Transfer-Encoding in a reply");
        }
    }
    REQUIRE(content_lengths == 1, what() + std::to_string(content_lengths) + " Content-Length headers");
    REQUIRE(connections == 1, what() + std::to_string(connections) + " Connection headers");
    REQUIRE(content_types == 1, what() + std::to_string(content_types) + " Content-Type headers");
    REQUIRE(*content_length > 0, what() + "Content-Length: 0 (librtmp gives up on it)");
    const std::size_t body_at = head_end + 4;
    if (in.size() < body_at + *content_length) return std::nullopt;
    r.body = in.substr(body_at, *content_length);
    in.erase(0, body_at + *content_length);
    return r;
}

bool is_polling_byte(unsigned char b) {
    return b == 0x01 || b == 0x03 || b == 0x05 || b == 0x09 || b == 0x11 || b == 0x21;
}

std::string hex_byte(std::uint8_t b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02x", b);
    return buf;
}

// ---------------------------------------------------------------------------------------------
// One input: a Worker, its client connections, its backend connections.

struct Client {
    int fd = -1;          // our end of the socketpair; -1 once closed
    int gateway_fd = -1;  // the end the gateway owns
    std::string peer;
    unsigned worker = 0;  // the worker that accepted it
    // Replies read for requests whose id names the other worker: each was handed over.
    std::size_t answered_elsewhere = 0;
    std::unique_ptr<RequestMirror> mirror;
    std::string out;  // sent by the script, not yet taken by the socket
    std::string in;   // received, not yet a whole reply
    std::size_t replies = 0;
    bool reading = true;
    bool want_shut = false;  // half-close once `out` is written
    bool shut = false;
    bool final_reply = false;  // a "Connection: close" reply was read
    bool refused_at_accept = false;
    bool timed_out = false;         // a read or write timeout of its socket fired
    bool header_timed_out = false;  // its header timer fired
    bool closed_by_script = false;  // x: the client closed its end
    ino_t gateway_ino = 0;          // the gateway's end, told from a later socket on its number
    // Native RTMP: the first byte sent is RTMP's C0, so the gateway relays instead of parsing.
    std::optional<std::uint8_t> first_byte;
    std::optional<std::size_t> session;  // its native relay session, once the driver knows it
    std::string written;                 // what the gateway was given (kept for a C0 first byte)
    std::string received;                // what came back, whole (kept for a C0 first byte)

    [[nodiscard]] bool rtmp_first() const {
        return first_byte && rtmpt::proto::classify_first_byte(*first_byte) == rtmpt::proto::FirstByte::rtmp;
    }
};

struct Backend {
    int fd = -1;
    std::size_t session = 0;  // index into Harness::sessions_
    std::string received;     // everything the gateway sent us
    std::string written;      // everything we sent the gateway
    std::string out;          // to send, not yet taken by the socket
    bool reading = true;
    bool echo = true;
    bool want_shut = false;
    bool shut = false;
    bool lossy = false;      // closed, reset or timed out: the gateway may drop client bytes
    bool aborted = false;    // reset or timed out: bytes may be dropped either way
    std::uint16_t port = 0;  // the gateway's end: its local port, our peer's
    int gateway_fd = -1;     // the gateway's end, once found (it may be closed and reused since)
    bool searched = false;   // looked for the gateway's end (once: a socket gone by then is closed)
};

struct TrackedSession {
    std::string id;
    std::optional<std::size_t> backend;
    std::map<std::uint64_t, std::string> bodies;  // seq -> body of its 200 tunnel reply
    std::uint64_t next_seq = 0;                   // for "$N" and the requests built here
    bool opened = false;                          // its /open reply was read
    bool native = false;                          // a native RTMP relay, not an RTMPT session
    std::optional<std::size_t> client;            // a native relay's client connection, once known
};

class Harness;
Harness* g_harness = nullptr;

class Harness {
  public:
    explicit Harness(std::uint8_t flags)
        : flags_(flags),
          snapshot_(snapshot_for(flags)),
          cfg_(snapshot_->config),
          log_(g_trace ? rtmpt::config::LogLevel::debug : rtmpt::config::LogLevel::error) {
        g_harness = this;
        // As the supervisor makes them: every worker is in the group before any loop turns.
        for (unsigned i = 0; i < kWorkers; ++i) {
            workers_.push_back(std::make_unique<rtmpt::gateway::Worker>(group_, i, snapshot_, nullptr, log_));
            group_.workers.push_back(workers_.back().get());
        }
    }

    ~Harness() {
        for (Client& c : clients_) close_fd(c.fd);
        for (Backend& b : backends_) close_fd(b.fd);
        // With config 64 both workers still hold sessions, and requests handed over to them: a slot
        // dropped unfilled answers into the other worker's mailbox while that one lives (the task is
        // never run, and goes with it), and nowhere once it is gone. Config 128 destroys worker 1
        // first.
        const std::size_t first = (flags_ & kConfigWorker1First) ? 1 : 0;
        workers_[first].reset();
        workers_[1 - first].reset();
        // What the workers held, they gave back.
        REQUIRE(group_.limits.connections() == 0 && group_.limits.sessions() == 0,
                "the workers are gone and the shared limits still count " +
                    std::to_string(group_.limits.connections()) + " connections and " +
                    std::to_string(group_.limits.sessions()) + " sessions");
        g_harness = nullptr;
        // Backend connections made too late to be accepted: the next input must not see them.
        while (true) {
            const int fd = accept4(g_listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) break;
            ::close(fd);
        }
    }

    Harness(const Harness&) = delete;
    Harness& operator=(const Harness&) = delete;

    void run(std::string_view script) {
        std::size_t at = 0;
        while (at <= script.size()) {
            auto end = script.find(kDelimiter, at);
            if (end == std::string_view::npos) end = script.size();
            const std::string_view action = script.substr(at, end - at);
            at = end + kDelimiter.size();
            if (action.empty()) continue;
            act(action[0], action.substr(1));
            settle();
        }
        // Everyone reads again and the loop runs dry: what is owed has arrived.
        for (Client& c : clients_) c.reading = true;
        for (Backend& b : backends_) b.reading = true;
        settle_fully();
        for (std::size_t i = 0; i < sessions_.size(); ++i) check_session(i);
        check_native_clients();
        check_handed_over();
        if (flags_ & kConfigKeepLive) return;
        // Both workers stop, as the supervisor stops them: every session ends and answers what
        // waits, handed-over requests included; then every request read has its reply.
        trace("the workers stop at the end of the input");
        ended_by_time_ = true;
        for (std::size_t w = 0; w < kWorkers; ++w) {
            const Turning turning(*this, w);
            workers_[w]->shut_down();
        }
        settle_fully();
        check_all_answered();
        check_handed_over();
    }

    // The n-th session id of this input: 16 bytes of n (n >= 256 also marks the last byte), after
    // the digit of the worker that makes it: the one whose loop is turning.
    bool entropy(std::span<std::uint8_t> out) {
        REQUIRE(turning_ < kWorkers, "fill_random called outside a worker's loop turn");
        // Worker::open_session and Worker::open_native make an id, then the session, which
        // connects at once: by the next id, the previous session's connection is in the accept
        // queue (loopback completes the handshake inside connect()), so accept order is id order.
        accept_backends();
        resolve_session();
        REQUIRE(backends_.size() == sessions_.size(),
                "session " + std::to_string(sessions_.size()) + " made while " +
                    std::to_string(sessions_.size() - backends_.size()) +
                    " earlier sessions have no backend connection yet");
        const std::size_t n = sessions_.size();
        rtmpt::proto::SessionIdEntropy e;
        e.fill(static_cast<std::uint8_t>(n));
        e.back() = static_cast<std::uint8_t>(e.back() ^ (n >> 8));
        REQUIRE(out.size() == e.size(), "fill_random asked for " + std::to_string(out.size()) + " bytes");
        std::copy(e.begin(), e.end(), out.begin());
        const std::string id = rtmpt::proto::format_session_id(e, {}, static_cast<unsigned>(turning_));
        REQUIRE(!by_id_.contains(id), "session id made twice: " + id);
        by_id_.emplace(id, n);
        sessions_.push_back(TrackedSession{id, std::nullopt, {}, 0, false, false, std::nullopt});
        trace("session " + std::to_string(n) + " id " + id);
        // Which kind it is, and whose, is known once the worker has added it: see resolve_session.
        unresolved_ = n;
        native_opened_before_ = native_sessions_opened();
        native_candidates_ = clients_read_from();
        return true;
    }

  private:
    static void close_fd(int& fd) {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }

    // Names the worker whose code runs now (its loop turning, or a call into it), so that an id
    // made meanwhile carries its digit.
    class Turning {
      public:
        Turning(Harness& h, std::size_t worker) : h_(h), before_(std::exchange(h.turning_, worker)) {}
        ~Turning() { h_.turning_ = before_; }
        Turning(const Turning&) = delete;
        Turning& operator=(const Turning&) = delete;

      private:
        Harness& h_;
        std::size_t before_;
    };

    // The session `id` names, in the table of the worker its digit names.
    [[nodiscard]] const rtmpt::gateway::SessionBase* find_live(const std::string& id) const {
        const std::optional<unsigned> w = rtmpt::proto::worker_of(id);
        if (!w || *w >= kWorkers) return nullptr;
        const auto& table = workers_[*w]->sessions();
        const auto it = table.find(id);
        return it == table.end() ? nullptr : it->second.get();
    }

    // ----- native relays ----------------------------------------------------------------------

    std::uint64_t native_sessions_opened() {
        std::uint64_t n = 0;
        for (const auto& w : workers_) {
            const auto& opened = w->counters().transport_sessions;
            n += opened[static_cast<std::size_t>(Transport::rtmp)] +
                 opened[static_cast<std::size_t>(Transport::rtmps)];
        }
        return n;
    }

    // Clients that began with RTMP's C0, have no native session yet, and whose first bytes the
    // gateway has taken from the socket (fewer unread at its end than were written). Made while
    // a native session's id is made, this holds its client, and more than one only if another
    // one's connection has just been refused and is not closed yet (libevent frees it later).
    std::vector<std::size_t> clients_read_from() const {
        std::vector<std::size_t> out;
        for (std::size_t i = 0; i < clients_.size(); ++i) {
            const Client& c = clients_[i];
            if (!c.rtmp_first() || c.session || c.refused_at_accept) continue;
            struct stat st {};
            int unread = 0;
            if (fstat(c.gateway_fd, &st) != 0 || st.st_ino != c.gateway_ino ||
                ioctl(c.gateway_fd, SIOCINQ, &unread) != 0)
                continue;
            if (c.written.size() > static_cast<std::size_t>(unread)) out.push_back(i);
        }
        return out;
    }

    // The latest id's session has been added to the worker by now (at the next id, or after the
    // loop turn): exactly one session was added since its id was made, so the worker's count of
    // native sessions tells its kind. The worker's own table then names a native session's
    // client (the peer string each connection was accepted with); one that has ended already
    // (session.max_bytes reached by its first read) is known only if exactly one client was
    // read from when its id was made, and otherwise goes unchecked: it ended before it could
    // send its client a byte.
    void resolve_session() {
        if (!unresolved_) return;
        const std::size_t n = *unresolved_;
        unresolved_.reset();
        TrackedSession& s = sessions_[n];
        const std::string what = "session " + std::to_string(n) + " (" + s.id + "): ";
        const std::uint64_t added = native_sessions_opened() - native_opened_before_;
        REQUIRE(added <= 1, what + std::to_string(added) + " native sessions counted for one id");
        s.native = added == 1;
        std::optional<std::size_t> client;
        if (const rtmpt::gateway::SessionBase* found = find_live(s.id)) {
            const rtmpt::gateway::SessionBase& live = *found;
            const bool native = live.transport() == Transport::rtmp || live.transport() == Transport::rtmps;
            REQUIRE(native == s.native, what + "transport " + std::string(transport_name(live.transport())) +
                                            ", the worker's counters say otherwise");
            if (!native) return;
            for (std::size_t i = 0; i < clients_.size(); ++i) {
                if (clients_[i].peer == live.client()) client = i;
            }
            REQUIRE(client, what + "a native relay for " + live.client() + ", not a client of this input");
            // The relay lives where its connection was accepted: the connection is its socket.
            REQUIRE(rtmpt::proto::worker_of(s.id) == clients_[*client].worker,
                    what + "a native relay on another worker than its client " + std::to_string(*client));
        } else if (s.native && native_candidates_.size() == 1) {
            client = native_candidates_.front();
        }
        if (!s.native) return;
        if (!client) {
            trace("session " + std::to_string(n) +
                  " is a native relay that ended before its client was known");
            return;
        }
        Client& c = clients_[*client];
        REQUIRE(c.rtmp_first(),
                what + "a native relay for client " + std::to_string(*client) + ", whose first byte " +
                    (c.first_byte ? hex_byte(*c.first_byte) : std::string("(none)")) + " is not RTMP's C0");
        REQUIRE(!c.session, what + "a second native relay for client " + std::to_string(*client) +
                                " (the first: session " + std::to_string(c.session.value_or(0)) + ")");
        c.session = n;
        s.client = *client;
        latest_ = n;
        trace("session " + std::to_string(n) + " is the native relay of client " + std::to_string(*client));
    }

    [[nodiscard]] bool live(const TrackedSession& s) const { return find_live(s.id) != nullptr; }

    // A live relay whose bytes may all move, with some still to move: worth waiting for at the
    // end (a segment dropped on loopback waits for TCP's retransmit timer).
    bool relay_owes() const {
        for (const TrackedSession& s : sessions_) {
            if (!s.native || !s.client || !s.backend || cfg_.session.max_bytes != 0 || !live(s)) continue;
            const Backend& b = backends_[*s.backend];
            const Client& c = clients_[*s.client];
            if (!b.lossy && (b.received.size() < c.written.size() || c.received.size() < b.written.size()))
                return true;
        }
        return false;
    }

    // ----- the script ------------------------------------------------------------------------

    void act(char letter, std::string_view arg) {
        const unsigned k = arg.empty() ? 0U : static_cast<unsigned char>(arg[0]);
        if (g_trace) {
            std::fprintf(stderr, "action %c %s\n", letter, shown(arg, 80).c_str());
        }
        switch (letter) {
            case 'c':
                send_client(substitute(arg));
                return;
            case 'C':
                if (arg.size() > 1) {
                    std::string bytes;
                    for (unsigned i = 0; i <= k && bytes.size() < kMaxRepeatedBytes; ++i)
                        bytes += substitute(arg.substr(1));
                    send_client(bytes);
                }
                return;
            case 'n':
                new_client(k, arg.size() > 1 ? static_cast<unsigned char>(arg[1]) % kWorkers
                                             : static_cast<unsigned>(clients_.size() % kWorkers));
                return;
            case 'u':
                if (!clients_.empty()) current_ = k % clients_.size();
                return;
            case 'h':
                if (Client* c = client()) c->want_shut = true;
                return;
            case 'x':
                if (Client* c = client()) {
                    c->closed_by_script = true;
                    close_fd(c->fd);
                }
                return;
            case 'p':
                if (Client* c = client()) c->reading = !c->reading;
                return;
            case 'o':
                send_client(request("/open/1", std::string_view("\0", 1)));
                return;
            case 's':
                send_client(request(tunnel_path("send", true), arg.empty() ? std::string_view("\x03") : arg));
                return;
            case 'S':
                send_client(request(tunnel_path("send", true), pattern((k + 1) * 64)));
                return;
            case 'i':
                send_client(request(tunnel_path("idle", true), std::string_view("\0", 1)));
                return;
            case 'k':
                send_client(request(tunnel_path("close", true), std::string_view("\0", 1)));
                return;
            case 'K':
                send_client(request(tunnel_path("close", false), std::string_view("\0", 1)));
                return;
            case 'b':
                if (Backend* b = backend()) b->out.append(arg);
                return;
            case 'B':
                if (Backend* b = backend()) b->out += pattern((k + 1) * 256);
                return;
            case 'e':
                if (Backend* b = backend()) b->echo = !b->echo;
                return;
            case 'f':
                if (Backend* b = backend()) b->want_shut = true;
                return;
            case 'r':
                if (Backend* b = backend()) {
                    const linger abort_on_close{1, 0};
                    setsockopt(b->fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
                    close_fd(b->fd);
                    b->lossy = true;
                    b->aborted = true;
                }
                return;
            case 'q':
                if (Backend* b = backend()) b->reading = !b->reading;
                return;
            case 't':
                pass_time(arg.empty() ? 0x7f : k, arg.size() > 1 ? static_cast<unsigned char>(arg[1]) : 60U);
                return;
            case 'w':
                if (!sessions_.empty()) latest_ = k % sessions_.size();
                return;
            case 'T': {
                const std::size_t w = k % kWorkers;
                trace("worker " + std::to_string(w) + " stops alone");
                ended_by_time_ = true;
                const Turning turning(*this, w);
                workers_[w]->shut_down();
                return;
            }
            default:
                return;
        }
    }

    Client* client() {
        if (clients_.empty()) return nullptr;
        Client& c = clients_[current_];
        return c.fd >= 0 ? &c : nullptr;
    }

    Backend* backend() {
        if (!latest_ || !sessions_[*latest_].backend) return nullptr;
        Backend& b = backends_[*sessions_[*latest_].backend];
        return b.fd >= 0 ? &b : nullptr;
    }

    std::string latest_id() const { return latest_ ? sessions_[*latest_].id : std::string(kNoSession); }

    std::uint64_t take_seq() { return latest_ ? sessions_[*latest_].next_seq++ : 0; }

    std::string substitute(std::string_view in) {
        std::string out;
        for (std::size_t i = 0; i < in.size(); ++i) {
            if (in[i] == '$' && i + 1 < in.size() && (in[i + 1] == 'S' || in[i + 1] == 'N')) {
                out += in[i + 1] == 'S' ? latest_id() : std::to_string(take_seq());
                ++i;
                continue;
            }
            out += in[i];
        }
        return out;
    }

    std::string tunnel_path(std::string_view command, bool with_seq) {
        std::string path = "/" + std::string(command) + "/" + latest_id();
        if (with_seq) path += "/" + std::to_string(take_seq());
        return path;
    }

    static std::string request(std::string_view path, std::string_view body) {
        std::string r = "POST ";
        r += path;
        r += " HTTP/1.1\r\nHost: gw\r\nContent-Type: application/x-fcs\r\nContent-Length: ";
        r += std::to_string(body.size());
        r += "\r\n\r\n";
        r += body;
        return r;
    }

    // Bytes that differ from one call to the next, so that a lost, repeated or reordered piece
    // shows in the prefix checks.
    std::string pattern(std::size_t n) {
        std::string p(n, '\0');
        const unsigned salt = ++patterns_ * 131U;
        for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<char>((salt + i * 7 + (i >> 8)) & 0xff);
        return p;
    }

    void send_client(std::string_view bytes) {
        if (client() == nullptr) new_client(0, static_cast<unsigned>(clients_.size() % kWorkers));
        Client* c = client();
        if (c == nullptr || c->want_shut) return;
        // The gateway tells native RTMP from HTTP by the first byte of the connection.
        if (!c->first_byte && !bytes.empty()) c->first_byte = static_cast<std::uint8_t>(bytes[0]);
        c->out.append(bytes);
        c->mirror->feed(bytes);
    }

    void new_client(unsigned k, unsigned worker) {
        int sv[2];
        REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0,
                std::string("socketpair: ") + std::strerror(errno));
        // A small send buffer on the gateway's side, so that a client that stops reading makes
        // the gateway hold replies after a few of them.
        const int small = 4096;
        setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
        static constexpr const char* kHosts[] = {"127.0.0.1", "[::1]", "192.0.2.7"};
        Client c;
        c.fd = sv[0];
        c.gateway_fd = sv[1];
        c.peer = std::string(kHosts[k % 3]) + ":" + std::to_string(40000 + clients_.size());
        c.mirror = std::make_unique<RequestMirror>(cfg_);
        c.worker = worker;
        struct stat st {};
        if (fstat(sv[1], &st) == 0) c.gateway_ino = st.st_ino;
        rtmpt::gateway::Worker& w = *workers_[worker];
        const std::uint64_t refused = w.counters().connections_refused;
        {
            const Turning turning(*this, worker);
            w.accept(sv[1], c.peer);
        }
        c.refused_at_accept = w.counters().connections_refused != refused;
        trace("client " + std::to_string(clients_.size()) + " " + c.peer + " on worker " +
              std::to_string(worker) + (c.refused_at_accept ? " refused at accept" : ""));
        clients_.push_back(std::move(c));
        current_ = clients_.size() - 1;
    }

    // ----- time ------------------------------------------------------------------------------

    enum TimeoutClass : unsigned {
        kHeaderTimers = 1,
        kClientReads = 2,
        kClientWrites = 4,
        kBackendReads = 8,
        kBackendWrites = 16,
        kOtherTimers = 32,
        kSessionSweep = 64,
        kStop = 128,
    };

    struct Pending {
        event* ev;
        unsigned cls;
        int fd;
        void* arg;
        timeval deadline;
    };

    static int collect_event(const event_base*, const event* ev, void* arg) {
        auto& out = *static_cast<std::vector<Pending>*>(arg);
        timeval deadline{};
        if (!event_pending(ev, EV_TIMEOUT, &deadline)) return 0;
        const int fd = event_get_fd(ev);
        unsigned cls = kOtherTimers;
        if (fd >= 0) {
            int domain = 0;
            socklen_t len = sizeof domain;
            getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len);
            const bool read = (event_get_events(ev) & EV_READ) != 0;
            if (domain == AF_UNIX) {
                cls = read ? kClientReads : kClientWrites;
            } else {
                cls = read ? kBackendReads : kBackendWrites;
            }
        }
        out.push_back(Pending{const_cast<event*>(ev), cls, fd, event_get_callback_arg(ev), deadline});
        return 0;
    }

    void pass_time(unsigned mask, unsigned seconds) {
        fire_timeouts(mask);
        if (mask & (kSessionSweep | kStop)) ended_by_time_ = true;
        if (mask & kSessionSweep) {
            trace("sessions swept " + std::to_string(seconds) + " s later");
            const auto later = rtmpt::gateway::Clock::now() + std::chrono::seconds(seconds);
            for (std::size_t w = 0; w < kWorkers; ++w) {
                const Turning turning(*this, w);
                workers_[w]->sweep_sessions(later);
            }
        }
        if (mask & kStop) {
            trace("workers stop");
            for (std::size_t w = 0; w < kWorkers; ++w) {
                const Turning turning(*this, w);
                workers_[w]->shut_down();
            }
        }
    }

    // Activates libevent's own timeout events, as if their time had come: the callbacks run
    // exactly as on a real timeout.
    void fire_timeouts(unsigned mask) {
        std::vector<Pending> pending;
        for (const auto& w : workers_) event_base_foreach_event(w->base(), &Harness::collect_event, &pending);
        // A client connection's header timer carries the connection as its argument, as does the
        // connection's own read event (the bufferevent only writes): that tells header timers
        // from idle holds.
        std::map<void*, std::size_t> connection_of;
        for (const Pending& p : pending) {
            if (p.cls != kClientReads) continue;
            if (const auto c = client_by_gateway_fd(p.fd)) connection_of.emplace(p.arg, *c);
        }
        for (Pending& p : pending) {
            if (p.cls == kOtherTimers && connection_of.contains(p.arg)) p.cls = kHeaderTimers;
        }
        // Sockets by descriptor, timers by deadline: the same script fires them in the same order.
        std::stable_sort(pending.begin(), pending.end(), [](const Pending& a, const Pending& b) {
            if ((a.fd < 0) != (b.fd < 0)) return a.fd >= 0;
            if (a.fd >= 0) return a.fd < b.fd;
            return timercmp(&a.deadline, &b.deadline, <);
        });
        for (const Pending& p : pending) {
            if (!(p.cls & mask)) continue;
            trace("timeout fires: class " + std::to_string(p.cls) + " fd " + std::to_string(p.fd));
            switch (p.cls) {
                case kHeaderTimers:
                    clients_[connection_of.at(p.arg)].header_timed_out = true;
                    break;
                case kClientReads:
                case kClientWrites:
                    if (const auto c = client_by_gateway_fd(p.fd)) clients_[*c].timed_out = true;
                    break;
                case kBackendReads:
                case kBackendWrites:
                    mark_backend_lossy(p.fd);
                    break;
                default:
                    break;
            }
            event_active(p.ev, EV_TIMEOUT, 1);
        }
    }

    std::optional<std::size_t> client_by_gateway_fd(int fd) const {
        // A descriptor number is reused once closed; the newest connection holding it is the live one.
        for (std::size_t i = clients_.size(); i-- > 0;) {
            if (clients_[i].gateway_fd == fd) return i;
        }
        return std::nullopt;
    }

    // The gateway's end of a backend connection: ours is the one whose peer is its local address.
    void mark_backend_lossy(int gateway_fd) {
        const std::uint16_t port = local_port(gateway_fd);
        for (Backend& b : backends_) {
            if (port != 0 && b.port == port) {
                b.lossy = true;
                b.aborted = true;
                return;
            }
        }
        // Unknown: no backend is sure any more.
        for (Backend& b : backends_) b.lossy = b.aborted = true;
    }

    // ----- the loop --------------------------------------------------------------------------

    // Turns the loop one iteration at a time (event_base_loop with EVLOOP_NONBLOCK alone keeps
    // going while callbacks keep being activated) until no byte moves, nothing is active, and no
    // socket of the gateway's is ready for what it waits on (libevent reads at most 4096 bytes a
    // socket a turn: the rest waits in the kernel, where this driver's own I/O does not see it).
    // Both loops take a turn each, worker 0's first, then this driver's I/O: a task one worker
    // posts to the other's mailbox runs at that one's next turn, as when each has its thread.
    void settle() {
        int quiet = 0;
        int busy = 0;  // turns in a row with callbacks active and no byte moved
        for (int turn = 0; quiet < kQuietTurns; ++turn) {
            REQUIRE(turn < kMaxTurns,
                    "the loops still move bytes after " + std::to_string(kMaxTurns) + " turns");
            for (std::size_t w = 0; w < kWorkers; ++w) {
                const Turning turning(*this, w);
                event_base_loopexit(workers_[w]->base(), nullptr);
                event_base_loop(workers_[w]->base(), EVLOOP_NONBLOCK);
            }
            const bool moved = io();
            bool active = false;
            for (const auto& w : workers_)
                active |= event_base_get_num_events(w->base(), EVENT_BASE_COUNT_ACTIVE) > 0;
            busy = (active && !moved) ? busy + 1 : 0;
            REQUIRE(busy < kMaxBusyTurns, "busy loop: callbacks keep being activated for " +
                                              std::to_string(kMaxBusyTurns) + " turns and no byte moves");
            quiet = (moved || active || gateway_ready()) ? 0 : quiet + 1;
        }
        check_limits();
    }

    // Settles, then waits for bytes still in the kernel: what is owed has arrived.
    void settle_fully() {
        settle();
        for (int waited = 0;
             waited < kMaxInFlightWaitMs && (backend_bytes_in_flight() || gateway_ready() || relay_owes());
             ++waited) {
            usleep(1000);
            settle();
        }
    }

    static int collect_io(const event_base*, const event* ev, void* arg) {
        const int fd = event_get_fd(ev);
        if (fd < 0) return 0;
        short want = 0;
        if (event_pending(ev, EV_READ, nullptr)) want |= POLLIN;
        if (event_pending(ev, EV_WRITE, nullptr)) want |= POLLOUT;
        if (want) static_cast<std::vector<pollfd>*>(arg)->push_back({fd, want, 0});
        return 0;
    }

    // Would the next turn find work on the gateway's own sockets?
    bool gateway_ready() const {
        std::vector<pollfd> fds;
        for (const auto& w : workers_) event_base_foreach_event(w->base(), &Harness::collect_io, &fds);
        return !fds.empty() && poll(fds.data(), fds.size(), 0) > 0;
    }

    bool accept_backends() {
        bool moved = false;
        while (true) {
            const int fd = accept4(g_listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) break;
            REQUIRE(backends_.size() < sessions_.size(), "a backend connection without a session");
            Backend b;
            b.fd = fd;
            sockaddr_in peer{};
            socklen_t len = sizeof peer;
            if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) == 0) b.port = peer.sin_port;
            b.session = backends_.size();
            b.echo = !(flags_ & kConfigNoEcho);
            sessions_[b.session].backend = backends_.size();
            trace("backend " + std::to_string(backends_.size()) + " for " + sessions_[b.session].id);
            backends_.push_back(std::move(b));
            moved = true;
        }
        return moved;
    }

    static std::uint16_t local_port(int fd) {
        sockaddr_in local{};
        socklen_t len = sizeof local;
        if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0 || local.sin_family != AF_INET)
            return 0;
        return local.sin_port;
    }

    // The gateway's end of a backend connection: the gateway socket whose local port is our peer's.
    bool holds_gateway_end(const Backend& b) const {
        return b.gateway_fd >= 0 && local_port(b.gateway_fd) == b.port;
    }

    // Linux autotunes a loopback send buffer up to megabytes, so a backend that stops reading
    // would congest the gateway only after that much: the gateway's end gets a small send buffer
    // (as a host with a small net.ipv4.tcp_wmem would give it), found among its libevent sockets.
    void find_gateway_ends() {
        if (std::all_of(backends_.begin(), backends_.end(), [](const Backend& b) { return b.searched; }))
            return;
        std::vector<pollfd> fds;
        for (const auto& w : workers_) event_base_foreach_event(w->base(), &Harness::collect_io, &fds);
        for (Backend& b : backends_) {
            if (b.searched) continue;
            b.searched = true;
            for (const pollfd& p : fds) {
                if (local_port(p.fd) != b.port) continue;
                b.gateway_fd = p.fd;
                const int small = 4096;
                setsockopt(p.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
                break;
            }
        }
    }

    // Bytes the gateway has handed to the kernel for a backend that reads, not yet received (or
    // not yet acknowledged, which keeps its small send buffer full): on loopback they normally
    // arrive at once, but a dropped segment waits for TCP's retransmit timer.
    bool backend_bytes_in_flight() const {
        for (const Backend& b : backends_) {
            int queued = 0;
            if (b.fd >= 0 && b.reading && holds_gateway_end(b) &&
                ioctl(b.gateway_fd, SIOCOUTQ, &queued) == 0 && queued > 0)
                return true;
        }
        return false;
    }

    // One round of the script's own I/O; true if any byte moved.
    bool io() {
        bool moved = accept_backends();
        // Before any client byte is read: a native client's bytes are raw once its session is known.
        resolve_session();
        find_gateway_ends();
        // Half-closes wait for what was sent before them.
        for (Client& c : clients_) {
            if (c.fd >= 0 && c.want_shut && !c.shut && c.out.empty()) {
                ::shutdown(c.fd, SHUT_WR);
                c.shut = true;
                moved = true;
            }
        }
        for (Backend& b : backends_) {
            if (b.fd >= 0 && b.want_shut && !b.shut && b.out.empty()) {
                ::shutdown(b.fd, SHUT_WR);
                b.shut = true;
                b.lossy = true;
                moved = true;
            }
        }
        std::vector<pollfd> fds;
        for (const Client& c : clients_) {
            const short ev = static_cast<short>((c.reading ? POLLIN : 0) | (c.out.empty() ? 0 : POLLOUT));
            fds.push_back({c.fd, ev, 0});
        }
        for (const Backend& b : backends_) {
            const short ev = static_cast<short>((b.reading ? POLLIN : 0) | (b.out.empty() ? 0 : POLLOUT));
            fds.push_back({b.fd, ev, 0});
        }
        if (fds.empty() || poll(fds.data(), fds.size(), 0) <= 0) return moved;
        std::size_t i = 0;
        for (std::size_t n = 0; n < clients_.size(); ++n, ++i) {
            if (fds[i].fd >= 0 && fds[i].revents) moved |= client_io(n, fds[i].revents);
        }
        for (Backend& b : backends_) {
            if (fds[i].fd >= 0 && fds[i].revents) moved |= backend_io(b, fds[i].revents);
            ++i;
        }
        return moved;
    }

    static bool write_some(int fd, std::string& out, std::string* sent) {
        if (out.empty()) return false;
        const ssize_t n = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            if (sent) sent->append(out, 0, static_cast<std::size_t>(n));
            out.erase(0, static_cast<std::size_t>(n));
            return true;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) out.clear();  // the peer is gone
        return false;
    }

    // Reads what is there; true at end of stream or on an error.
    static bool read_some(int fd, std::string& into, bool& moved) {
        char buf[16384];
        for (int i = 0; i < 64; ++i) {
            const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0) {
                into.append(buf, static_cast<std::size_t>(n));
                moved = true;
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) return false;
            moved = true;
            return true;
        }
        return false;
    }

    bool client_io(std::size_t index, short revents) {
        Client& c = clients_[index];
        bool moved = false;
        if (revents & (POLLOUT | POLLERR | POLLHUP))
            moved |= write_some(c.fd, c.out, c.rtmp_first() ? &c.written : nullptr);
        if (c.reading && (revents & (POLLIN | POLLERR | POLLHUP))) {
            const std::size_t before = c.in.size();
            const bool ended = read_some(c.fd, c.in, moved);
            if (c.rtmp_first()) c.received.append(c.in, before, std::string::npos);
            // A native relay's bytes are the backend's, checked whole at the end; anything else
            // is HTTP replies.
            if (c.session) {
                c.in.clear();
            } else {
                read_replies(index);
            }
            if (ended) client_ended(index);
        }
        return moved;
    }

    bool backend_io(Backend& b, short revents) {
        bool moved = false;
        if (revents & (POLLOUT | POLLERR | POLLHUP)) moved |= write_some(b.fd, b.out, &b.written);
        if (b.reading && (revents & (POLLIN | POLLERR | POLLHUP))) {
            const std::size_t before = b.received.size();
            const bool ended = read_some(b.fd, b.received, moved);
            // Acknowledge at once: with the gateway's small send buffer, a delayed ACK (40 ms)
            // would hold its next bytes back.
            const int one = 1;
            setsockopt(b.fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
            if (b.echo && !b.shut) b.out.append(b.received, before, std::string::npos);
            if (ended) {
                // The gateway is done with us (a session's end, after its last bytes): close too,
                // as an RTMP server does, which lets a lingering connection finish.
                trace("backend of " + sessions_[b.session].id + " ended by the gateway");
                close_fd(b.fd);
            }
        }
        return moved;
    }

    // ----- checks ----------------------------------------------------------------------------

    void read_replies(std::size_t index) {
        Client& c = clients_[index];
        while (true) {
            if (c.final_reply) {
                REQUIRE(c.in.empty(), "client " + std::to_string(index) +
                                          ": bytes after a Connection: close reply: " + shown(c.in));
                return;
            }
            std::optional<Reply> r = take_reply(c.in);
            if (!r) return;
            check_reply(index, *r);
        }
    }

    void check_reply(std::size_t index, const Reply& r) {
        Client& c = clients_[index];
        const std::size_t i = c.replies++;
        const auto& requests = c.mirror->requests();
        const auto what = [&] {
            std::string s = "client " + std::to_string(index) + " reply " + std::to_string(i) + " (" +
                            std::to_string(r.status) + " \"" + shown(r.body, 60) + "\")";
            if (i < requests.size()) s += " to " + shown(requests[i].target, 60);
            return s + ": ";
        };
        trace("client " + std::to_string(index) + " reply " + std::to_string(i) + ": " +
              std::to_string(r.status) + (r.close ? " close" : "") + " " + shown(r.body, 60));
        REQUIRE(!c.refused_at_accept, what() + "a reply on a connection refused at accept");
        // A connection that began with RTMP's C0 is not read as HTTP: the one reply it can get is
        // the 408 of a header timer that fired before the gateway read that byte.
        REQUIRE(!c.rtmp_first() || r.status == 408, what() +
                                                        "an HTTP reply on a connection whose first byte " +
                                                        hex_byte(*c.first_byte) + " is RTMP's C0");
        if (r.close) c.final_reply = true;

        if (r.status == 408) {
            REQUIRE(c.header_timed_out, what() + "408 without a header timeout");
            REQUIRE(r.close && i <= requests.size() && r.content_type == "text/plain" &&
                        r.body == "request header timeout\n",
                    what() + "not the header timeout refusal");
            return;
        }
        if (i >= requests.size()) {
            const auto& refusal = c.mirror->refusal();
            REQUIRE(i == requests.size(), what() + "more replies than requests");
            REQUIRE(refusal.has_value(),
                    what() + "a reply past the last request, and the parser refuses nothing");
            REQUIRE(r.status == static_cast<int>(refusal->status) && r.close &&
                        r.content_type == "text/plain" && r.body == refusal->why + "\n",
                    what() + "the parser refuses with " + std::to_string(static_cast<int>(refusal->status)) +
                        " \"" + refusal->why + "\"");
            return;
        }

        const ClientRequest& req = requests[i];
        if (names_other_worker(c, req)) ++c.answered_elsewhere;
        if (!req.keep_alive) {
            REQUIRE(r.close, what() + "the request asked to close, the reply keeps the connection");
        } else if (r.close) {
            REQUIRE(c.shut, what() + "Connection: close on a reply to a keep-alive request");
        }
        const auto expect = [&](int status, std::string_view body) {
            REQUIRE(r.status == status && r.body == body && r.content_type == "text/plain",
                    what() + "expected " + std::to_string(status) + " \"" + shown(body) + "\"");
        };
        if (req.method != HTTP_POST) {
            expect(405, "RTMPT requests are POST\n");
            return;
        }
        switch (req.kind) {
            case RouteKind::unknown:
                expect(404, "not an RTMPT path\n");
                return;
            case RouteKind::ident2:
                if (cfg_.http.ident2.empty()) {
                    expect(404, "no ident2\n");
                } else {
                    expect(200, cfg_.http.ident2);
                }
                return;
            case RouteKind::open:
                check_open_reply(c, r, what);
                return;
            case RouteKind::send:
            case RouteKind::idle:
            case RouteKind::close:
                check_tunnel_reply(req, r, what);
                return;
        }
        fail(what() + "unknown route kind");
    }

    template <typename What>
    void check_open_reply(const Client& c, const Reply& r, const What& what) {
        if (r.status == 503) {
            // session.max_sessions, or an open after the worker began to stop.
            REQUIRE(r.body == "no session available\n" || r.body == "shutting down\n",
                    what() + "unexpected 503 body");
            return;
        }
        if (r.status == 429) {
            REQUIRE(cfg_.session.max_sessions_per_client != 0 &&
                        r.body == "too many sessions from this address\n",
                    what() + "unexpected 429");
            return;
        }
        REQUIRE(r.status == 200 && r.content_type == cfg_.http.mime_type, what() + "not an open reply");
        // With several workers: the worker's digit, the random part, one newline.
        REQUIRE(r.body.size() == 1 + rtmpt::proto::kSessionIdLength + 1 && r.body.back() == '\n',
                what() + "open reply body is not a worker digit, an id and one newline");
        const std::string id = r.body.substr(0, r.body.size() - 1);
        REQUIRE(rtmpt::proto::is_well_formed_session_id(id), what() + "an id no route would carry");
        REQUIRE(rtmpt::proto::worker_of(id) == c.worker,
                what() + "an id naming another worker than the one that accepted the connection (" +
                    std::to_string(c.worker) + ")");
        const auto it = by_id_.find(id);
        REQUIRE(it != by_id_.end(), what() + "an id the gateway did not make");
        TrackedSession& s = sessions_[it->second];
        REQUIRE(!s.opened, what() + "the same id given to two opens");
        REQUIRE(!s.native, what() + "the id of a native RTMP relay");
        s.opened = true;
        latest_ = it->second;
    }

    template <typename What>
    void check_tunnel_reply(const ClientRequest& req, const Reply& r, const What& what) {
        if (r.status == 400) {
            REQUIRE(req.seq.has_value() && r.content_type == "text/plain" &&
                        (r.body == "too many retries\n" || r.body == "sequence number already used\n" ||
                         r.body == "sequence number out of window\n"),
                    what() + "unexpected 400");
            return;
        }
        if (r.status == 503) {
            // Bodies parked behind a gap past session.queue_max_bytes: this one is refused, the
            // session goes on. Never "shutting down": that is what a handed-over request's slot
            // sends back when the owner drops it unfilled, and the owner's loop runs throughout.
            REQUIRE(req.seq.has_value() && r.content_type == "text/plain" && r.body == "session queue full\n",
                    what() + "unexpected 503");
            return;
        }
        if (r.status == 404) {
            REQUIRE(r.content_type == "text/plain" &&
                        (r.body == "unknown session\n" || r.body == "session ended\n"),
                    what() + "unexpected 404");
            return;
        }
        REQUIRE(r.status == 200 && r.content_type == cfg_.http.mime_type, what() + "unexpected status");
        const auto it = by_id_.find(req.sid);
        REQUIRE(it != by_id_.end(), what() + "200 for a session the gateway never made");
        REQUIRE(!sessions_[it->second].native, what() + "200 for a native RTMP relay's id");
        const auto b = static_cast<unsigned char>(r.body[0]);
        if (b == 0) {
            REQUIRE(r.body.size() == 1, what() + "a close reply with bytes after its 0x00");
        } else {
            REQUIRE(is_polling_byte(b), what() + "not a polling byte of Red5's schedule");
            REQUIRE(r.body.size() == 1 || b == 0x01, what() + "data with a back-off polling byte");
            REQUIRE(r.body.size() <= cfg_.session.reply_max_bytes,
                    what() + "a body of " + std::to_string(r.body.size()) +
                        " bytes, over session.reply_max_bytes with its polling byte");
        }
        if (!req.seq) {
            REQUIRE(r.body == std::string_view("\0", 1),
                    what() + "a close without a number answered with data");
            return;
        }
        auto [at, inserted] = sessions_[it->second].bodies.try_emplace(*req.seq, r.body);
        REQUIRE(inserted || at->second == r.body, what() + "seq " + std::to_string(*req.seq) +
                                                      " answered before with other bytes: \"" +
                                                      shown(at->second, 60) + "\"");
    }

    // A tunnel request whose id names the other worker of the group: its connection's worker
    // hands it over (an id naming no worker of the group is answered where it arrives).
    static bool names_other_worker(const Client& c, const ClientRequest& r) {
        if (r.method != HTTP_POST ||
            (r.kind != RouteKind::send && r.kind != RouteKind::idle && r.kind != RouteKind::close))
            return false;
        const std::optional<unsigned> owner = rtmpt::proto::worker_of(r.sid);
        return owner && *owner < kWorkers && *owner != c.worker;
    }

    // Each worker's count of requests handed over, against what its connections carried.
    void check_handed_over() const {
        for (std::size_t w = 0; w < kWorkers; ++w) {
            std::size_t answered = 0;
            std::size_t sent = 0;
            for (const Client& c : clients_) {
                if (c.worker != w) continue;
                answered += c.answered_elsewhere;
                for (const ClientRequest& r : c.mirror->requests()) sent += names_other_worker(c, r) ? 1 : 0;
            }
            const std::uint64_t handed = workers_[w]->counters().requests_handed_over;
            trace("worker " + std::to_string(w) + " handed over " + std::to_string(handed) + " requests (" +
                  std::to_string(answered) + " answered, " + std::to_string(sent) + " sent)");
            REQUIRE(answered <= handed && handed <= sent,
                    "worker " + std::to_string(w) + " handed over " + std::to_string(handed) +
                        " requests; its connections carried " + std::to_string(sent) +
                        " for the other worker's sessions, " + std::to_string(answered) +
                        " of them answered");
        }
    }

    // The process-wide limits count exactly what the workers hold, within the configured maxima.
    void check_limits() const {
        std::size_t sessions = 0;
        std::size_t connections = 0;
        for (const auto& w : workers_) {
            sessions += w->sessions().size();
            connections += w->connection_count();
        }
        const rtmpt::gateway::SharedLimits& limits = group_.limits;
        REQUIRE(limits.sessions() == sessions && limits.connections() == connections,
                "the shared limits count " + std::to_string(limits.sessions()) + " sessions and " +
                    std::to_string(limits.connections()) + " connections, the workers hold " +
                    std::to_string(sessions) + " and " + std::to_string(connections));
        REQUIRE(sessions <= cfg_.session.max_sessions && connections <= cfg_.http.max_connections,
                std::to_string(sessions) + " sessions and " + std::to_string(connections) +
                    " connections live: past session.max_sessions or http.max_connections");
    }

    // Once both workers have stopped and the loops are quiet: every request the mirror read on a
    // connection still open has been answered, once and in order (check_reply saw to the order).
    void check_all_answered() const {
        for (std::size_t i = 0; i < clients_.size(); ++i) {
            const Client& c = clients_[i];
            if (c.fd < 0 || c.refused_at_accept || c.rtmp_first() || c.timed_out || c.header_timed_out)
                continue;
            const std::size_t owed = c.mirror->requests().size() + (c.mirror->refusal() ? 1 : 0);
            REQUIRE(c.replies == owed,
                    "client " + std::to_string(i) + " (worker " + std::to_string(c.worker) +
                        "): " + std::to_string(c.replies) + " replies to " + std::to_string(owed) +
                        " requests once both workers have stopped and the loops are quiet");
        }
    }

    void client_ended(std::size_t index) {
        Client& c = clients_[index];
        const auto& requests = c.mirror->requests();
        const std::size_t owed = requests.size() + (c.mirror->refusal() ? 1 : 0);
        trace("client " + std::to_string(index) + " closed by the gateway after " +
              std::to_string(c.replies) + " replies");
        const std::string what = "client " + std::to_string(index) + ": ";
        if (c.session) {
            // The relay hands its client connection to the linger set when it ends, which closes it.
            REQUIRE(!live(sessions_[*c.session]),
                    what + "closed while its native relay session " + sessions_[*c.session].id + " is live");
            close_fd(c.fd);
            return;
        }
        REQUIRE(c.in.empty() || c.timed_out, what + "the gateway closed inside a reply: " + shown(c.in));
        if (c.refused_at_accept) {
            REQUIRE(c.replies == 0, what + "replies on a connection refused at accept");
        } else if (c.rtmp_first()) {
            // Native RTMP refused at admission (caps, draining) is closed without a byte; a 408
            // before its first byte was read is checked as a reply.
        } else if (!c.timed_out && !c.header_timed_out) {
            // Without a timeout the gateway closes only after saying so, or after the client's own
            // end of stream; either way once every request it read is answered.
            REQUIRE(c.final_reply || c.shut, what + "closed without a Connection: close reply");
            REQUIRE(c.replies == owed, what + "closed after " + std::to_string(c.replies) + " replies, " +
                                           std::to_string(owed) + " owed");
        }
        close_fd(c.fd);
    }

    // The candidate bodies of each sequence number of a session: every send's body, and nothing
    // for an idle or close (the first request to arrive with a number decides).
    std::map<std::uint64_t, std::vector<std::string_view>> candidates(const std::string& id) const {
        std::map<std::uint64_t, std::vector<std::string_view>> out;
        for (const Client& c : clients_) {
            for (const ClientRequest& r : c.mirror->requests()) {
                if (r.method != HTTP_POST || r.sid != id || !r.seq) continue;
                if (r.kind != RouteKind::send && r.kind != RouteKind::idle && r.kind != RouteKind::close)
                    continue;
                auto& v = out[*r.seq];
                const std::string_view body = r.kind == RouteKind::send ? std::string_view(r.body) : "";
                if (std::find(v.begin(), v.end(), body) == v.end()) v.push_back(body);
            }
        }
        return out;
    }

    void check_session(std::size_t index) {
        const TrackedSession& s = sessions_[index];
        if (!s.backend) return;
        if (s.native) {
            check_relay(s);
            return;
        }
        const Backend& b = backends_[*s.backend];
        const auto cands = candidates(s.id);
        const std::string what = "session " + s.id + ": ";

        // Downstream: the replies' backend bytes in sequence order. A run of consecutive known
        // numbers is contiguous in what the backend sent; a run from the base starts at its first byte.
        std::vector<std::pair<bool, std::string>> runs;
        std::optional<std::uint64_t> prev;
        for (const auto& [seq, body] : s.bodies) {
            const std::string_view payload = std::string_view(body).substr(1);
            const bool from_base = seq == 0 || (seq == 1 && !cands.contains(0));
            if (!prev || seq != *prev + 1) runs.emplace_back(!prev && from_base, std::string());
            runs.back().second += payload;
            prev = seq;
        }
        std::size_t pos = 0;
        for (const auto& [anchored, run] : runs) {
            if (anchored) {
                REQUIRE(b.written.compare(0, run.size(), run) == 0 && run.size() <= b.written.size(),
                        what + "replies carry \"" + shown(run) + "\", the backend sent \"" +
                            shown(b.written) + "\"");
                pos = run.size();
            } else {
                const auto at = b.written.find(run, pos);
                REQUIRE(at != std::string::npos, what + "replies carry \"" + shown(run) +
                                                     "\", not found in order in what the backend sent \"" +
                                                     shown(b.written) + "\"");
                pos = at + run.size();
            }
        }

        // Upstream: what the backend received, against the candidate bodies in sequence order.
        const std::optional<std::uint64_t> applied =
            s.bodies.empty() ? std::nullopt : std::optional<std::uint64_t>(s.bodies.rbegin()->first);
        bool explained = false;
        bool complete = false;
        for (const std::uint64_t base : {0U, 1U}) {
            // The base is the first number applied: 1 only if 0 never was.
            if (base == 1 && s.bodies.contains(0)) continue;
            const auto [e, c] = walk(base, cands, b.received, applied);
            explained |= e;
            complete |= c;
        }
        REQUIRE(explained, what + "the backend received \"" + shown(b.received) +
                               "\", not the client's bodies in sequence order");
        const bool may_lose = b.lossy || cfg_.session.max_bytes != 0;
        REQUIRE(complete || may_lose, what + "the backend received \"" + shown(b.received) +
                                          "\", short of the bodies up to seq " +
                                          std::to_string(applied.value_or(0)) + " the gateway answered");
    }

    void check_relay(const TrackedSession& s) {
        const Backend& b = backends_[*s.backend];
        const std::string what = "native relay session " + s.id + ": ";
        const std::size_t cap = cfg_.session.max_bytes;
        REQUIRE(cap == 0 || b.received.size() <= cap,
                what + "the backend received " + std::to_string(b.received.size()) +
                    " bytes, session.max_bytes is " + std::to_string(cap));
        if (!s.client) return;
        const Client& c = clients_[*s.client];
        REQUIRE(cap == 0 || c.received.size() <= cap,
                what + "the client received " + std::to_string(c.received.size()) +
                    " bytes, session.max_bytes is " + std::to_string(cap));
        REQUIRE(
            c.received.size() <= b.written.size() && b.written.compare(0, c.received.size(), c.received) == 0,
            what + "the client received \"" + shown(c.received) +
                "\", not the start of what the backend sent \"" + shown(b.written) + "\"");
        REQUIRE(
            b.received.size() <= c.written.size() && c.written.compare(0, b.received.size(), b.received) == 0,
            what + "the backend received \"" + shown(b.received) +
                "\", not the start of what the client sent \"" + shown(c.written) + "\"");
        const std::string counts = " (client sent " + std::to_string(c.written.size()) + " and received " +
                                   std::to_string(c.received.size()) + ", backend sent " +
                                   std::to_string(b.written.size()) + " and received " +
                                   std::to_string(b.received.size()) + ")";
        trace("native relay session " + s.id + (live(s) ? " live" : " ended") + counts);
        if (live(s) && cap == 0 && !b.lossy) {
            REQUIRE(b.received.size() == c.written.size() && c.received.size() == b.written.size(),
                    what + "live, and the loop is quiet with bytes not relayed" + counts);
        }
        // Ended by the backend's end of stream and nothing else: the client gets all of it.
        const bool only_backend_ended = b.shut && !b.aborted && !c.want_shut && !c.closed_by_script &&
                                        !c.timed_out && !ended_by_time_ && cap == 0;
        if (!live(s) && only_backend_ended) {
            REQUIRE(
                c.received.size() == b.written.size(),
                what + "ended by its backend's end of stream, the client did not get all it sent" + counts);
        }
    }

    // Once the loop is quiet, a connection that began with RTMP's C0 and was read is either
    // relayed or closed.
    void check_native_clients() const {
        for (std::size_t i = 0; i < clients_.size(); ++i) {
            const Client& c = clients_[i];
            if (c.fd < 0 || !c.rtmp_first() || c.session || c.written.empty() || c.refused_at_accept ||
                c.header_timed_out || c.timed_out)
                continue;
            fail("client " + std::to_string(i) + ": began with RTMP's C0 " + hex_byte(*c.first_byte) +
                 ", and the gateway neither relays nor closes it");
        }
    }

    // Can `received` be the start of the bodies from `base` on, one candidate per number? And do
    // the bodies through `applied` all fit in it?
    static std::pair<bool, bool> walk(std::uint64_t base,
                                      const std::map<std::uint64_t, std::vector<std::string_view>>& cands,
                                      std::string_view received, std::optional<std::uint64_t> applied) {
        std::set<std::size_t> at{0};
        bool explained = received.empty();
        bool complete = !applied || *applied < base;
        for (std::uint64_t seq = base;; ++seq) {
            const auto it = cands.find(seq);
            if (it == cands.end()) break;
            std::set<std::size_t> next;
            for (const std::size_t p : at) {
                if (p == received.size()) explained = true;
                for (const std::string_view body : it->second) {
                    if (p + body.size() <= received.size()) {
                        if (received.compare(p, body.size(), body) == 0) next.insert(p + body.size());
                    } else if (body.compare(0, received.size() - p, received.substr(p)) == 0) {
                        explained = true;  // the stream ends inside this body: the rest may follow
                    }
                }
            }
            at = std::move(next);
            if (applied && seq == *applied && !at.empty()) complete = true;
            if (at.empty()) break;
        }
        if (at.contains(received.size())) explained = true;
        return {explained, complete};
    }

    const std::uint8_t flags_;
    const rtmpt::gateway::ConfigSnapshotPtr snapshot_;
    const rtmpt::config::Config& cfg_;
    rtmpt::gateway::Logger log_;
    // The group outlives its workers, which take from its limits to their end.
    rtmpt::gateway::WorkerGroup group_;
    std::vector<std::unique_ptr<rtmpt::gateway::Worker>> workers_;
    std::size_t turning_ = kNoWorker;  // the worker whose code runs now, kNoWorker between turns
    std::vector<Client> clients_;
    std::size_t current_ = 0;
    std::vector<Backend> backends_;
    std::vector<TrackedSession> sessions_;
    std::map<std::string, std::size_t> by_id_;
    std::optional<std::size_t> latest_;
    unsigned patterns_ = 0;
    // The latest id, until its session's kind (and a native one's client) is known.
    std::optional<std::size_t> unresolved_;
    std::uint64_t native_opened_before_ = 0;
    std::vector<std::size_t> native_candidates_;
    bool ended_by_time_ = false;  // the janitor swept or the worker stopped: sessions may end any way
};

}  // namespace

// Replaces gateway/tunnel/entropy.cpp (not linked into this driver): session ids from the input's
// script, so that a run repeats and the backend connection of each session is known.
namespace rtmpt::gateway {
bool fill_random(std::span<std::uint8_t> out) {
    REQUIRE(g_harness != nullptr, "fill_random outside an input");
    return g_harness->entropy(out);
}
}  // namespace rtmpt::gateway

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // A client that has gone must be an error return, as in main.cpp.
    std::signal(SIGPIPE, SIG_IGN);
    g_trace = std::getenv("FUZZ_TRACE") != nullptr;
    g_listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    REQUIRE(g_listen_fd >= 0, std::string("socket: ") + std::strerror(errno));
    // A modest receive buffer, inherited by accepted connections, so that a backend that stops
    // reading congests the gateway within a few sends. Not a tiny one: on loopback that drops
    // segments, which then wait for TCP's retransmit timer.
    const int rcv = 16384;
    setsockopt(g_listen_fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(bind(g_listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                listen(g_listen_fd, 512) == 0 &&
                getsockname(g_listen_fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0,
            std::string("backend listener: ") + std::strerror(errno));
    g_backend_port = ntohs(addr.sin_port);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    Harness harness(static_cast<std::uint8_t>(input[0]));
    harness.run(input.substr(1));
    return 0;
}
