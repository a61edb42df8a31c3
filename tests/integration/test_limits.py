"""Limits and their counters: session caps and timeouts, HTTP size and time limits, the stats line.

Each test checks three things together: what the client saw, the log line giving the reason, and
the counters of the `stats` line the gateway logs when it stops (GatewayTestCase.stop_and_stats).
"""
import re
import time
import unittest

from rtmpt_client import build_request
from scripted_backend import ScriptedBackend
from support import UNKNOWN_SID, GatewayTestCase, q

COUNTERS = ["connections_accepted", "connections_refused", "accept_pauses", "requests", "requests_handed_over", "sessions_opened",
            "refused_max_sessions", "refused_draining", "refused_per_client", "refused_access", "refused_other_client",
            "forwarded_unreadable", "refused_queue_full", "refused_stale_sequence",
            "refused_retries", "refused_malformed", "refused_upgrade",
            "refused_header_too_large", "refused_body_too_large", "refused_header_timeout", "requests_truncated",
            "refused_method",
            "unknown_path", "unknown_session", "retries_from_cache", "sequence_start_reordered", "sequence_start_one",
            "write_timeouts", "bytes_up", "bytes_down",
            "replies_empty", "replies_data", "idles_coalesced", "first_bytes_timeouts", "tls_handshakes", "tls_failed_timeout", "tls_failed_closed", "tls_failed_not_tls", "tls_failed_version", "tls_failed_cipher", "tls_failed_other", "proxy_headers", "proxy_empty", "proxy_failed_not_proxy", "proxy_failed_malformed", "proxy_failed_too_long", "proxy_failed_timeout", "proxy_failed_closed", "admin_refused", "admin_errors", "log_lines_dropped", "reloads", "reloads_failed"]
CLOSE_REASONS = ["client_close", "idle_timeout", "backend_closed", "backend_connect_failed", "backend_error",
                 "sequence_out_of_window", "sequence_gap_timeout", "handshake_timeout", "max_lifetime", "byte_limit", "shutdown"]
STATS_NAMES = COUNTERS + ["closed_" + r for r in CLOSE_REASONS]

KiB = 1024


