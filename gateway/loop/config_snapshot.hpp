// One generation of the configuration, with what is built from it. A session takes the current
// snapshot when it opens and keeps it to its end, so that a reload (SIGHUP) changes what new
// sessions get and never what a live one runs by.
#pragma once

#include "build_info.hpp"
#include "config/config.hpp"
#include "proto/http_reply.hpp"

#include <memory>
#include <string>

namespace rtmpt::gateway {

struct ConfigSnapshot {
    explicit ConfigSnapshot(config::Config c)
        : config(std::move(c)),
          replies(std::string("rtmpt-gateway/") + RTMPT_GATEWAY_VERSION, config.http.mime_type) {}

    const config::Config config;
    const proto::ReplyBuilder replies;
};

using ConfigSnapshotPtr = std::shared_ptr<const ConfigSnapshot>;

}  // namespace rtmpt::gateway
