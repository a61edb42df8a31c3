"""Session life cycle and reply pacing: close, backend failures, idle reaping, polling byte, idle hold."""
import threading
import time
import unittest

from scripted_backend import ScriptedBackend
from support import GatewayTestCase, q


class CloseTest(GatewayTestCase):
    def check_close(self, with_seq):
        self.start()
        conn = self.connect()
        s = self.open(conn)
        backend = self.backend.wait_for_connection()
        self.assertReply(s.send(b"abc"))
        self.assertEqual(backend.wait_for_bytes(3), b"abc")
        r = s.close(with_seq=with_seq)
        self.assertOk(r, b"\x00")
        backend.wait_for_eof()
        end = self.wait_session_end(s.sid)
        self.assertEqual(end["reason"], "client close")
        self.assertEqual((end["up"], end["down"]), (3, 0))
        for path in (f"/idle/{s.sid}/2", f"/send/{s.sid}/2", f"/close/{s.sid}/2", f"/close/{s.sid}"):
            with self.subTest(after_close=path):
                self.assertError(self.connect().request(path, b"\x00"), 404)

    def test_close_with_seq(self):
        self.check_close(with_seq=True)

    def test_close_without_seq(self):
        self.check_close(with_seq=False)


class BackendRefusedTest(GatewayTestCase):
    def test_open_succeeds_then_404(self):
        self.start(refused=True)
        conn = self.connect()
        s = self.open(conn)
        # The connect fails after the /open is answered; a send before that would be queued (200).
        end = self.wait_session_end(s.sid)
        self.assertError(s.send(b"\x03" + bytes(1536)), 404)
        self.assertTrue(end["reason"].startswith("backend connect failed: ") and
                        len(end["reason"]) > len("backend connect failed: "), end["reason"])
        self.assertEqual((end["up"], end["down"]), (0, 0))
        self.assertError(self.connect().request(f"/idle/{s.sid}/1", b"\x00"), 404)

    def test_idle_after_open_gets_404(self):
        self.start(refused=True)
        s = self.open()
        self.assertError(s.idle(), 404)
        self.assertRegex(self.wait_session_end(s.sid)["reason"], r"^backend connect failed: .")


class BackendClosesTest(GatewayTestCase):
    def test_queued_bytes_delivered_then_404(self):
        farewell = bytes(range(256)) * 40  # 10 KiB
        self.start(backend=ScriptedBackend(after_bytes=(3, farewell), close_after=3),
                   session__idle_hold=q("0ms"), session__reply_max_bytes=q("4KiB"))
        conn = self.connect()
        s = self.open(conn)
        backend = self.backend.wait_for_connection()
        r = s.send(b"bye")
        self.assertReply(r)
        got = bytearray(r.data)
        deadline = time.monotonic() + 10
        while True:
            self.assertLess(time.monotonic(), deadline, f"no 404 after {len(got)} bytes")
            r = s.idle()
            if r.status == 404:
                self.assertError(r, 404)
                break
            self.assertReply(r)
            self.assertLessEqual(len(r.body), 4096)  # polling byte included
            got += r.data
        self.assertEqual(bytes(got), farewell, "bytes sent by the backend before it closed were not all delivered")
        end = self.wait_session_end(s.sid)
        self.assertEqual(end["reason"], "backend closed")
        self.assertEqual((end["up"], end["down"]), (3, len(farewell)))
        backend.wait_for_eof()
        self.assertError(self.connect().request(f"/send/{s.sid}/{s.seq}", b"x"), 404)

    def test_backend_close_without_data(self):
        self.start(backend=ScriptedBackend(close_after=1), session__idle_hold=q("0ms"))
        s = self.open()
        self.assertReply(s.send(b"!"))
        backend = self.backend.wait_for_connection()
        backend.wait_for_bytes(1)
        deadline = time.monotonic() + 5
        while True:
            self.assertLess(time.monotonic(), deadline, "no 404 after the backend closed")
            r = s.idle()
            if r.status != 200:
                break
            self.assertReply(r)
            self.assertEqual(r.data, b"")
        self.assertError(r, 404)
        end = self.wait_session_end(s.sid)
        self.assertEqual(end["reason"], "backend closed")
        self.assertEqual((end["up"], end["down"]), (1, 0))
        backend.wait_for_eof()


class IdleReapTest(GatewayTestCase):
    def test_idle_session_is_reaped(self):
        self.start(session__idle_timeout=q("1s"), session__idle_hold=q("0ms"))
        conn = self.connect()
        s = self.open(conn)
        backend = self.backend.wait_for_connection()
        self.assertReply(s.send(b"ping"))
        last = time.monotonic()
        self.assertEqual(backend.wait_for_bytes(4), b"ping")
        end = self.wait_session_end(s.sid, timeout=4.0)
        waited = time.monotonic() - last
        self.assertEqual(end["reason"], "idle timeout")
        self.assertGreaterEqual(waited, 0.9, "session reaped before idle_timeout")
        self.assertEqual(end["up"], 4)
        backend.wait_for_eof(timeout=2.0)
        self.assertError(s.idle(), 404)

    def test_active_session_is_not_reaped(self):
        self.start(session__idle_timeout=q("1s"), session__idle_hold=q("0ms"))
        s = self.open()
        backend = self.backend.wait_for_connection()
        stop = threading.Event()
        # A request every 300 ms for 2 s keeps the session alive (each wait is an Event with a timeout).
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            self.assertReply(s.idle())
            stop.wait(0.3)
        self.assertFalse(backend.eof, "backend connection closed although the session was active")
        self.assertNotRegex(self.gw.log_text(), rf"session end sid={s.sid}")
        self.assertOk(s.close(), b"\x00")
        self.assertEqual(self.wait_session_end(s.sid)["reason"], "client close")


