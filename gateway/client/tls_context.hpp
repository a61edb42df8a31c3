// The server side of TLS: one OpenSSL context per certificate and key pair, built at start and
// again on every reload. A connection takes the context current when it is accepted and keeps it
// (OpenSSL counts the references), so a renewed certificate reaches new connections while live
// ones carry on.
#pragma once

#include <openssl/ssl.h>

#include <ctime>
#include <memory>
#include <string>
#include <variant>

namespace rtmpt::gateway {

class TlsContext {
  public:
    // Loads the pair and checks that the key matches the certificate. On failure, the reason,
    // naming the file at fault.
    [[nodiscard]] static std::variant<std::shared_ptr<const TlsContext>, std::string> load(
        const std::string& certificate_file, const std::string& key_file);

    ~TlsContext();
    TlsContext(const TlsContext&) = delete;
    TlsContext& operator=(const TlsContext&) = delete;

    // A new server-side connection object, or null when OpenSSL is out of memory.
    [[nodiscard]] SSL* new_connection() const;

    [[nodiscard]] const std::string& certificate_file() const { return certificate_file_; }
    [[nodiscard]] std::time_t not_after() const { return not_after_; }
    [[nodiscard]] const std::string& subject() const { return subject_; }

  private:
    TlsContext(SSL_CTX* ctx, std::string certificate_file, std::time_t not_after, std::string subject)
        : ctx_(ctx),
          certificate_file_(std::move(certificate_file)),
          not_after_(not_after),
          subject_(std::move(subject)) {}

    SSL_CTX* ctx_;
    std::string certificate_file_;
    std::time_t not_after_;
    std::string subject_;
};

using TlsContextPtr = std::shared_ptr<const TlsContext>;

// The reason of the newest OpenSSL error on this thread, and the error queue emptied.
[[nodiscard]] std::string take_tls_error(std::string_view fallback);

}  // namespace rtmpt::gateway
