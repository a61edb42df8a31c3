"""TLS listeners (RTMPTS): the tunnel over HTTPS, and what hostile or outdated clients get. Every case
checks what the client saw, the log line and the counter together."""
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

from rtmpt_client import HttpConnection, open_session
from scripted_backend import ScriptedBackend
from support import GatewayTestCase, q

from lib import tls_certs


def client_context(ca):
    ctx = ssl.create_default_context(cafile=ca)
    return ctx


def client_hello(ca):
    """The bytes of a real TLS ClientHello, taken from an in-memory handshake."""
    ctx = client_context(ca)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


class TlsTestCase(GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        cls.certs = tempfile.mkdtemp(prefix="rtmpt-tls-")
        cls.ca = tls_certs.make_ca(cls.certs)
        cls.chain, cls.key = tls_certs.make_leaf(cls.certs)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.certs, ignore_errors=True)

    def start_tls(self, backend=None, **overrides):
        gw = self.start(backend=backend, tls__listen='["127.0.0.1:0"]', tls__certificate=q(self.chain),
                        tls__key=q(self.key), **overrides)
        m = gw.wait_for_log(r"listening for TLS on (\S+):(\d+)")
        self.tls_port = int(m.group(2))
        return gw

    def tls_connect(self, ctx=None):
        conn = HttpConnection("127.0.0.1", self.tls_port, tls=ctx or client_context(self.ca))
        self.addCleanup(conn.close)
        return conn

    def raw_connect(self):
        sock = socket.create_connection(("127.0.0.1", self.tls_port), timeout=5)
        self.addCleanup(sock.close)
        return sock

    def read_until_closed(self, sock, timeout=5.0):
        """Everything the gateway sends before it closes (bounded)."""
        sock.settimeout(timeout)
        got = bytearray()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            got += chunk
        return bytes(got)

    def assertHandshakeFailure(self, reason, log_pattern):
        """The failure is logged once with its reason and counted under it, and nothing else is."""
        self.gw.wait_for_log(r"tls client=\S+ handshake failed \(%s\): %s" % (reason, log_pattern))
        self.assertTrue(self.wait_metric(f'tls_handshake_failures_total{{reason="{reason}"}}', 1),
                        self.gw.log_text())
        stats = self.stop_and_stats()
        for other in ("timeout", "closed", "not_tls", "version", "cipher", "other"):
            self.assertEqual(stats[f"tls_failed_{other}"], 1 if other == reason else 0, (other, stats))
        self.assertEqual(stats["tls_handshakes"], 0, stats)


