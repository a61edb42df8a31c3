"""Whole sessions as the real clients drive them: librtmp, ffmpeg, Flash, RootEncoder."""
import random
import re
import unittest

from scripted_backend import ScriptedBackend
from support import GatewayTestCase, q


def pattern(n, seed):
    return random.Random(seed).randbytes(n)


C0C1 = b"\x03" + pattern(1536, 1)
C2 = pattern(1536, 2)


class LibrtmpStyleTest(GatewayTestCase):
    def test_pipelined_handshake_on_one_connection(self):
        self.start(backend=ScriptedBackend(echo=True))
        conn = self.connect(style="librtmp")
        s = self.open(conn)
        client = conn.local_address
        self.gw.wait_for_log(rf"session open sid={s.sid} client={re.escape(client)} transport=rtmpt$")
        # librtmp writes /send 0 (C0+C1) and /send 1 (C2) before reading any reply.
        conn.send_pipelined([(s.path("send"), C0C1), (s.path("send"), C2)])
        r0 = conn.read_response()
        r1 = conn.read_response()
        self.assertReply(r0)
        self.assertReply(r1)
        backend = self.backend.wait_for_connection()
        self.assertEqual(backend.wait_for_bytes(len(C0C1) + len(C2)), C0C1 + C2)
        # It idles only when nothing is outstanding: one idle at a time until the echo is back.
        got = r0.data + r1.data
        rest, _ = self.drain(s, len(C0C1) + len(C2) - len(got))
        got += rest
        self.assertEqual(got, C0C1 + C2)
        # librtmp posts /close and shuts the socket without reading the reply.
        conn.send_request(s.path("close"), b"\x00")
        conn.close()
        backend.wait_for_eof()
        end = self.wait_session_end(s.sid)
        self.assertEqual(end["reason"], "client close")
        self.assertEqual(end["client"], client)
        self.assertEqual((end["up"], end["down"]), (len(C0C1) + len(C2), len(C0C1) + len(C2)))


