// Who is at the other end of a client connection, as the gateway knows it: the TCP peer, or the
// client a load balancer's PROXY header named.
#pragma once

#include "proto/proxy_protocol.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace rtmpt::gateway {

struct ClientPeer {
    // As every log line about the connection names it: "192.0.2.1:4000", or with a PROXY
    // header "[2001:db8::7]:4000 via=10.0.0.2:51000" (the client, then the balancer).
    std::string shown;
    // The client's address and port; absent only if the listener handed us something odd.
    std::optional<proto::Endpoint> endpoint;
    // The address the client connected to: the balancer's front end from a PROXY header, else
    // absent (the socket's own address is read when a backend header needs it).
    std::optional<proto::Endpoint> local;
    // The balancer whose PROXY header named the client ("10.0.0.2:51000"), or empty.
    std::string via;
    // When the TCP connection was accepted, if not just now: the first bytes' deadline counts
    // from it, so time spent on a PROXY header is not given again.
    std::optional<std::chrono::steady_clock::time_point> accepted_at;
};

// The peer as the listener reports it: "1.2.3.4:5678" or "[::1]:5678".
[[nodiscard]] inline ClientPeer tcp_peer(std::string shown) {
    ClientPeer p;
    p.endpoint = proto::parse_endpoint(shown);
    p.shown = std::move(shown);
    return p;
}

}  // namespace rtmpt::gateway
