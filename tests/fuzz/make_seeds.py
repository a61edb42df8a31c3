#!/usr/bin/env python3
"""Writes the seed corpora of fuzz_request, fuzz_gateway and fuzz_proxy_header.

corpus/request: what one client connection sends, byte for byte. Each file is one connection's
bytes, as the clients in /work/shared/rtmpt-reference.md send them (header spellings of librtmp,
ffmpeg and Flash; pipelining, reordering, retries, the Red5 base of 1, a close without a number),
plus the edge cases the gateway must refuse or handle (HTTP/1.0, Connection: close, chunked
bodies, Upgrade, oversized bodies, a GET).

corpus/gateway: scripts for fuzz_gateway (the format is at the top of fuzz_gateway.cpp): the same
clients against the real gateway, plus what only a running gateway has: several connections,
idle holds, backend data, backpressure both ways, half-closes, resets and timeouts.

corpus/proxy_header: the first bytes of a connection behind a load balancer: PROXY protocol v1
lines and v2 headers as HAProxy, nginx and cloud balancers send them (every family, LOCAL health
checks, TLVs), then the connection's own bytes; plus the broken headers the parser must refuse.

The files are checked in; run this again after changing it:  python3 tests/fuzz/make_seeds.py
"""
import base64
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "request")

# The id fuzz_request's model gives its first /open/1 (16 zero bytes, base64url); any
# well-formed id works too, the model takes it as a session opened earlier.
SID = "AAAAAAAAAAAAAAAAAAAAAA"
SID2 = "Hk3vQ9x_2mPpL-7aZcRtWw"

rng = random.Random(1935)


def rtmp_c0c1():
    # C0 (version 3), C1: time, zero, 1528 random bytes.
    return b"\x03" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00" + bytes(rng.randrange(256) for _ in range(1528))


def rtmp_c2_and_connect():
    c2 = bytes(rng.randrange(256) for _ in range(1536))
    # A chunk type 0 header on csid 3 carrying an AMF0 "connect" command, cut short: the gateway
    # relays bytes and never looks inside them.
    amf = b"\x02\x00\x07connect\x00\x3f\xf0\x00\x00\x00\x00\x00\x00\x03\x00\x03app\x02\x00\x04live\x00\x00\x09"
    header = b"\x03\x00\x00\x00" + len(amf).to_bytes(3, "big") + b"\x14\x00\x00\x00\x00"
    return c2 + header + amf


def librtmp(path, body):
    # librtmp's HTTP_Post: its own header order and spelling (Content-type, Content-length).
    return (
        f"POST {path} HTTP/1.1\r\n"
        "Host: 127.0.0.1:80\r\n"
        "Accept: */*\r\n"
        "User-Agent: Shockwave Flash\r\n"
        "Connection: Keep-Alive\r\n"
        "Cache-Control: no-cache\r\n"
        "Content-type: application/x-fcs\r\n"
        f"Content-length: {len(body)}\r\n\r\n"
    ).encode() + body


