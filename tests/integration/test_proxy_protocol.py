"""The PROXY protocol (HAProxy's, versions 1 and 2), both ways.

OUT: backend.proxy_protocol (off, v1, v2) starts every backend connection with a header naming the
client (the TCP peer, or the client a trusted proxy's X-Forwarded-For names, with port 0) and the
address it connected to, before the client's own bytes: RTMPT and RTMPTS sessions, native RTMP and
RTMPS alike. Ends of different families are written IPv4-mapped under TCP6 / INET6.

IN: a connection from access.proxy_protocol_from must begin with a v1 or v2 header; its source is
then the client for logs (client=SRC via=BALANCER), access rules, per-client limits, bound sessions,
/sessions and the header sent on. LOCAL and UNKNOWN headers leave the balancer as the client.

HOSTILE: what a listed balancer's broken, slow, oversized or missing header gets (one log line
`proxy client=PEER closing because: PROXY header REASON: DETAIL`, one counter, a closed connection),
and what a PROXY line from anyone else is (an ordinary malformed request).

Everything stays on loopback: balancers and clients are 127.0.0.x or ::1 as TCP peers; the addresses
a PROXY header names (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) are only text in
it. Each case checks what the client and the backend saw, the log line and the counters together.
"""
import json
import re
import shutil
import signal
import socket
import ssl
import struct
import tempfile
import time
import unittest

from lib import tls_certs
from lib.gateway_process import gateway_yaml
from rtmpt_client import ConnectionClosed, HttpConnection, Response, open_session
from support import q
from test_limits import LimitsTestCase
from test_native import C0C1

XFF = "X-Forwarded-For"
LISTED = '["127.0.0.1/32"]'  # access.proxy_protocol_from of most IN and HOSTILE cases
SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"  # v2's 12 bytes
PROXY_FAILURES = ("not_proxy", "malformed", "too_long", "timeout", "closed")


def v1(src, dst, family="TCP4"):
    """A v1 line naming `src` ((host, port)) as the client of a connection to `dst`."""
    return f"PROXY {family} {src[0]} {dst[0]} {src[1]} {dst[1]}\r\n".encode()


def tlv(kind, value):
    return bytes([kind]) + struct.pack(">H", len(value)) + value


def v2_header(command, family, block):
    """A v2 header: version 2 with `command` (0 LOCAL, 1 PROXY), the family/transport byte, `block`."""
    return SIGNATURE + bytes([0x20 | command, family]) + struct.pack(">H", len(block)) + block


def v2_addresses(src, dst):
    """The address block naming `src` ((host, port)) as the client of a connection to `dst`."""
    af = socket.AF_INET6 if ":" in src[0] else socket.AF_INET
    return socket.inet_pton(af, src[0]) + socket.inet_pton(af, dst[0]) + struct.pack(">HH", src[1], dst[1])


def v2(src, dst, tlvs=b""):
    """A v2 PROXY header over TCP (INET or INET6, STREAM) naming `src` as the client of a connection to `dst`."""
    return v2_header(1, 0x21 if ":" in src[0] else 0x11, v2_addresses(src, dst) + tlvs)


def v2_local(block=b"", family=0x00):
    """A v2 LOCAL header (a balancer's own connection, a health check), with an address block if given."""
    return v2_header(0, family, block)


