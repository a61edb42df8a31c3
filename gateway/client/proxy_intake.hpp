// A connection from a load balancer listed in access.proxy_protocol_from, until its PROXY header
// has been read. The header is taken off the socket byte-exact (peeked first, so that nothing
// after it is consumed); the connection then starts over as if accepted from the client the
// header names: HTTP, native RTMP and TLS alike see only their own bytes.
#pragma once

#include "gateway/client/client_peer.hpp"
#include "gateway/loop/event_ptr.hpp"
#include "proto/proxy_protocol.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rtmpt::gateway {

class Worker;

class ProxyIntake {
  public:
    // Longest header read (v2 with TLVs); v1 is bounded by its own 107 bytes. Balancers send
    // tens of bytes of TLVs (AWS's endpoint id, HAProxy's ALPN and SNI); a kilobyte more is
    // plenty and keeps a hostile length field from holding memory.
    static constexpr std::size_t kMaxHeaderBytes = 2048;

    enum class State {
        reading,  // the header's bytes are coming in; the deadline runs
        done,     // handed over or closed: waiting to be freed by the worker
    };

    // Takes ownership of `fd`. `peer` is the balancer; `tls`: accepted on a TLS listener.
    ProxyIntake(Worker& worker, evutil_socket_t fd, std::string peer, bool tls);
    ~ProxyIntake();
    ProxyIntake(const ProxyIntake&) = delete;
    ProxyIntake& operator=(const ProxyIntake&) = delete;

  private:
    enum class Failure { not_proxy, malformed, too_long, timeout, closed };

    static void on_readable(evutil_socket_t, short, void* arg);
    static void on_deadline(evutil_socket_t, short, void* arg);
    void read_header();
    void finish(const proto::ProxyHeader& header);
    void fail(Failure failure, std::string_view why);
    // Closes the socket and leaves the worker's list.
    void close();

    Worker& worker_;
    evutil_socket_t fd_;  // -1 once handed over or closed
    const std::string peer_;
    const bool tls_;
    State state_ = State::reading;
    std::vector<std::uint8_t> header_;  // bytes of the header taken off the socket so far
    EventPtr read_event_;
    EventPtr deadline_;  // http.header_timeout from the accept; bytes that trickle in do not extend it
    const std::chrono::steady_clock::time_point accepted_at_ = std::chrono::steady_clock::now();
};

}  // namespace rtmpt::gateway
