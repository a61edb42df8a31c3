/*
 * rtmpt-load: a load generator for RTMPT (RTMP tunnelled in HTTP) gateways, and the backend it
 * needs.  C11, libc, plus OpenSSL (libssl) for --tls: one thread, epoll, non-blocking sockets.
 *
 * Client:  rtmpt-load --url http://127.0.0.1:PORT --mode idle|echo|download|static
 *                     --sessions N --duration S [--tls [--sni NAME]] [options]
 * Backend: rtmpt-load --backend PORT --backend-mode echo|source|sink
 *
 * Every session has its own keep-alive TCP connection and exactly one request in flight; the
 * next request is written as soon as the previous reply is complete.  With --tls (RTMPTS, or
 * HTTPS in static mode) every connection starts with a full TLS handshake (no resumption, no
 * certificate verification); --new-connection-per-request (static mode) closes the connection
 * after each reply and opens a new one, so that each request costs a connection and, with
 * --tls, a handshake.  See bench/README.md.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4, memmem, strcasestr */
#endif
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define PATTERN_MOD 251         /* byte at stream offset o is (o % 251) */
#define RBUF_SIZE (256 * 1024)  /* one shared receive buffer */
#define SRC_CHUNK (64 * 1024)   /* backend source: bytes offered per write */
#define HEAD_MAX 4096           /* longest reply head accepted */
#define SID_MAX 200             /* longest session id accepted */
#define PATH_PREFIX_MAX 200
#define MAX_PAYLOAD (16 * 1024 * 1024)
#define MAX_REPLY_BODY ((uint64_t)256 * 1024 * 1024)
#define MAX_EVENTS 1024
#define ERRORS_SHOWN 10
#define MAX_CPU_PIDS 8

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("rtmpt-load: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* The pattern table: pat[i] = i % 251, long enough that any run of `len` pattern bytes starting at
 * stream offset o is pat + (o % 251). */
static unsigned char *g_pat;
static size_t g_pat_len;

static void make_pattern(size_t longest_run)
{
    g_pat_len = longest_run + PATTERN_MOD;
    g_pat = malloc(g_pat_len);
    if (!g_pat)
        die("out of memory");
    for (size_t i = 0; i < g_pat_len; i++)
        g_pat[i] = (unsigned char)(i % PATTERN_MOD);
}

/* ------------------------------------------------------------------------------------------ */
/* Latency histogram: values below 64 us exact, above that 64 sub-buckets per power of two (about
 * 1.6% resolution).  A percentile is reported as the middle of its bucket. */

#define H_SUB_BITS 6
#define H_SUB (1u << H_SUB_BITS)
#define H_BUCKETS (H_SUB + 48u * H_SUB)

static uint64_t g_hist[H_BUCKETS];
static uint64_t g_hist_n, g_hist_max;

static unsigned hist_bucket(uint64_t v)
{
    if (v < H_SUB)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - H_SUB_BITS;
    unsigned b = H_SUB + shift * H_SUB + (unsigned)((v >> shift) - H_SUB);
    return b < H_BUCKETS ? b : H_BUCKETS - 1;
}

static uint64_t hist_value(unsigned b)
{
    if (b < H_SUB)
        return b;
    unsigned shift = (b - H_SUB) / H_SUB;
    uint64_t low = (uint64_t)(H_SUB + (b - H_SUB) % H_SUB) << shift;
    return low + ((uint64_t)1 << shift) / 2;
}

static void hist_add(uint64_t v)
{
    g_hist[hist_bucket(v)]++;
    g_hist_n++;
    if (v > g_hist_max)
        g_hist_max = v;
}

static uint64_t hist_percentile(double p)
{
    if (g_hist_n == 0)
        return 0;
    uint64_t rank = (uint64_t)(p / 100.0 * (double)g_hist_n + 0.999999);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned b = 0; b < H_BUCKETS; b++) {
        seen += g_hist[b];
        if (seen >= rank) {
            uint64_t v = hist_value(b);
            return v > g_hist_max ? g_hist_max : v;
        }
    }
    return g_hist_max;
}

/* ------------------------------------------------------------------------------------------ */
/* Backend: echo, source or sink, for every accepted connection. */

enum bmode { B_ECHO, B_SOURCE, B_SINK };

struct bconn {
    int fd;
    uint64_t off;       /* source: bytes written so far */
    unsigned char *buf; /* echo: bytes read, not yet written back */
    size_t len, pos;
    uint32_t events;
};

static uint64_t g_b_conns, g_b_in, g_b_out;

static void bconn_close(struct bconn *c)
{
    close(c->fd);
    free(c->buf);
    free(c);
}

static int bconn_watch(int ep, struct bconn *c, uint32_t events)
{
    if (c->events == events)
        return 0;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    c->events = events;
    return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Returns 0 to keep the connection, -1 to close it. */
static int bconn_event(int ep, struct bconn *c, enum bmode mode, uint32_t events, unsigned char *rbuf)
{
    if (mode == B_ECHO) {
        if (c->pos < c->len) {
            ssize_t w = send(c->fd, c->buf + c->pos, c->len - c->pos, MSG_NOSIGNAL);
            if (w < 0)
                return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
            c->pos += (size_t)w;
            g_b_out += (uint64_t)w;
            if (c->pos < c->len)
                return bconn_watch(ep, c, EPOLLOUT);
            c->pos = c->len = 0;
            return bconn_watch(ep, c, EPOLLIN);
        }
        ssize_t r = recv(c->fd, c->buf, SRC_CHUNK, 0);
        if (r == 0)
            return -1;
        if (r < 0)
            return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
        g_b_in += (uint64_t)r;
        c->len = (size_t)r;
        c->pos = 0;
        ssize_t w = send(c->fd, c->buf, c->len, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        if (w > 0) {
            c->pos = (size_t)w;
            g_b_out += (uint64_t)w;
        }
        if (c->pos < c->len)
            return bconn_watch(ep, c, EPOLLOUT); /* stop reading until the echo is out */
        c->pos = c->len = 0;
        return 0;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        ssize_t r = recv(c->fd, rbuf, RBUF_SIZE, 0);
        if (r == 0)
            return -1;
        if (r < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        if (r > 0)
            g_b_in += (uint64_t)r;
    }
    if (mode == B_SOURCE && (events & EPOLLOUT)) {
        ssize_t w = send(c->fd, g_pat + c->off % PATTERN_MOD, SRC_CHUNK, MSG_NOSIGNAL);
        if (w < 0)
            return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
        c->off += (uint64_t)w;
        g_b_out += (uint64_t)w;
    }
    return 0;
}

static int run_backend(int port, enum bmode mode)
{
    static const char *names[] = {"echo", "source", "sink"};
    make_pattern(SRC_CHUNK);
    unsigned char *rbuf = malloc(RBUF_SIZE);
    if (!rbuf)
        die("out of memory");

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        die("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0)
        die("bind 127.0.0.1:%d: %s", port, strerror(errno));
    if (listen(lfd, 4096) < 0)
        die("listen: %s", strerror(errno));

    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1: %s", strerror(errno));
    static char listener_tag;
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &listener_tag};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) < 0)
        die("epoll_ctl: %s", strerror(errno));

    printf("backend: listening on 127.0.0.1:%d mode=%s\n", port, names[mode]);
    fflush(stdout);

    struct epoll_event evs[MAX_EVENTS];
    while (!g_stop) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, 200);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait: %s", strerror(errno));
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == &listener_tag) {
                for (;;) {
                    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0)
                        break; /* EAGAIN, or out of descriptors: try again on the next event */
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct bconn *c = calloc(1, sizeof *c);
                    if (!c || (mode == B_ECHO && !(c->buf = malloc(SRC_CHUNK)))) {
                        free(c);
                        close(fd);
                        continue;
                    }
                    c->fd = fd;
                    c->events = mode == B_SOURCE ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
                    struct epoll_event ev = {.events = c->events, .data.ptr = c};
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
                        bconn_close(c);
                        continue;
                    }
                    g_b_conns++;
                }
                continue;
            }
            struct bconn *c = evs[i].data.ptr;
            if (bconn_event(ep, c, mode, evs[i].events, rbuf) < 0)
                bconn_close(c);
        }
    }
    fprintf(stderr, "backend: %" PRIu64 " connections, %" PRIu64 " bytes in, %" PRIu64 " bytes out\n",
            g_b_conns, g_b_in, g_b_out);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Client. */