class FfmpegStyleTest(GatewayTestCase):
    BURST = pattern(200_000, 3)

    def test_strict_request_response_with_large_burst(self):
        reply_max = 16 * 1024
        self.start(backend=ScriptedBackend(after_bytes=(len(C0C1), self.BURST)),
                   session__reply_max_bytes=q("16KiB"))
        conn = self.connect(style="ffmpeg")
        s = self.open(conn)
        got = bytearray()
        replies = []
        r = s.send(C0C1)
        self.assertReply(r)
        got += r.data
        replies.append(r)
        rest, rs = self.drain(s, len(self.BURST) - len(got), max_body=reply_max)
        got += rest
        replies += rs
        for r in replies:
            # The cap counts the whole body, polling byte included (a proxy's reply-size cap does).
            self.assertLessEqual(len(r.body), reply_max, "reply body larger than session.reply_max_bytes")
        self.assertEqual(len(got), len(self.BURST))
        self.assertEqual(bytes(got), self.BURST, "burst not reassembled exactly (lost, duplicated or reordered)")
        self.assertGreaterEqual(len(replies), len(self.BURST) // reply_max)
        r = s.send(C2)
        self.assertReply(r)
        self.assertEqual(r.data, b"", "backend sent more than the burst")
        backend = self.backend.wait_for_connection()
        self.assertEqual(backend.wait_for_bytes(len(C0C1) + len(C2)), C0C1 + C2)
        self.assertOk(s.close(), b"\x00")
        backend.wait_for_eof()
        end = self.wait_session_end(s.sid)
        self.assertEqual(end["reason"], "client close")
        self.assertEqual((end["up"], end["down"]), (len(C0C1) + len(C2), len(self.BURST)))

    def test_burst_larger_than_queue_is_delivered_intact(self):
        # The backend sends more than session.queue_max_bytes: nothing may be lost (the gateway has to
        # stop reading from the backend, not drop bytes or end the session).
        burst = pattern(1024 * 1024, 4)
        self.start(backend=ScriptedBackend(after_bytes=(len(C0C1), burst)),
                   session__reply_max_bytes=q("64KiB"), session__queue_max_bytes=q("256KiB"))
        conn = self.connect(style="ffmpeg")
        s = self.open(conn)
        r = s.send(C0C1)
        self.assertReply(r)
        rest, _ = self.drain(s, len(burst) - len(r.data), max_body=64 * 1024, timeout=30.0)
        self.assertEqual(r.data + rest, burst)
        self.assertOk(s.close(), b"\x00")
        self.assertEqual(self.wait_session_end(s.sid)["down"], len(burst))


class FlashStyleTest(GatewayTestCase):
    def test_out_of_order_requests_over_several_connections(self):
        self.start(session__idle_hold=q("0ms"))
        a = self.connect(style="flash")
        b = self.connect(style="flash")
        c = self.connect(style="flash")
        s = self.open(a)
        backend = self.backend.wait_for_connection()
        self.assertReply(s.send(C0C1, conn=a, seq=0))
        self.assertEqual(backend.wait_for_bytes(len(C0C1)), C0C1)
        # seq 2 overtakes seq 1 (it went out on another connection).
        b.send_request(f"/send/{s.sid}/2", b"-two")
        self.assertTrue(b.nothing_received_within(0.3), "seq 2 answered before seq 1 arrived")
        self.assertEqual(backend.data(), C0C1, "seq 2 forwarded before seq 1")
        r1 = a.request(f"/send/{s.sid}/1", b"-one")
        self.assertReply(r1)
        r2 = b.read_response()
        self.assertReply(r2)
        self.assertEqual(backend.wait_for_bytes(len(C0C1) + 8), C0C1 + b"-one-two")
        # Again with three connections: 5 on c, 4 on b, then 3 on a.
        c.send_request(f"/send/{s.sid}/5", b"-five")
        b.send_request(f"/idle/{s.sid}/4", b"\x00")
        self.assertTrue(c.nothing_received_within(0.2))
        self.assertTrue(b.nothing_received_within(0.1))
        self.assertReply(a.request(f"/send/{s.sid}/3", b"-three"))
        self.assertReply(b.read_response())
        self.assertReply(c.read_response())
        self.assertEqual(backend.wait_for_bytes(len(C0C1) + 19), C0C1 + b"-one-two-three-five")
        self.assertOk(c.request(f"/close/{s.sid}/6", b"\x00"), b"\x00")
        backend.wait_for_eof()
        end = self.wait_session_end(s.sid)
        self.assertEqual(end["reason"], "client close")
        self.assertEqual(end["up"], len(C0C1) + 19)


class RootEncoderStyleTest(GatewayTestCase):
    def test_empty_bodies_and_close_without_seq(self):
        self.start(backend=ScriptedBackend(echo=True))
        conn = self.connect(style="minimal")
        s = self.open(conn, body=b"")
        self.assertReply(s.send(b"hello"))
        got, _ = self.drain(s, 5)
        self.assertEqual(got, b"hello")
        r = s.idle(body=b"")
        self.assertReply(r)
        self.assertOk(s.close(with_seq=False), b"\x00")
        self.backend.wait_for_connection().wait_for_eof()
        self.assertEqual(self.wait_session_end(s.sid)["reason"], "client close")


class OpenTest(GatewayTestCase):
    def test_every_open_gives_a_new_id_and_a_backend_connection(self):
        self.start()
        conn = self.connect()
        sids = [self.open(conn).sid for _ in range(32)]
        self.assertEqual(len(set(sids)), len(sids), sids)
        for sid in sids:
            self.gw.wait_for_log(rf"session open sid={sid} client={re.escape(conn.local_address)} transport=rtmpt$")
        # The gateway starts connecting to the backend at open, before any send.
        self.backend.wait_for_connection(len(sids) - 1)


if __name__ == "__main__":
    unittest.main()