def blob(size, salt=0):
    """`size` bytes that differ by position, so loss, duplication and order all show."""
    base = bytes(range(251)) * (size // 251 + 2)
    return base[salt % 251:salt % 251 + size]


class LimitsTestCase(GatewayTestCase):
    def assertStats(self, stats, **expected):
        """Every counter named in `expected` has that value; all others are only required to exist."""
        self.assertEqual(sorted(stats), sorted(STATS_NAMES), "the stats line does not name the expected counters")
        got = {k: stats[k] for k in expected}
        self.assertEqual(got, expected, f"counters differ; whole stats line: {stats}")

    def assertStatsZero(self, stats, *names):
        self.assertEqual({n: stats[n] for n in names}, {n: 0 for n in names}, f"whole stats line: {stats}")

    def wait_log(self, pattern, timeout=5.0):
        return self.gw.wait_for_log(pattern, timeout=timeout)

    def assertNoSessionEnd(self, sid):
        self.assertNotRegex(self.gw.log_text(), rf"session end sid={re.escape(sid)}")

    def assertRefusedAndClosed(self, conn, status):
        """An error reply with `status` that says `Connection: close`, then EOF with nothing after it."""
        r = conn.read_response()
        self.assertError(r, status)
        self.assertEqual(r.header("Connection"), "close", f"{status} without Connection: close: {r!r}")
        self.assertTrue(conn.wait_closed(5.0), f"connection not closed after the {status} "
                                               f"(or more bytes followed): {bytes(conn._buf[:200])!r}")
        return r


class StatsLineTest(LimitsTestCase):
    def test_stats_line_names_every_counter_in_order(self):
        self.start()
        # One answered request first: it also shows the event loop (and its SIGTERM handler) is up.
        self.assertError(self.connect().request("/nothing", b"\x00"), 404)
        stats = self.stop_and_stats()
        lines = [line for line in self.gw.lines if " info stats " in line]
        self.assertEqual(len(lines), 1, self.gw.log_text())
        self.assertRegex(lines[0], r"^\S+ info stats [a-z_]+=")
        names = re.findall(r" ([a-z_]+)=\d+", lines[0])
        self.assertEqual(names, STATS_NAMES, f"stats line: {lines[0]!r}")
        expected = {n: 0 for n in STATS_NAMES}
        expected.update(connections_accepted=1, requests=1, unknown_path=1)
        self.assertEqual(stats, expected, "a gateway that answered one 404 counted something else")

    def test_bytes_up_and_down_equal_bytes_carried(self):
        down = blob(5000, 7)
        backend = ScriptedBackend(after_bytes=(1, down))
        self.start(backend=backend, session__reply_max_bytes=q("1KiB"), session__idle_hold=q("1s"))
        conn = self.connect()
        s = self.open(conn)
        bc = backend.wait_for_connection()
        sends = [b"\x03", blob(1000, 1), blob(2345, 2)]
        requests = 1
        got = bytearray()
        for body in sends:
            r = s.send(body)
            self.assertReply(r)
            got += r.data                         # the backend starts talking after the first byte
            requests += 1
        up = b"".join(sends)
        self.assertEqual(bc.wait_for_bytes(len(up)), up)
        bc.wait_sent()
        deadline = time.monotonic() + 5
        while len(got) < len(down):
            self.assertLess(time.monotonic(), deadline, f"only {len(got)} of {len(down)} backend bytes arrived")
            r = s.idle()
            requests += 1
            self.assertReply(r)
            self.assertLessEqual(len(r.body), KiB)  # polling byte included
            got += r.data
        self.assertEqual(bytes(got), down)
        # More backend bytes that the client never asks for: not delivered, so not counted.
        bc.send(b"never delivered")
        bc.wait_sent()
        self.assertOk(s.close(), b"\x00")
        requests += 1
        end = self.wait_session_end(s.sid)
        self.assertReason(end, "client close")
        self.assertEqual((end["up"], end["down"]), (len(up), len(down)))
        bc.wait_for_eof()
        self.assertEqual(bc.data(), up, "the backend received other bytes than the client sent")
        stats = self.stop_and_stats()
        self.assertStats(stats, bytes_up=len(up), bytes_down=len(down), requests=requests, sessions_opened=1,
                         connections_accepted=1, closed_client_close=1, closed_shutdown=0)

    def test_close_is_counted_as_client_close(self):
        self.start()
        a = self.open()
        b = self.open()
        self.assertReply(a.send(b"\x03"))
        self.assertOk(a.close(), b"\x00")
        self.assertReason(self.wait_session_end(a.sid), "client close")
        self.assertError(self.connect().request(f"/idle/{a.sid}/2", b"\x00"), 404)
        self.assertNoSessionEnd(b.sid)
        stats = self.stop_and_stats()
        # The open session b ends at shutdown, after (and counted in) the same stats line.
        self.assertReason(self.wait_session_end(b.sid), "shutdown")
        self.assertStats(stats, sessions_opened=2, closed_client_close=1, closed_shutdown=1, unknown_session=1,
                         bytes_up=1)
        self.assertStatsZero(stats, *("closed_" + r for r in CLOSE_REASONS if r not in ("client_close", "shutdown")))


class HandshakeTimeoutTest(LimitsTestCase):
    def test_session_without_client_bytes_ends_after_handshake_timeout(self):
        self.start(session__handshake_timeout=q("1s"), session__idle_hold=q("300ms"))
        # Opened first and so older when the janitor sweeps: the session that sent bytes.
        active = self.open()
        self.assertReply(active.send(b"\x03"))
        self.backend.wait_for_connection(0).wait_for_bytes(1)
        silent = self.open()
        silent_backend = self.backend.wait_for_connection(1)
        t_open = time.monotonic()
        # Requests without bytes: an empty send and an idle do not count as a handshake.
        self.assertReply(silent.send(b""))
        self.assertReply(silent.idle())
        end = self.wait_session_end(silent.sid, timeout=5.0)
        waited = time.monotonic() - t_open
        self.assertReason(end, "handshake timeout")
        self.assertGreaterEqual(end["age"], 1.0, "session ended before session.handshake_timeout")
        self.assertLess(end["age"], 2.5)
        self.assertGreaterEqual(waited, 0.9)
        self.assertEqual((end["up"], end["down"]), (0, 0))
        silent_backend.wait_for_eof()
        self.assertError(silent.idle(), 404)
        self.assertError(self.connect().request(f"/send/{silent.sid}/{silent.seq}", b"\x03"), 404)
        # The sweep that ended `silent` also saw `active`, which is older: it is untouched.
        self.assertReply(active.idle())
        self.assertNoSessionEnd(active.sid)
        self.assertFalse(self.backend.connections[0].eof, "backend of the session that sent bytes was closed")
        stats = self.stop_and_stats()
        self.assertStats(stats, sessions_opened=2, closed_handshake_timeout=1, closed_shutdown=1,
                         unknown_session=2, closed_idle_timeout=0, closed_max_lifetime=0)


class MaxLifetimeTest(LimitsTestCase):
    def test_active_session_ends_at_max_lifetime(self):
        self.start(session__max_lifetime=q("1s"), session__idle_hold=q("200ms"))
        s = self.open()
        bc = self.backend.wait_for_connection()
        t_open = time.monotonic()
        sent = 0
        answered = 0
        deadline = t_open + 5
        # Busy all along: a send and a (held) idle every ~200 ms, until the session is gone.
        while True:
            self.assertLess(time.monotonic(), deadline, "session outlived session.max_lifetime by far")
            r = s.send(b"x")
            if r.status != 200:
                break
            self.assertReply(r)
            sent += 1
            r = s.idle()
            if r.status != 200:
                break
            self.assertReply(r)
            answered += 1
        self.assertError(r, 404)
        self.assertGreaterEqual(time.monotonic() - t_open, 0.9, "session ended before session.max_lifetime")
        self.assertGreaterEqual(answered, 3, "the session was not active before it ended")
        end = self.wait_session_end(s.sid)
        self.assertReason(end, "max lifetime")
        self.assertGreaterEqual(end["age"], 1.0)
        self.assertLess(end["age"], 2.0)
        self.assertEqual(end["up"], sent)
        bc.wait_for_eof()
        self.assertEqual(bc.data(), b"x" * sent)
        self.assertError(self.connect().request(f"/idle/{s.sid}/{s.seq}", b"\x00"), 404)
        stats = self.stop_and_stats()
        self.assertStats(stats, sessions_opened=1, closed_max_lifetime=1, closed_shutdown=0, bytes_up=sent,
                         closed_handshake_timeout=0, closed_idle_timeout=0)


class ByteLimitTest(LimitsTestCase):
    def test_down_cap_delivers_exactly_the_cap_then_404(self):
        cap = 5000
        data = blob(12000, 3)
        backend = ScriptedBackend(after_bytes=(1, data))
        self.start(backend=backend, session__max_bytes=cap, session__reply_max_bytes=q("2KiB"),
                   session__idle_hold=q("1s"))
        s = self.open()
        bc = backend.wait_for_connection()
        r = s.send(b"\x03")
        self.assertReply(r)
        got = bytearray(r.data)
        bc.wait_for_bytes(1)
        bc.wait_sent()
        deadline = time.monotonic() + 5
        while True:
            self.assertLess(time.monotonic(), deadline, f"no 404 after {len(got)} bytes")
            r = s.idle()
            if r.status != 200:
                break
            self.assertReply(r)
            self.assertLessEqual(len(r.body), 2 * KiB)  # polling byte included
            got += r.data
            self.assertLessEqual(len(got), cap, "replies carried more backend bytes than session.max_bytes")
        self.assertError(r, 404)
        self.assertEqual(bytes(got), data[:cap], "the client did not get exactly the first max_bytes bytes")
        end = self.wait_session_end(s.sid)
        self.assertReason(end, "byte limit")
        self.assertEqual((end["up"], end["down"]), (1, cap))
        bc.wait_for_eof()
        stats = self.stop_and_stats()
        self.assertStats(stats, bytes_down=cap, bytes_up=1, closed_byte_limit=1, closed_shutdown=0,
                         unknown_session=1)

    def test_up_cap_ends_session_after_the_reply_that_reached_it(self):
        self.start(session__max_bytes=q("4KiB"), session__idle_hold=q("0ms"))
        s = self.open()
        bc = self.backend.wait_for_connection()
        first, second = blob(3000, 1), blob(4096 - 3000, 2)
        self.assertReply(s.send(first))
        self.assertNoSessionEnd(s.sid)
        self.assertReply(s.send(second))          # reaches the cap: still answered 200
        self.assertError(s.send(b"more"), 404)
        end = self.wait_session_end(s.sid)
        self.assertReason(end, "byte limit")
        self.assertEqual((end["up"], end["down"]), (4096, 0))
        bc.wait_for_eof()
        self.assertEqual(bc.data(), first + second)
        stats = self.stop_and_stats()
        self.assertStats(stats, bytes_up=4096, bytes_down=0, closed_byte_limit=1, closed_shutdown=0,
                         unknown_session=1)

    def test_up_cap_is_exact_when_a_send_crosses_it(self):
        self.start(session__max_bytes=5000, session__idle_hold=q("0ms"))
        s = self.open()
        bc = self.backend.wait_for_connection()
        first, second = blob(3000, 1), blob(3000, 2)
        self.assertReply(s.send(first))
        self.assertReply(s.send(second))          # crosses the cap: only 2000 bytes go on
        end = self.wait_session_end(s.sid)
        self.assertReason(end, "byte limit")
        self.assertEqual(end["up"], 5000)
        bc.wait_for_eof()
        self.assertEqual(bc.data(), first + second[:2000])
        stats = self.stop_and_stats()
        self.assertStats(stats, bytes_up=5000, closed_byte_limit=1)


class SessionCapsTest(LimitsTestCase):
    def test_open_beyond_per_client_cap_gets_429(self):
        self.start(session__max_sessions_per_client=2)
        a = self.open()
        b = self.open()
        conn = self.connect()
        r = conn.request("/open/1", b"\x00")
        self.assertError(r, 429)
        self.assertTrue((r.header("Content-Type") or "").startswith("text/"), repr(r))
        self.wait_log(rf"session refused client={re.escape(conn.local_address)}: "
                      r"session\.max_sessions_per_client reached$")
        self.assertOk(a.close(), b"\x00")
        self.assertReason(self.wait_session_end(a.sid), "client close")
        c = self.open(conn)                       # the same connection, after the 429
        self.assertReply(c.idle())
        self.assertReply(b.idle())
        stats = self.stop_and_stats()
        self.assertStats(stats, refused_per_client=1, refused_max_sessions=0, sessions_opened=3,
                         closed_client_close=1, closed_shutdown=2)

    def test_open_beyond_max_sessions_gets_503(self):
        self.start(session__max_sessions=1)
        a = self.open()
        conn = self.connect()
        r = conn.request("/open/1", b"\x00")
        self.assertError(r, 503)
        self.wait_log(rf"session refused client={re.escape(conn.local_address)}: session\.max_sessions reached$")
        self.assertOk(a.close(), b"\x00")
        self.assertReason(self.wait_session_end(a.sid), "client close")
        self.open(conn)
        stats = self.stop_and_stats()
        self.assertStats(stats, refused_max_sessions=1, refused_per_client=0, sessions_opened=2,
                         closed_client_close=1, closed_shutdown=1)


class HeaderTimeoutTest(LimitsTestCase):
    def test_incomplete_headers_get_408_and_close(self):
        self.start(http__header_timeout=q("1s"), session__idle_hold=q("0ms"))
        quiet = self.connect()                    # connected, sends nothing yet
        done = self.connect()
        s = self.open(done)                       # one complete request, then quiet
        slow = self.connect()
        slow.send_raw(b"POST /open/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\n")
        t0 = time.monotonic()
        self.assertRefusedAndClosed(slow, 408)
        elapsed = time.monotonic() - t0
        self.assertGreaterEqual(elapsed, 0.9, "408 before http.header_timeout")
        self.assertLess(elapsed, 3.0)
        self.wait_log(rf"http client={re.escape(slow.local_address)} refused with 408: request header timeout$")
        # A connection quiet between requests (older than the slow one) is not refused: the timer runs
        # from a request's first byte. One that never sent a byte has the same deadline from its accept
        # (the first byte decides the protocol) and is closed without a reply, since it asked nothing.
        self.assertTrue(done.nothing_received_within(0))
        self.assertTrue(quiet.wait_closed(timeout=3.0), "a connection silent since its accept was kept")
        self.wait_log(rf"http client={re.escape(quiet.local_address)} closed: no first byte within "
                      r"http.header_timeout$")
        self.open()
        self.assertReply(s.idle())
        stats = self.stop_and_stats()
        self.assertStats(stats, refused_header_timeout=1, first_bytes_timeouts=1, connections_accepted=4,
                         requests=3, sessions_opened=2, refused_malformed=0)


class MaxConnectionsTest(LimitsTestCase):
    def test_connection_beyond_cap_is_closed_at_accept(self):
        self.start(http__max_connections=1, log__level="debug")
        first = self.connect()
        self.open(first)                          # accepted and served
        extra = self.connect()
        self.assertTrue(extra.wait_closed(5.0), "connection beyond http.max_connections not closed, "
                                                f"or bytes sent: {bytes(extra._buf[:200])!r}")
        self.wait_log(rf"connection refused client={re.escape(extra.local_address)}: "
                      r"http\.max_connections reached")
        # Once the first connection is gone, a new one is served.
        first_address = first.local_address
        first.close()
        self.wait_log(rf"http client={re.escape(first_address)} connection closed")
        self.open(self.connect())
        stats = self.stop_and_stats()
        self.assertStats(stats, connections_accepted=2, connections_refused=1, requests=2, sessions_opened=2)


class SizeLimitsTest(LimitsTestCase):
    def test_header_too_large_gets_431_and_close(self):
        self.start(http__max_header_bytes=q("1KiB"))
        ok = self.connect()
        r = ok.request("/open/1", b"\x00", extra_headers=["X-Pad: " + "a" * 600])
        self.assertOk(r)
        big = self.connect()
        big.send_request("/open/1", b"\x00", extra_headers=["X-Pad: " + "a" * 2000])
        self.assertRefusedAndClosed(big, 431)
        self.wait_log(rf"http client={re.escape(big.local_address)} refused with 431: request header too large$")
        self.wait_log(r"session open sid=")
        self.assertEqual(len(re.findall(r"session open", self.gw.log_text())), 1, "the refused request opened a session")
        stats = self.stop_and_stats()
        self.assertStats(stats, refused_header_too_large=1, requests=1, sessions_opened=1)

    def test_body_too_large_gets_413_from_content_length(self):
        self.start(http__max_body_bytes=q("1KiB"), session__idle_hold=q("0ms"))
        s = self.open()
        bc = self.backend.wait_for_connection()
        at_limit = blob(KiB, 5)
        self.assertReply(s.send(at_limit))        # seq 0: exactly max_body_bytes is fine
        big = self.connect()
        # Headers only: the 413 must come without the client sending a byte of the body.
        big.send_raw(big.request_bytes(f"/send/{s.sid}/{s.seq}", b"\x00" * (KiB + 1))[:-(KiB + 1)])
        self.assertRefusedAndClosed(big, 413)
        self.wait_log(rf"http client={re.escape(big.local_address)} refused with 413: request body too large$")
        # The refused request did not reach the session: seq 1 is still free.
        self.assertReply(s.send(b"tail"))
        self.assertEqual(bc.wait_for_bytes(KiB + 4), at_limit + b"tail")
        stats = self.stop_and_stats()
        self.assertStats(stats, refused_body_too_large=1, bytes_up=KiB + 4, requests=3, retries_from_cache=0)

    def test_chunked_body_over_limit_gets_413(self):
        self.start(http__max_body_bytes=q("1KiB"), session__idle_hold=q("0ms"))
        s = self.open()
        bc = self.backend.wait_for_connection()

        def chunked(*parts):
            return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"

        conn = self.connect()
        small = [blob(300, 1), blob(300, 2)]
        conn.send_raw(build_request(s.path("send"), chunked(*small), style="minimal", content_length=False,
                                    extra_headers=["Transfer-Encoding: chunked"]))
        self.assertReply(conn.read_response())
        self.assertEqual(bc.wait_for_bytes(600), b"".join(small))
        big = self.connect()
        big.send_raw(build_request(f"/send/{s.sid}/{s.seq}", chunked(blob(400, 3), blob(400, 4), blob(400, 5)),
                                   style="minimal", content_length=False,
                                   extra_headers=["Transfer-Encoding: chunked"]))
        self.assertRefusedAndClosed(big, 413)
        self.wait_log(rf"http client={re.escape(big.local_address)} refused with 413: request body too large$")
        self.assertReply(s.send(b"!"))            # seq 1 is still free
        self.assertEqual(bc.wait_for_bytes(601), b"".join(small) + b"!")
        stats = self.stop_and_stats()
        self.assertStats(stats, refused_body_too_large=1, bytes_up=601, requests=3, retries_from_cache=0)


class UnanswerableRequestsTest(LimitsTestCase):
    """404s and 405s: answered on a connection that stays usable, and counted (no log line is specified)."""

    def test_unknown_session_is_counted(self):
        self.start()
        live = self.open()
        conn = self.connect()
        paths = [f"/send/{UNKNOWN_SID}/0", f"/idle/{UNKNOWN_SID}/0", f"/close/{UNKNOWN_SID}/0",
                 f"/close/{UNKNOWN_SID}"]
        for path in paths:
            self.assertError(conn.request(path, b"\x00"), 404, path)
        self.assertReply(live.idle())
        stats = self.stop_and_stats()
        self.assertStats(stats, unknown_session=len(paths), unknown_path=0, requests=len(paths) + 2,
                         closed_shutdown=1)

    def test_unknown_path_is_counted(self):
        self.start()
        conn = self.connect()
        paths = ["/foo", "/", "/open/2", "/send", "/open/1/extra"]
        for path in paths:
            self.assertError(conn.request(path, b"\x00"), 404, path)
        self.open(conn)
        stats = self.stop_and_stats()
        self.assertStats(stats, unknown_path=len(paths), unknown_session=0, requests=len(paths) + 1,
                         sessions_opened=1)

    def test_method_other_than_post_is_counted(self):
        self.start()
        conn = self.connect(style="minimal")
        methods = ("GET", "PUT", "DELETE")
        for method in methods:
            conn.send_raw(build_request("/open/1", b"", method=method, style="minimal", content_length=False))
            self.assertError(conn.read_response(), 405, method)
        s = self.open(conn)
        # Its log line orders after anything the refused requests logged.
        self.wait_log(rf"session open sid={s.sid}")
        self.assertEqual(len(re.findall(r"session open", self.gw.log_text())), 1)
        stats = self.stop_and_stats()
        self.assertStats(stats, refused_method=len(methods), requests=len(methods) + 1, sessions_opened=1,
                         unknown_path=0)


class RetryCacheTest(LimitsTestCase):
    def test_retries_answered_from_cache_are_counted(self):
        backend = ScriptedBackend(after_bytes=(1, b"hello"))
        self.start(backend=backend, session__idle_hold=q("1s"), log__level="debug")
        s = self.open()
        bc = backend.wait_for_connection()
        r0 = s.send(b"\x03")                      # seq 0
        self.assertReply(r0)
        bc.wait_for_bytes(1)
        bc.wait_sent()
        got = bytearray(r0.data)
        carried = {}
        while len(got) < 5:
            seq = s.seq
            r = s.idle(timeout=5.0)
            self.assertReply(r)
            got += r.data
            carried[seq] = r
        self.assertEqual(bytes(got), b"hello")
        # A client that lost replies asks again, on another connection: same bytes, nothing new.
        other = self.connect()
        self.assertEqual(other.request(f"/send/{s.sid}/0", b"\x03").raw, r0.raw)
        seq, r1 = max(carried.items())
        self.assertEqual(other.request(f"/idle/{s.sid}/{seq}", b"\x00").raw, r1.raw)
        self.wait_log(rf"session sid={s.sid} retry of seq 0 answered from cache")
        self.wait_log(rf"session sid={s.sid} retry of seq {seq} answered from cache")
        stats = self.stop_and_stats()
        bc.wait_for_eof()
        self.assertEqual(bc.data(), b"\x03", "a retried send was forwarded again")
        self.assertStats(stats, retries_from_cache=2, bytes_up=1, bytes_down=5)


if __name__ == "__main__":
    unittest.main()


class BackendWriteTimeoutTest(LimitsTestCase):
    def test_backend_that_reads_nothing_ends_the_session_after_write_timeout(self):
        # The backend never reads: its small receive buffer fills, our writes stall, and after
        # backend.write_timeout the session ends instead of holding the client's bytes forever.
        backend = ScriptedBackend(read_paused=True, rcvbuf=16 * 1024)
        self.start(backend=backend, backend__write_timeout=q("1s"), session__idle_hold=q("0ms"),
                   session__queue_max_bytes=q("64KiB"))
        s = self.open()
        backend.wait_for_connection()
        chunk = bytes(range(256)) * 256  # 64 KiB
        started = time.monotonic()
        # Each send is answered while the gateway still has room; the stalled backend then stops
        # the sends (backpressure) and the write timeout ends the session.
        for seq in range(64):
            r = s.conn.request(f"/send/{s.sid}/{seq}", chunk, timeout=10)
            if r.status != 200:
                self.assertError(r, 404)
                break
        else:
            self.fail("the gateway accepted 4 MiB for a backend that reads nothing")
        end = self.wait_session_end(s.sid, timeout=5.0)
        self.assertReason(end, "backend error")
        self.assertIn("write stalled", end["reason"])
        self.assertLess(time.monotonic() - started, 8.0)
        stats = self.stop_and_stats()
        self.assertStats(stats, closed_backend_error=1)


class ParkedBodiesTest(LimitsTestCase):
    def test_bodies_waiting_for_a_gap_are_capped_at_queue_max_bytes(self):
        self.start(session__queue_max_bytes=q("8KiB"), session__reply_max_bytes=q("1KiB"))
        s = self.open()
        backend = self.backend.wait_for_connection()
        self.assertReply(s.send(b"\x03", seq=0))  # the first number sets the base
        first, second, third = blob(3000, 1), blob(5000, 2), blob(5000, 3)
        # Seq 2 and 3 arrive before seq 1, on their own connections (as Flash does): 2 parks.
        c2, c3 = self.connect(), self.connect()
        c2.send_request(s.path("send", 2), second)
        # Seq 3 must come after seq 2 is parked, or 3 parks and 2 is the one refused.
        self.assertTrue(self.wait_queued_up(s.sid, len(second)), self.sessions())
        c3.send_request(s.path("send", 3), third)
        r = c3.read_response()
        self.assertError(r, 503)
        self.assertEqual(r.body.strip(), b"session queue full")
        self.wait_log(rf"session sid={re.escape(s.sid)} answered 503: seq 3 with 5000 bytes would park more "
                      r"than session\.queue_max_bytes; 5000 waiting$")
        # The gap fills: what was parked goes in order, and the refused number can be sent again.
        self.assertReply(s.send(first, seq=1))
        self.assertReply(c2.read_response())
        self.assertReply(s.send(third, seq=3))
        self.assertEqual(backend.wait_for_bytes(13001), b"\x03" + first + second + third)
        self.assertNoSessionEnd(s.sid)
        self.assertStats(self.stop_and_stats(), refused_queue_full=1, bytes_up=13001)
