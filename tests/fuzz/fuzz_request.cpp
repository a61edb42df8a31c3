// libFuzzer driver: arbitrary bytes as what one client connection sends.
//
// The first byte decides first, as in gateway/client/http_connection.cpp: RTMP's C0 makes the
// connection a native relay (gateway/tunnel/native_session.cpp), which parses nothing and answers
// nothing, its bytes going to the backend unchanged. Any other first byte, and the bytes go through llhttp
// set up as gateway/client/http_connection.cpp sets it up (same callbacks, header and body limits from the
// default config, a pause after a request that is the last on its connection or that fills the pipeline, the
// paused position drained and parsing resumed), once all at once and once cut into small reads, which must
// yield the same requests. Each complete request then goes where gateway/loop/worker.cpp sends it: the method
// check, proto::parse_route, and for tunnel routes a pure model of gateway/tunnel/session.cpp's sequence
// logic (no sockets, no timers: an /idle is answered at once, and the backend echoes what it is
// sent), built from proto::SequenceWindow, proto::ReplyCache, proto::PollingByte and
// proto::ReplyBuilder.
//
// Properties checked:
//  - proto::classify_first_byte agrees with an independent reading (0x03, 0x06, 0x08, 0x09 are
//    RTMP's C0, 0x16 a TLS record, anything else for the HTTP parser) and first_byte_name with it;
//    an input whose first byte is a C0 goes to the native relay: no HTTP reply, its bytes relayed
//    unchanged and in order however the reads cut them, and llhttp alone would have refused it
//    before any request (the sniff takes nothing that HTTP would have served);
//  - llhttp hands back a paused position inside the bytes it was given; a split read yields the
//    same requests and the same refusal as one read;
//  - parse_route agrees with an independent reading of the path; tunnel routes carry a
//    well-formed session id that points into the target, and rebuild to the same route;
//  - the window's verdicts, its base and its next number match a reference model (the wait for
//    a seq 0 after a first request numbered 1 ends at an /fcs/ident2, the model's clock, or when
//    the input does); requests are applied
//    in sequence order, each number exactly once, each one more than the last; at most
//    kAhead + 1 requests wait;
//  - a retry finds in the reply cache exactly the reply stored for its number while that is
//    among the last kDepth stored, and nothing otherwise; bytes() adds up;
//  - the polling byte follows Red5's schedule (0x01, then after ten empty replies 0x03, 0x05,
//    0x09, 0x11, 0x21, 0x21, ...);
//  - every reply starts with "HTTP/1.1 <code> <reason>\r\n", has CRLF-only header lines, exactly
//    one Connection header and exactly one "Content-Length: <n>" with n the body's size, never
//    0; tunnel replies carry the tunnel MIME type and the body the session logic meant; the
//    open reply's body is the new id and one "\n"; mark_connection_close keeps all of that.
#include <llhttp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "proto/first_bytes.hpp"
#include "proto/http_reply.hpp"
#include "proto/polling_byte.hpp"
#include "proto/reply_cache.hpp"
#include "proto/route.hpp"
#include "proto/sequence_window.hpp"
#include "proto/session_id.hpp"
#include "tests/fuzz/property.hpp"

namespace {

using rtmpt::proto::FirstByte;
using rtmpt::proto::HttpStatus;
using rtmpt::proto::Route;
using rtmpt::proto::RouteKind;
using rtmpt::proto::SequenceWindow;

[[noreturn]] void fail(const std::string& what) {
    rtmpt::fuzz::property_violated("fuzz_request", what);
}

// Control bytes and non-ASCII shown as \xNN, for messages.
std::string shown(std::string_view s) {
    std::string out;
    for (const char ch : s.substr(0, 200)) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c >= 0x7f || c == '\\') {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += ch;
        }
    }
    return out;
}

// What the gateway runs with unless configured otherwise.
const rtmpt::config::Config kConfig{};
constexpr std::string_view kServer = "rtmpt-gateway/fuzz";
constexpr std::string_view kIdent2 = "198.51.100.7";
// HttpConnection::kMaxOutstanding: requests in flight on one connection before it pauses.
constexpr std::size_t kMaxOutstanding = SequenceWindow::kAhead;
// Session::kMaxWaiters: requests waiting on one sequence number.
constexpr std::size_t kMaxWaiters = 4;
// Sessions the model keeps, live or ended; more get 404 (a bound on memory, not a gateway rule).
constexpr std::size_t kMaxModelSessions = 64;

// ---------------------------------------------------------------------------------------------
// The parsing half of HttpConnection.

struct Request {
    llhttp_method_t method = HTTP_POST;
    std::string target;
    std::string body;
    bool keep_alive = true;

    friend bool operator==(const Request&, const Request&) = default;
};

struct Reading {
    std::vector<Request> requests;
    bool refused = false;                      // a parse error or a limit: 4xx and close
    HttpStatus limit_status = HttpStatus::ok;  // set when a callback refused
    std::string limit_why;
    llhttp_errno_t error = HPE_OK;
};