def ffmpeg(path, body):
    return (
        f"POST {path} HTTP/1.1\r\n"
        "User-Agent: Lavf/59.27.100\r\n"
        "Accept: */*\r\n"
        "Connection: keep-alive\r\n"
        "Host: 127.0.0.1\r\n"
        "Icy-MetaData: 1\r\n"
        "Content-type: application/x-fcs\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def flash(path, body, repeat_headers=False):
    # A browser's HTTP stack on behalf of Flash Player; 10.3 was seen repeating headers.
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: media.example.org",
        "User-Agent: Mozilla/5.0 (Windows NT 6.1; rv:5.0) Gecko/20100101 Firefox/5.0",
        "Accept: */*",
        "Accept-Language: en-us,en;q=0.5",
        "Referer: http://www.example.org/player.swf",
        "x-flash-version: 10,3,183,7",
        "Content-Type: application/x-fcs",
        f"Content-Length: {len(body)}",
        "Connection: keep-alive",
        "Pragma: no-cache",
        "Cache-Control: no-cache",
    ]
    if repeat_headers:
        lines += ["User-Agent: Shockwave Flash", "Connection: Keep-Alive", "Content-Type: application/x-fcs"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def minimal(path, body=b"\x00", version="HTTP/1.1", headers=()):
    head = [f"POST {path} {version}", "Host: a"] + list(headers)
    if not any(h.lower().startswith(("content-length", "transfer-encoding")) for h in headers):
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


Z = b"\x00"
seeds = {}

# rtmpdump: open, handshake, connect, then pipelined idles and a close it never reads.
seeds["librtmp_play"] = b"".join([
    librtmp("/open/1", Z),
    librtmp(f"/send/{SID}/0", rtmp_c0c1()),
    librtmp(f"/send/{SID}/1", rtmp_c2_and_connect()),
    librtmp(f"/idle/{SID}/2", Z),
    librtmp(f"/send/{SID}/3", b"\x43\x00\x00\x00\x00\x00\x05\x14play\x00"),
    librtmp(f"/idle/{SID}/4", Z),
    librtmp(f"/idle/{SID}/5", Z),
    librtmp(f"/close/{SID}/6", Z),
])
seeds["librtmp_short"] = b"".join([
    librtmp("/open/1", Z),
    librtmp(f"/idle/{SID}/0", Z),
    librtmp(f"/send/{SID}/1", b"\x03" * 17),
    librtmp(f"/idle/{SID}/2", Z),
])

# ffmpeg: strictly one at a time on a keep-alive connection; its stream is the same concatenation.
seeds["ffmpeg_publish"] = b"".join([
    ffmpeg("/open/1", Z),
    ffmpeg(f"/send/{SID}/0", b"\x03" + b"\x00" * 8 + bytes(range(256)) * 2),
    ffmpeg(f"/idle/{SID}/1", Z),
    ffmpeg(f"/send/{SID}/2", b"\x02\x00\x00\x00\x00\x00\x04\x01\x00\x00\x00\x00\x00\x00\x10\x00"),
    ffmpeg(f"/idle/{SID}/3", Z),
    ffmpeg(f"/close/{SID}/4", Z),
])

# Flash: out of order (as if from several connections), a retry of an applied number, repeated headers.
seeds["flash_reordered"] = b"".join([
    flash(f"/send/{SID2}/0", b"\x03" + b"\x01" * 40),
    flash(f"/idle/{SID2}/2", Z),
    flash(f"/send/{SID2}/1", b"\x07" * 12, repeat_headers=True),
    flash(f"/idle/{SID2}/1", Z),
    flash(f"/idle/{SID2}/4", Z),
    flash(f"/idle/{SID2}/3", Z),
    flash(f"/idle/{SID2}/3", Z),
])
# Flash's first two requests overtake each other: seq 1 (an idle) arrives before seq 0 (the handshake).
seeds["flash_start_reordered"] = b"".join([
    flash("/open/1", Z),
    flash(f"/idle/{SID}/1", Z),
    flash(f"/send/{SID}/0", b"\x03" + b"\x02" * 40),
    flash(f"/idle/{SID}/2", Z),
])
seeds["flash_ident2"] = flash("/fcs/ident2", Z) + flash("/open/1", Z) + flash(f"/idle/{SID}/0?nocache=0.3141", Z)

# Red5's Java client starts at 1; HaishinKit and RootEncoder close without a number, RootEncoder
# sends empty bodies.
seeds["red5_base1"] = b"".join(minimal(f"/idle/{SID2}/{n}") for n in (1, 2, 3)) + minimal(f"/close/{SID2}/4")
# In the model an /fcs/ident2 is time passing: the wait for a 0 ends, the numbers start at 1, a late
# 0 is refused, and the window reaches its upper edge from 1.
seeds["red5_base1_settled"] = b"".join([
    minimal(f"/send/{SID2}/1", b"\x03" + b"\x05" * 16),
    minimal("/fcs/ident2"),
    minimal(f"/send/{SID2}/0", b"late"),
    *(minimal(f"/idle/{SID2}/{n}") for n in (2, 3, 9, 10, 4)),
    minimal(f"/idle/{SID2}/2"),
])
seeds["haishinkit_close"] = b"".join([
    minimal("/open/1", b""),
    minimal(f"/send/{SID}/0", b"\x03\x00"),
    minimal(f"/send/{SID}/2", b"\x05"),
    minimal(f"/close/{SID}", b""),
    minimal(f"/idle/{SID}/1", b""),
])

# The polling byte's back-off: many empty idles in a row, then data.
seeds["idle_backoff"] = b"".join(minimal(f"/idle/{SID}/{n}") for n in range(16)) + minimal(f"/send/{SID}/16", b"xyz") + minimal(f"/idle/{SID}/17")

# Pipelined past the connection's in-flight limit (8): the parser pauses and resumes.
seeds["pipeline_deep"] = b"".join(minimal(f"/idle/{SID}/{n}") for n in range(11))

# A number beyond the window ends the session; later requests get 404.
seeds["out_of_window"] = minimal(f"/idle/{SID}/0") + minimal(f"/idle/{SID}/20") + minimal(f"/idle/{SID}/1")
seeds["bad_first_seq"] = minimal(f"/send/{SID}/7", b"x") + minimal("/open/1") + minimal("/open/1")

# HTTP edge cases.
seeds["http10_last"] = minimal(f"/idle/{SID}/0", version="HTTP/1.0") + minimal(f"/idle/{SID}/1")
seeds["connection_close"] = minimal("/open/1", headers=["Connection: close"]) + minimal("/open/1")
seeds["chunked_send"] = minimal(f"/send/{SID}/0", b"5\r\nhello\r\n3\r\n\x03\x00\x01\r\n0\r\n\r\n",
                                headers=["Transfer-Encoding: chunked"]) + minimal(f"/idle/{SID}/1")
seeds["get_then_post"] = b"GET /open/1 HTTP/1.1\r\nHost: a\r\n\r\n" + minimal("/open/1")
seeds["upgrade"] = b"POST /open/1 HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 1\r\n\r\n\x00"
seeds["body_too_large"] = b"POST /send/x/0 HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999\r\n\r\n"
seeds["malformed"] = minimal("/open/1") + b"POST /idle/x/0 HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n\x00"
seeds["paths"] = b"".join(minimal(p) for p in [
    "/open/2", "/open/1/", "/send/x", f"/send/{SID}/1/", "/close/abc/", "/idle/a.b/1",
    "/send/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/0", "/send/x/18446744073709551", "/close/x/9999999999999999999",
])

# Native RTMP on the same port: a first byte that is RTMP's C0 (0x03, or RTMPE's 0x06) makes the
# connection a relay, never parsed as HTTP; a tab (0x09, RTMPE's Blowfish C0) before a request too.
seeds["native_rtmp"] = rtmp_c0c1() + rtmp_c2_and_connect()
seeds["native_rtmpe"] = b"\x06" + bytes(rng.randrange(256) for _ in range(1536))
seeds["native_tab"] = b"\x09" + minimal("/open/1")
# The longest ids a route carries (40: a 16-character tag, its dot, a worker's digit and 22 random
# characters), and one character more.
seeds["longest_ids"] = b"".join([
    minimal("/open/1"),
    minimal(f"/send/{'t' * 16}.B{SID}/0", b"\x03"),
    minimal(f"/idle/{'a' * 40}/0"),
    minimal(f"/idle/{'a' * 41}/1"),
    minimal(f"/close/{'t' * 16}.BB{SID}"),
])

os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(OUT, name + ".http"), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {os.path.relpath(OUT)}")


# ---------------------------------------------------------------------------------------------
# fuzz_gateway: a config byte, then actions separated by "\n|".

GW_OUT = os.path.join(HERE, "corpus", "gateway")
IDLE_HOLD, BYTE_CAP, IDENT2, NO_ECHO, PER_CLIENT, LIFETIME, KEEP_LIVE, WORKER1_FIRST = 1, 2, 4, 8, 16, 32, 64, 128
WORKER_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def sid(n, worker):
    # The driver's n-th session id of an input, made by `worker` (0 or 1): the worker's digit, then
    # 16 bytes of n in base64url (proto::format_session_id).
    random = bytearray([n & 0xFF] * 16)
    random[-1] ^= (n >> 8) & 0xFF
    return WORKER_DIGITS[worker] + base64.urlsafe_b64encode(bytes(random)).rstrip(b"=").decode()


# Connections without a worker byte ("n", "n\x01") go to the workers in turn: the first (made by
# the first action that sends) to worker 0, the second to worker 1, and so on.
A = sid(0, 0)  # the first session of an input, opened on its first connection


def gw(flags, *actions):
    return bytes([flags]) + b"\n|".join(actions)


def raw(data):
    # "$S" and "$N" are the latest session's id and next number, filled in by the driver.
    return b"c" + data


def repeat(times, data):
    return b"C" + bytes([times - 1]) + data


def rtmp_bytes(n, salt):
    # Native RTMP bytes for a script: no "\n" (it could end the action) and no "$" (a substitution).
    out = bytearray()
    i = 0
    while len(out) < n:
        b = (salt * 131 + i * 7 + (i >> 8)) & 0xFF
        i += 1
        if b not in (0x0A, 0x24):
            out.append(b)
    return bytes(out)


# A native client's handshake (C0 and C1, 1537 bytes: its handshake deadline's amount) and a
# server's answer (S0, S1, S2).
C0C1 = b"\x03" + b"\x00" * 8 + rtmp_bytes(1528, 1)
S0S1S2 = b"\x03" + b"\x00" * 8 + rtmp_bytes(3064, 2)
B = sid(1, 1)  # the second session of an input, when the second connection opens it


gw_seeds = {}

# rtmpdump's order on one connection, the backend answering the connect.
gw_seeds["librtmp_play"] = gw(0,
    raw(librtmp("/open/1", Z)),
    raw(librtmp("/send/$S/$N", b"\x03" + bytes(range(48)))),
    raw(librtmp("/idle/$S/$N", Z) + librtmp("/idle/$S/$N", Z)),
    b"b\x03\x00\x00\x00\x00\x00\x05\x14\x00\x00\x00\x00_result",
    raw(librtmp("/idle/$S/$N", Z)),
    raw(librtmp("/close/$S/$N", Z)))
# ffmpeg one request at a time, written by the driver.
gw_seeds["ffmpeg_steps"] = gw(0, b"o", b"s\x03" + bytes(range(40)), b"i", b"B\x00", b"i", b"i", b"k")
# Flash: out of order over two connections, then a retry answered from the reply cache.
gw_seeds["reordered"] = gw(0,
    b"o",
    raw(minimal(f"/send/{A}/0", b"\x03abc")),
    b"n",
    raw(minimal(f"/idle/{A}/2") + minimal(f"/send/{A}/3", b"ghi")),
    b"u\x00",
    raw(minimal(f"/send/{A}/1", b"def")),
    raw(minimal(f"/send/{A}/1", b"def") + minimal(f"/idle/{A}/4")))
# Waiters on a missing number: retries pile up past the limit, then the gap fills.
gw_seeds["retries"] = gw(0,
    b"o",
    raw(minimal(f"/send/{A}/0", b"\x03")),
    raw(b"".join(minimal(f"/idle/{A}/2") for _ in range(6))),
    raw(minimal(f"/idle/{A}/1") + minimal(f"/idle/{A}/0")))
# Red5's base of 1, closes without a number, a number out of the window, a bad first number.
gw_seeds["sequence_edges"] = gw(0,
    b"o", raw(minimal("/idle/$S/1") + minimal("/idle/$S/2") + minimal("/close/$S")),
    b"o", raw(minimal("/idle/$S/0") + minimal("/idle/$S/30") + minimal("/idle/$S/1")),
    b"o", raw(minimal("/send/$S/5", b"x")))
# A first request numbered 1: a 0 on another connection before the wait for it ends (Flash), and
# a session whose wait ends (t fires the timer) so that its numbers start at 1 and a late 0 is refused.
gw_seeds["sequence_base_wait"] = gw(0,
    b"o",
    b"n",
    raw(minimal(f"/send/{A}/1", b"BBBB")),
    b"u\x00",
    raw(minimal(f"/send/{A}/0", b"\x03AAA") + minimal(f"/idle/{A}/2")),
    b"o",
    raw(minimal("/send/$S/1", b"\x03red5")),
    b"t\x20",
    raw(minimal("/send/$S/0", b"late") + minimal("/idle/$S/2") + minimal("/close/$S/3")))
# Idle holds: released by backend data, by a request on another connection, by their timer.
gw_seeds["idle_hold"] = gw(IDLE_HOLD,
    b"o", b"s\x03", b"i", b"bdata", b"i", b"n", b"i", b"t\x20", b"i", b"k")
# session.max_bytes: sends past the cap end the session.
gw_seeds["byte_cap"] = gw(BYTE_CAP, b"o", b"S\x10", b"i", b"S\x20", b"B\x10", b"i", b"i")
gw_seeds["ident2"] = gw(IDENT2,
    raw(flash("/fcs/ident2", Z) + minimal("/fcs/ident2?x=1")),
    raw(b"GET /fcs/ident2 HTTP/1.1\r\nHost: a\r\n\r\n"))
# A backend that speaks on its own, then echoes.
gw_seeds["backend_talks"] = gw(NO_ECHO, b"o", b"s\x03", b"bhello", b"i", b"e", b"sabc", b"i", b"i")
# Per-client and total session limits over three client addresses.
gw_seeds["session_limits"] = gw(PER_CLIENT,
    b"o", b"o", b"o", b"n\x01", b"o", b"o", b"o", b"n\x02", b"o", b"o", b"o")
# http.max_connections: the fifth connection is closed at accept.
gw_seeds["max_connections"] = gw(0, b"n", b"n", b"n", b"n", b"n", b"o", b"u\x00", b"o")
# The backend ends its stream with bytes still queued for the client, or resets.
gw_seeds["backend_halfclose"] = gw(0, b"o", b"s\x03", b"B\x04", b"f", b"i", b"i", b"i", b"i")
gw_seeds["backend_reset"] = gw(0, b"o", b"s\x03", b"bdata", b"r", b"i", b"i", b"s\x03")
# The backend stops reading: client sends wait for room, in order.
gw_seeds["backend_congested"] = gw(NO_ECHO,
    b"o", b"s\x03", b"q", b"S\x7f", b"S\x7f", b"S\x7f", b"S\x7f", b"i", b"q", b"i")
# The backend takes nothing for its write timeout: the session ends with sends waiting.
gw_seeds["backend_write_timeout"] = gw(NO_ECHO,
    b"o", b"s\x03", b"q", b"S\x7f", b"S\x7f", b"S\x7f", b"S\x7f", b"t\x10", b"i", b"i")
# A session ends (a number far out of the window) while the backend is not reading: its bytes
# linger, the backend ends its stream, then reads again.
gw_seeds["linger_slow_backend"] = gw(NO_ECHO,
    b"o", b"s\x03", b"q", b"S\x7f", b"S\x7f", b"S\x7f", raw(minimal("/idle/$S/40")), b"f", b"q")
# The client stops reading: replies pile up in the gateway and it stops reading requests.
gw_seeds["client_not_reading"] = gw(0,
    b"o", b"s\x03", b"B\xff", b"p", b"i", b"i", b"i", b"i", b"i", b"i", b"i", b"i", b"i", b"p", b"i")
# Pipelined requests, then a half-close: every reply still comes, the last says close.
gw_seeds["client_halfclose"] = gw(0, b"o", b"s\x03", repeat(10, minimal("/idle/$S/$N")), b"h")
gw_seeds["client_closes"] = gw(0, b"o", b"s\x03", b"bxyz", b"i", b"x", b"n", b"i", b"K")
# Time passes: a request cut inside its header, a client that reads nothing, backend timeouts.
gw_seeds["header_timeout"] = gw(0, b"o", raw(b"POST /idle/$S/0 HTTP/1.1\r\nHost: a\r\n"), b"t\x01")
gw_seeds["socket_timeouts"] = gw(0,
    b"o", b"s\x03", b"B\x08", b"p", b"i", b"i", b"t\x06", b"n", b"i", b"k", b"t\x18")
# The janitor's timeouts, each reached in turn: handshake (10 s), sequence gap (20 s), idle (30 s),
# lifetime (40 s).
gw_seeds["session_timeouts"] = gw(LIFETIME,
    b"o", b"o", b"s\x03", b"n", raw(minimal("/idle/$S/2")), b"u\x00", b"o", b"s\x03", b"i",
    b"t\x40\x0b", b"t\x40\x15", b"o", b"s\x03", b"t\x40\x1f", b"o", b"s\x03", b"i", b"t\x40\x29")
# The worker stops as on SIGTERM with an idle held and requests waiting on a gap; then an open.
gw_seeds["shutdown"] = gw(IDLE_HOLD,
    b"o", b"s\x03", b"i", b"n", raw(minimal("/idle/$S/4") + minimal("/close/$S")), b"t\x80", b"o", b"i")
# What the parser refuses, and what ends a connection after its reply.
gw_seeds["http_edges"] = gw(0,
    raw(minimal("/open/1", version="HTTP/1.0")),
    b"n", raw(minimal("/open/1", headers=["Connection: close"]) + minimal("/open/1")),
    b"n", raw(b"GET /open/1 HTTP/1.1\r\nHost: a\r\n\r\n" + minimal("/send/x/0") + minimal("/nothing")),
    b"n", raw(minimal("/open/1", headers=["Content-Length: 1", "Content-Length: 2"])))
gw_seeds["parser_limits"] = gw(0,
    b"o", b"S\xff",
    b"n", raw(b"POST /open/1 HTTP/1.1\r\nX-Pad: " + b"p" * 1100 + b"\r\n\r\n"),
    b"n", raw(b"POST /open/1 HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 1\r\n\r\n\x00"))
gw_seeds["chunked_too_large"] = gw(0,
    b"o", raw(b"POST /send/$S/$N HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"),
    repeat(40, b"100\r\n" + bytes(range(256)) + b"\r\n"))
gw_seeds["chunked_send"] = gw(0,
    b"o", raw(minimal("/send/$S/$N", b"5\r\nhello\r\n3\r\n\x03\x00\x01\r\n0\r\n\r\n",
                      headers=["Transfer-Encoding: chunked"])), b"i")
# Regression: the backend fills the queue to a client that is not polling. libevent 2.1.12 then
# called the backend's read callback on every loop turn: the worker spun at 100% CPU.
gw_seeds["backend_queue_full"] = gw(0, b"o", b"s\x03", b"B\x2f", b"i", b"i", b"i", b"i")
# Regression: a session closed before its backend connect completed dropped the sends it had
# already answered 200; they now linger until the connect completes and are written.
gw_seeds["close_before_connect"] = gw(0,
    raw(minimal("/open/1") + minimal(f"/send/{A}/0", b"\x03early") + minimal(f"/close/{A}/1")))
# A client that knows the next id (they are not random here) sends before the backend is up.
gw_seeds["send_before_connect"] = gw(0,
    raw(minimal("/open/1") + minimal(f"/send/{A}/0", b"\x03early") + minimal(f"/idle/{A}/1")), b"i")

# Native RTMP on the gateway's port (a connection whose first byte is RTMP's C0): a relay both
# ways, the handshake and a connect, the backend answering as told, then echoing.
gw_seeds["native_relay"] = gw(NO_ECHO,
    raw(C0C1), b"b" + S0S1S2, raw(rtmp_bytes(1536, 3) + b"\x03\x00\x00\x00\x00\x00\x20\x14"),
    b"b\x02\x00\x00\x00\x00\x00\x04\x05\x00\x4c\x4b\x40_result", b"e", raw(rtmp_bytes(300, 4)))
# Beside an RTMPT session on another connection: each its own backend; a tunnel request naming the
# relay's id is unknown.
gw_seeds["native_beside_rtmpt"] = gw(0,
    b"o", b"s\x03abc", b"n\x01", raw(C0C1), b"bS0", b"u\x00", b"w\x00", b"i",
    raw(minimal(f"/send/{B}/0", b"\x03x") + minimal(f"/close/{B}")), b"bdata", b"i",
    b"u\x01", b"w\x01", raw(rtmp_bytes(64, 5)), b"u\x00", b"w\x00", b"k")
# RTMPE's C0s, each on a connection of its own.
gw_seeds["native_rtmpe"] = gw(0,
    raw(b"\x06" + rtmp_bytes(1536, 6)), b"n\x01", raw(b"\x08" + rtmp_bytes(40, 7)),
    b"n\x02", raw(b"\x09POST /open/1 HTTP/1.1\r\nContent-Length: 1\r\n\r\n\x00"))
# session.max_bytes (3000), exact both ways: the backend's 3072 bytes stop at 3000; then another
# client's second send crosses it upstream.
gw_seeds["native_byte_cap"] = gw(NO_ECHO | BYTE_CAP,
    raw(C0C1), b"B\x0b", b"n\x01", raw(C0C1), b"b" + S0S1S2[:100], raw(rtmp_bytes(1600, 8)))
# The backend ends its stream while the client is not reading, past the queue: everything still
# reaches the client before its connection closes. Another backend resets mid-stream.
gw_seeds["native_backend_closes"] = gw(NO_ECHO,
    raw(C0C1), b"B\x07", b"p", b"B\x3f", b"f", b"p",
    b"n\x01", raw(C0C1), b"bS0S1", b"q", raw(rtmp_bytes(100, 9)), b"r")
# Backpressure both ways: the backend stops reading under 64 KiB, the client under 32 KiB.
gw_seeds["native_congested"] = gw(NO_ECHO,
    raw(C0C1), b"q", repeat(32, rtmp_bytes(2048, 10)), b"p", b"B\x7f", b"q", b"p")
# The client half-closes (its bytes still reach the backend), or closes.
gw_seeds["native_client_ends"] = gw(0, raw(C0C1), b"h", b"n\x01", raw(C0C1), b"bxyz", b"x")
# Admission: past max_sessions_per_client the connection is closed without a byte; a relay ends at
# the stop, and one after it is refused as draining.
gw_seeds["native_refused"] = gw(PER_CLIENT,
    b"o", b"o", b"n\x00", raw(C0C1), b"n\x01", raw(C0C1), b"t\x80", b"n\x02", raw(b"\x03"))
# The janitor: the handshake deadline (1 byte by 10 s), idle (no byte either way for 30 s),
# lifetime (40 s).
gw_seeds["native_timeouts"] = gw(LIFETIME,
    raw(b"\x03"), b"t\x40\x0b", b"n\x01", raw(C0C1), b"t\x40\x0b", b"t\x40\x1f",
    b"n\x02", raw(C0C1), b"bhello", b"t\x40\x29")
# A header timer fires before the first byte is read (the connection is refused or closed), then
# the client speaks RTMP, too late.
gw_seeds["native_after_header_timer"] = gw(0, b"n", b"p", b"t\x01", raw(C0C1), b"p")

# Two workers: a session's send, idle and close on the other worker's connections are handed over
# to it through its mailbox, and their replies come back in the connection's order.
A1 = sid(1, 1)  # the second session, when the second connection (worker 1) opens it
# Requests of a session opened on worker 0 arriving on a connection of worker 1, then back on its
# own; the backend answering in between.
gw_seeds["handover_basic"] = gw(0,
    b"o", b"n\x00\x01", b"s\x03hello", b"i", b"bdata", b"i", b"S\x02", b"u\x00", b"i", b"u\x01", b"i", b"k")
# One connection of worker 1 carrying, pipelined, requests for sessions of both workers with
# requests each worker answers itself (ident2, an open, an unknown path) between them.
gw_seeds["handover_pipelined"] = gw(IDENT2,
    b"o", b"n\x01\x01", b"o",
    raw(minimal(f"/send/{A}/0", b"\x03a") + minimal(f"/send/{A1}/0", b"\x03b") + minimal("/fcs/ident2") +
        minimal(f"/idle/{A}/1") + minimal("/open/1") + minimal(f"/idle/{A1}/1") + minimal("/nothing") +
        minimal(f"/send/{A}/2", b"c") + minimal(f"/close/{A1}/2") + minimal(f"/close/{A}")),
    b"u\x00", raw(minimal(f"/idle/{A}/9")))
# Handed-over requests that their session holds: an idle released by backend bytes, by a request
# on the owner's own connection, by its timer; then the owner stops alone while one is held.
gw_seeds["handover_held"] = gw(IDLE_HOLD | NO_ECHO,
    b"o", b"s\x03", b"n\x00\x01", b"i", b"bdata", b"i", b"u\x00", b"i", b"u\x01", b"i", b"t\x20",
    b"i", b"T\x00", b"i", b"u\x00", b"o")
# A held, handed-over idle whose connection is gone when its reply comes back.
gw_seeds["handover_client_gone"] = gw(IDLE_HOLD | NO_ECHO,
    b"o", b"s\x03", b"n\x00\x01", b"i", b"x", b"bdata", b"n\x00\x01", b"i", b"k")
# Worker 1 stops alone: its connections still carry requests for worker 0's sessions, and worker
# 0's connections reach worker 1's ended ones; opens on worker 1 are refused.
gw_seeds["handover_stop_alone"] = gw(0,
    b"o", b"s\x03", b"n\x00\x01", b"o", b"s\x03", b"T\x01", b"w\x00", b"i", b"o", b"u\x00", b"w\x01", b"i",
    b"w\x00", b"i", b"k")
# Out of order over connections of both workers, a retry from the reply cache, a gap the janitor
# times out.
gw_seeds["handover_reordered"] = gw(0,
    b"o", raw(minimal(f"/send/{A}/0", b"\x03abc")), b"n\x00\x01",
    raw(minimal(f"/idle/{A}/2") + minimal(f"/send/{A}/3", b"ghi")), b"u\x00",
    raw(minimal(f"/send/{A}/1", b"def")), b"u\x01", raw(minimal(f"/send/{A}/1", b"def") + minimal(f"/idle/{A}/4")),
    raw(minimal(f"/idle/{A}/9")), b"t\x40\x15", raw(minimal(f"/idle/{A}/5")))
# The process-wide limits over both workers: two sessions per client address whichever worker
# opens them, and http.max_connections counted over both.
gw_seeds["handover_limits"] = gw(PER_CLIENT,
    b"o", b"n\x00\x01", b"o", b"o", b"u\x00", b"o", b"n\x01\x01", b"o", b"n\x02\x00", b"n\x00\x01",
    b"o", b"u\x01", b"k")
# The input ends with sessions of both workers live, each holding an idle handed over from the
# other: the workers are destroyed so, one and then the other (in both orders). The first one's
# held request answers into the other's mailbox; the second's finds its worker gone.
gw_seeds["handover_keep_live"] = gw(IDLE_HOLD | NO_ECHO | KEEP_LIVE,
    b"o", b"s\x03", b"n\x00\x01", b"o", b"s\x03", b"w\x00", b"i", b"u\x00", b"w\x01", b"i")
gw_seeds["handover_keep_live_reversed"] = gw(IDLE_HOLD | NO_ECHO | KEEP_LIVE | WORKER1_FIRST,
    b"o", b"s\x03", b"n\x00\x01", b"o", b"s\x03", b"w\x00", b"i", b"u\x00", b"w\x01", b"i", b"n\x00\x01", b"o")

# Inputs the fuzzer itself found and that were checked in as they were: not written here, kept.
# native_after_http.gw: a native client (first byte 0x09) after an HTTP one, from before the driver
# knew native RTMP.
FOUND_BY_FUZZING = {"open_after_stop.gw", "parked_queue_full.gw", "native_after_http.gw"}

if os.path.isdir(GW_OUT):
    for old in os.listdir(GW_OUT):
        if old not in FOUND_BY_FUZZING:
            os.remove(os.path.join(GW_OUT, old))
os.makedirs(GW_OUT, exist_ok=True)
for name, data in gw_seeds.items():
    with open(os.path.join(GW_OUT, name + ".gw"), "wb") as f:
        f.write(data)
print(f"wrote {len(gw_seeds)} seeds to {os.path.relpath(GW_OUT)}")


# ---------------------------------------------------------------------------------------------
# fuzz_proxy_header: a PROXY protocol header, then what the connection itself sends.

PH_OUT = os.path.join(HERE, "corpus", "proxy_header")
V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2(ver_cmd, fam, body, length=None):
    return V2_SIG + bytes([ver_cmd, fam]) + (len(body) if length is None else length).to_bytes(2, "big") + body


def tlv(kind, value):
    return bytes([kind]) + len(value).to_bytes(2, "big") + value


def port(n):
    return n.to_bytes(2, "big")


INET = bytes([192, 0, 2, 1, 198, 51, 100, 2]) + port(51000) + port(1935)
V6_SRC = bytes.fromhex("20010db8000000000000000000000001")
V6_DST = bytes.fromhex("20010db8000000000000000000000002")
INET6 = V6_SRC + V6_DST + port(51000) + port(443)
MAPPED = bytes(10) + b"\xff\xff" + bytes([192, 0, 2, 1])
UNIX = b"/run/haproxy.sock".ljust(108, b"\x00") + b"/run/rtmpt.sock".ljust(108, b"\x00")
# What follows the header: an RTMPT request, or a native RTMP client's C0 and the start of C1.
AFTER = minimal("/open/1")
RTMP = b"\x03" + bytes(8) + bytes(range(32))
# HAProxy's send-proxy-v2-ssl: ALPN, authority, an SSL TLV with its version and cipher, a unique id.
SSL = tlv(0x20, b"\x01" + bytes(4) + tlv(0x21, b"TLSv1.3") + tlv(0x23, b"TLS_AES_128_GCM_SHA256"))

ph_seeds = {
    # Version 1, as HAProxy's send-proxy and nginx's proxy_protocol write it.
    "v1_tcp4": b"PROXY TCP4 192.0.2.1 198.51.100.2 51000 1935\r\n" + AFTER,
    "v1_tcp6": b"PROXY TCP6 2001:db8::1 2001:db8::2 51000 443\r\n" + RTMP,
    "v1_tcp6_mapped": b"PROXY TCP6 ::ffff:192.0.2.1 2001:db8::2 0 65535\r\n",
    "v1_unknown": b"PROXY UNKNOWN\r\n" + AFTER,
    "v1_unknown_addresses": b"PROXY UNKNOWN 192.0.2.1 198.51.100.2 51000 1935\r\n",
    "v1_longest": b"PROXY TCP6 " + b" ".join([b"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"] * 2) + b" 65535 65535\r\n",
    "v1_107": b"PROXY UNKNOWN " + b"x" * 91 + b"\r\n",
    "v1_no_end": b"PROXY TCP4 192.0.2.1 198.51.100.2 51000 1935" + b" " * 70,
    "v1_no_cr": b"PROXY TCP4 192.0.2.1 198.51.100.2 51000 1935\n",
    "v1_bad_fields": b"PROXY TCP4 2001:db8::1 198.51.100.2 051000 1935 9\r\n",
    # Version 2: every family, LOCAL, TLVs.
    "v2_inet": v2(0x21, 0x11, INET) + AFTER,
    "v2_inet6": v2(0x21, 0x21, INET6) + RTMP,
    "v2_inet6_mapped": v2(0x21, 0x21, V6_SRC + MAPPED + port(1) + port(2)),
    "v2_unix": v2(0x21, 0x31, UNIX),
    "v2_unspec": v2(0x21, 0x00, b"") + AFTER,
    "v2_local": v2(0x20, 0x00, b"") + AFTER,
    "v2_local_inet": v2(0x20, 0x11, INET),
    "v2_tlvs": v2(0x21, 0x11, INET + tlv(0x01, b"h2") + tlv(0x02, b"media.example.org") + tlv(0x04, b"")
                  + tlv(0x05, b"0123456789abcdef") + SSL + tlv(0x03, bytes(4))) + AFTER,
    "v2_aws_vpce": v2(0x21, 0x21, INET6 + tlv(0xEA, b"\x01vpce-0123456789abcdef0")),
    "v2_dgram": v2(0x21, 0x12, INET),
    "v2_short_block": v2(0x21, 0x21, INET),
    "v2_tlv_past_end": v2(0x21, 0x11, INET + b"\x01\x00\x09h2"),
    "v2_tlv_cut": v2(0x21, 0x11, INET + b"\x01\x00"),
    "v2_too_long": v2(0x21, 0x11, INET, length=0xFFFF),
    "v2_version_1": v2(0x11, 0x11, INET),
    # Not a PROXY header at all.
    "http": AFTER,
    "rtmp": RTMP,
    "proxz": b"PROXZ TCP4\r\n",
}

if os.path.isdir(PH_OUT):
    for old in os.listdir(PH_OUT):
        os.remove(os.path.join(PH_OUT, old))
os.makedirs(PH_OUT, exist_ok=True)
for name, data in ph_seeds.items():
    with open(os.path.join(PH_OUT, name + ".bin"), "wb") as f:
        f.write(data)
print(f"wrote {len(ph_seeds)} seeds to {os.path.relpath(PH_OUT)}")