enum mode { M_IDLE, M_ECHO, M_DOWNLOAD, M_STATIC };
static const char *const mode_names[] = {"idle", "echo", "download", "static"};

enum req { R_NONE, R_OPEN, R_IDLE, R_SEND, R_STATIC };

struct sess {
    int fd;           /* -1: not connected (waiting to (re)start) */
    uint32_t gen;     /* bumped at every new connection: stale epoll events are ignored */
    int tcp_up;       /* TCP connect finished */
    int connected;    /* requests may be written: TCP connect (and, with --tls, handshake) done */
    int want_out;     /* EPOLLOUT is in the interest set */
    SSL *ssl;         /* --tls: this connection's TLS state, NULL before the TCP connect is done */
    int hs_want_out;  /* --tls: the handshake, */
    int wr_want_out;  /* the last SSL_write */
    int rd_want_out;  /* or the last SSL_read waits for the socket to take bytes */
    int opening;      /* counted in g_opening */
    uint64_t restart_at;

    char sid[SID_MAX + 1];
    size_t sid_len;   /* 0: no session yet, the next request is /open */
    uint64_t seq;

    enum req req;     /* request in flight, R_NONE if none */
    uint64_t t_req;   /* when it was written (us) */
    uint64_t req_payload;
    char *out;
    size_t out_len, out_off;

    char head[HEAD_MAX];
    size_t head_len;
    int in_body;
    uint64_t body_left, body_pos, body_len;
    int conn_close;   /* the reply said Connection: close */

    uint64_t sent_off; /* echo: payload bytes sent (stream offset of the next one) */
    uint64_t recv_off; /* backend bytes received (stream offset of the next one) */
};

struct opts {
    enum mode mode;
    int sessions;
    double duration, warmup, timeout, open_timeout;
    size_t payload, window;
    uint64_t seq_base;
    int open_concurrency;
    int cpu_pids[MAX_CPU_PIDS]; /* the first is the server (cpu_srv) */
    int n_cpu_pids;
    int verify;
    int static_get;
    int tls;                /* --tls: TLS on every connection */
    int new_conn;           /* --new-connection-per-request: static mode, one request per connection */
    char sni[256];          /* --sni: server name sent in the ClientHello */
    char static_path[PATH_PREFIX_MAX + 1]; /* --static-path: static mode's request target */
    char host[256]; /* Host header */
    char prefix[PATH_PREFIX_MAX + 1];
    struct sockaddr_storage addr;
    socklen_t addr_len;
};

static struct opts O;
static struct sess *S;
static int g_ep;
static unsigned char *g_rbuf;
static SSL_CTX *g_ssl_ctx;

enum phase { P_OPEN, P_WARMUP, P_MEASURE, P_DONE };
static enum phase g_phase;
static int g_opening, g_started;

/* Counted in the measured window only. */
static uint64_t w_replies, w_sends, w_idles, w_down, w_up, w_body, w_connects, w_handshakes;
/* Counted over the whole run. */
static uint64_t g_errors, g_opened, g_open_fail, g_reconnects, g_closed_by_server, g_handshakes, g_hs_failed;
static int g_tls_described; /* the first handshake's protocol, cipher and group are printed */

static void sess_connect(struct sess *s);
static void sess_next(struct sess *s);
static void sess_fail(struct sess *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sess_drop_fd(struct sess *s)
{
    if (s->ssl) {
        SSL_free(s->ssl);
        s->ssl = NULL;
    }
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    s->gen++;
    s->tcp_up = s->connected = s->want_out = 0;
    s->hs_want_out = s->wr_want_out = s->rd_want_out = 0;
    s->req = R_NONE;
    s->out_len = s->out_off = 0;
    s->head_len = 0;
    s->in_body = 0;
    s->conn_close = 0;
}

static void sess_fail(struct sess *s, const char *fmt, ...)
{
    if (g_phase == P_DONE)
        return;
    g_errors++;
    if (g_errors <= ERRORS_SHOWN) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "error: session %d%s%.*s: ", (int)(s - S), s->sid_len ? " sid=" : "",
                (int)s->sid_len, s->sid);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        if (g_errors == ERRORS_SHOWN)
            fprintf(stderr, "error: (further errors are only counted)\n");
    }
    if (!s->sid_len && O.mode != M_STATIC)
        g_open_fail++;
    if (s->opening) {
        s->opening = 0;
        g_opening--;
    }
    sess_drop_fd(s);
    /* A new session replaces it after a pause, so that a server refusing everything is not
     * hammered in a tight loop. */
    s->sid_len = 0;
    s->sent_off = s->recv_off = 0;
    s->restart_at = now_us() + 100000;
}

static void watch(struct sess *s, int want_out)
{
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0u),
                             .data.u64 = (uint64_t)(s - S) | ((uint64_t)s->gen << 32)};
    if (epoll_ctl(g_ep, EPOLL_CTL_MOD, s->fd, &ev) < 0)
        sess_fail(s, "epoll_ctl: %s", strerror(errno));
    else
        s->want_out = want_out;
}

/* The reason of the first error in OpenSSL's queue (the queue is cleared), or `fallback`. */
static const char *tls_error(const char *fallback)
{
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    return r ? r : fallback;
}

/* Why an SSL_* call failed with SSL_get_error() code `e`. */
static const char *tls_why(int e)
{
    int err = errno;
    if (e == SSL_ERROR_ZERO_RETURN)
        return "connection closed by the server";
    if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
        return err ? strerror(err) : "connection closed by the server";
    return tls_error("TLS error");
}

/* --tls: EPOLLOUT is watched while the handshake, a write or a read waits for the socket to take
 * bytes (OpenSSL may need to write while reading and the reverse). */
