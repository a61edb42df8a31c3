#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_request: what one client connection sends, byte for byte.

Each file is one connection's bytes, as the clients in /work/shared/rtmpt-reference.md send them
(header spellings of librtmp, ffmpeg and Flash; pipelining, reordering, retries, the Red5 base
of 1, a close without a number), plus the edge cases the gateway must refuse or handle (HTTP/1.0,
Connection: close, chunked bodies, Upgrade, oversized bodies, a GET). The files are checked in;
run this again after changing it:  python3 tests/fuzz/make_seeds.py
"""
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
seeds["flash_ident2"] = flash("/fcs/ident2", Z) + flash("/open/1", Z) + flash(f"/idle/{SID}/0?nocache=0.3141", Z)

# Red5's Java client starts at 1; HaishinKit and RootEncoder close without a number, RootEncoder
# sends empty bodies.
seeds["red5_base1"] = b"".join(minimal(f"/idle/{SID2}/{n}") for n in (1, 2, 3)) + minimal(f"/close/{SID2}/4")
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

os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(OUT, name + ".http"), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {os.path.relpath(OUT)}")
