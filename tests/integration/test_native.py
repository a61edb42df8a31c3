"""Native RTMP on the RTMPT port: the first byte (RTMP's C0) makes a connection a relay session of its own,
its bytes passed unchanged both ways, under a session's limits. Each case checks what the client saw, the
`session end` line and the counters together."""
import http.client
import json
import re
import socket
import ssl
import threading
import time
import unittest

from scripted_backend import ScriptedBackend
from support import SESSION_END_RE, GatewayTestCase, q

C0C1 = b"\x03" + bytes(i % 251 for i in range(1536))  # RTMP's C0 and a C1-sized block
SESSION_OPEN = re.compile(r"session open sid=(\S+) client=\S+ transport=(\S+)")


class NativeTestCase(GatewayTestCase):
    def native(self, port=None, source=None):
        sock = socket.create_connection(("127.0.0.1", port or self.gw.port), timeout=5,
                                        source_address=(source, 0) if source else None)
        self.addCleanup(sock.close)
        return sock

    def closed_by_gateway(self, sock, timeout=5.0):
        """True when the gateway closes (EOF or reset) within `timeout`; bytes before it are read and dropped."""
        sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if not sock.recv(65536):
                    return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        return False

    def session_end(self, index=0, timeout=5.0):
        """The index-th native session's end line, as a dict, once it is logged."""
        m = self.gw.wait_for_log(r"session open sid=(\S+) client=\S+ transport=rtmps?$", timeout=timeout)
        sids = [mm.group(1) for mm in map(SESSION_OPEN.search, self.gw.lines) if mm and mm.group(2) in ("rtmp", "rtmps")]
        self.assertGreater(len(sids), index, self.gw.log_text())
        sid = sids[index]
        end = self.gw.wait_for_log(SESSION_END_RE.format(sid=re.escape(sid)), timeout=timeout)
        return end.groupdict() | {"sid": sid, "line": end.group(0)}

    def sessions_page(self):
        host, port = self.gw.admin_address()
        c = http.client.HTTPConnection(host, port, timeout=5)
        try:
            c.request("GET", "/sessions")
            return json.loads(c.getresponse().read())
        finally:
            c.close()


class NativeRelayTest(NativeTestCase):
    def test_bytes_relayed_unchanged_both_ways(self):
        self.start(backend=ScriptedBackend(echo=True))
        sock = self.native()
        payload = C0C1 + bytes(range(256)) * 256  # 64 KiB more after the handshake-sized block
        sock.sendall(payload)
        self.assertEqual(self.read_exactly(sock, len(payload), timeout=10), payload)
        self.assertEqual(bytes(self.backend.wait_for_connection().wait_for_bytes(len(payload))), payload)
        rows = self.sessions_page()
        self.assertEqual([(r["transport"], r["state"]) for r in rows], [("rtmp", "open")], rows)
        self.assertEqual(self.metric('transport_sessions_opened_total{transport="rtmp"}'), 1)
        self.assertEqual(self.metric('transport_bytes_total{transport="rtmp",direction="up"}'), len(payload))
        sock.close()
        end = self.session_end()
        self.assertEqual(end["reason"], "client close", end["line"])
        self.assertEqual((int(end["up"]), int(end["down"])), (len(payload), len(payload)))
        self.assertIn(" transport=rtmp ", end["line"])
        self.backend.connections[0].wait_for_eof()
        stats = self.stop_and_stats()
        self.assertEqual((stats["sessions_opened"], stats["closed_client_close"]), (1, 1), stats)
        self.assertEqual(stats["requests"], 0, stats)  # no HTTP request was parsed

    def test_rtmpt_and_rtmp_side_by_side_on_one_port(self):
        self.start(backend=ScriptedBackend(echo=True), session__idle_hold=q("0ms"))
        s = self.open()
        sock = self.native()
        sock.sendall(C0C1)
        self.assertEqual(self.read_exactly(sock, len(C0C1)), C0C1)
        self.assertReply(s.send(b"tunnel"))
        transports = sorted(r["transport"] for r in self.sessions_page())
        self.assertEqual(transports, ["rtmp", "rtmpt"])

    def test_backend_close_delivers_everything_then_closes_the_client(self):
        farewell = bytes(range(256)) * 200
        self.start(backend=ScriptedBackend(after_bytes=(len(C0C1), farewell), close_after=len(C0C1)))
        sock = self.native()
        sock.sendall(C0C1)
        self.assertEqual(self.read_exactly(sock, len(farewell), timeout=10), farewell)
        self.assertTrue(self.closed_by_gateway(sock))
        end = self.session_end()
        self.assertEqual(end["reason"], "backend closed", end["line"])
        self.assertEqual(int(end["down"]), len(farewell))

    def test_backend_refused(self):
        self.start(refused=True)
        sock = self.native()
        sock.sendall(C0C1)
        self.assertTrue(self.closed_by_gateway(sock))
        self.assertEqual(self.session_end()["reason"], "backend connect failed: Connection refused")


