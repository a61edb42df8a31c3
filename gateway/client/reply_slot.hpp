// A place in an HTTP connection's reply order that is filled later, possibly by a session
// (an idle held back, a request waiting for its sequence gap to fill). Replies on one
// connection must leave in request order, so a filled slot waits for the ones before it.
#pragma once

#include "gateway/net/socket_io.hpp"
#include "proto/route.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace rtmpt::gateway {

class HttpConnection;

// What the access log (log.access) says about a request besides its reply.
struct AccessNote {
    std::string method;
    std::string target;  // cut and made printable
    std::size_t body_bytes = 0;
    std::chrono::steady_clock::time_point received;
};

class ReplySlot {
  public:
    explicit ReplySlot(HttpConnection* connection) : connection_(connection) {}
    // A slot sent elsewhere that was never filled says so (with a null reply), so that whoever
    // waits on the other end is answered all the same.
    ~ReplySlot() {
        if (forward_ && !filled_) forward_(nullptr);
    }
    ReplySlot(const ReplySlot&) = delete;
    ReplySlot& operator=(const ReplySlot&) = delete;

    // For a request handed to another worker: the slot belongs to no connection, and its reply
    // goes to `forward` (once), which carries it back to the connection's own worker.
    void forward_to(std::function<void(SharedReply)> forward) { forward_ = std::move(forward); }

    // Sets the complete HTTP response. Only the first fill counts; filling a slot whose
    // connection is gone does nothing (the client will retry from the session's reply cache).
    void fill(std::string response);
    // The same, for a reply that others (retries, the session's cache) share.
    void fill(SharedReply response);

    [[nodiscard]] bool filled() const { return filled_; }
    [[nodiscard]] SharedReply take_response() { return std::move(response_); }

    // The connection is going away: later fills go nowhere.
    void detach() { connection_ = nullptr; }

    // What the request asked for, once its path is read: replies are counted by it.
    void set_kind(proto::RouteKind kind) { kind_ = kind; }
    [[nodiscard]] proto::RouteKind kind() const { return kind_; }

    void set_access_note(AccessNote note) { access_ = std::move(note); }
    [[nodiscard]] const std::optional<AccessNote>& access_note() const { return access_; }

  private:
    HttpConnection* connection_;
    std::function<void(SharedReply)> forward_;
    proto::RouteKind kind_ = proto::RouteKind::unknown;
    SharedReply response_;
    bool filled_ = false;
    std::optional<AccessNote> access_;
};

using ReplySlotPtr = std::shared_ptr<ReplySlot>;

}  // namespace rtmpt::gateway
