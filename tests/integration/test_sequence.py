"""Sequence numbers: base learning, reordering window, retries, out-of-window."""
import time
import unittest

from scripted_backend import ScriptedBackend
from support import GatewayTestCase, q


class SequenceBaseTest(GatewayTestCase):
    def test_base_one_red5_style(self):
        self.start(session__idle_hold=q("0ms"))
        conn = self.connect()
        s = self.open(conn, first_seq=1)
        backend = self.backend.wait_for_connection()
        self.assertReply(s.send(b"a"))       # 1
        self.assertReply(s.idle())           # 2
        self.assertReply(s.send(b"b"))       # 3
        self.assertEqual(backend.wait_for_bytes(2), b"ab")
        self.assertOk(s.close(), b"\x00")    # 4
        backend.wait_for_eof()
        self.assertEqual(self.wait_session_end(s.sid)["reason"], "client close")


    def test_flash_seq_1_arrives_before_seq_0(self):
        """The issue's raw shape: /send/1 on connection A, 0.2 s later /send/0 on connection B. Both get 200
        and the backend receives seq 0's bytes first."""
        # A longer wait than the default, so that a loaded machine cannot run it out during the 0.2 s.
        self.start(session__idle_hold=q("0ms"), session__sequence_base_wait=q("1s"))
        a = self.connect()
        b = self.connect()
        s = self.open(a)
        backend = self.backend.wait_for_connection()
        a.send_request(f"/send/{s.sid}/1", b"BBBB")
        # Seq 1 waits for a 0 (session.sequence_base_wait): no reply, nothing forwarded.
        self.assertTrue(a.nothing_received_within(0.2), "seq 1 answered before seq 0 could arrive")
        self.assertEqual(backend.data(), b"")
        self.assertReply(b.request(f"/send/{s.sid}/0", b"AAAA"))
        self.assertReply(a.read_response())
        self.assertEqual(backend.wait_for_bytes(8), b"AAAABBBB")
        self.assertReply(s.idle(seq=2))
        self.assertOk(b.request(f"/close/{s.sid}/3", b"\x00"), b"\x00")
        backend.wait_for_eof()
        self.assertEqual(backend.data(), b"AAAABBBB")
        self.assertEqual(self.wait_session_end(s.sid)["reason"], "client close")
        stats = self.stop_and_stats()
        self.assertEqual((stats["sequence_start_reordered"], stats["sequence_start_one"],
                          stats["refused_stale_sequence"]), (1, 0, 0), stats)

    def test_flash_idle_1_overtakes_the_handshake_send_0(self):
        """Flash's real start: the handshake in /send/0 and a poll in /idle/1, sent at once on two
        connections; the idle arrives first. The backend gets the handshake, both requests 200."""
        c0c1 = b"\x03" + bytes(range(256)) * 6
        self.start(session__idle_hold=q("0ms"))
        a = self.connect()
        b = self.connect()
        s = self.open(a)
        backend = self.backend.wait_for_connection()
        a.send_request(f"/idle/{s.sid}/1", b"\x00")
        b.send_request(f"/send/{s.sid}/0", c0c1)
        self.assertReply(b.read_response())
        self.assertReply(a.read_response())
        self.assertEqual(backend.wait_for_bytes(len(c0c1)), c0c1)
        self.assertReply(s.send(b"C2", seq=2))
        self.assertEqual(backend.wait_for_bytes(len(c0c1) + 2), c0c1 + b"C2")
        stats = self.stop_and_stats()
        self.assertEqual((stats["sequence_start_reordered"], stats["sequence_start_one"]), (1, 0), stats)

    def test_red5_first_reply_comes_after_the_wait(self):
        """A Red5-style session's first request (numbered 1) is answered once the wait for a 0 ends: after
        session.sequence_base_wait (500ms by default, so within a second); a late 0 is then refused."""
        self.start(session__idle_hold=q("0ms"))
        conn = self.connect()
        s = self.open(conn, first_seq=1)
        backend = self.backend.wait_for_connection()
        started = time.monotonic()
        r = s.send(b"\x03red5", timeout=5.0)  # 1
        waited = time.monotonic() - started
        self.assertReply(r)
        self.assertEqual(backend.wait_for_bytes(5), b"\x03red5")
        self.assertGreaterEqual(waited, 0.45, "seq 1 answered before the wait for a 0 could end")
        # Bounded, with room for a loaded machine: the wait is the timer's, not a sweep's.
        self.assertLess(waited, 2.5, "a Red5-style session's first reply came long after the wait ended")
        print(f"\n[red5] first reply after {waited * 1000:.0f} ms", flush=True)
        # The base is 1 now: a 0 is a number already used (400), and the session carries on.
        self.assertError(self.connect().request(f"/send/{s.sid}/0", b"late"), 400)
        self.gw.wait_for_log(r"answered 400: seq 0 came after session.sequence_base_wait had taken 1 as the "
                             r"first number; expected 2")
        self.assertReply(s.idle())      # 2
        self.assertOk(s.close(), b"\x00")  # 3
        backend.wait_for_eof()
        self.assertEqual(backend.data(), b"\x03red5")
        self.assertEqual(self.wait_session_end(s.sid)["reason"], "client close")
        stats = self.stop_and_stats()
        self.assertEqual((stats["sequence_start_one"], stats["sequence_start_reordered"],
                          stats["refused_stale_sequence"]), (1, 0, 1), stats)

    def test_base_wait_of_zero_takes_1_as_the_start_at_once(self):
        self.start(session__idle_hold=q("0ms"), session__sequence_base_wait=q("0ms"))
        conn = self.connect()
        s = self.open(conn, first_seq=1)
        backend = self.backend.wait_for_connection()
        self.assertReply(s.send(b"x"))  # 1, answered without waiting
        self.assertEqual(backend.wait_for_bytes(1), b"x")
        self.assertError(conn.request(f"/send/{s.sid}/0", b"late"), 400)
        stats = self.stop_and_stats()
        self.assertEqual(stats["sequence_start_one"], 1, stats)

    def test_session_that_ends_while_the_base_is_awaited(self):
        """A number out of the window while the base is awaited ends the session at once; its wait's timer
        goes with it (a sanitizer build would report a timer firing on a freed session)."""
        self.start(session__idle_hold=q("0ms"), session__sequence_base_wait=q("300ms"))
        a = self.connect()
        s = self.open(a, first_seq=1)
        backend = self.backend.wait_for_connection()
        a.send_request(f"/send/{s.sid}/1", b"\x03first")
        self.assertError(self.connect().request(f"/idle/{s.sid}/9", b"\x00"), 400)  # 9 ahead of a possible 0
        end = self.wait_session_end(s.sid)
        self.assertEqual(end["reason"], "sequence out of window: seq 9, expected 0 or 1 first")
        self.assertError(a.read_response(), 404)  # the waiting seq 1 gets a definite answer
        backend.wait_for_eof()
        self.assertEqual(backend.data(), b"", "a request that waited for the base was applied")
        # Past the wait: the gateway still serves (its timer did not fire on the freed session).
        other = self.connect()
        self.assertTrue(other.nothing_received_within(0.5))
        t = self.open(other)
        self.assertReply(t.idle())
        stats = self.stop_and_stats()
        self.assertEqual((stats["sequence_start_one"], stats["sequence_start_reordered"],
                          stats["closed_sequence_out_of_window"]), (0, 0, 1), stats)

    def test_red5_handshake_is_not_a_parked_body(self):
        """Bodies parked behind a missing number are capped at session.queue_max_bytes; a seq 1 waiting for
        the base is not behind a gap, nor is what follows it in order: together they may pass the cap."""
        body = b"\x03" + bytes(2999)  # two of them are more than the 4 KiB cap
        self.start(session__idle_hold=q("0ms"), session__sequence_base_wait=q("200ms"),
                   session__queue_max_bytes=q("4KiB"), session__reply_max_bytes=q("1KiB"))
        conn = self.connect()
        s = self.open(conn, first_seq=1)
        backend = self.backend.wait_for_connection()
        # Seq 1 and seq 2 (in order after it) wait for the base: neither is parked behind a gap.
        conn.send_pipelined([(f"/send/{s.sid}/1", body), (f"/send/{s.sid}/2", body[::-1])])
        self.assertReply(conn.read_response())
        self.assertReply(conn.read_response())
        self.assertEqual(backend.wait_for_bytes(2 * len(body)), body + body[::-1])
        stats = self.stop_and_stats()
        self.assertEqual((stats["refused_queue_full"], stats["sequence_start_one"]), (0, 1), stats)

    def test_close_without_a_number_waits_for_the_base(self):
        """HaishinKit-style /close (no number) right behind a first request numbered 1: the send is applied
        once the base is known, then the close."""
        self.start(session__idle_hold=q("0ms"), session__sequence_base_wait=q("300ms"))
        conn = self.connect()
        s = self.open(conn, first_seq=1)
        backend = self.backend.wait_for_connection()
        conn.send_pipelined([(f"/send/{s.sid}/1", b"\x03bytes"), (f"/close/{s.sid}", b"\x00")])
        self.assertReply(conn.read_response())
        self.assertOk(conn.read_response(), b"\x00")
        backend.wait_for_eof()
        self.assertEqual(backend.data(), b"\x03bytes")
        self.assertEqual(self.wait_session_end(s.sid)["reason"], "client close")