class Reader {
  public:
    Reader() {
        llhttp_settings_init(&settings_);
        settings_.on_message_begin = &Reader::on_message_begin;
        settings_.on_url = &Reader::on_url;
        settings_.on_header_field = &Reader::on_header_field;
        settings_.on_header_value = &Reader::on_header_value;
        settings_.on_headers_complete = &Reader::on_headers_complete;
        settings_.on_body = &Reader::on_body;
        settings_.on_message_complete = &Reader::on_message_complete;
        llhttp_init(&parser_, HTTP_REQUEST, &settings_);
        parser_.data = this;
    }
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;

    // Feeds `input` as the gateway's read loop does. `cuts` says how many bytes each read hands
    // over (cycled; empty: everything at once), as TCP segments and evbuffer chains would.
    Reading run(std::string_view input, const std::vector<std::size_t>& cuts) {
        std::size_t offset = 0;
        std::size_t turn = 0;
        while (!draining_ && offset < input.size()) {
            std::size_t len = input.size() - offset;
            if (!cuts.empty()) len = std::min(len, cuts[turn++ % cuts.size()]);
            const char* data = input.data() + offset;
            const llhttp_errno_t err = llhttp_execute(&parser_, data, len);
            if (err == HPE_OK) {
                offset += len;
                continue;
            }
            if (err == HPE_PAUSED) {
                const char* pos = llhttp_get_error_pos(&parser_);
                REQUIRE(pos != nullptr && pos >= data && pos <= data + len,
                        "llhttp paused at a position outside the bytes it was given");
                offset += static_cast<std::size_t>(pos - data);
                llhttp_resume(&parser_);
                // The paused request's replies were written: room in the pipeline again.
                outstanding_ = 0;
                continue;
            }
            out_.refused = true;
            out_.error = err;
            break;
        }
        return std::move(out_);
    }

  private:
    static Reader& self(llhttp_t* p) { return *static_cast<Reader*>(p->data); }

    bool count_header_bytes(std::size_t len) {
        header_bytes_ += len;
        if (header_bytes_ <= kConfig.http.max_header_bytes) return true;
        out_.limit_status = HttpStatus::header_fields_too_large;
        out_.limit_why = "request header too large";
        return false;
    }

    static int on_message_begin(llhttp_t* p) {
        Reader& r = self(p);
        r.request_ = Request{};
        r.header_bytes_ = 0;
        return 0;
    }
    static int on_url(llhttp_t* p, const char* at, std::size_t len) {
        Reader& r = self(p);
        if (!r.count_header_bytes(len)) return -1;
        r.request_.target.append(at, len);
        return 0;
    }
    static int on_header_field(llhttp_t* p, const char*, std::size_t len) {
        return self(p).count_header_bytes(len) ? 0 : -1;
    }
    static int on_header_value(llhttp_t* p, const char*, std::size_t len) {
        return self(p).count_header_bytes(len) ? 0 : -1;
    }
    static int on_headers_complete(llhttp_t* p) {
        Reader& r = self(p);
        r.request_.method = static_cast<llhttp_method_t>(llhttp_get_method(p));
        if (p->upgrade) {
            r.out_.limit_status = HttpStatus::bad_request;
            r.out_.limit_why = "protocol upgrade not supported";
            return -1;
        }
        if ((p->flags & F_CONTENT_LENGTH) && p->content_length > kConfig.http.max_body_bytes) {
            r.out_.limit_status = HttpStatus::payload_too_large;
            r.out_.limit_why = "request body too large";
            return -1;
        }
        return 0;
    }
    static int on_body(llhttp_t* p, const char* at, std::size_t len) {
        Reader& r = self(p);
        if (r.request_.body.size() + len > kConfig.http.max_body_bytes) {
            r.out_.limit_status = HttpStatus::payload_too_large;
            r.out_.limit_why = "request body too large";
            return -1;
        }
        r.request_.body.append(at, len);
        return 0;
    }
    static int on_message_complete(llhttp_t* p) {
        Reader& r = self(p);
        r.request_.keep_alive = llhttp_should_keep_alive(p) != 0;
        r.out_.requests.push_back(std::move(r.request_));
        r.request_ = Request{};
        ++r.outstanding_;
        if (!r.out_.requests.back().keep_alive) r.draining_ = true;
        return (!r.draining_ && r.outstanding_ < kMaxOutstanding) ? 0 : HPE_PAUSED;
    }

    llhttp_settings_t settings_{};
    llhttp_t parser_{};
    Request request_;
    std::size_t header_bytes_ = 0;
    std::size_t outstanding_ = 0;
    bool draining_ = false;
    Reading out_;
};

// ---------------------------------------------------------------------------------------------
// Replies.

struct ReplyShape {
    int status = 0;
    std::string_view content_type;
    std::string_view body;
    bool close = false;
};