class NativeLimitsTest(NativeTestCase):
    def test_handshake_deadline(self):
        """A client that sends less than C0 and C1 within session.handshake_timeout is cut."""
        self.start(session__handshake_timeout=q("1s"))
        sock = self.native()
        sock.sendall(C0C1[:100])
        self.assertTrue(self.closed_by_gateway(sock, timeout=5))
        end = self.session_end()
        self.assertEqual(end["reason"], "handshake timeout", end["line"])
        self.assertGreaterEqual(float(end["age"]), 1.0)
        self.assertEqual(self.stop_and_stats()["closed_handshake_timeout"], 1)

    def test_idle_relay_is_reaped(self):
        self.start(session__idle_timeout=q("1s"))
        sock = self.native()
        sock.sendall(C0C1)
        self.backend.wait_for_connection().wait_for_bytes(len(C0C1))
        self.assertTrue(self.closed_by_gateway(sock, timeout=5))
        end = self.session_end()
        self.assertEqual(end["reason"], "idle timeout: no bytes either way", end["line"])
        self.assertEqual(self.stop_and_stats()["closed_idle_timeout"], 1)

    def test_max_lifetime(self):
        self.start(backend=ScriptedBackend(echo=True), session__max_lifetime=q("1s"))
        sock = self.native()
        sock.sendall(C0C1)
        self.read_exactly(sock, len(C0C1))
        self.assertTrue(self.closed_by_gateway(sock, timeout=5))
        self.assertEqual(self.session_end()["reason"], "max lifetime")

    def test_byte_cap_is_exact(self):
        self.start(session__max_bytes=q("4KiB"))
        sock = self.native()
        sock.sendall(C0C1 + bytes(8192))
        backend = self.backend.wait_for_connection()
        self.assertTrue(self.closed_by_gateway(sock, timeout=5))
        end = self.session_end()
        self.assertEqual(end["reason"], "byte limit", end["line"])
        self.assertEqual(int(end["up"]), 4096)
        backend.wait_for_eof()
        self.assertEqual(len(backend.received), 4096)

    def test_max_sessions_and_per_client_caps_close_at_once(self):
        self.start(session__max_sessions="1")
        first = self.native()
        first.sendall(C0C1)
        self.backend.wait_for_connection()
        second = self.native()
        second.sendall(C0C1)
        self.assertTrue(self.closed_by_gateway(second))
        self.gw.wait_for_log(r"session refused client=\S+: session.max_sessions reached")
        self.assertEqual(self.stop_and_stats()["refused_max_sessions"], 1)

    def test_per_client_cap(self):
        self.start(session__max_sessions_per_client="1")
        first = self.native()
        first.sendall(C0C1)
        self.backend.wait_for_connection()
        second = self.native()
        second.sendall(C0C1)
        self.assertTrue(self.closed_by_gateway(second))
        other = self.native(source="127.0.0.2")  # another address still gets in
        other.sendall(C0C1)
        self.backend.wait_for_connection(1)
        self.assertEqual(self.stop_and_stats()["refused_per_client"], 1)

    def test_access_deny(self):
        self.start(access__deny='["127.0.0.0/8"]')
        sock = self.native()
        sock.sendall(C0C1)
        self.assertTrue(self.closed_by_gateway(sock))
        self.gw.wait_for_log(r"session refused client=\S+: access.deny")
        stats = self.stop_and_stats()
        self.assertEqual((stats["refused_access"], stats["sessions_opened"]), (1, 0), stats)

    def test_backpressure_from_a_backend_that_reads_nothing(self):
        """The client's bytes wait in bounded queues and then in TCP: the gateway stops reading it, and
        everything arrives in order once the backend reads again."""
        self.start(backend=ScriptedBackend(read_paused=True, rcvbuf=4096), session__queue_max_bytes=q("64KiB"))
        sock = self.native()
        payload = C0C1 + bytes(i % 253 for i in range(16 * 1024 * 1024))
        sender = threading.Thread(target=lambda: sock.sendall(payload), daemon=True)
        sender.start()
        # Until what the gateway has forwarded stops growing: the backend's buffers are full.
        last, steady = -1, 0
        deadline = time.monotonic() + 8
        while steady < 5 and time.monotonic() < deadline:
            rows = self.sessions_page()
            up = rows[0]["bytes_up"] if rows else 0
            steady = steady + 1 if up == last else 0
            last = up
            time.sleep(0.05)
        self.assertEqual(steady, 5, "the gateway kept forwarding to a backend that reads nothing")
        rows = self.sessions_page()
        # At most a queue each in the backend link and the client's input (plus one read).
        self.assertLessEqual(rows[0]["queued_up"], 2 * 65536 + 65536, rows)
        self.assertTrue(sender.is_alive(), "the client sent 16 MiB into a backend that reads nothing")
        self.backend.resume_reading()
        sender.join(20)
        self.assertFalse(sender.is_alive())
        got = self.backend.connections[0].wait_for_bytes(len(payload), timeout=20)
        self.assertEqual(bytes(got), payload)

    def test_a_client_that_reads_nothing_is_not_read_for(self):
        """The backend streams; the client reads nothing: the gateway stops reading the backend."""
        stream = bytes(range(256)) * 4096  # 1 MiB
        self.start(backend=ScriptedBackend(after_bytes=(len(C0C1), stream * 8)),
                   session__queue_max_bytes=q("64KiB"))
        sock = self.native()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(C0C1)
        backend = self.backend.wait_for_connection()
        backend.wait_for_bytes(len(C0C1))
        # Until the queues and the kernel's buffers fill, then the backend's writer blocks.
        for _ in range(100):
            rows = self.sessions_page()
            if rows and rows[0]["queued_down"] >= 65536:
                break
            time.sleep(0.05)
        rows = self.sessions_page()
        self.assertLessEqual(rows[0]["queued_down"], 2 * 65536 + 65536, rows)
        got = self.read_exactly(sock, len(stream), timeout=20)
        self.assertEqual(got, stream)