static void tls_interest(struct sess *s)
{
    int w = s->hs_want_out || s->wr_want_out || s->rd_want_out;
    if (w != s->want_out)
        watch(s, w);
}

/* --tls: writes what is pending through SSL_write; returns 0, or -1 if the session failed. */
static int sess_flush_tls(struct sess *s)
{
    while (s->out_off < s->out_len) {
        size_t left = s->out_len - s->out_off;
        ERR_clear_error();
        int w = SSL_write(s->ssl, s->out + s->out_off, left > INT_MAX ? INT_MAX : (int)left);
        if (w > 0) {
            s->out_off += (size_t)w; /* SSL_MODE_ENABLE_PARTIAL_WRITE: may be part of it */
            continue;
        }
        int e = SSL_get_error(s->ssl, w);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
            /* Retried with the same bytes on the next event of the connection. */
            s->wr_want_out = e == SSL_ERROR_WANT_WRITE;
            tls_interest(s);
            return s->fd < 0 ? -1 : 0;
        }
        sess_fail(s, "TLS write: %s", tls_why(e));
        return -1;
    }
    s->wr_want_out = 0;
    tls_interest(s);
    return s->fd < 0 ? -1 : 0;
}

/* Writes what is pending; returns 0, or -1 if the session failed. */
static int sess_flush(struct sess *s)
{
    if (s->ssl)
        return sess_flush_tls(s);
    while (s->out_off < s->out_len) {
        ssize_t w = send(s->fd, s->out + s->out_off, s->out_len - s->out_off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                if (!s->want_out)
                    watch(s, 1);
                return s->fd < 0 ? -1 : 0;
            }
            sess_fail(s, "write: %s", strerror(errno));
            return -1;
        }
        s->out_off += (size_t)w;
    }
    if (s->want_out)
        watch(s, 0);
    return s->fd < 0 ? -1 : 0;
}

/* Queues one request and writes as much of it as the socket takes. */
static void sess_request(struct sess *s, enum req r)
{
    const char *verb = "POST";
    char path[PATH_PREFIX_MAX + SID_MAX + 64];
    size_t body = 1;
    switch (r) {
    case R_OPEN:
        snprintf(path, sizeof path, "%s/open/1", O.prefix);
        break;
    case R_IDLE:
        snprintf(path, sizeof path, "%s/idle/%.*s/%" PRIu64, O.prefix, (int)s->sid_len, s->sid, s->seq++);
        break;
    case R_SEND:
        snprintf(path, sizeof path, "%s/send/%.*s/%" PRIu64, O.prefix, (int)s->sid_len, s->sid, s->seq++);
        body = O.payload;
        break;
    default:
        if (O.static_path[0])
            snprintf(path, sizeof path, "%s", O.static_path);
        else
            snprintf(path, sizeof path, "%s/", O.prefix);
        if (O.static_get) {
            verb = "GET";
            body = 0;
        }
        break;
    }
    int n;
    if (r == R_STATIC && O.static_get)
        n = snprintf(s->out, 1024, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: Keep-Alive\r\n\r\n", path, O.host);
    else
        n = snprintf(s->out, 1024,
                     "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-fcs\r\n"
                     "Content-Length: %zu\r\nConnection: Keep-Alive\r\n\r\n",
                     verb, path, O.host, body);
    if (n < 0 || n >= 1024) {
        sess_fail(s, "request head too long");
        return;
    }
    size_t len = (size_t)n;
    if (r == R_SEND) {
        memcpy(s->out + len, g_pat + s->sent_off % PATTERN_MOD, body);
        s->req_payload = body;
        s->sent_off += body;
    } else if (body) {
        s->out[len] = 0;
    }
    s->out_len = len + body;
    s->out_off = 0;
    s->req = r;
    s->head_len = 0;
    s->in_body = 0;
    s->t_req = now_us();
    if (s->connected)
        sess_flush(s);
}

/* Decides and sends the request that follows a complete reply (or a new connection). */
static void sess_next(struct sess *s)
{
    if (g_phase == P_DONE)
        return;
    if (O.mode == M_STATIC) {
        sess_request(s, R_STATIC);
    } else if (!s->sid_len) {
        sess_request(s, R_OPEN);
    } else if (O.mode == M_ECHO && s->sent_off - s->recv_off + O.payload <= O.window) {
        sess_request(s, R_SEND);
    } else {
        sess_request(s, R_IDLE);
    }
}

/* --tls: the connection's handshake goes on (or starts): it sends, or waits for, the next flight. */
static void sess_handshake(struct sess *s)
{
    ERR_clear_error();
    int rc = SSL_do_handshake(s->ssl);
    if (rc != 1) {
        int e = SSL_get_error(s->ssl, rc);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            s->hs_want_out = e == SSL_ERROR_WANT_WRITE;
            tls_interest(s);
            return;
        }
        g_hs_failed++;
        sess_fail(s, "TLS handshake: %s", tls_why(e));
        return;
    }
    s->hs_want_out = 0;
    s->connected = 1;
    g_handshakes++;
    if (g_phase == P_MEASURE)
        w_handshakes++;
    if (!g_tls_described) {
        /* Once per run: what was negotiated, so that the output says what was measured. */
        g_tls_described = 1;
        long nid = SSL_get_negotiated_group(s->ssl); /* a macro over SSL_ctrl: long */
        const char *group = nid <= 0 || nid > INT_MAX || (nid & TLSEXT_nid_unknown) ? "unknown" : OBJ_nid2sn((int)nid);
        X509 *cert = SSL_get0_peer_certificate(s->ssl);
        EVP_PKEY *key = cert ? X509_get0_pubkey(cert) : NULL;
        printf("tls: %s %s group %s, server key %s %d bits, sni %s\n", SSL_get_version(s->ssl),
               SSL_get_cipher_name(s->ssl), group ? group : "unknown",
               key && EVP_PKEY_get0_type_name(key) ? EVP_PKEY_get0_type_name(key) : "unknown",
               key ? EVP_PKEY_get_bits(key) : 0, O.sni[0] ? O.sni : "(none)");
        fflush(stdout);
    }
    /* The request queued at connect time goes out now. */
    sess_flush(s);
}

/* The TCP connect is done: the queued request goes out, or, with --tls, the handshake starts.
 * Returns 0, or -1 if the session failed. */
static int sess_tcp_up(struct sess *s)
{
    s->tcp_up = 1;
    /* A request's latency runs from here: with --tls it includes the handshake. */
    s->t_req = now_us();
    if (g_phase == P_MEASURE)
        w_connects++;
    if (!O.tls) {
        s->connected = 1;
        return sess_flush(s);
    }
    uint32_t gen = s->gen;
    s->ssl = SSL_new(g_ssl_ctx);
    if (!s->ssl || SSL_set_fd(s->ssl, s->fd) != 1 || (O.sni[0] && SSL_set_tlsext_host_name(s->ssl, O.sni) != 1)) {
        sess_fail(s, "TLS setup: %s", tls_error("out of memory"));
        return -1;
    }
    SSL_set_connect_state(s->ssl);
    sess_handshake(s);
    return s->gen == gen ? 0 : -1;
}