// Checks the wire format every client needs and returns what the reply says.
ReplyShape check_reply(std::string_view reply) {
    const auto what = [&] { return "reply \"" + shown(reply) + "\": "; };
    REQUIRE(reply.starts_with("HTTP/1.1 "), what() + "does not start with \"HTTP/1.1 \"");
    const auto head_end = reply.find("\r\n\r\n");
    REQUIRE(head_end != std::string_view::npos, what() + "no end of header");
    const std::string_view head = reply.substr(0, head_end + 2);  // each line with its CRLF
    ReplyShape shape;
    shape.body = reply.substr(head_end + 4);

    const auto status_end = head.find("\r\n");
    const std::string_view status_line = head.substr(0, status_end);
    REQUIRE(status_line.size() >= 14 && status_line[12] == ' ', what() + "malformed status line");
    for (std::size_t i = 9; i < 12; ++i) {
        REQUIRE(status_line[i] >= '0' && status_line[i] <= '9', what() + "status code is not 3 digits");
        shape.status = shape.status * 10 + (status_line[i] - '0');
    }
    REQUIRE(rtmpt::proto::reason_phrase(static_cast<HttpStatus>(shape.status)) == status_line.substr(13),
            what() + "reason phrase does not match the code");

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
            // librtmp's spelling exactly.
            REQUIRE(line.starts_with("Content-Length: "), what() + "Content-Length spelled otherwise");
            REQUIRE(value == std::to_string(shape.body.size()),
                    what() + "Content-Length is not the body size");
        } else if (name == "connection") {
            ++connections;
            REQUIRE(value == "Keep-Alive" || value == "close", what() + "unexpected Connection value");
            shape.close = value == "close";
        } else if (name == "content-type") {
            ++content_types;
            shape.content_type = value;
        } else if (name == "transfer-encoding") {
            fail(what() + "Transfer-Encoding in a reply");
        }
    }
    REQUIRE(content_lengths == 1, what() + std::to_string(content_lengths) + " Content-Length headers");
    REQUIRE(connections == 1, what() + std::to_string(connections) + " Connection headers");
    REQUIRE(content_types == 1, what() + std::to_string(content_types) + " Content-Type headers");
    REQUIRE(!shape.body.empty(), what() + "Content-Length: 0 (librtmp gives up on it)");
    // A 200 never says close: librtmp and ffmpeg keep one connection per session.
    return shape;
}

const rtmpt::proto::ReplyBuilder& builder() {
    static const rtmpt::proto::ReplyBuilder b{std::string(kServer), kConfig.http.mime_type};
    return b;
}

std::string tunnel_reply(std::string_view body) {
    std::string reply = builder().tunnel(body);
    const ReplyShape shape = check_reply(reply);
    REQUIRE(shape.status == 200 && !shape.close && shape.content_type == kConfig.http.mime_type &&
                shape.body == body,
            "tunnel reply does not carry what it was given");
    return reply;
}

std::string error_reply(HttpStatus status, std::string_view why, bool close = false) {
    std::string reply = builder().error(status, why, close);
    const ReplyShape shape = check_reply(reply);
    REQUIRE(shape.status == static_cast<int>(status) && shape.close == close &&
                shape.content_type == "text/plain" && shape.body == std::string(why) + "\n",
            "error reply does not say what it was given");
    return reply;
}

// ---------------------------------------------------------------------------------------------
// Routes.

// The path rules of proto/route.hpp, read independently: the query is cut off; "/fcs/ident2" and
// "/open/1" exactly; else "/<send|idle|close>/<id>/<seq>", or "/close/<id>"; ids are 1..40 of
// [A-Za-z0-9_-] (a 16-character tag, its dot, a worker's digit and 22 random characters at most)
// and at most one '.', which must follow a 1..16-character node tag and precede at least one
// character; seq 1..19 decimal digits.
struct RefRoute {
    RouteKind kind = RouteKind::unknown;
    std::string sid;
    std::optional<std::uint64_t> seq;
};