class FirstBytesTest(NativeTestCase):
    def test_a_connection_that_sends_nothing_is_closed_at_the_header_timeout(self):
        """The first byte decides the protocol; it has http.header_timeout from the accept to come."""
        self.start(http__header_timeout=q("1s"))
        sock = self.native()
        started = time.monotonic()
        self.assertTrue(self.closed_by_gateway(sock, timeout=5))
        self.assertGreaterEqual(time.monotonic() - started, 0.9)
        line = self.gw.wait_for_log(r"http client=\S+ closed: no first byte within http.header_timeout").string
        stats = self.stop_and_stats()
        self.assertEqual((stats["first_bytes_timeouts"], stats["sessions_opened"]), (1, 0), (stats, line))


class RtmpsStreamTest(NativeTestCase):
    def test_a_backend_stream_arrives_in_order_over_tls(self):
        """The backend streams 2 MiB at once; the rtmps client gets exactly those bytes, in order (libevent
        writes several output blocks per turn: a partly written TLS record must not let the next one
        overtake it)."""
        import shutil
        import tempfile
        from lib import tls_certs
        certs = tempfile.mkdtemp(prefix="rtmpt-tls-")
        self.addCleanup(shutil.rmtree, certs, True)
        ca = tls_certs.make_ca(certs)
        chain, key = tls_certs.make_leaf(certs)
        stream = bytes((i * 7 + i // 251) % 256 for i in range(2 * 1024 * 1024))
        self.start(backend=ScriptedBackend(after_bytes=(len(C0C1), stream)), tls__listen='["127.0.0.1:0"]',
                   tls__certificate=q(chain), tls__key=q(key))
        port = int(self.gw.wait_for_log(r"listening for TLS on (\S+):(\d+)").group(2))
        sock = ssl.create_default_context(cafile=ca).wrap_socket(self.native(port), server_hostname="localhost")
        sock.sendall(C0C1)
        got = self.read_exactly(sock, len(stream), timeout=20)
        self.assertEqual(len(got), len(stream))
        first_bad = next((i for i, (a, b) in enumerate(zip(got, stream)) if a != b), None)
        self.assertIsNone(first_bad, f"bytes differ from offset {first_bad}")


    def test_a_player_that_closes_politely_mid_stream_leaves_nothing_behind(self):
        """An rtmps player sends TLS's close_notify while the backend still streams, then closes with bytes
        unread (the kernel answers with a reset). Its connection and its backend's go within their linger
        limit (5 s): no descriptor is left behind."""
        import shutil
        import tempfile
        from lib import tls_certs
        certs = tempfile.mkdtemp(prefix="rtmpt-tls-")
        self.addCleanup(shutil.rmtree, certs, True)
        ca = tls_certs.make_ca(certs)
        chain, key = tls_certs.make_leaf(certs)
        self.start(backend=ScriptedBackend(after_bytes=(len(C0C1), bytes(32 << 20))), tls__listen='["127.0.0.1:0"]',
                   tls__certificate=q(chain), tls__key=q(key))
        port = int(self.gw.wait_for_log(r"listening for TLS on (\S+):(\d+)").group(2))
        raw = self.native(port)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = ssl.create_default_context(cafile=ca).wrap_bio(incoming, outgoing, server_hostname="localhost")

        def pump(timeout=5.0):
            if outgoing.pending:
                raw.sendall(outgoing.read())
            raw.settimeout(timeout)
            data = raw.recv(65536)
            incoming.write(data) if data else incoming.write_eof()

        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                pump()
        tls.write(C0C1)
        raw.sendall(outgoing.read())
        pump()  # some of the stream, then the gateway's queue to us fills
        self.wait_metric('transport_bytes_total{transport="rtmps",direction="down"}', 1)
        try:
            tls.unwrap()  # close_notify
        except (ssl.SSLWantReadError, ssl.SSLError):
            pass
        raw.sendall(outgoing.read())
        raw.close()
        end = self.session_end(timeout=10)
        self.assertEqual(end["reason"], "client close", end["line"])
        deadline = time.monotonic() + 10
        while self.metric("backend_lingering") > 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(self.metric("backend_lingering"), 0, "a closed client's connection is still held")


class NativeDrainTest(NativeTestCase):
    def test_native_open_refused_while_draining(self):
        self.start(backend=ScriptedBackend(echo=True), process__shutdown_timeout=q("30s"))
        live = self.native()
        live.sendall(C0C1)
        self.read_exactly(live, len(C0C1))
        import signal
        self.gw.signal(signal.SIGTERM)
        self.gw.wait_for_log(r"draining sessions=1")
        late = self.native()
        late.sendall(C0C1)
        self.assertTrue(self.closed_by_gateway(late))
        # The live relay still works during the drain.
        live.sendall(b"more")
        self.assertEqual(self.read_exactly(live, 4), b"more")
        live.close()
        self.assertEqual(self.wait_gateway_exit(10), 0)
        self.assertEqual(self.stop_and_stats()["refused_draining"], 1)


class RtmpsTest(NativeTestCase):
    def test_rtmp_inside_tls_is_rtmps(self):
        import shutil
        import tempfile
        from lib import tls_certs
        certs = tempfile.mkdtemp(prefix="rtmpt-tls-")
        self.addCleanup(shutil.rmtree, certs, True)
        ca = tls_certs.make_ca(certs)
        chain, key = tls_certs.make_leaf(certs)
        self.start(backend=ScriptedBackend(echo=True), tls__listen='["127.0.0.1:0"]', tls__certificate=q(chain),
                   tls__key=q(key))
        port = int(self.gw.wait_for_log(r"listening for TLS on (\S+):(\d+)").group(2))
        ctx = ssl.create_default_context(cafile=ca)
        sock = ctx.wrap_socket(self.native(port), server_hostname="localhost")
        # Patterned, and more than one TLS record and one output block: reordered bytes would show.
        payload = C0C1 + bytes(i % 251 for i in range(300 * 1024))
        sock.sendall(payload)
        self.assertEqual(self.read_exactly(sock, len(payload), timeout=10), payload)
        self.assertEqual([r["transport"] for r in self.sessions_page()], ["rtmps"])
        sock.close()
        end = self.session_end()
        self.assertIn(" transport=rtmps ", end["line"])
        self.assertEqual(self.metric('transport_bytes_total{transport="rtmps",direction="down"}'), len(payload))


if __name__ == "__main__":
    unittest.main()
