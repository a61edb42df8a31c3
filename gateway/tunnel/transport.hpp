// How a session's client reached the gateway: RTMPT (HTTP polling) or native RTMP, each in the
// clear or inside TLS. Logs, /sessions and the metrics name it.
#pragma once

#include <cstddef>
#include <string_view>

namespace rtmpt::gateway {

enum class Transport {
    rtmpt,   // RTMP in HTTP POSTs, plain HTTP
    rtmpts,  // RTMP in HTTP POSTs, HTTPS
    rtmp,    // native RTMP, relayed byte for byte
    rtmps,   // native RTMP inside TLS
};
inline constexpr std::size_t kTransportCount = 4;

[[nodiscard]] constexpr std::string_view transport_name(Transport t) {
    switch (t) {
        case Transport::rtmpt:
            return "rtmpt";
        case Transport::rtmpts:
            return "rtmpts";
        case Transport::rtmp:
            return "rtmp";
        case Transport::rtmps:
            return "rtmps";
    }
    return "rtmpt";
}

}  // namespace rtmpt::gateway