class RetryTest(GatewayTestCase):
    def test_retried_requests_get_the_cached_reply_and_are_not_forwarded_twice(self):
        hello = b"server-hello"
        # idle_hold 2s: the first idle is held until the backend's greeting arrives, so it carries data.
        self.start(backend=ScriptedBackend(on_connect=hello), session__idle_hold=q("2s"))
        a = self.connect()
        s = self.open(a)
        backend = self.backend.wait_for_connection()
        r0 = s.idle()                                   # seq 0
        self.assertReply(r0)
        self.assertEqual(r0.data, hello, "held idle did not carry the backend's greeting")
        # HaishinKit retries a failed request once with the same number, here on a new connection.
        b = self.connect()
        again = b.request(f"/idle/{s.sid}/0", b"\x00", timeout=1.5)
        self.assertEqual(again.raw, r0.raw, "retry of seq 0 did not get the byte-identical reply")
        r1 = s.send(b"hello")                            # seq 1
        self.assertReply(r1)
        again = b.request(f"/send/{s.sid}/1", b"hello", timeout=1.5)
        self.assertEqual(again.raw, r1.raw, "retry of seq 1 did not get the byte-identical reply")
        r2 = s.send(b"world")                            # seq 2
        self.assertReply(r2)
        self.assertEqual(r2.data, b"", "backend data delivered twice")
        self.assertEqual(backend.wait_for_bytes(10), b"helloworld")
        # Still in the cache (the last 8): seq 0 again, and nothing new reaches the backend.
        again = a.request(f"/idle/{s.sid}/0", b"\x00", timeout=1.5)
        self.assertEqual(again.raw, r0.raw)
        self.assertOk(s.close(), b"\x00")                # seq 3
        backend.wait_for_eof()
        self.assertEqual(backend.data(), b"helloworld", "a retried body was forwarded again")
        end = self.wait_session_end(s.sid)
        self.assertEqual(end["reason"], "client close")
        self.assertEqual((end["up"], end["down"]), (10, len(hello)))

    def test_retry_of_pipelined_sends(self):
        self.start(session__idle_hold=q("0ms"))
        conn = self.connect()
        s = self.open(conn)
        backend = self.backend.wait_for_connection()
        reqs = [(f"/send/{s.sid}/{i}", b"<%d>" % i) for i in range(6)]
        conn.send_pipelined(reqs)
        first = [conn.read_response() for _ in reqs]
        for r in first:
            self.assertReply(r)
        expected = b"".join(body for _, body in reqs)
        self.assertEqual(backend.wait_for_bytes(len(expected)), expected)
        conn.send_pipelined(reqs)  # every one of them again
        second = [conn.read_response() for _ in reqs]
        self.assertEqual([r.raw for r in second], [r.raw for r in first])
        self.assertReply(s.send(b"end", seq=6))
        self.assertEqual(backend.wait_for_bytes(len(expected) + 3), expected + b"end")