RefRoute reference_route(std::string_view target) {
    const std::string_view path = target.substr(0, target.find('?'));
    if (path == "/fcs/ident2") return {RouteKind::ident2, {}, std::nullopt};
    if (path == "/open/1") return {RouteKind::open, {}, std::nullopt};
    if (path.empty() || path[0] != '/') return {};
    std::vector<std::string_view> parts;
    std::size_t start = 1;
    while (true) {
        const auto slash = path.find('/', start);
        parts.push_back(
            path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    if (parts.size() != 2 && parts.size() != 3) return {};
    RouteKind kind = RouteKind::unknown;
    if (parts[0] == "send") kind = RouteKind::send;
    if (parts[0] == "idle") kind = RouteKind::idle;
    if (parts[0] == "close") kind = RouteKind::close;
    if (kind == RouteKind::unknown) return {};
    const std::string_view sid = parts[1];
    if (sid.empty() || sid.size() > 40) return {};
    std::size_t dots = 0;
    for (std::size_t i = 0; i < sid.size(); ++i) {
        const char c = sid[i];
        if (c == '.') {
            if (++dots > 1 || i == 0 || i > 16 || i + 1 == sid.size()) return {};
            continue;
        }
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                        c == '-' || c == '_';
        if (!ok) return {};
    }
    if (parts.size() == 2) {
        if (kind != RouteKind::close) return {};
        return {kind, std::string(sid), std::nullopt};
    }
    const std::string_view digits = parts[2];
    if (digits.empty() || digits.size() > 19) return {};
    std::uint64_t seq = 0;
    for (const char c : digits) {
        if (c < '0' || c > '9') return {};
        seq = seq * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return {kind, std::string(sid), seq};
}

std::string_view command_name(RouteKind kind) {
    return rtmpt::proto::route_kind_name(kind);
}

Route checked_route(const std::string& target) {
    const Route route = rtmpt::proto::parse_route(target);
    const RefRoute ref = reference_route(target);
    const auto what = [&] { return "route of \"" + shown(target) + "\": "; };
    REQUIRE(route.kind == ref.kind, what() + "parse_route says " + std::string(command_name(route.kind)) +
                                        ", the path rules say " + std::string(command_name(ref.kind)));
    REQUIRE(route.session_id == ref.sid, what() + "session id differs from the path's");
    REQUIRE(route.seq == ref.seq, what() + "sequence number differs from the path's");
    switch (route.kind) {
        case RouteKind::send:
        case RouteKind::idle:
        case RouteKind::close: {
            REQUIRE(rtmpt::proto::is_well_formed_session_id(route.session_id),
                    what() + "ill-formed session id");
            REQUIRE(route.session_id.data() >= target.data() &&
                        route.session_id.data() + route.session_id.size() <= target.data() + target.size(),
                    what() + "session id does not point into the target");
            REQUIRE(route.kind == RouteKind::close || route.seq.has_value(),
                    what() + "send/idle without seq");
            std::string rebuilt =
                "/" + std::string(command_name(route.kind)) + "/" + std::string(route.session_id);
            if (route.seq) rebuilt += "/" + std::to_string(*route.seq);
            const Route again = rtmpt::proto::parse_route(rebuilt);
            REQUIRE(
                again.kind == route.kind && again.session_id == route.session_id && again.seq == route.seq,
                what() + "does not survive being rebuilt as " + rebuilt);
            break;
        }
        case RouteKind::ident2:
        case RouteKind::open:
        case RouteKind::unknown:
            REQUIRE(route.session_id.empty() && !route.seq, what() + "carries an id or seq it should not");
            break;
    }
    return route;
}

// ---------------------------------------------------------------------------------------------
// Sessions: the sequence logic of gateway/tunnel/session.cpp, with references beside each piece.

// Every request gets a slot, filled exactly once: at once, or when its turn comes.
class Slots {
  public:
    std::size_t add() {
        slots_.emplace_back();
        return slots_.size() - 1;
    }
    void fill(std::size_t slot, std::string reply) {
        REQUIRE(!slots_.at(slot), "request " + std::to_string(slot) + " answered twice");
        check_reply(reply);
        slots_[slot] = std::move(reply);
    }
    [[nodiscard]] const std::optional<std::string>& at(std::size_t slot) const { return slots_.at(slot); }
    [[nodiscard]] std::size_t unfilled() const {
        return static_cast<std::size_t>(std::count(slots_.begin(), slots_.end(), std::nullopt));
    }

  private:
    std::vector<std::optional<std::string>> slots_;
};

struct Pending {
    RouteKind kind = RouteKind::idle;
    std::string body;
    std::vector<std::size_t> waiters;
};

class ModelSession {
  public:
    explicit ModelSession(Slots& slots) : slots_(slots) {}

    void submit(RouteKind kind, std::optional<std::uint64_t> seq, std::string body, std::size_t slot) {
        REQUIRE(!ended_, "request reached an ended session");
        if (!seq) {
            close_waiters_.push_back(slot);
            pump();
            return;
        }
        const SequenceWindow::Verdict verdict = window_.classify(*seq);
        REQUIRE(verdict == reference_classify(*seq),
                "window verdict for seq " + std::to_string(*seq) + " differs from the reference");
        check_window();
        switch (verdict) {
            case SequenceWindow::Verdict::in_window: {
                auto [it, inserted] = pending_.try_emplace(*seq);
                if (inserted) {
                    it->second.kind = kind;
                    it->second.body = std::move(body);
                } else if (it->second.waiters.size() >= kMaxWaiters) {
                    slots_.fill(slot, error_reply(HttpStatus::bad_request, "too many retries"));
                    return;
                }
                it->second.waiters.push_back(slot);
                REQUIRE(pending_.size() <= SequenceWindow::kAhead + 1,
                        "more requests wait than the window holds");
                REQUIRE(pending_.begin()->first >= window_.next() &&
                            pending_.rbegin()->first - window_.next() <= SequenceWindow::kAhead,
                        "a waiting request lies outside the window");
                pump();
                return;
            }
            case SequenceWindow::Verdict::already_seen: {
                const auto cached = cache_.find(*seq);
                const auto expected = reference_find(*seq);
                REQUIRE((cached != nullptr) == expected.has_value(),
                        "reply cache " + std::string(cached ? "has" : "lacks") + " seq " +
                            std::to_string(*seq) + " against the reference");
                if (cached) {
                    REQUIRE(*cached == **expected,
                            "reply cache returns other bytes than stored for seq " + std::to_string(*seq));
                    slots_.fill(slot, *cached);
                } else {
                    slots_.fill(slot, error_reply(HttpStatus::bad_request, "sequence number already used"));
                }
                return;
            }
            case SequenceWindow::Verdict::out_of_window:
                slots_.fill(slot, error_reply(HttpStatus::bad_request, "sequence number out of window"));
                end();
                return;
        }
        fail("unknown verdict");
    }

    // The wait for a seq 0 runs out (in the gateway, session.sequence_base_wait after a first
    // request numbered 1); here when the client's bytes are all read.
    void end_base_wait() {
        if (ended_ || !window_.awaiting_base()) return;
        window_.settle_base();
        ref_base_ = RefBase::fixed;
        ref_next_ = 1;
        check_window();
        pump();
    }

    [[nodiscard]] bool ended() const { return ended_; }

    // Requests of this session still without a reply.
    [[nodiscard]] std::size_t waiting() const {
        std::size_t n = close_waiters_.size();
        for (const auto& [seq, req] : pending_) n += req.waiters.size();
        return n;
    }

  private:
    SequenceWindow::Verdict reference_classify(std::uint64_t seq) {
        if (ref_base_ == RefBase::unknown) {
            if (seq > 1) return SequenceWindow::Verdict::out_of_window;
            ref_base_ = seq == 0 ? RefBase::fixed : RefBase::awaiting;
            ref_next_ = 0;
            return SequenceWindow::Verdict::in_window;
        }
        if (ref_base_ == RefBase::awaiting) {
            // Counted from 0 until a 0 arrives or the wait for one ends.
            if (seq == 0) ref_base_ = RefBase::fixed;
            return seq <= SequenceWindow::kAhead ? SequenceWindow::Verdict::in_window
                                                 : SequenceWindow::Verdict::out_of_window;
        }
        if (seq < ref_next_) return SequenceWindow::Verdict::already_seen;
        if (seq > ref_next_ + SequenceWindow::kAhead) return SequenceWindow::Verdict::out_of_window;
        return SequenceWindow::Verdict::in_window;
    }

    void check_window() const {
        REQUIRE(window_.awaiting_base() == (ref_base_ == RefBase::awaiting) &&
                    (window_.base() == SequenceWindow::Base::unknown) == (ref_base_ == RefBase::unknown),
                "window base learned differently from the reference");
        REQUIRE(window_.next() == ref_next_, "window expects " + std::to_string(window_.next()) +
                                                 ", the reference " + std::to_string(ref_next_));
    }

    std::optional<const std::string*> reference_find(std::uint64_t seq) const {
        for (const auto& [s, reply] : ref_cache_) {
            if (s == seq) return &reply;
        }
        return std::nullopt;
    }

    std::uint8_t reference_polling_byte(bool has_data) {
        if (has_data) {
            ref_empty_ = 0;
            return 0x01;
        }
        ++ref_empty_;
        if (ref_empty_ <= 10) return 0x01;
        const unsigned step = std::min(ref_empty_ - 10, 5U);
        return static_cast<std::uint8_t>(1U + (1U << step));
    }

    void pump() {
        // Nothing is applied, and a close without a number waits, until the base is known.
        if (window_.awaiting_base()) return;
        while (!ended_) {
            const auto it = pending_.find(window_.next());
            if (it == pending_.end()) break;
            const std::uint64_t seq = it->first;
            Pending req = std::move(it->second);
            pending_.erase(it);
            REQUIRE(!last_applied_ || seq == *last_applied_ + 1,
                    "applied seq " + std::to_string(seq) + " after " + std::to_string(*last_applied_));
            last_applied_ = seq;
            window_.advance();
            ++ref_next_;
            check_window();
            apply(seq, std::move(req));
        }
        // A close without a number ends the session once nothing at the head of the line waits.
        if (!ended_ && !close_waiters_.empty() && !pending_.contains(window_.next())) end();
    }

    void apply(std::uint64_t seq, Pending req) {
        switch (req.kind) {
            case RouteKind::send:
                backend_.append(req.body);  // an echoing backend: the bytes come back
                answer(seq, req.waiters);
                return;
            case RouteKind::idle:
                answer(seq, req.waiters);
                return;
            case RouteKind::close:
                for (const std::size_t w : req.waiters)
                    slots_.fill(w, tunnel_reply(std::string_view("\0", 1)));
                end();
                return;
            default:
                fail("a request of kind " + std::string(command_name(req.kind)) + " reached the window");
        }
    }

    void answer(std::uint64_t seq, const std::vector<std::size_t>& waiters) {
        // session.reply_max_bytes bounds the whole body, the polling byte included.
        const std::size_t n = std::min(backend_.size(), kConfig.session.reply_max_bytes - 1);
        std::string body(1, '\0');
        body.append(backend_, 0, n);
        backend_.erase(0, n);
        const std::uint8_t byte = polling_.next(n > 0);
        const std::uint8_t expected = reference_polling_byte(n > 0);
        REQUIRE(byte == expected, "polling byte " + std::to_string(byte) + ", Red5's schedule says " +
                                      std::to_string(expected));
        REQUIRE(byte >= rtmpt::proto::PollingByte::kActive && byte <= rtmpt::proto::PollingByte::kSlowest,
                "polling byte out of range");
        body[0] = static_cast<char>(byte);
        const std::string reply = tunnel_reply(body);
        for (const std::size_t w : waiters) slots_.fill(w, reply);

        cache_.store(seq, std::make_shared<const std::string>(reply));
        ref_cache_.emplace_back(seq, reply);
        if (ref_cache_.size() > rtmpt::proto::ReplyCache::kDepth) ref_cache_.pop_front();
        // The byte budget drops the oldest first and keeps the newest.
        const auto ref_bytes = [this] {
            std::size_t total = 0;
            for (const auto& [s, r] : ref_cache_) total += r.size();
            return total;
        };
        const std::size_t budget = rtmpt::proto::ReplyCache::budget_for(kConfig.session.reply_max_bytes);
        while (ref_cache_.size() > 1 && ref_bytes() > budget) ref_cache_.pop_front();
        const auto found = cache_.find(seq);
        REQUIRE(found && *found == reply, "reply cache does not return the reply just stored");
        const std::size_t bytes = ref_bytes();
        REQUIRE(cache_.bytes() == bytes, "reply cache counts " + std::to_string(cache_.bytes()) +
                                             " bytes, it holds " + std::to_string(bytes));
    }

    // Whatever still waits gets a definite answer.
    void end() {
        if (ended_) return;
        ended_ = true;
        for (const std::size_t w : close_waiters_) slots_.fill(w, tunnel_reply(std::string_view("\0", 1)));
        close_waiters_.clear();
        for (const auto& [seq, req] : pending_) {
            for (const std::size_t w : req.waiters)
                slots_.fill(w, error_reply(HttpStatus::not_found, "session ended"));
        }
        pending_.clear();
    }

    Slots& slots_;
    SequenceWindow window_;
    rtmpt::proto::ReplyCache cache_{rtmpt::proto::ReplyCache::budget_for(kConfig.session.reply_max_bytes)};
    rtmpt::proto::PollingByte polling_;
    std::map<std::uint64_t, Pending> pending_;
    std::vector<std::size_t> close_waiters_;
    std::string backend_;  // bytes from the backend not yet delivered
    bool ended_ = false;
    std::optional<std::uint64_t> last_applied_;

    // References.
    enum class RefBase { unknown, awaiting, fixed };
    RefBase ref_base_ = RefBase::unknown;
    std::uint64_t ref_next_ = 0;
    std::deque<std::pair<std::uint64_t, std::string>> ref_cache_;
    unsigned ref_empty_ = 0;
};

// The worker's request routing, over model sessions. Any well-formed id is taken as a session
// opened earlier (the fuzzer cannot guess random ids); an ended one stays gone, as in the gateway.
class ModelWorker {
  public:
    // Returns the request's slot.
    std::size_t handle(Request& request) {
        const std::size_t slot = slots_.add();
        const Route route = checked_route(request.target);
        if (request.method != HTTP_POST) {
            slots_.fill(slot, error_reply(HttpStatus::method_not_allowed, "RTMPT requests are POST"));
            return slot;
        }
        switch (route.kind) {
            case RouteKind::ident2: {
                // The model's clock: an ident2 stands for time passing, so that inputs reach sessions
                // whose numbers start at 1 (the gateway's timer has no place in a byte stream).
                end_base_waits();
                std::string reply = builder().text(kIdent2);
                const ReplyShape shape = check_reply(reply);
                REQUIRE(shape.status == 200 && shape.content_type == "text/plain" && shape.body == kIdent2,
                        "ident2 reply");
                slots_.fill(slot, std::move(reply));
                return slot;
            }
            case RouteKind::open:
                slots_.fill(slot, open());
                return slot;
            case RouteKind::send:
            case RouteKind::idle:
            case RouteKind::close: {
                const std::string id(route.session_id);
                ModelSession* s = find(id);
                if (s == nullptr) {
                    slots_.fill(slot, error_reply(HttpStatus::not_found, "unknown session"));
                    return slot;
                }
                s->submit(route.kind, route.seq, std::move(request.body), slot);
                if (s->ended()) {
                    gone_.insert(id);
                    sessions_.erase(id);
                }
                return slot;
            }
            case RouteKind::unknown:
                break;
        }
        slots_.fill(slot, error_reply(HttpStatus::not_found, "not an RTMPT path"));
        return slot;
    }

    [[nodiscard]] const Slots& slots() const { return slots_; }

    void end_base_waits() {
        for (auto it = sessions_.begin(); it != sessions_.end();) {
            it->second.end_base_wait();
            if (it->second.ended()) {
                gone_.insert(it->first);
                it = sessions_.erase(it);
            } else {
                ++it;
            }
        }
    }

    // Requests without a reply are exactly those waiting in live sessions.
    void check_unanswered() const {
        std::size_t waiting = 0;
        for (const auto& [id, s] : sessions_) waiting += s.waiting();
        REQUIRE(slots_.unfilled() == waiting, std::to_string(slots_.unfilled()) +
                                                  " requests without a reply, " + std::to_string(waiting) +
                                                  " waiting in sessions");
    }

  private:
    ModelSession* find(const std::string& id) {
        if (gone_.contains(id)) return nullptr;
        auto it = sessions_.find(id);
        if (it == sessions_.end()) {
            if (sessions_.size() + gone_.size() >= kMaxModelSessions) return nullptr;
            it = sessions_.try_emplace(id, slots_).first;
        }
        return &it->second;
    }

    std::string open() {
        if (sessions_.size() + gone_.size() >= kMaxModelSessions) {
            return error_reply(HttpStatus::service_unavailable, "no session available");
        }
        // Deterministic entropy: the n-th open gets 16 bytes of n (the first: "AAAAAAAAAAAAAAAAAAAAAA").
        rtmpt::proto::SessionIdEntropy entropy;
        entropy.fill(static_cast<std::uint8_t>(opens_++));
        const std::string id = rtmpt::proto::format_session_id(entropy);
        REQUIRE(id.size() == rtmpt::proto::kSessionIdLength,
                "session id of length " + std::to_string(id.size()));
        REQUIRE(rtmpt::proto::is_well_formed_session_id(id),
                "formatted session id is not well-formed: " + id);
        for (const char* command : {"/send/", "/idle/", "/close/"}) {
            const std::string path = command + id + "/0";
            const Route r = rtmpt::proto::parse_route(path);
            REQUIRE(r.kind != RouteKind::unknown && r.session_id == id && r.seq == 0u,
                    "a formatted id does not route: " + path);
        }
        // The same entropy as a worker of several would write it (process.workers): its digit in
        // front, the same 22 characters after it; the id still routes and names that worker.
        const unsigned worker = static_cast<unsigned>(opens_ % rtmpt::proto::kMaxWorkers);
        const std::string with_worker = rtmpt::proto::format_session_id(entropy, {}, worker);
        REQUIRE(with_worker.size() == id.size() + 1 && with_worker.compare(1, std::string::npos, id) == 0 &&
                    rtmpt::proto::worker_of(with_worker) == worker && !rtmpt::proto::worker_of(id) &&
                    rtmpt::proto::parse_route("/idle/" + with_worker + "/0").session_id == with_worker,
                "worker " + std::to_string(worker) + "'s form of " + id + " is " + with_worker);
        std::string reply = tunnel_reply(id + "\n");
        // librtmp keeps the body minus its last byte as the id; ffmpeg trims it from a 64-byte read.
        const ReplyShape shape = check_reply(reply);
        REQUIRE(shape.body.size() < 64 && shape.body.substr(0, shape.body.size() - 1) == id,
                "open reply body is not the id and one newline");
        if (!gone_.contains(id)) sessions_.try_emplace(id, slots_);
        return reply;
    }

    Slots slots_;
    std::map<std::string, ModelSession, std::less<>> sessions_;
    std::set<std::string, std::less<>> gone_;
    unsigned opens_ = 0;
};

void check_last_reply(const std::string& reply) {
    const ReplyShape before = check_reply(reply);
    const std::string closed = rtmpt::proto::mark_connection_close(reply);
    const ReplyShape after = check_reply(closed);
    REQUIRE(after.close, "mark_connection_close leaves the connection open: " + shown(closed));
    REQUIRE(after.status == before.status && after.body == before.body &&
                after.content_type == before.content_type,
            "mark_connection_close changes more than the Connection header");
}

// Read sizes for the second reading, from the input itself so that a crash reproduces.
std::vector<std::size_t> cuts_for(std::string_view input) {
    std::uint64_t h = 1469598103934665603ULL;
    for (const char c : input) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    std::vector<std::size_t> cuts;
    for (int i = 0; i < 7; ++i) {
        cuts.push_back(1 + static_cast<std::size_t>(h % 29));
        h = (h >> 5) | (h << 59);
    }
    return cuts;
}

// ---------------------------------------------------------------------------------------------
// The first byte: native RTMP or not.

// proto/first_bytes.cpp's rule, read independently: RTMP's C0 is 3 (RTMP) or 6, 8, 9 (RTMPE, as
// the specification keeps 32..255 out of it and FMS and Wowza take these on their shared ports);
// 0x16 opens a TLS handshake record; the HTTP parser decides about everything else.
FirstByte reference_first_byte(std::uint8_t b) {
    if (b == 0x03 || b == 0x06 || b == 0x08 || b == 0x09) return FirstByte::rtmp;
    if (b == 0x16) return FirstByte::tls;
    return FirstByte::other;
}

std::string_view reference_first_byte_name(FirstByte kind) {
    return kind == FirstByte::rtmp ? "rtmp" : kind == FirstByte::tls ? "tls" : "other";
}

// The native outcome. HttpConnection hands the whole first read to the relay session, which puts
// it before what it reads later: whatever the reads, the backend gets the bytes as sent. Nothing
// is parsed and nothing is answered, and the sniff must not take a connection that HTTP would
// have served: llhttp, given the same bytes, refuses them before completing any request.
void relay_native(std::string_view input, const std::vector<std::size_t>& cuts) {
    const auto first = static_cast<unsigned char>(input[0]);
    std::string relayed;
    std::size_t offset = 0;
    for (std::size_t turn = 0; offset < input.size(); ++turn) {
        const std::size_t len = std::min(input.size() - offset, cuts[turn % cuts.size()]);
        if (turn == 0) {
            REQUIRE(
                len > 0 && reference_first_byte(static_cast<std::uint8_t>(input[offset])) == FirstByte::rtmp,
                "a first read without RTMP's C0 at its start");
        }
        relayed.append(input.substr(offset, len));
        offset += len;
    }
    REQUIRE(relayed == input, "the relay's bytes differ from what the client sent");
    const Reading as_http = Reader().run(input, {});
    REQUIRE(as_http.refused && as_http.requests.empty() && as_http.limit_status == HttpStatus::ok,
            "llhttp reads " + std::to_string(as_http.requests.size()) +
                " request(s) from bytes that begin with RTMP's C0 " + std::to_string(first) +
                (as_http.refused ? ", and refuses the rest" : ", and refuses nothing"));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    if (!input.empty()) {
        const auto first = static_cast<std::uint8_t>(input[0]);
        const FirstByte kind = rtmpt::proto::classify_first_byte(first);
        REQUIRE(kind == reference_first_byte(first),
                "classify_first_byte(" + std::to_string(first) + ") says " +
                    std::string(rtmpt::proto::first_byte_name(kind)) + ", the reference " +
                    std::string(reference_first_byte_name(reference_first_byte(first))));
        REQUIRE(rtmpt::proto::first_byte_name(kind) == reference_first_byte_name(kind),
                "first_byte_name misnames " + std::string(reference_first_byte_name(kind)));
        if (kind == FirstByte::rtmp) {
            // HttpConnection sniffs the first byte of its first read (any read size holds it).
            relay_native(input, {input.size()});
            relay_native(input, cuts_for(input));
            if (std::getenv("FUZZ_TRACE") != nullptr)
                std::fprintf(stderr, "native RTMP (first byte 0x%02x): %zu bytes relayed, no HTTP reply\n",
                             first, input.size());
            return 0;
        }
    }

    Reading whole = Reader().run(input, {});
    const Reading split = Reader().run(input, cuts_for(input));
    REQUIRE(split.requests.size() == whole.requests.size(),
            "split reads give " + std::to_string(split.requests.size()) + " requests, one read " +
                std::to_string(whole.requests.size()));
    for (std::size_t i = 0; i < whole.requests.size(); ++i) {
        REQUIRE(split.requests[i] == whole.requests[i],
                "request " + std::to_string(i) + " differs when split");
    }
    REQUIRE(split.refused == whole.refused, "split reads refuse differently from one read");

    ModelWorker worker;
    std::vector<std::string> targets;
    for (Request& r : whole.requests) {
        targets.push_back(r.target);
        (void)worker.handle(r);
    }
    worker.check_unanswered();
    worker.end_base_waits();
    worker.check_unanswered();

    // The reply that ends the connection says so.
    if (whole.refused) {
        const HttpStatus status =
            whole.limit_status != HttpStatus::ok ? whole.limit_status : HttpStatus::bad_request;
        const std::string why = whole.limit_status != HttpStatus::ok
                                    ? whole.limit_why
                                    : std::string("malformed request: ") + llhttp_errno_name(whole.error);
        check_last_reply(error_reply(status, why, /*close=*/true));
    } else if (!whole.requests.empty() && !whole.requests.back().keep_alive) {
        if (const auto& last = worker.slots().at(whole.requests.size() - 1)) check_last_reply(*last);
    }

    // FUZZ_TRACE=1 shows what an input does: each request, its reply's status and first body byte.
    static const bool trace = std::getenv("FUZZ_TRACE") != nullptr;
    if (trace) {
        for (std::size_t i = 0; i < whole.requests.size(); ++i) {
            const auto& reply = worker.slots().at(i);
            std::string said = "(no reply yet)";
            if (reply) {
                const auto body = reply->find("\r\n\r\n") + 4;
                said = shown(std::string_view(*reply).substr(0, reply->find("\r\n"))) + " body[" +
                       std::to_string(reply->size() - body) + "] " +
                       shown(std::string_view(*reply).substr(body, 1));
            }
            std::fprintf(stderr, "%s %s -> %s\n", llhttp_method_name(whole.requests[i].method),
                         shown(targets[i]).c_str(), said.c_str());
        }
        if (whole.refused) {
            std::fprintf(stderr, "refused: %s %s\n", llhttp_errno_name(whole.error), whole.limit_why.c_str());
        }
    }
    return 0;
}
