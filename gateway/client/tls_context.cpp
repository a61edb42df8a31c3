#include "gateway/client/tls_context.hpp"

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <utility>

namespace rtmpt::gateway {

namespace {

// Mozilla's "intermediate" profile (TLS 1.2 ciphers; TLS 1.3 suites are OpenSSL's defaults, all
// of them AEAD): what every client of the last decade speaks, and nothing known to be weak.
constexpr const char* kCiphers12 =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";

struct CtxOwner {
    SSL_CTX* ctx = nullptr;
    ~CtxOwner() { SSL_CTX_free(ctx); }
    SSL_CTX* release() { return std::exchange(ctx, nullptr); }
};

std::time_t to_time(const ASN1_TIME* t) {
    int days = 0;
    int seconds = 0;
    // The difference from now, added to now: OpenSSL 3.0 has no direct conversion to time_t.
    if (t == nullptr || ASN1_TIME_diff(&days, &seconds, nullptr, t) != 1) return 0;
    return std::time(nullptr) + static_cast<std::time_t>(days) * 86400 + seconds;
}

// A context with the gateway's settings and the given pair, or the reason it cannot be made.
std::variant<SSL_CTX*, std::string> make_context(const std::string& certificate_file,
                                                 const std::string& key_file) {
    ERR_clear_error();
    CtxOwner owner{SSL_CTX_new(TLS_server_method())};
    SSL_CTX* ctx = owner.ctx;
    if (ctx == nullptr) return "cannot create a TLS context: " + take_tls_error("out of memory");
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    // No compression (CRIME), no renegotiation (a client-driven CPU cost, and a past source of
    // bugs); the client's cipher preference, as Mozilla's intermediate profile says.
    // A close without TLS's close_notify is how ffmpeg and most clients end: an end of stream,
    // not an error (OpenSSL 3 reports it as one otherwise, and libevent 2.1 passes that on).
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_clear_options(ctx, SSL_OP_ALLOW_CLIENT_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_set_cipher_list(ctx, kCiphers12) != 1) {
        return "cannot set the TLS cipher list: " + take_tls_error("no cipher");
    }
    // Resumption: a server-side session cache and stateless tickets (OpenSSL's defaults, made
    // explicit); the session id context ties sessions to this gateway.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    static constexpr unsigned char kSessionContext[] = "rtmpt-gateway";
    SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
    // No SSL_MODE_ENABLE_PARTIAL_WRITE: libevent 2.1 hands SSL_write several pieces of its output
    // in turn and drains what was written from the front, so a piece written in part would have
    // the next piece's bytes sent before its rest (bytes reordered). Whole writes keep the order.
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);

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
    return owner.release();
}

TlsContext::Certificate describe(SSL_CTX* ctx, const std::string& file) {
    TlsContext::Certificate c;
    c.file = file;
    if (X509* leaf = SSL_CTX_get0_certificate(ctx)) {
        char buf[256];
        X509_NAME_oneline(X509_get_subject_name(leaf), buf, sizeof buf);
        c.subject = buf;
        c.not_after = to_time(X509_get0_notAfter(leaf));
    }
    return c;
}

}  // namespace

std::string take_tls_error(std::string_view fallback) {
    const unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0) return std::string(fallback);
    const char* reason = ERR_reason_error_string(code);
    return reason != nullptr ? std::string(reason) : std::string(fallback);
}

unsigned long take_bufferevent_tls_error(bufferevent* bev) {
    unsigned long code = 0;
    for (unsigned long e; (e = bufferevent_get_openssl_error(bev)) != 0;) {
        if (code == 0 && ERR_GET_LIB(e) == ERR_LIB_SSL) code = e;
    }
    return code;
}

std::variant<TlsContextPtr, std::string> TlsContext::load(const std::string& certificate_file,
                                                          const std::string& key_file,
                                                          const std::string& sni_directory) {
    std::shared_ptr<TlsContext> result(new TlsContext());
    auto made = make_context(certificate_file, key_file);
    if (auto* error = std::get_if<std::string>(&made)) return *error;
    result->ctx_ = std::get<SSL_CTX*>(made);
    result->certificates_.push_back(describe(result->ctx_, certificate_file));
    if (sni_directory.empty()) return TlsContextPtr(std::move(result));

    std::error_code ec;
    std::vector<std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(sni_directory, ec)) {
        if (entry.path().extension() == ".pem") files.push_back(entry.path().string());
    }
    if (ec) return sni_directory + ": cannot read the directory: " + ec.message();
    std::sort(files.begin(), files.end());
    for (const std::string& file : files) {
        // The chain and its key in one file, HAProxy's way: one file per host to renew and drop in.
        auto sni = make_context(file, file);
        if (auto* error = std::get_if<std::string>(&sni)) return *error;
        SSL_CTX* ctx = std::get<SSL_CTX*>(sni);
        result->sni_.push_back(SniEntry{ctx, SSL_CTX_get0_certificate(ctx)});
        result->certificates_.push_back(describe(ctx, file));
    }
    if (!result->sni_.empty()) {
        SSL_CTX_set_tlsext_servername_callback(result->ctx_, &TlsContext::on_servername);
        SSL_CTX_set_tlsext_servername_arg(result->ctx_, result.get());
    }
    return TlsContextPtr(std::move(result));
}

int TlsContext::on_servername(SSL* ssl, int*, void* arg) {
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (name == nullptr) return SSL_TLSEXT_ERR_OK;  // no name: the default certificate
    const auto* self = static_cast<const TlsContext*>(arg);
    for (const SniEntry& e : self->sni_) {
        // The certificate's own names decide (subjectAltName DNS, wildcards as browsers allow).
        if (e.leaf != nullptr && X509_check_host(e.leaf, name, 0, 0, nullptr) == 1) {
            SSL_set_SSL_CTX(ssl, e.ctx);
            break;
        }
    }
    return SSL_TLSEXT_ERR_OK;
}

TlsContext::~TlsContext() {
    for (const SniEntry& e : sni_) SSL_CTX_free(e.ctx);
    SSL_CTX_free(ctx_);
}

SSL* TlsContext::new_connection() const {
    return SSL_new(ctx_);
}

}  // namespace rtmpt::gateway