/* --tls: the connection ends with a close_notify alert (as a well-behaved client does), written
 * if the socket takes it; nothing is waited for. */
static void sess_tls_goodbye(struct sess *s)
{
    if (s->ssl && s->connected) {
        ERR_clear_error();
        SSL_shutdown(s->ssl);
        ERR_clear_error();
    }
}

static void sess_connect(struct sess *s)
{
    int fd = socket(O.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        sess_fail(s, "socket: %s", strerror(errno));
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    s->fd = fd;
    s->gen++;
    s->tcp_up = s->connected = 0;
    uint32_t gen = s->gen;
    int rc = connect(fd, (struct sockaddr *)&O.addr, O.addr_len);
    if (rc < 0 && errno != EINPROGRESS) {
        sess_fail(s, "connect: %s", strerror(errno));
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT,
                             .data.u64 = (uint64_t)(s - S) | ((uint64_t)s->gen << 32)};
    if (epoll_ctl(g_ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        sess_fail(s, "epoll_ctl: %s", strerror(errno));
        return;
    }
    s->want_out = 1;
    sess_next(s); /* queued: written once connected */
    if (rc == 0 && s->gen == gen)
        sess_tcp_up(s);
}

static void sess_start(struct sess *s)
{
    if (g_phase == P_OPEN) {
        s->opening = 1;
        g_opening++;
    }
    sess_connect(s);
}

/* Parses the reply head in s->head[0..len); returns the status or -1. */
static int parse_head(struct sess *s, size_t len, uint64_t *clen, const char **why)
{
    const char *h = s->head, *end = s->head + len - 2; /* end: the final blank line */
    if (len < 16 || memcmp(h, "HTTP/1.", 7) != 0 || (h[7] != '0' && h[7] != '1') || h[8] != ' ' ||
        h[9] < '1' || h[9] > '5' || h[10] < '0' || h[10] > '9' || h[11] < '0' || h[11] > '9' ||
        (h[12] != ' ' && h[12] != '\r')) {
        *why = "bad status line";
        return -1;
    }
    int status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
    int have_len = 0;
    s->conn_close = h[7] == '0'; /* HTTP/1.0 closes unless it says keep-alive */
    const char *p = (const char *)memmem(h, (size_t)(end - h) + 2, "\r\n", 2) + 2;
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p) + 2, "\r\n", 2);
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (!colon || colon == p) {
            *why = "bad header line";
            return -1;
        }
        size_t nlen = (size_t)(colon - p);
        const char *v = colon + 1;
        while (v < eol && (*v == ' ' || *v == '\t'))
            v++;
        const char *ve = eol;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        if (nlen == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
            uint64_t n = 0;
            if (v == ve) {
                *why = "empty Content-Length";
                return -1;
            }
            for (const char *q = v; q < ve; q++) {
                if (*q < '0' || *q > '9' || n > MAX_REPLY_BODY) {
                    *why = "bad Content-Length";
                    return -1;
                }
                n = n * 10 + (uint64_t)(*q - '0');
            }
            if (n > MAX_REPLY_BODY || (have_len && n != *clen)) {
                *why = "bad Content-Length";
                return -1;
            }
            *clen = n;
            have_len = 1;
        } else if (nlen == 17 && strncasecmp(p, "Transfer-Encoding", 17) == 0) {
            *why = "Transfer-Encoding in reply";
            return -1;
        } else if (nlen == 10 && strncasecmp(p, "Connection", 10) == 0) {
            char val[64];
            size_t vl = (size_t)(ve - v) < sizeof val - 1 ? (size_t)(ve - v) : sizeof val - 1;
            memcpy(val, v, vl);
            val[vl] = 0;
            if (strcasestr(val, "close"))
                s->conn_close = 1;
            else if (strcasestr(val, "keep-alive"))
                s->conn_close = 0;
        }
        p = eol + 2;
    }
    if (!have_len) {
        *why = "no Content-Length in reply";
        return -1;
    }
    return status;
}

/* Takes body bytes of the reply in flight; returns 0, or -1 if the session failed. */
static int sess_body(struct sess *s, const unsigned char *d, size_t n)
{
    if (s->req == R_OPEN) {
        if (s->body_pos + n > SID_MAX) {
            sess_fail(s, "open reply longer than %d bytes", SID_MAX);
            return -1;
        }
        memcpy(s->sid + s->body_pos, d, n);
        return 0;
    }
    if (s->req == R_STATIC)
        return 0;
    if (s->body_pos == 0) { /* the polling byte */
        d++;
        n--;
    }
    if (n == 0)
        return 0;
    if (O.verify && (O.mode == M_ECHO || O.mode == M_DOWNLOAD)) {
        if (O.mode == M_ECHO && s->recv_off + n > s->sent_off) {
            sess_fail(s, "echoed %" PRIu64 " bytes, more than the %" PRIu64 " sent", s->recv_off + n, s->sent_off);
            return -1;
        }
        const unsigned char *want = g_pat + s->recv_off % PATTERN_MOD;
        if (memcmp(d, want, n) != 0) {
            size_t i = 0;
            while (d[i] == want[i])
                i++;
            sess_fail(s, "pattern broken at stream offset %" PRIu64 ": got %u, want %u", s->recv_off + i,
                      d[i], want[i]);
            return -1;
        }
    }
    s->recv_off += n;
    if (g_phase == P_MEASURE)
        w_down += n;
    return 0;
}

/* The reply in flight is complete; `extra` bytes follow it in the same read. */
static void sess_reply_done(struct sess *s, size_t extra)
{
    uint64_t t = now_us();
    if (extra) {
        sess_fail(s, "%zu unexpected bytes after a reply", extra);
        return;
    }
    enum req r = s->req;
    s->req = R_NONE;
    if (r == R_OPEN) {
        size_t l = (size_t)s->body_len;
        while (l > 0 && (s->sid[l - 1] == '\n' || s->sid[l - 1] == '\r'))
            l--;
        for (size_t i = 0; i < l; i++) {
            unsigned char c = (unsigned char)s->sid[i];
            if (c <= ' ' || c >= 127 || c == '/' || c == '?' || c == '%') {
                sess_fail(s, "bad session id in open reply");
                return;
            }
        }
        if (l == 0) {
            sess_fail(s, "empty session id in open reply");
            return;
        }
        s->sid_len = l;
        s->sid[l] = 0;
        s->seq = O.seq_base;
        g_opened++;
        if (s->opening) {
            s->opening = 0;
            g_opening--;
        }
    } else if (s->opening) { /* static: the first reply on the connection ends its opening */
        s->opening = 0;
        g_opening--;
    } else if (g_phase == P_MEASURE) {
        hist_add(t - s->t_req);
        w_replies++;
        w_body += s->body_len;
        if (r == R_SEND) {
            w_sends++;
            w_up += s->req_payload;
        } else if (r == R_IDLE) {
            w_idles++;
        }
    }
    if (s->conn_close || O.new_conn) {
        /* The server ends this connection, or every request has a connection of its own: go on
         * (same session) on a new one. */
        if (s->conn_close)
            g_closed_by_server++;
        else
            sess_tls_goodbye(s);
        sess_drop_fd(s);
        g_reconnects++;
        sess_connect(s);
        return;
    }
    sess_next(s);
}

