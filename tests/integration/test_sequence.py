"""Sequence numbers: base learning, reordering window, retries, out-of-window."""
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