class PollingByteTest(GatewayTestCase):
    def test_polling_byte_sequence(self):
        self.start(session__idle_hold=q("0ms"))
        s = self.open()
        backend = self.backend.wait_for_connection()
        expected = [0x01] * 10 + [0x03, 0x05, 0x09, 0x11, 0x21, 0x21, 0x21]
        got = []
        for _ in expected:
            r = s.idle()
            self.assertReply(r)
            self.assertEqual(r.data, b"")
            got.append(r.polling)
        self.assertEqual(got, expected)
        # Data resets it to 0x01.
        backend.send(b"data")
        data = bytearray()
        deadline = time.monotonic() + 5
        while len(data) < 4:
            self.assertLess(time.monotonic(), deadline)
            r = s.idle()
            self.assertReply(r)
            if r.data:
                self.assertEqual(r.polling, 0x01, f"data reply with polling byte {r.polling:#x}")
            else:
                self.assertEqual(r.polling, 0x21)
            data += r.data
        self.assertEqual(bytes(data), b"data")
        got = [s.idle().polling for _ in range(12)]
        self.assertEqual(got, [0x01] * 10 + [0x03, 0x05])
        # A send whose reply carries data resets it too.
        backend.send(b"more")
        backend.wait_sent()
        data = bytearray()
        deadline = time.monotonic() + 5
        while len(data) < 4:
            self.assertLess(time.monotonic(), deadline)
            r = s.send(b"x")
            self.assertReply(r)
            if r.data:
                self.assertEqual(r.polling, 0x01)
            data += r.data
        self.assertEqual([s.idle().polling for _ in range(11)], [0x01] * 10 + [0x03])


class IdleHoldTest(GatewayTestCase):
    def test_held_idle_answered_when_backend_data_arrives(self):
        self.start(session__idle_hold=q("2s"))
        s = self.open()
        backend = self.backend.wait_for_connection()
        self.assertReply(s.send(b"hi"))
        backend.wait_for_bytes(2)
        timer = threading.Timer(0.1, backend.send, args=(b"hello",))
        self.addCleanup(timer.cancel)
        t0 = time.monotonic()
        s.conn.send_request(s.path("idle"), b"\x00")
        timer.start()
        r = s.conn.read_response(timeout=5.0)
        elapsed = time.monotonic() - t0
        self.assertReply(r)
        self.assertTrue(r.data, "held idle answered without the backend data")
        self.assertEqual(r.polling, 0x01)
        self.assertLess(elapsed, 1.5, "held idle not answered when backend data arrived")
        got = bytearray(r.data)
        while len(got) < 5:
            r = s.idle(timeout=5.0)
            self.assertReply(r)
            got += r.data
        self.assertEqual(bytes(got), b"hello")

    def test_held_idle_answered_when_another_request_arrives(self):
        self.start(session__idle_hold=q("2s"))
        a = self.connect()
        b = self.connect()
        s = self.open(a)
        backend = self.backend.wait_for_connection()
        t0 = time.monotonic()
        a.send_request(f"/idle/{s.sid}/0", b"\x00")
        rb = b.request(f"/send/{s.sid}/1", b"go", timeout=5.0)
        ra = a.read_response(timeout=5.0)
        elapsed = time.monotonic() - t0
        self.assertReply(ra)
        self.assertReply(rb)
        self.assertLess(elapsed, 1.5, "held idle not released by the next request of its session")
        self.assertEqual(backend.wait_for_bytes(2), b"go")

    def test_pipelined_request_releases_held_idle(self):
        self.start(session__idle_hold=q("2s"))
        conn = self.connect()
        s = self.open(conn)
        backend = self.backend.wait_for_connection()
        t0 = time.monotonic()
        conn.send_pipelined([(s.path("idle"), b"\x00"), (s.path("send"), b"next")])
        r0 = conn.read_response(timeout=5.0)
        r1 = conn.read_response(timeout=5.0)
        self.assertLess(time.monotonic() - t0, 1.5, "pipelined send stuck behind a held idle")
        self.assertReply(r0)
        self.assertReply(r1)
        self.assertEqual(backend.wait_for_bytes(4), b"next")

    def test_sends_are_never_held(self):
        self.start(session__idle_hold=q("2s"))
        s = self.open()
        backend = self.backend.wait_for_connection()
        t0 = time.monotonic()
        for i in range(3):
            r = s.send(b"s%d" % i, timeout=5.0)
            self.assertReply(r)
            self.assertEqual(r.data, b"")
        self.assertLess(time.monotonic() - t0, 1.5, "a send with nothing to return was held")
        self.assertEqual(backend.wait_for_bytes(6), b"s0s1s2")

    def test_empty_idle_is_held_then_answered(self):
        # With idle_hold 300ms and a silent backend, the idle is answered (empty) after the hold.
        self.start(session__idle_hold=q("300ms"))
        s = self.open()
        r = s.idle(timeout=5.0)
        self.assertReply(r)
        self.assertEqual(r.data, b"")


if __name__ == "__main__":
    unittest.main()