static void sess_feed(struct sess *s, const unsigned char *d, size_t n)
{
    uint32_t gen = s->gen;
    while (n > 0 && s->gen == gen) {
        if (s->req == R_NONE || s->out_off < s->out_len) {
            sess_fail(s, "%zu bytes before the request was sent", n);
            return;
        }
        if (!s->in_body) {
            size_t old = s->head_len;
            size_t take = n < HEAD_MAX - old ? n : HEAD_MAX - old;
            memcpy(s->head + old, d, take);
            s->head_len += take;
            size_t from = old > 3 ? old - 3 : 0;
            const char *e = memmem(s->head + from, s->head_len - from, "\r\n\r\n", 4);
            if (!e) {
                if (s->head_len == HEAD_MAX)
                    sess_fail(s, "reply head longer than %d bytes", HEAD_MAX);
                return;
            }
            size_t hlen = (size_t)(e - s->head) + 4;
            d += hlen - old;
            n -= hlen - old;
            uint64_t clen = 0;
            const char *why = NULL;
            int status = parse_head(s, hlen, &clen, &why);
            if (status < 0) {
                sess_fail(s, "%s: %.*s", why, (int)(hlen < 80 ? hlen : 80), s->head);
                return;
            }
            if (status != 200) {
                const char *eol = memchr(s->head, '\r', hlen);
                sess_fail(s, "%.*s", (int)(eol - s->head), s->head);
                return;
            }
            if (clen == 0 && s->req != R_STATIC) {
                sess_fail(s, "empty reply body (no polling byte / session id)");
                return;
            }
            s->in_body = 1;
            s->body_len = s->body_left = clen;
            s->body_pos = 0;
            if (clen == 0) {
                s->in_body = 0;
                sess_reply_done(s, n);
                return;
            }
        } else {
            size_t k = n < s->body_left ? n : (size_t)s->body_left;
            if (sess_body(s, d, k) < 0)
                return;
            d += k;
            n -= k;
            s->body_pos += k;
            s->body_left -= k;
            if (s->body_left == 0) {
                s->in_body = 0;
                sess_reply_done(s, n);
                return;
            }
        }
    }
}

/* The connection ended (err 0: closed by the server, else an errno). */
static void sess_closed(struct sess *s, int err)
{
    if (O.mode == M_STATIC && err == 0 && s->req != R_NONE && s->head_len == 0 && !s->in_body &&
        s->out_off == s->out_len && now_us() - s->t_req < 1000000 && g_phase != P_DONE) {
        /* A keep-alive connection closed by the server between requests (keepalive_requests
         * reached): not an error, retry the request on a new connection. */
        g_closed_by_server++;
        sess_drop_fd(s);
        g_reconnects++;
        sess_connect(s);
        return;
    }
    if (err == 0)
        sess_fail(s, "connection closed by the server%s", s->req == R_NONE ? "" : " with a request in flight");
    else
        sess_fail(s, "read: %s", strerror(err));
}

static void sess_readable(struct sess *s)
{
    ssize_t r = recv(s->fd, g_rbuf, RBUF_SIZE, 0);
    if (r > 0) {
        sess_feed(s, g_rbuf, (size_t)r);
        return;
    }
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    sess_closed(s, r < 0 ? errno : 0);
}

/* --tls: reads and decrypts until OpenSSL needs more bytes from the socket.  Plaintext already
 * decrypted inside OpenSSL (SSL_pending) does not wake epoll, so it is always drained before
 * returning; past RBUF_SIZE bytes the rest waits for the next epoll round, which comes since the
 * bytes are still in the socket. */
static void sess_readable_tls(struct sess *s)
{
    uint32_t gen = s->gen;
    size_t total = 0;
    for (;;) {
        ERR_clear_error();
        int r = SSL_read(s->ssl, g_rbuf, RBUF_SIZE);
        if (r > 0) {
            s->rd_want_out = 0;
            sess_feed(s, g_rbuf, (size_t)r);
            if (s->gen != gen)
                return; /* the connection is gone (failed, or replaced by a new one) */
            total += (size_t)r;
            if (total >= RBUF_SIZE && !SSL_has_pending(s->ssl))
                break;
            continue;
        }
        int e = SSL_get_error(s->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            s->rd_want_out = e == SSL_ERROR_WANT_WRITE;
            break;
        }
        /* SSL_OP_IGNORE_UNEXPECTED_EOF: a close without close_notify is a clean end too. */
        if (e == SSL_ERROR_ZERO_RETURN)
            sess_closed(s, 0);
        else
            sess_fail(s, "TLS read: %s", tls_why(e));
        return;
    }
    tls_interest(s);
}

static void sess_event(struct sess *s, uint32_t events)
{
    if (!s->tcp_up) {
        int err = 0;
        socklen_t el = sizeof err;
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
            err = errno;
        if (err) {
            sess_fail(s, "connect: %s", strerror(err));
            return;
        }
        if (!(events & (EPOLLOUT | EPOLLIN)))
            return;
        if (sess_tcp_up(s) < 0 || O.tls)
            return; /* TLS: the handshake goes on at the next events */
    }
    uint32_t gen = s->gen;
    if (s->ssl) {
        /* OpenSSL decides which way it waits: both ways are tried on any event. */
        if (!s->connected) {
            sess_handshake(s);
            return;
        }
        if (s->out_off < s->out_len && sess_flush(s) < 0)
            return;
        if (s->gen == gen && ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) || s->rd_want_out))
            sess_readable_tls(s);
        return;
    }
    if ((events & EPOLLOUT) && s->want_out && sess_flush(s) < 0)
        return;
    if (s->gen == gen && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        sess_readable(s);
}

/* CPU time (user + system, clock ticks) of a process, or -1. */
static long long proc_cpu_ticks(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    /* After ") ": field 3 (state) onwards; utime and stime are fields 14 and 15. */
    p += 2;
    unsigned long long ut = 0, st = 0;
    if (sscanf(p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (long long)(ut + st);
}

/* CPU counters at one instant, in clock ticks. */
struct cpu_snap {
    long long self;
    long long pid[MAX_CPU_PIDS];
    long long busy; /* whole machine: user + nice + system + irq + softirq + steal */
};

static void cpu_snap_take(struct cpu_snap *c)
{
    c->self = proc_cpu_ticks((int)getpid());
    for (int i = 0; i < O.n_cpu_pids; i++)
        c->pid[i] = proc_cpu_ticks(O.cpu_pids[i]);
    c->busy = -1;
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return;
    unsigned long long us, ni, sy, id, io, irq, sirq, st;
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &us, &ni, &sy, &id, &io, &irq, &sirq, &st) == 8)
        c->busy = (long long)(us + ni + sy + irq + sirq + st);
    fclose(f);
}

/* Percent of one CPU between two snapshots over `win` seconds; -1 if unknown. */
static double cpu_pct(long long a, long long b, double win)
{
    if (a < 0 || b < 0)
        return -1.0;
    return (double)(b - a) / (double)sysconf(_SC_CLK_TCK) / win * 100.0;
}