class WindowTest(GatewayTestCase):
    def test_request_eight_ahead_waits_for_the_gap(self):
        self.start(session__idle_hold=q("0ms"))
        a = self.connect()
        b = self.connect()
        s = self.open(a)
        backend = self.backend.wait_for_connection()
        self.assertReply(s.send(b"[0]", seq=0))
        self.assertEqual(backend.wait_for_bytes(3), b"[0]")
        # Next expected is 1; 9 is 8 ahead: it must wait, not fail.
        b.send_request(f"/send/{s.sid}/9", b"[9]")
        self.assertTrue(b.nothing_received_within(0.3), "seq 9 answered before the gap was filled")
        self.assertEqual(backend.data(), b"[0]")
        a.send_pipelined([(f"/send/{s.sid}/{i}", b"[%d]" % i) for i in range(1, 9)])
        for _ in range(1, 9):
            self.assertReply(a.read_response())
        r9 = b.read_response()
        self.assertReply(r9)
        expected = b"".join(b"[%d]" % i for i in range(10))
        self.assertEqual(backend.wait_for_bytes(len(expected)), expected)
        self.assertOk(a.request(f"/close/{s.sid}/10", b"\x00"), b"\x00")
        self.assertEqual(self.wait_session_end(s.sid)["reason"], "client close")

    def test_gap_that_outlives_its_deadline_ends_the_session(self):
        self.start(session__sequence_gap_timeout=q("500ms"), session__idle_hold=q("0ms"))
        a = self.connect()
        b = self.connect()
        s = self.open(a)
        backend = self.backend.wait_for_connection()
        self.assertReply(s.send(b"[0]", seq=0))
        # 2 arrives, 1 never does: 2 must not be applied, and the session must not wait forever.
        b.send_request(f"/send/{s.sid}/2", b"[2]")
        end = self.wait_session_end(s.sid, timeout=5.0)
        self.assertReason(end, "sequence gap timeout")
        self.assertError(b.read_response(), 404)
        backend.wait_for_eof()
        self.assertEqual(backend.data(), b"[0]")

    def test_request_more_than_eight_ahead_is_400_and_ends_the_session(self):
        self.start()
        a = self.connect()
        s = self.open(a)
        backend = self.backend.wait_for_connection()
        self.assertReply(s.send(b"x", seq=0))
        # Next expected is 1; 10 is 9 ahead.
        r = self.connect().request(f"/send/{s.sid}/10", b"y")
        self.assertError(r, 400)
        end = self.wait_session_end(s.sid)
        self.assertReason(end, "sequence out of window")
        self.assertEqual(end["up"], 1)
        backend.wait_for_eof()
        self.assertEqual(backend.data(), b"x")
        self.assertError(a.request(f"/send/{s.sid}/1", b"z"), 404)

    def test_far_ahead_after_some_traffic(self):
        self.start(session__idle_hold=q("0ms"))
        a = self.connect()
        s = self.open(a)
        for _ in range(20):
            self.assertReply(s.idle())
        # Next expected is 20.
        self.assertError(a.request(f"/idle/{s.sid}/100", b"\x00"), 400)
        self.assertReason(self.wait_session_end(s.sid), "sequence out of window")
        self.backend.wait_for_connection().wait_for_eof()
        self.assertError(a.request(f"/idle/{s.sid}/20", b"\x00"), 404)


if __name__ == "__main__":
    unittest.main()