class MemoryTls:
    """A TLS client run through memory BIOs over a plain socket, so that its first flight (the
    ClientHello) goes out in the same write as the bytes before it (a PROXY header), which
    ssl.SSLSocket cannot do. request() sends one HTTP request and reads one reply."""

    def __init__(self, sock, ctx, prefix=b""):
        self.sock = sock  # its timeout bounds every read
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.incoming, self.outgoing, server_hostname="localhost")
        self._buf = bytearray()
        pending = prefix
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                pass
            pending += self.outgoing.read()
            if pending:
                self.sock.sendall(pending)  # the first time: the prefix and the ClientHello in one write
                pending = b""
            self._pull()
        self._flush()

    def _flush(self):
        data = self.outgoing.read()
        if data:
            self.sock.sendall(data)

    def _pull(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionClosed("the gateway closed the TLS connection")
        self.incoming.write(chunk)

    def request(self, raw):
        self.tls.write(raw)
        self._flush()
        while True:
            end = self._buf.find(b"\r\n\r\n")
            if end >= 0:
                resp = Response(bytes(self._buf[:end + 4]), b"")
                n = int(resp.header("Content-Length"))
                if len(self._buf) >= end + 4 + n:
                    resp.body = bytes(self._buf[end + 4:end + 4 + n])
                    del self._buf[:end + 4 + n]
                    return resp
            try:
                self._buf += self.tls.read(65536)
            except ssl.SSLWantReadError:
                self._flush()
                self._pull()


class ProxyTestCase(LimitsTestCase):
    _certs = None  # (directory, ca, chain, key), made by the first test of a class that needs TLS

    @classmethod
    def tearDownClass(cls):
        if cls._certs is not None:
            shutil.rmtree(cls._certs[0], ignore_errors=True)
            cls._certs = None
        super().tearDownClass()

    def start(self, backend=None, refused=False, listen=None, **overrides):
        # Kept for reload(): the same file with other keys.
        self._listen, self._overrides = listen, dict(overrides)
        return super().start(backend=backend, refused=refused, listen=listen, **overrides)

    def reload(self, expect, **changes):
        """Rewrites the config with `changes` over the start's keys, sends SIGHUP and waits for `expect`."""
        start = len(self.gw.lines)
        keys = {**self._overrides, **changes}
        if self._listen is not None:
            keys["listen"] = self._listen
        self.gw.write_config(gateway_yaml(self.backend.port, **keys))
        self.gw.signal(signal.SIGHUP)
        return self.gw.wait_for_log(expect, start=start)

    def tls_files(self):
        cls = type(self)
        if cls._certs is None:
            directory = tempfile.mkdtemp(prefix="rtmpt-proxy-tls-")
            ca = tls_certs.make_ca(directory)
            chain, key = tls_certs.make_leaf(directory)
            cls._certs = (directory, ca, chain, key)
        return cls._certs[1:]

    def start_tls(self, **overrides):
        """A gateway with a TLS listener too; self.tls_port is its port, self.ca the CA to trust."""
        self.ca, chain, key = self.tls_files()
        gw = self.start(tls__listen='["127.0.0.1:0"]', tls__certificate=q(chain), tls__key=q(key), **overrides)
        self.tls_port = int(gw.wait_for_log(r"listening for TLS on (\S+):(\d+)").group(2))
        return gw

    def tls_context(self):
        return ssl.create_default_context(cafile=self.ca)

    def raw(self, port=None, source="127.0.0.1"):
        """A plain socket to the gateway (the RTMPT port unless `port`), from `source`."""
        sock = socket.create_connection(("127.0.0.1", port or self.gw.port), timeout=5, source_address=(source, 0))
        self.addCleanup(sock.close)
        return sock

    def balancer(self, header, port=None, source="127.0.0.1", tls=False):
        """An HttpConnection from `source` that sends `header` first; with `tls`, the handshake follows it."""
        conn = HttpConnection(self.gw.host, port or self.gw.port, source=source)
        self.addCleanup(conn.close)
        if header:
            conn.send_raw(header)
        if tls:
            conn.sock = self.tls_context().wrap_socket(conn.sock, server_hostname="localhost")
        return conn

    def port_of(self, conn):
        return conn.sock.getsockname()[1]

    def closed_by_gateway(self, sock, timeout=5.0):
        """True when the gateway closes `sock` (EOF or reset) within `timeout` without sending anything."""
        sock.settimeout(timeout)
        try:
            return sock.recv(65536) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def backend_bytes(self, index, expected):
        """The `index`-th backend connection's bytes once len(expected) arrived; checked equal to `expected`."""
        got = self.backend.wait_for_connection(index).wait_for_bytes(len(expected))
        self.assertEqual(got, expected)
        return got

    def wait_gauge(self, name, value, timeout=5.0):
        """True once rtmpt_gateway_<name> equals `value` (polled, bounded by `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.metric(name) == value:
                return True
            time.sleep(0.02)
        return False

    def assertSessionOpen(self, sid, client, transport="rtmpt"):
        """The `session open` line of `sid` names `client` (a regex: "SRC via=BALANCER" when proxied)."""
        return self.wait_log(rf"session open sid={re.escape(sid)} client={client} transport={transport}$")

    def assertProxyStats(self, stats, headers=0, **failures):
        """proxy_headers and every proxy_failed_* counter: the named failures have their value, others 0."""
        expected = {"proxy_headers": headers}
        expected.update({f"proxy_failed_{r}": failures.get(r, 0) for r in PROXY_FAILURES})
        self.assertStats(stats, **expected)

    def assertProxyFailure(self, peer, reason, detail):
        """One `closing because: PROXY header REASON: DETAIL` line (DETAIL a regex) for the connection
        from `peer`, and the failure on /metrics."""
        self.wait_log(rf"proxy client={re.escape(peer)} closing because: PROXY header {reason}: {detail}$")
        self.assertTrue(self.wait_metric(f'proxy_header_failures_total{{reason="{reason}"}}', 1), self.gw.log_text())
        lines = [line for line in self.gw.lines if f"proxy client={peer} closing because" in line]
        self.assertEqual(len(lines), 1, lines)


# --- OUT: backend.proxy_protocol


class ProxyOutTest(ProxyTestCase):
    def test_v1_header_then_the_client_bytes_unchanged(self):
        self.start(backend__proxy_protocol=q("v1"))
        conn = self.connect()
        s = self.open(conn)
        cport = self.port_of(conn)
        self.assertSessionOpen(s.sid, rf"127\.0\.0\.1:{cport}")
        payload = b"\x03" + bytes(range(256))
        self.assertReply(s.send(payload))
        header = f"PROXY TCP4 127.0.0.1 127.0.0.1 {cport} {self.gw.port}\r\n".encode()
        self.backend_bytes(0, header + payload)
        self.assertOk(s.close())
        end = self.wait_session_end(s.sid)
        self.assertEqual(end["up"], len(payload), "the header was counted as the client's bytes")
        bc = self.backend.connections[0]
        bc.wait_for_eof()
        self.assertEqual(bc.data(), header + payload, "more than the header and the client's bytes")
        self.assertEqual(self.metric("proxy_headers_total"), 0)  # that one counts headers read, not sent
        stats = self.stop_and_stats()
        self.assertStats(stats, sessions_opened=1, bytes_up=len(payload))
        self.assertProxyStats(stats)

    def test_v2_header_is_byte_exact(self):
        self.start(backend__proxy_protocol=q("v2"))
        conn = self.connect()
        s = self.open(conn)
        cport = self.port_of(conn)
        payload = b"after the header"
        self.assertReply(s.send(payload))
        header = (b"\x0d\x0a\x0d\x0a\x00\x0d\x0a\x51\x55\x49\x54\x0a"  # signature
                  b"\x21"                                          # version 2, PROXY
                  b"\x11"                                          # INET, STREAM
                  b"\x00\x0c"                                      # 12 address bytes
                  b"\x7f\x00\x00\x01" b"\x7f\x00\x00\x01"          # 127.0.0.1 -> 127.0.0.1
                  + struct.pack(">HH", cport, self.gw.port))
        self.assertEqual(len(header), 28)
        self.backend_bytes(0, header + payload)
        self.assertOk(s.close())
        self.assertEqual(self.wait_session_end(s.sid)["up"], len(payload))
        self.backend.connections[0].wait_for_eof()
        self.assertEqual(self.backend.connections[0].data(), header + payload)
        stats = self.stop_and_stats()
        self.assertStats(stats, sessions_opened=1, bytes_up=len(payload))
        self.assertProxyStats(stats)

    def test_off_by_default_the_backend_gets_only_the_client_bytes(self):
        self.start()
        s = self.open()
        self.assertReply(s.send(b"\x03plain"))
        self.backend_bytes(0, b"\x03plain")
        self.assertOk(s.close())
        bc = self.backend.connections[0]
        bc.wait_for_eof()
        self.assertEqual(bc.data(), b"\x03plain")
        stats = self.stop_and_stats()
        self.assertStats(stats, sessions_opened=1, bytes_up=6)
        self.assertProxyStats(stats)

    def test_ipv6_listener_gives_tcp6_and_ipv4_listener_tcp4(self):
        self.start(listen=["127.0.0.1:0", "[::1]:0"], backend__proxy_protocol=q("v1"))
        port6 = int(self.wait_log(r"(?<!admin )listening on \[::1\]:(\d+)$").group(1))
        c6 = HttpConnection("::1", port6)
        self.addCleanup(c6.close)
        s6 = self.open(c6)
        p6 = self.port_of(c6)
        self.assertSessionOpen(s6.sid, rf"\[::1\]:{p6}")
        self.assertReply(s6.send(b"six"))
        self.backend_bytes(0, f"PROXY TCP6 ::1 ::1 {p6} {port6}\r\n".encode() + b"six")
        c4 = self.connect(source="127.0.0.1")
        s4 = self.open(c4)
        self.assertReply(s4.send(b"four"))
        self.backend_bytes(1, f"PROXY TCP4 127.0.0.1 127.0.0.1 {self.port_of(c4)} {self.gw.port}\r\n".encode()
                           + b"four")
        stats = self.stop_and_stats()
        self.assertStats(stats, sessions_opened=2, bytes_up=7)
        self.assertProxyStats(stats)

    def test_mixed_families_are_written_ipv4_mapped_under_tcp6(self):
        """X-Forwarded-For names a client of the other family than the listener: both ends go as IPv6."""
        self.start(listen=["127.0.0.1:0", "[::1]:0"], backend__proxy_protocol=q("v1"),
                   access__trusted_proxies='["127.0.0.1", "::1"]')
        port6 = int(self.wait_log(r"(?<!admin )listening on \[::1\]:(\d+)$").group(1))
        # An IPv6 client behind a proxy on 127.0.0.1, to the IPv4 listener.
        proxy4 = self.connect(source="127.0.0.1")
        a, r = open_session(proxy4, extra_headers=[f"{XFF}: 2001:db8::7"])
        self.assertOk(r)
        self.assertSessionOpen(a.sid, rf"2001:db8::7 via=127\.0\.0\.1:{self.port_of(proxy4)}")
        self.assertReply(a.send(b"a"))
        self.backend_bytes(0, f"PROXY TCP6 2001:db8::7 ::ffff:127.0.0.1 0 {self.gw.port}\r\n".encode() + b"a")
        # An IPv4 client behind a proxy on ::1, to the IPv6 listener.
        proxy6 = HttpConnection("::1", port6)
        self.addCleanup(proxy6.close)
        b, r = open_session(proxy6, extra_headers=[f"{XFF}: 203.0.113.7"])
        self.assertOk(r)
        self.assertSessionOpen(b.sid, rf"203\.0\.113\.7 via=\[::1\]:{self.port_of(proxy6)}")
        self.assertReply(b.send(b"b"))
        self.backend_bytes(1, f"PROXY TCP6 ::ffff:203.0.113.7 ::1 0 {port6}\r\n".encode() + b"b")
        stats = self.stop_and_stats()
        self.assertStats(stats, sessions_opened=2, forwarded_unreadable=0)
        self.assertProxyStats(stats)

    def test_mixed_families_in_v2_are_inet6(self):
        self.start(backend__proxy_protocol=q("v2"), access__trusted_proxies=q("127.0.0.1"))
        proxy = self.connect(source="127.0.0.1")
        s, r = open_session(proxy, extra_headers=[f"{XFF}: 2001:db8::7"])
        self.assertOk(r)
        self.assertReply(s.send(b"x"))
        header = (SIGNATURE + b"\x21" + b"\x21" + b"\x00\x24"  # PROXY, INET6 STREAM, 36 address bytes
                  + bytes.fromhex("20010db8000000000000000000000007")
                  + bytes.fromhex("00000000000000000000ffff7f000001")  # ::ffff:127.0.0.1
                  + struct.pack(">HH", 0, self.gw.port))
        self.backend_bytes(0, header + b"x")
        stats = self.stop_and_stats()
        self.assertStats(stats, sessions_opened=1)
        self.assertProxyStats(stats)

    def test_forwarded_client_of_a_trusted_proxy_with_port_0(self):
        self.start(backend__proxy_protocol=q("v1"), access__trusted_proxies=q("127.0.0.1"))
        proxy = self.connect(source="127.0.0.1")
        s, r = open_session(proxy, extra_headers=[f"{XFF}: 203.0.113.7"])
        self.assertOk(r)
        self.assertSessionOpen(s.sid, rf"203\.0\.113\.7 via=127\.0\.0\.1:{self.port_of(proxy)}")
        self.assertReply(s.send(b"fwd"))
        self.backend_bytes(0, f"PROXY TCP4 203.0.113.7 127.0.0.1 0 {self.gw.port}\r\n".encode() + b"fwd")
        # The same header from a peer that is no trusted proxy names nobody: the peer is the client.
        other = self.connect(source="127.0.0.2")
        t, r = open_session(other, extra_headers=[f"{XFF}: 203.0.113.7"])
        self.assertOk(r)
        self.assertSessionOpen(t.sid, rf"127\.0\.0\.2:{self.port_of(other)}")
        self.assertReply(t.send(b"own"))
        self.backend_bytes(1, f"PROXY TCP4 127.0.0.2 127.0.0.1 {self.port_of(other)} {self.gw.port}\r\n".encode()
                           + b"own")
        stats = self.stop_and_stats()
        self.assertStats(stats, sessions_opened=2)
        self.assertProxyStats(stats)

    def test_native_rtmp_gets_the_v2_header_then_c0c1(self):
        self.start(backend__proxy_protocol=q("v2"))
        sock = self.raw()
        sock.sendall(C0C1)
        cport = sock.getsockname()[1]
        header = SIGNATURE + b"\x21\x11\x00\x0c" + bytes([127, 0, 0, 1] * 2) + struct.pack(">HH", cport, self.gw.port)
        self.backend_bytes(0, header + C0C1)
        self.wait_log(rf"session open sid=\S+ client=127\.0\.0\.1:{cport} transport=rtmp$")
        sock.close()
        self.backend.connections[0].wait_for_eof()
        self.assertEqual(self.backend.connections[0].data(), header + C0C1)
        stats = self.stop_and_stats()
        self.assertStats(stats, sessions_opened=1, requests=0, bytes_up=len(C0C1))
        self.assertProxyStats(stats)

    def test_tls_listener_rtmpts_and_rtmps(self):
        """The destination is the TLS listener's address; native RTMP inside TLS gets the header too."""
        self.start_tls(backend__proxy_protocol=q("v1"))
        conn = HttpConnection("127.0.0.1", self.tls_port, tls=self.tls_context())
        self.addCleanup(conn.close)
        s = self.open(conn)
        cport = self.port_of(conn)
        self.assertSessionOpen(s.sid, rf"127\.0\.0\.1:{cport}", transport="rtmpts")
        self.assertReply(s.send(b"tls"))
        self.backend_bytes(0, f"PROXY TCP4 127.0.0.1 127.0.0.1 {cport} {self.tls_port}\r\n".encode() + b"tls")
        sock = self.tls_context().wrap_socket(self.raw(self.tls_port), server_hostname="localhost")
        self.addCleanup(sock.close)
        sock.sendall(C0C1)
        nport = sock.getsockname()[1]
        self.backend_bytes(1, f"PROXY TCP4 127.0.0.1 127.0.0.1 {nport} {self.tls_port}\r\n".encode() + C0C1)
        self.wait_log(rf"session open sid=\S+ client=127\.0\.0\.1:{nport} transport=rtmps$")
        stats = self.stop_and_stats()
        self.assertStats(stats, sessions_opened=2, tls_handshakes=2)
        self.assertProxyStats(stats)

    def test_reload_turns_the_header_on_for_new_sessions_only(self):
        self.start()
        before = self.open()
        m = self.reload(r"reloaded file=\S+ changed=(\S+): ", backend__proxy_protocol=q("v1"))
        self.assertEqual(m.group(1), "backend.proxy_protocol")
        conn = self.connect()
        after = self.open(conn)
        self.assertReply(before.send(b"old"))
        self.assertReply(after.send(b"new"))
        self.backend_bytes(0, b"old")
        self.backend_bytes(1, f"PROXY TCP4 127.0.0.1 127.0.0.1 {self.port_of(conn)} {self.gw.port}\r\n".encode()
                           + b"new")
        self.assertOk(before.close())
        self.backend.connections[0].wait_for_eof()
        self.assertEqual(self.backend.connections[0].data(), b"old")
        stats = self.stop_and_stats()
        self.assertStats(stats, reloads=1, reloads_failed=0, sessions_opened=2)
        self.assertProxyStats(stats)


# --- IN: access.proxy_protocol_from


class ProxyInTest(ProxyTestCase):
    CLIENT = ("198.51.100.9", 4000)
    FRONT = ("192.0.2.10", 8080)  # the balancer's own front end, the header's destination

    def test_v1_header_names_the_client_for_logs_sessions_and_the_backend(self):
        self.start(access__proxy_protocol_from=LISTED, backend__proxy_protocol=q("v1"))
        lb = self.balancer(v1(self.CLIENT, self.FRONT))
        via = re.escape(lb.local_address)
        s = self.open(lb)
        self.assertSessionOpen(s.sid, rf"198\.51\.100\.9:4000 via={via}")
        self.assertEqual([r["client"] for r in self.sessions()], [f"198.51.100.9:4000 via={lb.local_address}"])
        self.assertReply(s.send(b"payload"))
        self.backend_bytes(0, b"PROXY TCP4 198.51.100.9 192.0.2.10 4000 8080\r\n" + b"payload")
        self.assertEqual(self.metric("proxy_headers_total"), 1)
        self.assertOk(s.close())
        end = self.wait_session_end(s.sid)
        self.assertEqual((end["client"], end["via"]), ("198.51.100.9:4000", lb.local_address))
        stats = self.stop_and_stats()
        self.assertStats(stats, connections_accepted=1, sessions_opened=1, bytes_up=7)
        self.assertProxyStats(stats, headers=1)

    def test_v2_ipv6_header_with_tlvs(self):
        self.start(access__proxy_protocol_from=LISTED, backend__proxy_protocol=q("v1"), log__level=q("debug"))
        tlvs = tlv(0x01, b"rtmpt") + tlv(0x02, b"stream.example") + tlv(0x04, b"\x00" * 4)
        header = v2(("2001:db8::9", 4000), ("2001:db8::1", 443), tlvs)
        self.assertEqual(len(header), 16 + 36 + 32)
        lb = self.balancer(header)
        via = re.escape(lb.local_address)
        self.wait_log(rf"proxy client=\[2001:db8::9\]:4000 via={via} PROXY v2 header of 84 bytes, 3 TLVs skipped$")
        s = self.open(lb)
        self.assertSessionOpen(s.sid, rf"\[2001:db8::9\]:4000 via={via}")
        self.assertEqual([r["client"] for r in self.sessions()], [f"[2001:db8::9]:4000 via={lb.local_address}"])
        self.assertReply(s.send(b"v6"))
        self.backend_bytes(0, b"PROXY TCP6 2001:db8::9 2001:db8::1 4000 443\r\n" + b"v6")
        stats = self.stop_and_stats()
        self.assertStats(stats, sessions_opened=1)
        self.assertProxyStats(stats, headers=1)

    def test_per_client_limit_and_deny_count_the_named_client(self):
        self.start(access__proxy_protocol_from=LISTED, session__max_sessions_per_client="1",
                   access__deny=q("198.51.100.66"))
        first = self.balancer(v1(("198.51.100.9", 4000), self.FRONT))
        self.open(first)
        # The same client on another port, through another balancer connection: its one session is taken.
        again = self.balancer(v1(("198.51.100.9", 4001), self.FRONT))
        _, r = open_session(again)
        self.assertError(r, 429)
        self.wait_log(rf"session refused client=198\.51\.100\.9:4001 via={re.escape(again.local_address)}: "
                      r"session\.max_sessions_per_client reached$")
        # Another client behind the same balancer (same TCP peer address) is someone else.
        other = self.balancer(v1(("198.51.100.10", 4000), self.FRONT))
        self.open(other)
        denied = self.balancer(v1(("198.51.100.66", 5000), self.FRONT))
        _, r = open_session(denied)
        self.assertError(r, 403)
        self.wait_log(rf"session refused client=198\.51\.100\.66:5000 via={re.escape(denied.local_address)}: "
                      r"access\.deny$")
        stats = self.stop_and_stats()
        self.assertStats(stats, connections_accepted=4, sessions_opened=2, refused_per_client=1, refused_access=1)
        self.assertProxyStats(stats, headers=4)

    def test_bound_session_answers_only_the_named_client(self):
        self.start(access__proxy_protocol_from=LISTED, access__bind_session_to_client="true")
        owner = self.balancer(v1(("198.51.100.9", 4000), self.FRONT))
        s = self.open(owner)
        stranger = self.balancer(v1(("198.51.100.10", 4000), self.FRONT))
        self.assertError(s.send(b"stolen", conn=stranger), 403)
        self.wait_log(rf"http client=198\.51\.100\.10:4000 via={re.escape(stranger.local_address)} answered 403: "
                      rf"session sid={re.escape(s.sid)} belongs to 198\.51\.100\.9$")
        # The owner's address through a new balancer connection (another port) is the owner.
        same = self.balancer(v1(("198.51.100.9", 4321), self.FRONT))
        self.assertReply(s.send(b"mine", conn=same, seq=s.seq - 1))
        self.backend_bytes(0, b"mine")
        stats = self.stop_and_stats()
        self.assertStats(stats, refused_other_client=1, sessions_opened=1)
        self.assertProxyStats(stats, headers=3)

    def test_local_and_unknown_leave_the_balancer_as_the_client(self):
        self.start(access__proxy_protocol_from=LISTED, backend__proxy_protocol=q("v1"), log__level=q("debug"))
        named = v2_addresses(("198.51.100.9", 1), ("192.0.2.10", 2))
        headers = [
            v2_local(),                               # LOCAL, no addresses
            v2_local(named, family=0x11),             # LOCAL with addresses: they mean nothing
            v2_header(1, 0x10, named),                # PROXY, INET over an unspecified transport: not relied on
            v2_header(1, 0x00, b""),                  # PROXY, AF_UNSPEC: no addresses
            v2_header(1, 0x31, bytes(216)),           # PROXY, AF_UNIX: no IP to name
            b"PROXY UNKNOWN\r\n",
            b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n",  # UNKNOWN: the rest of the line is ignored
        ]
        for i, header in enumerate(headers):
            with self.subTest(header=header):
                lb = self.balancer(header)
                me = re.escape(lb.local_address)
                self.wait_log(rf"proxy client={me} PROXY v[12] header names no client: "
                              r"the connection is the balancer's own$")
                s = self.open(lb)
                self.assertSessionOpen(s.sid, me)
                self.assertReply(s.send(b"hc"))
                self.backend_bytes(i, f"PROXY TCP4 127.0.0.1 127.0.0.1 {self.port_of(lb)} {self.gw.port}\r\n".encode()
                                   + b"hc")
        self.assertNotIn("198.51.100.9", self.gw.log_text())
        stats = self.stop_and_stats()
        self.assertStats(stats, sessions_opened=len(headers))
        self.assertProxyStats(stats, headers=len(headers))

    def test_native_rtmp_after_the_header(self):
        self.start(access__proxy_protocol_from=LISTED, backend__proxy_protocol=q("v2"), access__deny=q("198.51.100.66"))
        sock = self.raw()
        sock.sendall(v1(self.CLIENT, ("192.0.2.10", 1935)))
        sock.sendall(C0C1)
        header = (SIGNATURE + b"\x21\x11\x00\x0c" + bytes([198, 51, 100, 9, 192, 0, 2, 10])
                  + struct.pack(">HH", 4000, 1935))
        self.backend_bytes(0, header + C0C1)
        via = re.escape("127.0.0.1:%d" % sock.getsockname()[1])
        self.wait_log(rf"session open sid=\S+ client=198\.51\.100\.9:4000 via={via} transport=rtmp$")
        # access.deny sees the header's client on a native connection too: it is closed, nothing relayed.
        denied = self.raw()
        denied.sendall(v1(("198.51.100.66", 5000), ("192.0.2.10", 1935)) + C0C1)
        self.assertTrue(self.closed_by_gateway(denied))
        self.wait_log(rf"session refused client=198\.51\.100\.66:5000 via=127\.0\.0\.1:{denied.getsockname()[1]}: "
                      r"access\.deny$")
        self.assertEqual(self.backend.connection_count(), 1)
        stats = self.stop_and_stats()
        self.assertStats(stats, sessions_opened=1, requests=0, bytes_up=len(C0C1), refused_access=1)
        self.assertProxyStats(stats, headers=2)

    def test_tls_after_the_header(self):
        self.start_tls(access__proxy_protocol_from=LISTED, backend__proxy_protocol=q("v1"))
        lb = self.balancer(v2(self.CLIENT, ("192.0.2.10", 443)), port=self.tls_port, tls=True)
        s = self.open(lb)
        self.assertSessionOpen(s.sid, rf"198\.51\.100\.9:4000 via={re.escape(lb.local_address)}", transport="rtmpts")
        self.assertReply(s.send(b"secret"))
        self.backend_bytes(0, b"PROXY TCP4 198.51.100.9 192.0.2.10 4000 443\r\n" + b"secret")
        stats = self.stop_and_stats()
        self.assertStats(stats, sessions_opened=1, tls_handshakes=1, tls_failed_not_tls=0)
        self.assertProxyStats(stats, headers=1)

    def test_bytes_in_the_same_write_as_the_header_are_kept(self):
        """Header and request, header and C0C1, header and ClientHello: each in one write."""
        self.start_tls(access__proxy_protocol_from=LISTED, backend__proxy_protocol=q("v1"))
        # v1, then a request and an /open pipelined, all in one write.
        lb = self.balancer(b"")
        lb.send_raw(v1(self.CLIENT, self.FRONT) + lb.request_bytes("/fcs/ident2", b"\x00")
                    + lb.request_bytes("/open/1", b"\x00"))
        self.assertError(lb.read_response(), 404)
        r = lb.read_response()
        self.assertOk(r)
        sid = r.body[:-1].decode()
        self.assertSessionOpen(sid, rf"198\.51\.100\.9:4000 via={re.escape(lb.local_address)}")
        # v2 with TLVs and the /open in one write.
        lb2 = self.balancer(b"")
        lb2.send_raw(v2(("198.51.100.11", 4000), self.FRONT, tlv(0x04, b"\x00\x00"))
                     + lb2.request_bytes("/open/1", b"\x00"))
        r = lb2.read_response()
        self.assertOk(r)
        self.assertSessionOpen(r.body[:-1].decode(), rf"198\.51\.100\.11:4000 via={re.escape(lb2.local_address)}")
        # v1 and C0C1 in one write.
        sock = self.raw()
        sock.sendall(v1(("198.51.100.12", 4000), self.FRONT) + C0C1)
        self.backend_bytes(2, b"PROXY TCP4 198.51.100.12 192.0.2.10 4000 8080\r\n" + C0C1)
        # v1 and the ClientHello in one write, then an /open over TLS.
        tls = MemoryTls(self.raw(self.tls_port), self.tls_context(), prefix=v1(("198.51.100.13", 4000), self.FRONT))
        r = tls.request(lb.request_bytes("/open/1", b"\x00"))
        self.assertOk(r)
        self.assertSessionOpen(r.body[:-1].decode(), r"198\.51\.100\.13:4000 via=127\.0\.0\.1:\d+", transport="rtmpts")
        self.backend_bytes(0, b"PROXY TCP4 198.51.100.9 192.0.2.10 4000 8080\r\n")
        self.backend_bytes(1, b"PROXY TCP4 198.51.100.11 192.0.2.10 4000 8080\r\n")
        self.backend_bytes(3, b"PROXY TCP4 198.51.100.13 192.0.2.10 4000 8080\r\n")
        stats = self.stop_and_stats()
        self.assertStats(stats, sessions_opened=4, requests=4, tls_handshakes=1, refused_malformed=0)
        self.assertProxyStats(stats, headers=4)

    def test_ipv4_mapped_source_is_the_ipv4_client(self):
        """::ffff:a.b.c.d in a TCP6 / INET6 header is a.b.c.d: access.deny of a.b.c.d is not bypassed."""
        self.start(access__proxy_protocol_from=LISTED, access__deny=q("198.51.100.66"),
                   backend__proxy_protocol=q("v1"))
        for header in (v2(("::ffff:198.51.100.66", 5000), ("::ffff:192.0.2.10", 8080)),
                       v1(("::ffff:198.51.100.66", 5000), ("::ffff:192.0.2.10", 8080), family="TCP6")):
            with self.subTest(header=header):
                lb = self.balancer(header)
                _, r = open_session(lb)
                self.assertError(r, 403)
                self.wait_log(rf"session refused client=198\.51\.100\.66:5000 via={re.escape(lb.local_address)}: "
                              r"access\.deny$")
        lb = self.balancer(v2(("::ffff:198.51.100.9", 4000), ("::ffff:192.0.2.10", 8080)))
        s = self.open(lb)
        self.assertSessionOpen(s.sid, rf"198\.51\.100\.9:4000 via={re.escape(lb.local_address)}")
        self.assertReply(s.send(b"m"))
        self.backend_bytes(0, b"PROXY TCP4 198.51.100.9 192.0.2.10 4000 8080\r\n" + b"m")
        stats = self.stop_and_stats()
        self.assertStats(stats, refused_access=2, sessions_opened=1)
        self.assertProxyStats(stats, headers=3)

    def test_header_in_single_byte_writes(self):
        """However the header is cut up, only its bytes are taken: the request after it is whole."""
        self.start(access__proxy_protocol_from=LISTED, backend__proxy_protocol=q("v1"))
        for header in (v1(self.CLIENT, self.FRONT), v2(self.CLIENT, self.FRONT, tlv(0x04, b"\x00" * 3))):
            with self.subTest(header=header):
                lb = self.balancer(b"")
                for i in range(len(header)):
                    lb.send_raw(header[i:i + 1])
                s = self.open(lb)
                self.assertSessionOpen(s.sid, rf"198\.51\.100\.9:4000 via={re.escape(lb.local_address)}")
        stats = self.stop_and_stats()
        self.assertStats(stats, sessions_opened=2, refused_malformed=0)
        self.assertProxyStats(stats, headers=2)

    def test_reload_lists_a_balancer_for_new_connections_only(self):
        self.start()
        kept = self.connect(source="127.0.0.1")
        self.assertError(kept.request("/fcs/ident2", b"\x00"), 404)
        m = self.reload(r"reloaded file=\S+ changed=(\S+): ", access__proxy_protocol_from=LISTED)
        self.assertEqual(m.group(1), "access.proxy_protocol_from")
        # The connection accepted before goes on as plain HTTP.
        self.assertError(kept.request("/fcs/ident2", b"\x00"), 404)
        # A new one from the balancer must begin with a header.
        plain = self.connect(source="127.0.0.1")
        plain.send_request("/open/1", b"\x00")
        self.assertTrue(plain.wait_closed(5.0))
        self.assertProxyFailure(plain.local_address, "not_proxy", "no PROXY header signature")
        lb = self.balancer(v1(self.CLIENT, self.FRONT))
        s = self.open(lb)
        self.assertSessionOpen(s.sid, rf"198\.51\.100\.9:4000 via={re.escape(lb.local_address)}")
        # Anyone else is still read as plain HTTP.
        self.open(self.connect(source="127.0.0.2"))
        stats = self.stop_and_stats()
        self.assertStats(stats, reloads=1, sessions_opened=2, connections_accepted=4)
        self.assertProxyStats(stats, headers=1, not_proxy=1)

    def test_ipv6_balancer(self):
        """A balancer on ::1, listed by its IPv6 address; an unlisted IPv6 peer is read as plain HTTP."""
        self.start(listen=["127.0.0.1:0", "[::1]:0"], access__proxy_protocol_from='["::1/128"]',
                   backend__proxy_protocol=q("v2"))
        port6 = int(self.wait_log(r"(?<!admin )listening on \[::1\]:(\d+)$").group(1))
        lb = HttpConnection("::1", port6)
        self.addCleanup(lb.close)
        lb.send_raw(v1(self.CLIENT, self.FRONT))
        s = self.open(lb)
        self.assertSessionOpen(s.sid, rf"198\.51\.100\.9:4000 via=\[::1\]:{self.port_of(lb)}")
        self.assertReply(s.send(b"v6lb"))
        self.backend_bytes(0, SIGNATURE + b"\x21\x11\x00\x0c" + bytes([198, 51, 100, 9, 192, 0, 2, 10])
                           + struct.pack(">HH", 4000, 8080) + b"v6lb")
        # 127.0.0.1 is not listed here: its bytes are HTTP from the first one.
        self.open(self.connect(source="127.0.0.1"))
        stats = self.stop_and_stats()
        self.assertStats(stats, sessions_opened=2)
        self.assertProxyStats(stats, headers=1)

    def test_forwarded_client_behind_a_balancer(self):
        """A trusted proxy's X-Forwarded-For on a connection whose PROXY header names that proxy: the
        forwarded client is the client, the header's destination is where it connected to, and the log
        line names both hops in a form a log pipeline can read (no key twice in a JSON line)."""
        self.start(access__proxy_protocol_from=LISTED, access__trusted_proxies=q("198.51.100.0/24"),
                   backend__proxy_protocol=q("v1"), log__format="json")
        lb = self.balancer(v1(self.CLIENT, self.FRONT))
        s, r = open_session(lb, extra_headers=[f"{XFF}: 203.0.113.7"])
        self.assertOk(r)
        self.assertReply(s.send(b"xff"))
        self.backend_bytes(0, b"PROXY TCP4 203.0.113.7 192.0.2.10 0 8080\r\n" + b"xff")
        line = self.gw.wait_for_log(r'^\{.*"event":"session open".*\}$').group(0)
        self.assertEqual(self.stop_gateway(), 0)
        stats = next(json.loads(x) for x in self.gw.lines if '"event":"stats"' in x)
        self.assertEqual((stats["sessions_opened"], stats["forwarded_unreadable"], stats["proxy_headers"]), (1, 0, 1))
        pairs = json.loads(line, object_pairs_hook=lambda kv: kv)
        keys = [k for k, _ in pairs]
        values = " ".join(str(v) for _, v in pairs)
        self.assertEqual(dict(pairs)["client"], "203.0.113.7", line)
        self.assertIn("198.51.100.9:4000", values, line)
        self.assertIn(lb.local_address, values, line)
        duplicated = sorted({k for k in keys if keys.count(k) > 1})
        self.assertEqual(duplicated, [], "with a PROXY header and a trusted X-Forwarded-For, both hops must go "
                         f"into one via= (a JSON reader keeps one of two keys): {line}")
        self.assertEqual(dict(pairs)["via"], f"198.51.100.9:4000,{lb.local_address}", line)

    def test_longest_headers_read(self):
        """A v2 header of exactly 2048 bytes (TLVs included) and a v1 line of exactly 107 are read whole,
        with a request in the same write after each."""
        self.start(access__proxy_protocol_from=LISTED, backend__proxy_protocol=q("v1"))
        base = v2(self.CLIENT, self.FRONT)
        longest_v2 = v2(self.CLIENT, self.FRONT, tlv(0x04, bytes(2048 - len(base) - 3)))
        longest_v1 = b"PROXY UNKNOWN " + b"x" * 91 + b"\r\n"
        self.assertEqual((len(longest_v2), len(longest_v1)), (2048, 107))
        lb = self.balancer(b"")
        lb.send_raw(longest_v2 + lb.request_bytes("/open/1", b"\x00"))
        r = lb.read_response()
        self.assertOk(r)
        self.assertSessionOpen(r.body[:-1].decode(), rf"198\.51\.100\.9:4000 via={re.escape(lb.local_address)}")
        unknown = self.balancer(b"")
        unknown.send_raw(longest_v1 + unknown.request_bytes("/open/1", b"\x00"))
        r = unknown.read_response()
        self.assertOk(r)
        self.assertSessionOpen(r.body[:-1].decode(), re.escape(unknown.local_address))
        stats = self.stop_and_stats()
        self.assertStats(stats, sessions_opened=2, refused_malformed=0)
        self.assertProxyStats(stats, headers=2)

    def test_json_log_fields_name_client_and_balancer(self):
        self.start(access__proxy_protocol_from=LISTED, log__format="json")
        lb = self.balancer(v1(self.CLIENT, self.FRONT))
        s = self.open(lb)
        bad = self.raw()
        bad.sendall(b"PROXY TCP4 nonsense\r\n")
        self.assertTrue(self.closed_by_gateway(bad))
        self.gw.wait_for_log(r'"event":"proxy"')
        self.assertEqual(self.stop_gateway(), 0)
        events = [json.loads(line) for line in self.gw.lines]  # every line is one object
        opened = next(e for e in events if e.get("event") == "session open")
        self.assertEqual((opened["sid"], opened["client"], opened["via"]),
                         (s.sid, "198.51.100.9:4000", lb.local_address))
        failed = next(e for e in events if e.get("event") == "proxy")
        self.assertEqual(failed["client"], "127.0.0.1:%d" % bad.getsockname()[1])
        self.assertEqual(failed["msg"], "closing because: PROXY header malformed: v1 line has too few fields")
        stats = next(e for e in events if e.get("event") == "stats")
        self.assertEqual((stats["proxy_headers"], stats["proxy_failed_malformed"]), (1, 1))


# --- HOSTILE


class ProxyHostileTest(ProxyTestCase):
    def test_proxy_line_from_an_unlisted_source_is_a_malformed_request(self):
        self.start(access__proxy_protocol_from=LISTED)
        for header in (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", v2(("1.2.3.4", 1), ("5.6.7.8", 2))):
            with self.subTest(header=header):
                conn = self.connect(source="127.0.0.2")
                conn.send_raw(header + conn.request_bytes("/open/1", b"\x00"))
                self.assertRefusedAndClosed(conn, 400)
                self.wait_log(rf"http client={re.escape(conn.local_address)} refused with 400: malformed request")
        self.assertEqual(self.metric("proxy_headers_total"), 0)
        stats = self.stop_and_stats()
        self.assertStats(stats, refused_malformed=2, sessions_opened=0)
        self.assertProxyStats(stats)

    def test_plain_http_from_a_listed_source_is_not_proxy(self):
        self.start(access__proxy_protocol_from=LISTED)
        conn = self.connect(source="127.0.0.1")
        conn.send_request("/open/1", b"\x00")
        self.assertTrue(conn.wait_closed(5.0), f"not closed, or answered: {bytes(conn._buf[:200])!r}")
        self.assertProxyFailure(conn.local_address, "not_proxy", "no PROXY header signature")
        stats = self.stop_and_stats()
        self.assertStats(stats, requests=0, sessions_opened=0, refused_malformed=0)
        self.assertProxyStats(stats, not_proxy=1)

    def test_rtmp_and_tls_without_the_header_are_not_proxy(self):
        self.start_tls(access__proxy_protocol_from=LISTED)
        rtmp = self.raw()
        rtmp.sendall(C0C1)
        self.assertTrue(self.closed_by_gateway(rtmp))
        self.assertProxyFailure("127.0.0.1:%d" % rtmp.getsockname()[1], "not_proxy", "no PROXY header signature")
        hello = self.raw(self.tls_port)
        hello_port = hello.getsockname()[1]  # wrap_socket takes the descriptor over
        with self.assertRaises(OSError):  # SSLError, or the reset itself
            self.tls_context().wrap_socket(hello, server_hostname="localhost")
        self.wait_log(rf"proxy client=127\.0\.0\.1:{hello_port} closing because: PROXY header "
                      r"not_proxy: no PROXY header signature$")
        self.assertTrue(self.wait_metric('proxy_header_failures_total{reason="not_proxy"}', 2))
        self.assertEqual(self.backend.connection_count(), 0)
        stats = self.stop_and_stats()
        self.assertStats(stats, sessions_opened=0, tls_handshakes=0, tls_failed_not_tls=0, tls_failed_closed=0,
                         tls_failed_other=0)
        self.assertProxyStats(stats, not_proxy=2)

    def test_connect_and_close_is_a_health_check_not_a_failure(self):
        """A balancer's TCP health check on the traffic port (connect, close, no byte): counted apart as
        proxy_empty_connections, logged at debug only, no failure."""
        self.start(access__proxy_protocol_from=LISTED, log__level=q("debug"))
        for _ in range(3):
            silent = self.raw()
            peer = "127.0.0.1:%d" % silent.getsockname()[1]
            silent.close()
            self.wait_log(rf"debug proxy client={re.escape(peer)} closed before any byte")
        self.assertTrue(self.wait_metric("proxy_empty_connections_total", 3))
        self.assertEqual([line for line in self.gw.lines if "closing because" in line], [])
        stats = self.stop_and_stats()
        self.assertStats(stats, connections_accepted=3, proxy_empty=3, requests=0)
        self.assertProxyStats(stats)

    def test_closed_during_the_header(self):
        """An end of stream after 14 bytes, and a reset: each is `closed`."""
        self.start(access__proxy_protocol_from=LISTED)
        cut = self.raw()
        cut.sendall(b"PROXY TCP4 1.2")
        cut.shutdown(socket.SHUT_WR)
        self.assertTrue(self.closed_by_gateway(cut))
        self.wait_log(rf"proxy client=127\.0\.0\.1:{cut.getsockname()[1]} closing because: PROXY header closed: "
                      r"closed after 14 bytes of an unfinished header$")
        reset = self.raw()
        reset.sendall(b"PROXY TCP6 2001")
        self.assertTrue(self.wait_gauge('connections_open{listener="client"}', 1))
        port = reset.getsockname()[1]
        reset.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        reset.close()  # a reset, not an end of stream
        self.wait_log(rf"proxy client=127\.0\.0\.1:{port} closing because: PROXY header closed: "
                      r"read failed: Connection reset by peer$")
        self.assertTrue(self.wait_metric('proxy_header_failures_total{reason="closed"}', 2))
        stats = self.stop_and_stats()
        self.assertStats(stats, connections_accepted=2, requests=0, proxy_empty=0)
        self.assertProxyStats(stats, closed=2)

    def test_malformed_headers(self):
        self.start(access__proxy_protocol_from=LISTED)
        cases = [
            (SIGNATURE + b"\x31\x11\x00\x0c", r"v2 signature with version 3"),
            (SIGNATURE + b"\x22\x11\x00\x0c", r"v2 command 2"),
            (SIGNATURE + b"\x21\x12\x00\x0c" + bytes(12), r"v2 header names a datagram flow"),
            (SIGNATURE + b"\x21\x11\x00\x08" + bytes(8), r"v2 IPv4 address block short"),
            (v2(("198.51.100.9", 1), ("192.0.2.1", 2), b"\x04\x00\x09ab"), r"v2 TLV runs past the header"),
            (b"PROXY TCP4 198.51.100.9 192.0.2.1 65536 80\r\n", r"v1 port is no port"),
            (b"PROXY TCP4 198.51.100.9 192.0.2.1 04000 80\r\n", r"v1 port is no port"),
            (b"PROXY TCP4 198.51.100.9 192.0.2.1 4000 80\n", r"v1 line ends without CR"),
            (b"PROXY TCP4 2001:db8::1 192.0.2.1 4000 80\r\n", r"v1 address is not an IPv4 dotted quad"),
            (b"PROXY UDP4 198.51.100.9 192.0.2.1 4000 80\r\n", r"v1 protocol is neither TCP4, TCP6 nor UNKNOWN"),
            (b"PROXY TCP4 198.51.100.9 192.0.2.1 4000\r\n", r"v1 line has too few fields"),
        ]
        for header, detail in cases:
            with self.subTest(header=header):
                sock = self.raw()
                sock.sendall(header)
                self.assertTrue(self.closed_by_gateway(sock))
                self.wait_log(rf"proxy client=127\.0\.0\.1:{sock.getsockname()[1]} closing because: "
                              rf"PROXY header malformed: {re.escape(detail)}$")
        self.assertTrue(self.wait_metric('proxy_header_failures_total{reason="malformed"}', len(cases)))
        stats = self.stop_and_stats()
        self.assertStats(stats, requests=0, sessions_opened=0)
        self.assertProxyStats(stats, malformed=len(cases))

    def test_v1_without_its_end_in_107_bytes_is_too_long(self):
        self.start(access__proxy_protocol_from=LISTED)
        sock = self.raw()
        sock.sendall(b"PROXY TCP4 " + b"1" * 150)  # no LF anywhere
        self.assertTrue(self.closed_by_gateway(sock))
        self.assertProxyFailure("127.0.0.1:%d" % sock.getsockname()[1], "too_long",
                                "v1 header without its end in 107 bytes")
        stats = self.stop_and_stats()
        self.assertProxyStats(stats, too_long=1)

    def test_one_byte_past_the_longest_is_too_long(self):
        self.start(access__proxy_protocol_from=LISTED)
        v2_long = self.raw()
        v2_long.sendall(SIGNATURE + b"\x21\x11" + struct.pack(">H", 2049 - 16))
        self.assertTrue(self.closed_by_gateway(v2_long))
        self.assertProxyFailure("127.0.0.1:%d" % v2_long.getsockname()[1], "too_long",
                                "v2 header of 2049 bytes; at most 2048 are read")
        v1_long = self.raw()
        v1_long.sendall(b"PROXY UNKNOWN " + b"x" * 92 + b"\r\n")  # 108 bytes: the LF is one too far
        self.assertTrue(self.closed_by_gateway(v1_long))
        self.assertProxyFailure("127.0.0.1:%d" % v1_long.getsockname()[1], "too_long",
                                "v1 header without its end in 107 bytes")
        self.assertTrue(self.wait_metric('proxy_header_failures_total{reason="too_long"}', 2))
        stats = self.stop_and_stats()
        self.assertProxyStats(stats, too_long=2)

    def test_v2_length_field_is_refused_before_its_bytes(self):
        self.start(access__proxy_protocol_from=LISTED)
        sock = self.raw()
        sock.sendall(SIGNATURE + b"\x21\x11\xff\xff")  # 16 bytes announcing 65535 more, none of them sent
        self.assertTrue(self.closed_by_gateway(sock))
        self.assertProxyFailure("127.0.0.1:%d" % sock.getsockname()[1], "too_long",
                                "v2 header of 65551 bytes; at most 2048 are read")
        stats = self.stop_and_stats()
        self.assertProxyStats(stats, too_long=1)

    def test_half_a_header_is_cut_at_the_header_timeout(self):
        self.start(access__proxy_protocol_from=LISTED, http__header_timeout=q("1s"))
        started = time.monotonic()
        sock = self.raw()
        sock.sendall(b"PROXY TCP4 198.51")
        self.assertTrue(self.closed_by_gateway(sock, timeout=5))
        elapsed = time.monotonic() - started
        self.assertGreaterEqual(elapsed, 0.95, "cut before http.header_timeout")
        self.assertLess(elapsed, 4.0)
        self.assertProxyFailure("127.0.0.1:%d" % sock.getsockname()[1], "timeout",
                                r"no whole header within http\.header_timeout \(17 bytes came\)")
        stats = self.stop_and_stats()
        self.assertProxyStats(stats, timeout=1)

    def test_first_bytes_deadline_counts_from_the_accept_not_the_header(self):
        """A header that takes most of http.header_timeout leaves only the rest for the first request byte:
        the connection is cut http.header_timeout after the accept, not that long after the header."""
        self.start(access__proxy_protocol_from=LISTED, http__header_timeout=q("2s"))
        started = time.monotonic()
        sock = self.raw()
        sock.sendall(b"PROXY TCP4 198.51.100.9 ")
        # The rest of the header 1.2 s later (paced by a bounded wait for a line that never comes).
        self.assertFalse(self.gw.wait_until(lambda lines: any("closing because" in x for x in lines), timeout=1.2))
        sock.sendall(b"192.0.2.10 4000 8080\r\n")
        self.assertTrue(self.closed_by_gateway(sock, timeout=5))
        elapsed = time.monotonic() - started
        self.assertGreaterEqual(elapsed, 1.9, "cut before http.header_timeout")
        self.assertLess(elapsed, 2.9, "the first-bytes deadline started again after the header")
        self.wait_log(r"http client=198\.51\.100\.9:4000 via=127\.0\.0\.1:\d+ closed: no first byte within "
                      r"http\.header_timeout")
        stats = self.stop_and_stats()
        self.assertStats(stats, first_bytes_timeouts=1, requests=0)
        self.assertProxyStats(stats, headers=1)

    def test_dribbled_header_is_cut_at_the_deadline(self):
        """A byte every 200 ms keeps coming, but the deadline runs from the accept: bytes do not extend it."""
        self.start(access__proxy_protocol_from=LISTED, http__header_timeout=q("1s"))
        header = v1(("198.51.100.9", 4000), ("192.0.2.10", 8080))
        started = time.monotonic()
        sock = self.raw()
        sent = 0
        cut = False
        for b in header:
            try:
                sock.sendall(bytes([b]))
            except (BrokenPipeError, ConnectionResetError):
                cut = True
                break
            sent += 1
            # Paces the bytes (200 ms apart) and stops once the cut is logged.
            if self.gw.wait_until(lambda lines: any("PROXY header timeout" in x for x in lines), timeout=0.2):
                cut = True
                break
        self.assertTrue(cut, "the dribbled header was never cut")
        self.assertLess(sent, len(header))
        self.assertLess(time.monotonic() - started, 4.0)
        self.assertTrue(self.closed_by_gateway(sock))
        self.assertProxyFailure("127.0.0.1:%d" % sock.getsockname()[1], "timeout",
                                r"no whole header within http\.header_timeout \(\d+ bytes came\)")
        stats = self.stop_and_stats()
        self.assertStats(stats, requests=0)
        self.assertProxyStats(stats, timeout=1)

    def test_a_second_header_is_an_ordinary_malformed_request(self):
        """Only the first bytes of a connection are read as PROXY: a header after it is HTTP, and bad HTTP."""
        self.start(access__proxy_protocol_from=LISTED)
        lb = self.balancer(b"")
        lb.send_raw(v1(("198.51.100.9", 4000), ("192.0.2.10", 8080)) + v1(("198.51.100.66", 1), ("192.0.2.10", 2))
                    + lb.request_bytes("/open/1", b"\x00"))
        self.assertRefusedAndClosed(lb, 400)
        self.wait_log(rf"http client=198\.51\.100\.9:4000 via={re.escape(lb.local_address)} refused with 400: "
                      r"malformed request")
        self.assertNotIn("198.51.100.66", self.gw.log_text())
        stats = self.stop_and_stats()
        self.assertStats(stats, refused_malformed=1, sessions_opened=0)
        self.assertProxyStats(stats, headers=1)

    def test_stop_with_a_header_pending(self):
        """SIGTERM while a balancer's header is still coming: a clean exit, the connection closed."""
        self.start(access__proxy_protocol_from=LISTED)
        sock = self.raw()
        sock.sendall(b"PROXY TCP4 ")
        self.assertTrue(self.wait_gauge('connections_open{listener="client"}', 1))
        stats = self.stop_and_stats()
        self.assertTrue(self.closed_by_gateway(sock))
        self.assertStats(stats, connections_accepted=1, requests=0)
        self.assertProxyStats(stats)

    def test_a_pending_header_holds_a_connection_slot(self):
        self.start(access__proxy_protocol_from=LISTED, http__max_connections="1")
        waiting = self.balancer(b"")  # connected, sends nothing yet
        self.assertTrue(self.wait_gauge('connections_open{listener="client"}', 1))
        refused = self.raw(source="127.0.0.2")
        self.assertTrue(self.closed_by_gateway(refused))
        self.wait_log(rf"connection refused client=127\.0\.0\.2:{refused.getsockname()[1]}: "
                      r"http\.max_connections reached \(1 refused so far\)$")
        # The header comes: the same slot carries the client's request.
        waiting.send_raw(v1(("198.51.100.9", 4000), ("192.0.2.10", 8080)))
        s = self.open(waiting)
        self.assertSessionOpen(s.sid, rf"198\.51\.100\.9:4000 via={re.escape(waiting.local_address)}")
        self.assertEqual(self.metric('connections_open{listener="client"}'), 1)
        # That connection gone, a balancer's connection whose header fails frees the slot again.
        waiting.close()
        self.assertTrue(self.wait_gauge('connections_open{listener="client"}', 0))
        bad = self.raw()
        bad.sendall(b"GET / HTTP/1.1\r\n\r\n")
        self.assertTrue(self.closed_by_gateway(bad))
        self.assertProxyFailure("127.0.0.1:%d" % bad.getsockname()[1], "not_proxy", "no PROXY header signature")
        after = self.connect(source="127.0.0.2")
        self.assertError(after.request("/fcs/ident2", b"\x00"), 404)
        stats = self.stop_and_stats()
        self.assertStats(stats, connections_accepted=3, connections_refused=1, sessions_opened=1)
        self.assertProxyStats(stats, headers=1, not_proxy=1)


if __name__ == "__main__":
    unittest.main()