/* --tls: the server's chain is taken as it is, not even built (SSL_VERIFY_NONE alone still builds
 * and checks it, then ignores the result): the client's handshake cost is then the protocol's. */
static int accept_any_chain(X509_STORE_CTX *ctx, void *arg)
{
    (void)ctx;
    (void)arg;
    return 1;
}

static void parse_url(const char *url)
{
    const char *p = url;
    if (strncmp(p, "https://", 8) == 0) {
        O.tls = 1; /* https:// is --tls */
        p += 8;
    } else if (strncmp(p, "http://", 7) == 0) {
        p += 7;
    } else {
        die("--url must start with http:// or https://");
    }
    const char *slash = strchr(p, '/');
    size_t hp_len = slash ? (size_t)(slash - p) : strlen(p);
    if (hp_len == 0 || hp_len >= sizeof O.host)
        die("bad --url host");
    memcpy(O.host, p, hp_len);
    O.host[hp_len] = 0;
    if (slash) {
        size_t pl = strlen(slash);
        while (pl > 0 && slash[pl - 1] == '/')
            pl--;
        if (pl > PATH_PREFIX_MAX)
            die("--url path too long");
        memcpy(O.prefix, slash, pl);
        O.prefix[pl] = 0;
    }
    char host[256], port[16];
    snprintf(port, sizeof port, "%s", O.tls ? "443" : "80");
    if (O.host[0] == '[') {
        const char *rb = strchr(O.host, ']');
        if (!rb)
            die("bad --url host");
        snprintf(host, sizeof host, "%.*s", (int)(rb - O.host - 1), O.host + 1);
        if (rb[1] == ':')
            snprintf(port, sizeof port, "%s", rb + 2);
    } else {
        const char *colon = strrchr(O.host, ':');
        snprintf(host, sizeof host, "%.*s", (int)(colon ? (size_t)(colon - O.host) : strlen(O.host)), O.host);
        if (colon)
            snprintf(port, sizeof port, "%s", colon + 1);
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0)
        die("cannot resolve %s:%s: %s", host, port, gai_strerror(rc));
    memcpy(&O.addr, ai->ai_addr, ai->ai_addrlen);
    O.addr_len = ai->ai_addrlen;
    freeaddrinfo(ai);
}

static void usage(FILE *f)
{
    fputs("usage: rtmpt-load --url http://HOST:PORT[/prefix] --mode idle|echo|download|static\n"
          "                  [--sessions N] [--duration S] [--warmup S] [--tls] [options]\n"
          "       rtmpt-load --backend PORT [--backend-mode echo|source|sink]\n"
          "\n"
          "Client (one keep-alive connection and one request in flight per session):\n"
          "  --url URL             server; RTMPT paths are appended to its path (default none)\n"
          "  --mode MODE           idle: back-to-back /idle polls; echo: /send of --payload bytes\n"
          "                        to an echoing backend; download: /idle polls while the backend\n"
          "                        streams; static: plain POST / to a plain HTTP server\n"
          "  --sessions N          sessions (connections) at once (default 100)\n"
          "  --duration S          measured window, seconds (default 5)\n"
          "  --warmup S            run this long before measuring (default 1)\n"
          "  --payload BYTES       echo: body of each /send (default 1024)\n"
          "  --window BYTES        echo: most bytes sent and not yet echoed; past it the session\n"
          "                        polls with /idle instead (default 4 x payload)\n"
          "  --seq-base N          sequence number of the first request after /open (default 0)\n"
          "  --static-get          static: GET / with no body instead of POST / with one byte\n"
          "  --static-path PATH    static: the request target (default: the --url path and /)\n"
          "  --new-connection-per-request\n"
          "                        static: close the connection after each reply and open a new\n"
          "                        one for the next request (with --tls: one handshake each)\n"
          "  --tls                 TLS on every connection (RTMPTS; HTTPS in static mode): a full\n"
          "                        handshake, no resumption, the certificate not verified;\n"
          "                        an https:// --url means the same\n"
          "  --sni NAME            server name sent in the handshake (default localhost;\n"
          "                        \"\" sends none)\n"
          "  --timeout S           a reply not complete after S seconds is an error (default 5)\n"
          "  --open-timeout S      longest opening phase, seconds (default 30)\n"
          "  --open-concurrency N  sessions opening at once in the opening phase (default 256)\n"
          "  --no-verify           do not check backend bytes against the pattern\n"
          "  --cpu-pid PID         report that process's CPU use over the window; the first one\n"
          "                        given is the server (cpu_srv); up to 8\n"
          "\n"
          "Backend (listens on 127.0.0.1:PORT until SIGINT/SIGTERM):\n"
          "  --backend PORT\n"
          "  --backend-mode M      echo: send back what is received; source: stream the bytes\n"
          "                        offset %% 251 as fast as the socket takes them; sink: discard\n"
          "                        (default echo)\n"
          "\n"
          "The last line printed is\n"
          "  result: mode= sessions= req_s= down_Bps= up_Bps= bytes_per_reply= p50_us= p99_us= errors= cpu_srv=\n"
          "          handshakes= handshakes_s=\n"
          "(down_Bps: backend bytes received in reply bodies per second, polling bytes excluded;\n"
          "up_Bps: /send payload bytes per second; bytes_per_reply: mean reply body size;\n"
          "cpu_srv: -1.0 without --cpu-pid; handshakes: TLS handshakes completed in the window,\n"
          "0 without --tls).\n",
          f);
}

static double parse_num(const char *opt, const char *v, double lo, double hi)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || d < lo || d > hi)
        die("bad value for %s: %s", opt, v);
    return d;
}