class TlsTunnelTest(TlsTestCase):
    def test_session_over_tls_relays_both_ways(self):
        """A whole session over HTTPS: the client verifies the chain for localhost, bytes go both ways."""
        self.start_tls(backend=ScriptedBackend(echo=True), session__idle_hold=q("0ms"))
        conn = self.tls_connect()
        self.assertEqual(conn.sock.version() in ("TLSv1.2", "TLSv1.3"), True, conn.sock.version())
        session, resp = open_session(conn, b"\x00", 0)
        self.assertOk(resp)
        payload = bytes(range(256)) * 64  # 16 KiB, several TLS records
        self.assertReply(session.send(payload))
        echoed = bytearray()
        deadline = time.monotonic() + 10
        while len(echoed) < len(payload):
            self.assertLess(time.monotonic(), deadline, f"{len(echoed)} of {len(payload)} echoed bytes")
            r = session.idle()
            self.assertReply(r)
            echoed += r.data
        self.assertEqual(bytes(echoed), payload)
        self.assertOk(session.close())
        end = self.wait_session_end(session.sid)
        self.assertEqual(end["reason"], "client close")
        self.assertEqual(self.metric("tls_handshakes_total"), 1)

    def test_pipelined_full_replies_arrive_in_order(self):
        """A backend with 1 MiB ready and six idles pipelined over TLS: every reply is full, and their bytes
        are the backend's stream in order (several replies queued at once must not overtake each other)."""
        stream = bytes((i * 13 + i // 251) % 256 for i in range(1024 * 1024))
        self.start_tls(backend=ScriptedBackend(after_bytes=(1, stream)), session__idle_hold=q("0ms"),
                       session__coalesce_wait=q("0ms"))
        conn = self.tls_connect()
        session, resp = open_session(conn, b"\x00", 0)
        self.assertOk(resp)
        self.assertReply(session.send(b"\x03"))
        self.backend.wait_for_connection().wait_sent(timeout=10)
        got = bytearray()
        deadline = time.monotonic() + 20
        while len(got) < len(stream):
            self.assertLess(time.monotonic(), deadline, f"{len(got)} of {len(stream)} bytes")
            seqs = [session.seq + k for k in range(6)]
            session.seq += 6
            conn.send_pipelined([(f"/idle/{session.sid}/{n}", b"\x00") for n in seqs])
            for _ in seqs:
                r = conn.read_response(timeout=10)
                self.assertReply(r)
                got += r.data
        self.assertEqual(len(got), len(stream))
        first_bad = next((i for i, (a, b) in enumerate(zip(got, stream)) if a != b), None)
        self.assertIsNone(first_bad, f"bytes differ from offset {first_bad}")

    def test_plain_and_tls_listeners_side_by_side(self):
        """The plain listener still speaks plain HTTP; a session opened over TLS continues over plain HTTP."""
        self.start_tls(session__idle_hold=q("0ms"))
        session, resp = open_session(self.tls_connect(), b"\x00", 0)
        self.assertOk(resp)
        self.assertReply(session.idle(conn=self.connect()))

    def test_resumed_session_is_accepted(self):
        """A client resuming its TLS session (TLS 1.2 session ids) skips the full handshake."""
        self.start_tls()
        ctx = client_context(self.ca)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        first = self.tls_connect(ctx)
        self.assertError(first.request("/fcs/ident2", b"\x00"), 404)  # a request answered over the session
        saved = first.sock.session
        first.close()
        sock = socket.create_connection(("127.0.0.1", self.tls_port), timeout=5)
        self.addCleanup(sock.close)
        again = ctx.wrap_socket(sock, server_hostname="localhost", session=saved)
        self.assertTrue(again.session_reused, "the TLS session was not resumed")
        again.close()
        self.assertTrue(self.wait_metric("tls_handshakes_total", 2))


class TlsHostileTest(TlsTestCase):
    def test_plain_http_on_tls_port_gets_400(self):
        self.start_tls()
        sock = self.raw_connect()
        sock.sendall(b"POST /open/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n\x00")
        answer = self.read_until_closed(sock)
        self.assertTrue(answer.startswith(b"HTTP/1.1 400 "), answer)
        self.assertIn(b"Connection: close", answer)
        self.assertHandshakeFailure("not_tls", "plain HTTP on a TLS port: answered 400")

    def test_bytes_that_are_neither_are_refused(self):
        self.start_tls()
        sock = self.raw_connect()
        sock.sendall(b"\x03" + bytes(range(1, 200)))  # an RTMP C0 and noise: not TLS
        self.assertNotIn(b"HTTP/", self.read_until_closed(sock))
        self.assertHandshakeFailure("not_tls", r"\S+")

    def test_truncated_client_hello_then_close(self):
        self.start_tls()
        hello = client_hello(self.ca)
        sock = self.raw_connect()
        sock.sendall(hello[: len(hello) // 2])
        sock.shutdown(socket.SHUT_WR)
        answer = self.read_until_closed(sock)
        self.assertTrue(answer == b"" or answer.startswith(b"\x15\x03"), answer)  # nothing, or a TLS alert
        self.assertHandshakeFailure("closed", "the client closed during the TLS handshake")

    def test_dribbled_handshake_is_cut_at_the_header_timeout(self):
        """One byte of ClientHello every 200 ms: each byte would restart an idle timer, not the deadline."""
        self.start_tls(http__header_timeout=q("1s"))
        hello = client_hello(self.ca)
        sock = self.raw_connect()
        started = time.monotonic()
        closed = False
        for b in hello:
            try:
                sock.sendall(bytes([b]))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if self.gw.wait_until(lambda lines: any("handshake failed (timeout)" in x for x in lines), timeout=0.2):
                closed = True
                break
        self.assertTrue(closed, "the dribbled handshake was never cut")
        self.assertLess(time.monotonic() - started, 5.0)
        self.assertEqual(self.read_until_closed(sock), b"")
        self.assertHandshakeFailure("timeout", "no TLS handshake within http.header_timeout")

    def test_silence_after_the_handshake_is_cut_at_the_header_timeout(self):
        """Inside TLS too, the first byte has http.header_timeout (from the end of the handshake) to come."""
        self.start_tls(http__header_timeout=q("1s"))
        conn = self.tls_connect()
        self.assertTrue(conn.wait_closed(timeout=5))
        self.gw.wait_for_log(r"http client=\S+ closed: no first byte within http.header_timeout")
        stats = self.stop_and_stats()
        self.assertEqual((stats["first_bytes_timeouts"], stats["tls_handshakes"]), (1, 1), stats)

    def test_tls_1_0_and_1_1_are_refused(self):
        for version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
            with self.subTest(version=version.name):
                self.start_tls()
                ctx = client_context(self.ca)
                ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client offer what it would refuse itself
                ctx.minimum_version = ssl.TLSVersion.TLSv1
                ctx.maximum_version = version
                with self.assertRaises(ssl.SSLError) as raised:
                    self.tls_connect(ctx)
                self.assertIn("VERSION", str(raised.exception).upper())
                self.assertHandshakeFailure("version", "unsupported protocol")

    def test_no_shared_cipher_is_refused(self):
        self.start_tls()
        ctx = client_context(self.ca)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("AES128-SHA:@SECLEVEL=0")  # RSA key exchange, CBC: not in the profile
        with self.assertRaises(ssl.SSLError):
            self.tls_connect(ctx)
        self.assertHandshakeFailure("cipher", "no shared cipher")

    def test_renegotiation_is_refused(self):
        """openssl s_client's `R` asks for a renegotiation under TLS 1.2; the gateway does not renegotiate,
        and the connection still carries requests after the refusal, or is closed: never a second handshake."""
        self.start_tls()
        proc = subprocess.run(
            ["openssl", "s_client", "-connect", f"127.0.0.1:{self.tls_port}", "-tls1_2", "-CAfile", self.ca,
             "-servername", "localhost"],
            input=b"R\n", capture_output=True, timeout=20)
        out = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
        self.assertIn("RENEGOTIATING", out)
        stats = self.stop_and_stats()
        self.assertEqual(stats["tls_handshakes"], 1, out)


class TlsScanTest(TlsTestCase):
    # What Mozilla's intermediate profile admits: AEAD ciphers with forward secrecy.
    STRONG = re.compile(r"^(TLS_AES_128_GCM_SHA256|TLS_AES_256_GCM_SHA384|TLS_CHACHA20_POLY1305_SHA256|"
                        r"(ECDHE-(ECDSA|RSA)|DHE-RSA)-(AES128-GCM-SHA256|AES256-GCM-SHA384|CHACHA20-POLY1305))$")

    def test_sslscan_finds_no_weak_protocol_or_cipher(self):
        """Debian's sslscan against the TLS listener: TLS 1.2 and 1.3 only, strong ciphers only, no
        renegotiation, no compression. Its summary is printed for the closing note."""
        if shutil.which("sslscan") is None:
            self.fail("sslscan not installed (packaging/install-deps.sh installs it)")
        self.start_tls()
        proc = subprocess.run(["sslscan", "--no-colour", f"127.0.0.1:{self.tls_port}"], capture_output=True,
                              timeout=120, text=True)
        out = proc.stdout
        protocols = dict(re.findall(r"^(SSLv2|SSLv3|TLSv1\.[0-3])\s+(enabled|disabled)$", out, re.M))
        self.assertEqual(protocols, {"SSLv2": "disabled", "SSLv3": "disabled", "TLSv1.0": "disabled",
                                     "TLSv1.1": "disabled", "TLSv1.2": "enabled", "TLSv1.3": "enabled"}, out)
        ciphers = re.findall(r"^(?:Preferred|Accepted)\s+(TLSv1\.[23])\s+(\d+) bits\s+(\S+)", out, re.M)
        self.assertTrue(ciphers, out)
        weak = [c for c in ciphers if not self.STRONG.match(c[2])]
        self.assertEqual(weak, [], out)
        self.assertIn("Session renegotiation not supported", out)
        self.assertNotIn("Compression enabled", out)
        for line in re.findall(r"^.*heartbleed.*$", out, re.M):
            self.assertIn("not vulnerable", line, out)
        summary = ", ".join(sorted({f"{v} {name}" for v, _, name in ciphers}))
        sys.stderr.write(f"\n[sslscan] protocols: TLSv1.2, TLSv1.3; ciphers: {summary}\n")


class TlsSniTest(TlsTestCase):
    def served(self, server_name):
        """The DER leaf the gateway serves a client asking for `server_name` (None: no SNI at all)."""
        ctx = ssl.create_default_context(cafile=self.ca)
        ctx.check_hostname = False
        sock = socket.create_connection(("127.0.0.1", self.tls_port), timeout=5)
        with ctx.wrap_socket(sock, server_hostname=server_name) as tls:
            return tls.getpeercert(binary_form=True)

    def test_certificates_chosen_by_server_name(self):
        sni = os.path.join(self.certs, "sni")
        stream = tls_certs.make_combined(self.certs, "stream", "DNS:stream.example.test", sni)
        wild = tls_certs.make_combined(self.certs, "wild", "DNS:*.wild.test", sni)
        self.start_tls(tls__sni_directory=q(sni))
        for path in (self.chain, stream, wild):
            self.gw.wait_for_log(r"tls certificate file=%s subject=\S+ expires_in_days=" % re.escape(path))
        der = {name: ssl.PEM_cert_to_DER_cert(open(path).read().split("-----END CERTIFICATE-----")[0] +
                                              "-----END CERTIFICATE-----\n")
               for name, path in (("default", self.chain), ("stream", stream), ("wild", wild))}
        self.assertEqual(self.served("stream.example.test"), der["stream"])
        self.assertEqual(self.served("a.wild.test"), der["wild"])
        self.assertEqual(self.served("localhost"), der["default"])
        self.assertEqual(self.served("other.test"), der["default"])
        self.assertEqual(self.served(None), der["default"])
        # Each certificate has its expiry on /metrics.
        self.assertGreater(self.metric(f'tls_certificate_expiry_seconds{{file="{wild}"}}'), 86400)

    def test_a_bad_file_in_the_directory_refuses_the_start(self):
        sni = os.path.join(self.certs, "sni-bad")
        os.makedirs(sni, exist_ok=True)
        broken = os.path.join(sni, "broken.pem")
        with open(broken, "w") as f:
            f.write("not a certificate\n")
        with self.assertRaises(AssertionError) as raised:
            self.start_tls(tls__sni_directory=q(sni))
        self.assertIn(f"{broken}: cannot load the certificate chain", str(raised.exception))


class TlsConfigTest(TlsTestCase):
    def test_key_that_does_not_match_is_refused_at_start(self):
        other_chain, other_key = tls_certs.make_leaf(self.certs, name="other")
        with self.assertRaises(AssertionError) as raised:
            self.start(tls__listen='["127.0.0.1:0"]', tls__certificate=q(self.chain), tls__key=q(other_key))
        self.assertIn(f"{other_key}: the private key does not match the certificate in {self.chain}",
                      str(raised.exception))


if __name__ == "__main__":
    unittest.main()
