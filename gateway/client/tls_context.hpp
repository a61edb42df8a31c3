// The server side of TLS: OpenSSL contexts for the default certificate and any chosen by SNI,
// built at start and again on every reload. A connection keeps the TlsContext it was accepted
// with to its end (the SNI choice is made during its handshake, from this object), so a renewed
// certificate reaches new connections while live ones carry on.
#pragma once

#include <event2/bufferevent.h>
#include <openssl/ssl.h>

#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace rtmpt::gateway {

class TlsContext {
  public:
    // One certificate in use, for -t, the log and /metrics.
    struct Certificate {
        std::string file;
        std::string subject;
        std::time_t not_after = 0;
    };

    // Loads the default pair (checking that the key matches the certificate) and, when
    // `sni_directory` is not empty, every *.pem file in it: each holds a certificate chain and its
    // key, as HAProxy's crt directories do. On failure, the reason, naming the file at fault.
    [[nodiscard]] static std::variant<std::shared_ptr<const TlsContext>, std::string> load(
        const std::string& certificate_file, const std::string& key_file,
        const std::string& sni_directory = {});

    ~TlsContext();
    TlsContext(const TlsContext&) = delete;
    TlsContext& operator=(const TlsContext&) = delete;

    // A new server-side connection object, or null when OpenSSL is out of memory.
    [[nodiscard]] SSL* new_connection() const;

    // The default certificate first, then those chosen by SNI, in file name order.
    [[nodiscard]] const std::vector<Certificate>& certificates() const { return certificates_; }

  private:
    struct SniEntry {
        SSL_CTX* ctx;
        X509* leaf;  // owned by ctx
    };

    TlsContext() = default;
    // The client named a host: switch to the first SNI certificate that covers it, if any.
    static int on_servername(SSL* ssl, int* alert, void* arg);

    SSL_CTX* ctx_ = nullptr;
    std::vector<SniEntry> sni_;
    std::vector<Certificate> certificates_;
};

using TlsContextPtr = std::shared_ptr<const TlsContext>;

// The reason of the newest OpenSSL error on this thread, and the error queue emptied.
[[nodiscard]] std::string take_tls_error(std::string_view fallback);

// The first SSL-library error a TLS bufferevent stored, or 0; its store is emptied. libevent keeps
// SSL_get_error()'s small code beside the library's errors: that one is skipped.
[[nodiscard]] unsigned long take_bufferevent_tls_error(bufferevent* bev);

}  // namespace rtmpt::gateway
