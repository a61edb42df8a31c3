#include "gateway/client/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <cstdio>

namespace rtmpt::gateway {

namespace {

// Mozilla's "intermediate" profile (TLS 1.2 ciphers; TLS 1.3 suites are OpenSSL's defaults, all
// of them AEAD): what every client of the last decade speaks, and nothing known to be weak.
constexpr const char* kCiphers12 =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";

struct CtxOwner {
    SSL_CTX* ctx;
    ~CtxOwner() { SSL_CTX_free(ctx); }
};

std::time_t to_time(const ASN1_TIME* t) {
    int days = 0;
    int seconds = 0;
    // The difference from now, added to now: OpenSSL 3.0 has no direct conversion to time_t.
    if (t == nullptr || ASN1_TIME_diff(&days, &seconds, nullptr, t) != 1) return 0;
    return std::time(nullptr) + static_cast<std::time_t>(days) * 86400 + seconds;
}

}  // namespace

std::string take_tls_error(std::string_view fallback) {
    const unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0) return std::string(fallback);
    const char* reason = ERR_reason_error_string(code);
    return reason != nullptr ? std::string(reason) : std::string(fallback);
}

std::variant<TlsContextPtr, std::string> TlsContext::load(const std::string& certificate_file,
                                                          const std::string& key_file) {
    ERR_clear_error();
    CtxOwner owner{SSL_CTX_new(TLS_server_method())};
    SSL_CTX* ctx = owner.ctx;
    if (ctx == nullptr) return "cannot create a TLS context: " + take_tls_error("out of memory");
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    // No compression (CRIME), no renegotiation (a client-driven CPU cost, and a past source of
    // bugs); the client's cipher preference, as Mozilla's intermediate profile says.
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_clear_options(ctx, SSL_OP_ALLOW_CLIENT_RENEGOTIATION);
    SSL_CTX_clear_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_set_cipher_list(ctx, kCiphers12) != 1) {
        return "cannot set the TLS cipher list: " + take_tls_error("no cipher");
    }
    // Resumption: a server-side session cache and stateless tickets (OpenSSL's defaults, made
    // explicit); the session id context ties sessions to this gateway.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    static constexpr unsigned char kSessionContext[] = "rtmpt-gateway";
    SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
    // Writes may be partial and retried from a moved buffer: the bufferevent layer does both.
    SSL_CTX_set_mode(
        ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);

    if (SSL_CTX_use_certificate_chain_file(ctx, certificate_file.c_str()) != 1) {
        return certificate_file +
               ": cannot load the certificate chain: " + take_tls_error("no PEM certificate");
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
        const unsigned long code = ERR_peek_last_error();
        if (ERR_GET_LIB(code) == ERR_LIB_X509 && ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH) {
            ERR_clear_error();
            return key_file + ": the private key does not match the certificate in " + certificate_file;
        }
        return key_file + ": cannot load the private key: " + take_tls_error("no PEM private key");
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        return key_file + ": the private key does not match the certificate in " + certificate_file;
    }
    X509* leaf = SSL_CTX_get0_certificate(ctx);
    std::string subject;
    if (leaf != nullptr) {
        char buf[256];
        X509_NAME_oneline(X509_get_subject_name(leaf), buf, sizeof buf);
        subject = buf;
    }
    const std::time_t not_after = leaf != nullptr ? to_time(X509_get0_notAfter(leaf)) : 0;
    owner.ctx = nullptr;
    return TlsContextPtr(new TlsContext(ctx, certificate_file, not_after, std::move(subject)));
}

TlsContext::~TlsContext() {
    SSL_CTX_free(ctx_);
}

SSL* TlsContext::new_connection() const {
    return SSL_new(ctx_);
}

}  // namespace rtmpt::gateway