int main(int argc, char **argv)
{
    enum {
        OPT_URL = 256, OPT_SESSIONS, OPT_DURATION, OPT_WARMUP, OPT_MODE, OPT_PAYLOAD, OPT_WINDOW,
        OPT_SEQ_BASE, OPT_STATIC_GET, OPT_TIMEOUT, OPT_OPEN_TIMEOUT, OPT_OPEN_CONC, OPT_NO_VERIFY,
        OPT_CPU_PID, OPT_BACKEND, OPT_BACKEND_MODE, OPT_TLS, OPT_SNI, OPT_NEW_CONN, OPT_STATIC_PATH, OPT_HELP
    };
    static const struct option longopts[] = {
        {"url", required_argument, 0, OPT_URL},
        {"sessions", required_argument, 0, OPT_SESSIONS},
        {"duration", required_argument, 0, OPT_DURATION},
        {"warmup", required_argument, 0, OPT_WARMUP},
        {"mode", required_argument, 0, OPT_MODE},
        {"payload", required_argument, 0, OPT_PAYLOAD},
        {"window", required_argument, 0, OPT_WINDOW},
        {"seq-base", required_argument, 0, OPT_SEQ_BASE},
        {"static-get", no_argument, 0, OPT_STATIC_GET},
        {"timeout", required_argument, 0, OPT_TIMEOUT},
        {"open-timeout", required_argument, 0, OPT_OPEN_TIMEOUT},
        {"open-concurrency", required_argument, 0, OPT_OPEN_CONC},
        {"no-verify", no_argument, 0, OPT_NO_VERIFY},
        {"cpu-pid", required_argument, 0, OPT_CPU_PID},
        {"backend", required_argument, 0, OPT_BACKEND},
        {"backend-mode", required_argument, 0, OPT_BACKEND_MODE},
        {"tls", no_argument, 0, OPT_TLS},
        {"sni", required_argument, 0, OPT_SNI},
        {"new-connection-per-request", no_argument, 0, OPT_NEW_CONN},
        {"static-path", required_argument, 0, OPT_STATIC_PATH},
        {"help", no_argument, 0, OPT_HELP},
        {0, 0, 0, 0},
    };
    const char *url = NULL;
    int backend_port = -1;
    enum bmode bmode = B_ECHO;
    O.mode = M_IDLE;
    O.sessions = 100;
    O.duration = 5;
    O.warmup = 1;
    O.timeout = 5;
    O.open_timeout = 30;
    O.payload = 1024;
    O.open_concurrency = 256;
    O.verify = 1;
    snprintf(O.sni, sizeof O.sni, "localhost");
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_URL: url = optarg; break;
        case OPT_SESSIONS: O.sessions = (int)parse_num("--sessions", optarg, 1, 1000000); break;
        case OPT_DURATION: O.duration = parse_num("--duration", optarg, 0.1, 86400); break;
        case OPT_WARMUP: O.warmup = parse_num("--warmup", optarg, 0, 86400); break;
        case OPT_MODE:
            if (!strcmp(optarg, "idle")) O.mode = M_IDLE;
            else if (!strcmp(optarg, "echo")) O.mode = M_ECHO;
            else if (!strcmp(optarg, "download")) O.mode = M_DOWNLOAD;
            else if (!strcmp(optarg, "static")) O.mode = M_STATIC;
            else die("bad --mode %s", optarg);
            break;
        case OPT_PAYLOAD: O.payload = (size_t)parse_num("--payload", optarg, 1, MAX_PAYLOAD); break;
        case OPT_WINDOW: O.window = (size_t)parse_num("--window", optarg, 1, 1e12); break;
        case OPT_SEQ_BASE: O.seq_base = (uint64_t)parse_num("--seq-base", optarg, 0, 1e15); break;
        case OPT_STATIC_GET: O.static_get = 1; break;
        case OPT_TIMEOUT: O.timeout = parse_num("--timeout", optarg, 0.001, 86400); break;
        case OPT_OPEN_TIMEOUT: O.open_timeout = parse_num("--open-timeout", optarg, 0.001, 86400); break;
        case OPT_OPEN_CONC: O.open_concurrency = (int)parse_num("--open-concurrency", optarg, 1, 1e6); break;
        case OPT_NO_VERIFY: O.verify = 0; break;
        case OPT_CPU_PID:
            if (O.n_cpu_pids == MAX_CPU_PIDS)
                die("at most %d --cpu-pid", MAX_CPU_PIDS);
            O.cpu_pids[O.n_cpu_pids++] = (int)parse_num("--cpu-pid", optarg, 1, 1e9);
            break;
        case OPT_BACKEND: backend_port = (int)parse_num("--backend", optarg, 1, 65535); break;
        case OPT_BACKEND_MODE:
            if (!strcmp(optarg, "echo")) bmode = B_ECHO;
            else if (!strcmp(optarg, "source")) bmode = B_SOURCE;
            else if (!strcmp(optarg, "sink")) bmode = B_SINK;
            else die("bad --backend-mode %s", optarg);
            break;
        case OPT_TLS: O.tls = 1; break;
        case OPT_SNI:
            if (strlen(optarg) >= sizeof O.sni)
                die("--sni too long");
            snprintf(O.sni, sizeof O.sni, "%s", optarg);
            break;
        case OPT_NEW_CONN: O.new_conn = 1; break;
        case OPT_STATIC_PATH:
            if (optarg[0] != '/' || strlen(optarg) > PATH_PREFIX_MAX || strpbrk(optarg, " \r\n"))
                die("bad --static-path %s (an absolute path, at most %d bytes, no spaces)", optarg, PATH_PREFIX_MAX);
            snprintf(O.static_path, sizeof O.static_path, "%s", optarg);
            break;
        case 'h':
        case OPT_HELP: usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc)
        die("unexpected argument %s", argv[optind]);

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();

    if (backend_port > 0)
        return run_backend(backend_port, bmode);
    if (!url) {
        usage(stderr);
        return 2;
    }
    parse_url(url);
    if (O.new_conn && O.mode != M_STATIC)
        die("--new-connection-per-request needs --mode static (an RTMPT session keeps its connection)");
    if (O.tls) {
        g_ssl_ctx = SSL_CTX_new(TLS_client_method());
        if (!g_ssl_ctx)
            die("cannot create a TLS context: %s", tls_error("out of memory"));
        /* A benchmark client: no certificate verification, and every connection a full handshake
         * (no session cache, so no resumption). */
        SSL_CTX_set_verify(g_ssl_ctx, SSL_VERIFY_NONE, NULL);
        SSL_CTX_set_cert_verify_callback(g_ssl_ctx, accept_any_chain, NULL);
        SSL_CTX_set_session_cache_mode(g_ssl_ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_min_proto_version(g_ssl_ctx, TLS1_2_VERSION);
        SSL_CTX_set_options(g_ssl_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
        SSL_CTX_set_mode(g_ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    }
    if (!O.window)
        O.window = 4 * O.payload;
    if (O.window < O.payload)
        die("--window must be at least --payload");
    make_pattern(O.payload > RBUF_SIZE ? O.payload : RBUF_SIZE);
    g_rbuf = malloc(RBUF_SIZE);
    S = calloc((size_t)O.sessions, sizeof *S);
    if (!g_rbuf || !S)
        die("out of memory");
    for (int i = 0; i < O.sessions; i++) {
        S[i].fd = -1;
        S[i].out = malloc(1024 + O.payload);
        if (!S[i].out)
            die("out of memory");
    }
    g_ep = epoll_create1(EPOLL_CLOEXEC);
    if (g_ep < 0)
        die("epoll_create1: %s", strerror(errno));

    printf("rtmpt-load: mode=%s sessions=%d url=%s warmup=%gs duration=%gs", mode_names[O.mode], O.sessions, url,
           O.warmup, O.duration);
    if (O.mode == M_ECHO)
        printf(" payload=%zu window=%zu", O.payload, O.window);
    if (O.tls)
        printf(" tls sni=%s", O.sni[0] ? O.sni : "(none)");
    if (O.new_conn)
        printf(" new-connection-per-request");
    printf("\n");
    fflush(stdout);

    uint64_t t0 = now_us(), t_phase = t0, t_scan = 0;
    uint64_t t_measure = 0, t_end = 0;
    struct cpu_snap c0, c1;
    memset(&c0, 0, sizeof c0);
    memset(&c1, 0, sizeof c1);
    g_phase = P_OPEN;
    struct epoll_event evs[MAX_EVENTS];
    const uint64_t timeout_us = (uint64_t)(O.timeout * 1e6);

    while (g_phase != P_DONE) {
        uint64_t t = now_us();
        if (g_stop) {
            fprintf(stderr, "rtmpt-load: interrupted\n");
            if (g_phase != P_MEASURE)
                return 1;
            t_end = t;
            cpu_snap_take(&c1);
            g_phase = P_DONE;
            break;
        }
        /* Opening phase: start sessions, at most open_concurrency opening at once. */
        if (g_phase == P_OPEN) {
            while (g_started < O.sessions && g_opening < O.open_concurrency)
                sess_start(&S[g_started++]);
            if (g_started == O.sessions && g_opening == 0) {
                int ready = 0;
                for (int i = 0; i < O.sessions; i++)
                    ready += S[i].fd >= 0 && (S[i].sid_len > 0 || O.mode == M_STATIC);
                printf("%s %d/%d sessions in %.2f s (%" PRIu64 " failed)\n",
                       O.mode == M_STATIC ? "connected" : "opened", ready, O.sessions, (double)(t - t0) / 1e6,
                       O.mode == M_STATIC ? g_errors : g_open_fail);
                fflush(stdout);
                g_phase = P_WARMUP;
                t_phase = t;
            } else if (t - t0 > (uint64_t)(O.open_timeout * 1e6)) {
                printf("opening phase timed out: %" PRIu64 " opened, %d still opening\n", g_opened, g_opening);
                fflush(stdout);
                for (int i = 0; i < O.sessions; i++) {
                    if (S[i].opening) {
                        S[i].opening = 0;
                        g_opening--;
                    }
                }
                g_phase = P_WARMUP;
                t_phase = t;
            }
        }
        if (g_phase == P_WARMUP && t - t_phase >= (uint64_t)(O.warmup * 1e6)) {
            g_phase = P_MEASURE;
            t_measure = t;
            cpu_snap_take(&c0);
        }
        if (g_phase == P_MEASURE && t - t_measure >= (uint64_t)(O.duration * 1e6)) {
            t_end = t;
            cpu_snap_take(&c1);
            g_phase = P_DONE;
            break;
        }
        /* Every 20 ms: request timeouts, and restarts of failed sessions. */
        if (t - t_scan >= 20000) {
            t_scan = t;
            for (int i = 0; i < g_started; i++) {
                struct sess *s = &S[i];
                if (s->fd >= 0 && s->req != R_NONE && t > s->t_req && t - s->t_req > timeout_us)
                    sess_fail(s, "no complete reply after %g s (%s)", O.timeout,
                              !s->tcp_up ? "connecting" : !s->connected ? "in the TLS handshake" :
                              s->out_off < s->out_len ? "writing" :
                              s->in_body ? "in body" : s->head_len ? "in head" : "waiting");
                else if (s->fd < 0 && t >= s->restart_at)
                    sess_start(s);
            }
        }
        int n = epoll_wait(g_ep, evs, MAX_EVENTS, 10);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait: %s", strerror(errno));
        }
        for (int i = 0; i < n; i++) {
            struct sess *s = &S[evs[i].data.u64 & 0xffffffffu];
            if (s->fd < 0 || s->gen != (uint32_t)(evs[i].data.u64 >> 32))
                continue; /* stale: that connection is gone */
            sess_event(s, evs[i].events);
        }
    }

    double win = (double)(t_end - t_measure) / 1e6;
    if (win <= 0)
        win = 1e-9;
    double req_s = (double)w_replies / win;
    double cpu_srv = O.n_cpu_pids ? cpu_pct(c0.pid[0], c1.pid[0], win) : -1.0;
    double bpr = w_replies ? (double)w_body / (double)w_replies : 0.0;
    uint64_t p50 = hist_percentile(50), p90 = hist_percentile(90), p99 = hist_percentile(99),
             p999 = hist_percentile(99.9);

    printf("window %.2f s: %" PRIu64 " replies (%.0f/s): %" PRIu64 " sends, %" PRIu64 " idles\n", win, w_replies,
           req_s, w_sends, w_idles);
    printf("bytes: down %" PRIu64 " (%.1f MB/s), up %" PRIu64 " (%.1f MB/s), %.1f body bytes per reply\n", w_down,
           (double)w_down / win / 1e6, w_up, (double)w_up / win / 1e6, bpr);
    printf("latency us: p50 %" PRIu64 "  p90 %" PRIu64 "  p99 %" PRIu64 "  p99.9 %" PRIu64 "  max %" PRIu64 "\n", p50,
           p90, p99, p999, g_hist_max);
    if (O.mode != M_STATIC)
        printf("sessions: %" PRIu64 " opened, %" PRIu64 " opens failed; ", g_opened, g_open_fail);
    printf("%" PRIu64 " reconnects (%" PRIu64 " connections closed by the server after a reply)\n", g_reconnects,
           g_closed_by_server);
    if (O.new_conn || O.tls)
        printf("connections: %" PRIu64 " new in the window (%.0f/s)\n", w_connects, (double)w_connects / win);
    if (O.tls)
        printf("tls: %" PRIu64 " handshakes in the window (%.0f/s); %" PRIu64 " over the run, %" PRIu64 " failed\n",
               w_handshakes, (double)w_handshakes / win, g_handshakes, g_hs_failed);
    printf("errors: %" PRIu64 " over the whole run\n", g_errors);
    /* CPU not used by this process or the --cpu-pid ones: other jobs on the machine, which make
     * the figures of this run doubtful.  (A process's time includes the interrupt time spent on its
     * behalf, so this is busy time less theirs; a few percent is counting noise.) */
    double self_pct = cpu_pct(c0.self, c1.self, win);
    double other = cpu_pct(c0.busy, c1.busy, win) - self_pct;
    printf("cpu: load generator %.1f%%", self_pct);
    for (int i = 0; i < O.n_cpu_pids; i++) {
        double v = cpu_pct(c0.pid[i], c1.pid[i], win);
        printf(", %s %d %.1f%%", i == 0 ? "server pid" : "pid", O.cpu_pids[i], v);
        other -= v > 0 ? v : 0;
    }
    printf("\n");
    if (c0.busy >= 0 && c1.busy >= 0)
        printf("cpu: machine busy %.1f%% of %ld00%%; other: %.1f%%\n", cpu_pct(c0.busy, c1.busy, win),
               sysconf(_SC_NPROCESSORS_ONLN), other > 0 ? other : 0.0);
    printf("result: mode=%s sessions=%d req_s=%.0f down_Bps=%.0f up_Bps=%.0f bytes_per_reply=%.0f p50_us=%" PRIu64
           " p99_us=%" PRIu64 " errors=%" PRIu64 " cpu_srv=%.1f handshakes=%" PRIu64 " handshakes_s=%.0f\n",
           mode_names[O.mode], O.sessions, req_s, (double)w_down / win, (double)w_up / win, bpr, p50, p99, g_errors,
           cpu_srv, w_handshakes, (double)w_handshakes / win);
    fflush(stdout);
    return g_errors ? 1 : 0;
}
