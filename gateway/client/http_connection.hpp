// One client TCP connection speaking HTTP/1.x: parses requests with llhttp (pipelining
// included), hands each to the worker, and writes the replies back in request order.
// A connection never belongs to a session: a session's requests may use many connections.
#pragma once

#include "gateway/client/client_peer.hpp"
#include "gateway/client/reply_slot.hpp"
#include "gateway/client/tls_context.hpp"
#include "gateway/loop/counters.hpp"
#include "gateway/loop/event_ptr.hpp"
#include "gateway/net/socket_io.hpp"
#include "proto/http_reply.hpp"
#include "proto/ip_address.hpp"
#include "proto/sequence_window.hpp"

#include <llhttp.h>
#include <openssl/ssl.h>

#include <deque>
#include <optional>
#include <string>

namespace rtmpt::gateway {

class Worker;

struct HttpRequest {
    llhttp_method_t method = HTTP_POST;
    std::string target;
    std::string body;
    // Every X-Forwarded-For field, joined with ','; believed only from access.trusted_proxies.
    std::string forwarded_for;
};

// Why a connection is refused further requests: the answer, the log reason and the counter.
struct Refusal {
    proto::HttpStatus status;
    std::string_view why;
    std::uint64_t Counters::*counter;
};

class HttpConnection {
  public:
    enum class State {
        reading,   // parsing requests as they come
        paused,    // too many replies outstanding or unsent: reading stops until they are written
        draining,  // no more requests (error or no keep-alive): write what is owed, then close
    };

    // With `tls` (owned from here on), the connection speaks HTTPS: the TLS handshake comes
    // first, and bytes go through OpenSSL's bufferevent instead of straight to the socket.
    // `context` is what `tls` was made from: kept to the connection's end, since its SNI choice
    // runs during the handshake, which may outlast a reload.
    HttpConnection(Worker& worker, evutil_socket_t fd, ClientPeer peer, SSL* tls = nullptr,
                   TlsContextPtr context = nullptr);
    ~HttpConnection();
    HttpConnection(const HttpConnection&) = delete;
    HttpConnection& operator=(const HttpConnection&) = delete;

    [[nodiscard]] const std::string& peer() const { return peer_; }
    // The client's address and port (the PROXY header's, behind a balancer that sends one); empty
    // only if the listener handed us something odd.
    [[nodiscard]] const std::optional<proto::Endpoint>& peer_endpoint() const { return peer_endpoint_; }
    // The address the client connected to: the balancer's front end from its PROXY header, or
    // this socket's own address (read once, when first asked).
    [[nodiscard]] const std::optional<proto::Endpoint>& local_endpoint() const;
    // The hops between the client and us as log lines list them after "via=": the TCP peer, or
    // behind a balancer's PROXY header "<the header's client>,<the balancer>".
    [[nodiscard]] std::string hops() const;
    [[nodiscard]] bool tls() const { return tls_; }

    // A slot of ours was filled: write out every reply that is now at the head of the line.
    void flush_ready_replies();

  private:
    // Requests one connection may have in flight; past it we stop reading. No more than a
    // session's sequence window: a pipelining client whose sends wait on backend backpressure
    // must be slowed by TCP, never pushed out of the window. librtmp keeps a few outstanding;
    // Flash uses several connections instead of deep pipelines.
    static constexpr std::size_t kMaxOutstanding = proto::SequenceWindow::kAhead;

    static void on_readable(evutil_socket_t fd, short what, void* arg);
    static void on_tls_readable(bufferevent* bev, void* arg);
    static void on_write(bufferevent* bev, void* arg);
    static void on_event(bufferevent* bev, short what, void* arg);

    static int on_message_begin(llhttp_t* p);
    static int on_url(llhttp_t* p, const char* at, std::size_t len);
    static int on_header_field(llhttp_t* p, const char* at, std::size_t len);
    static int on_header_value(llhttp_t* p, const char* at, std::size_t len);
    static int on_header_value_complete(llhttp_t* p);
    static int on_headers_complete(llhttp_t* p);
    static int on_body(llhttp_t* p, const char* at, std::size_t len);
    static int on_message_complete(llhttp_t* p);
    static const llhttp_settings_t& parser_settings();

    void read_from_client(short what);
    // One read of the client's bytes into `into`: > 0 bytes, 0 end of stream, -1 with errno.
    [[nodiscard]] ssize_t receive(std::span<char> into);
    void on_tls_event(short what);
    void tls_handshake_failed(std::string_view reason_key, std::string_view why);
    // Runs the parser over `len` bytes; returns how many it consumed, or nothing once the
    // connection refused the request (the rest is never parsed).
    [[nodiscard]] std::optional<std::size_t> execute(const char* data, std::size_t len);
    void parse_input();
    void after_parse();
    void start_reading();
    void stop_reading();
    void client_eof();
    [[nodiscard]] bool over_limits() const;
    void resume_reading();
    void refuse(const Refusal& refusal, std::string_view detail = {});
    static void on_header_timeout(evutil_socket_t, short, void* arg);
    [[nodiscard]] bool count_header_bytes(std::size_t len);
    void close_now(std::string_view why);
    // The first bytes were RTMP's C0: the socket goes to a native relay session, with them.
    void hand_to_native(std::string_view first_bytes);
    // The client went away in the middle of a request: counted, and one line saying where.
    void note_truncated(std::string_view what);
    void log_access(const AccessNote& note, std::string_view response) const;

    Worker& worker_;
    const std::string peer_;
    const std::string via_;  // the balancer whose PROXY header named the peer, or empty
    const std::optional<proto::Endpoint> peer_endpoint_;
    mutable std::optional<proto::Endpoint> local_;
    mutable bool local_known_ = false;  // local_ is set, or getsockname has been tried
    const std::size_t unsent_limit_;    // reply bytes written but not yet taken by the client
    const evutil_socket_t fd_;
    BufferEventPtr bev_;   // writes what the socket does not take at once
    EventPtr read_event_;  // ours, not the bufferevent's (see socket_io.hpp); after bev_: freed first.
                           // Under TLS the bufferevent reads, and this only wakes us to parse more.
    const bool tls_;
    const TlsContextPtr tls_context_;
    bool tls_ready_ = false;   // the TLS handshake is done
    bool tls_eof_ = false;     // the TLS stream has ended; what is buffered is still to be parsed
    bool tls_broken_ = false;  // a TLS error: no close_notify may follow it
    bool sniffed_ = false;     // the first bytes have been looked at: HTTP from here on
    llhttp_t parser_{};
    State state_ = State::reading;
    bool parsing_ = false;
    bool eof_ = false;           // the client has sent its FIN: parse what is buffered, answer, close
    bool mid_request_ = false;   // a request has begun and not yet completed
    bool headers_done_ = false;  // ... and its headers are complete  // inside llhttp_execute:
                                 // replies filled now must not re-enter the parser

    std::string unparsed_;  // bytes read but not parsed yet: reading paused after a complete request
    HttpRequest request_;   // the request being parsed
    std::size_t header_bytes_ = 0;
    std::string header_field_;           // name of the header being parsed, lowercased
    bool header_field_done_ = true;      // the next field bytes begin a new name
    bool header_value_started_ = false;  // bytes of the current header's value have been seen
    const Refusal* limit_ = nullptr;     // set when a parser callback refuses a request
    EventPtr header_timer_;              // runs from a request's first byte to the end of its headers

    std::deque<ReplySlotPtr> replies_;  // in request order; the head is written first
};

}  // namespace rtmpt::gateway
