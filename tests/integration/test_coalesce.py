"""Replies that carry what the backend has ready: an /idle that finds some backend bytes, but less
than a full reply, waits up to session.coalesce_wait for more (counted as idles_coalesced); a full
reply's worth, or any new request of the session, answers it at once. And the retry cache's byte
budget: the newest reply is always retried byte-identical, older ones past the budget are refused."""
import threading
import time

from scripted_backend import ScriptedBackend
from support import GatewayTestCase, q

KiB = 1024


def blob(size, salt=0):
    """`size` bytes that differ by position, so loss, duplication and order all show."""
    base = bytes(range(251)) * (size // 251 + 2)
    return base[salt % 251:salt % 251 + size]


class CoalesceTest(GatewayTestCase):
    def start_streaming(self, **overrides):
        """A session that has received a full reply's worth (4 KiB): its stream has started."""
        self.start(backend=ScriptedBackend(), session__reply_max_bytes=q("4KiB"), **overrides)
        s = self.open()
        bc = self.backend.wait_for_connection()
        start = blob(4 * KiB - 1, salt=7)
        bc.send(start)
        bc.wait_sent()
        data, _ = self.drain(s, len(start), max_body=4 * KiB)
        self.assertEqual(data, start)
        return s, bc

    def test_not_before_the_stream_has_started(self):
        # The handshake and connect answers are small and awaited: not held for company.
        self.start(backend=ScriptedBackend(), session__reply_max_bytes=q("4KiB"),
                   session__idle_hold=q("3s"), session__coalesce_wait=q("2s"))
        s = self.open()
        bc = self.backend.wait_for_connection()
        bc.send(blob(100))
        bc.wait_sent()
        t0 = time.monotonic()
        r = s.idle()
        self.assertLess(time.monotonic() - t0, 1.5, "an answer before the stream started was held")
        self.assertEqual(r.data, blob(100))
        stats = self.stop_and_stats()
        self.assertEqual(stats["idles_coalesced"], 0, stats)

    def test_a_partial_reply_waits_for_the_coalesce_wait(self):
        # idle_hold keeps an idle that comes before the bytes were read; either way it then waits
        # coalesce_wait for more, since 100 bytes are less than a full reply.
        s, bc = self.start_streaming(session__idle_hold=q("3s"), session__coalesce_wait=q("400ms"))
        bc.send(blob(100))
        bc.wait_sent()
        t0 = time.monotonic()
        r = s.idle()
        took = time.monotonic() - t0
        self.assertReply(r)
        self.assertEqual(r.data, blob(100))
        self.assertGreaterEqual(took, 0.35, "the idle was answered before session.coalesce_wait ran out")
        self.assertLess(took, 2.5, "the idle waited longer than session.coalesce_wait")
        stats = self.stop_and_stats()
        self.assertEqual(stats["idles_coalesced"], 1, stats)

    def test_a_full_reply_goes_at_once(self):
        s, bc = self.start_streaming(session__idle_hold=q("0ms"), session__coalesce_wait=q("5s"))
        # Two full replies' worth, so the idle after the first finds a full reply too. A remainder
        # smaller than that would be held for coalesce_wait (5 s), as long as the client's own
        # read timeout: a race, not what this test is about.
        stream = blob(2 * (4 * KiB - 1))
        bc.send(stream[:100])
        bc.wait_sent()
        s.conn.send_request(s.path("idle"), b"\x00")
        bc.send(stream[100:])
        bc.wait_sent()
        t0 = time.monotonic()
        r = s.conn.read_response(timeout=8)
        self.assertLess(time.monotonic() - t0, 3, "a full reply's worth did not end the wait")
        self.assertReply(r)
        self.assertEqual(len(r.body), 4 * KiB, "the reply is not full (session.reply_max_bytes)")
        t0 = time.monotonic()
        data, replies = self.drain(s, len(stream) - len(r.data), max_body=4 * KiB)
        self.assertLess(time.monotonic() - t0, 3, "the second full reply's worth was held")
        self.assertEqual(len(replies), 1, "the rest did not come as one full reply")
        self.assertEqual(r.data + data, stream, "bytes lost, duplicated or reordered")

    def test_zero_answers_at_once(self):
        s, bc = self.start_streaming(session__idle_hold=q("3s"), session__coalesce_wait=q("0ms"))
        bc.send(blob(100))
        bc.wait_sent()
        t0 = time.monotonic()
        r = s.idle()
        self.assertLess(time.monotonic() - t0, 2.5, "session.coalesce_wait 0 held the idle")
        self.assertReply(r)
        self.assertEqual(r.data, blob(100))
        stats = self.stop_and_stats()
        self.assertEqual(stats["idles_coalesced"], 0, stats)

    def test_a_new_request_answers_a_waiting_idle(self):
        s, bc = self.start_streaming(session__idle_hold=q("0ms"), session__coalesce_wait=q("5s"))
        bc.send(blob(100))
        bc.wait_sent()
        idle_conn = self.connect(timeout=8)
        got = {}
        idle_path = s.path("idle")
        t = threading.Thread(target=lambda: got.setdefault("idle", idle_conn.request(idle_path, b"\x00")),
                             daemon=True)
        t0 = time.monotonic()
        t.start()
        # The idle is held (counted) before the send goes; the counter is on /metrics.
        self.assertTrue(self.wait_metric("idles_coalesced_total", 1), "the idle was not held")
        r = s.send(b"\x03")
        self.assertReply(r)
        t.join(8)
        self.assertIn("idle", got, "the held idle got no reply")
        self.assertLess(time.monotonic() - t0, 3, "the send did not release the held idle")
        self.assertReply(got["idle"])
        self.assertEqual(got["idle"].data + r.data, blob(100))
        self.assertEqual(bc.wait_for_bytes(1), b"\x03")


class RetryCacheBudgetTest(GatewayTestCase):
    def test_the_two_newest_full_replies_are_kept_older_ones_are_not(self):
        # The budget is two full replies (session.reply_max_bytes each, heads included).
        self.start(backend=ScriptedBackend(), session__reply_max_bytes=q("4KiB"), session__idle_hold=q("0ms"),
                   session__coalesce_wait=q("0ms"))
        s = self.open()
        bc = self.backend.wait_for_connection()
        first = s.idle()
        self.assertReply(first)
        stream = blob(3 * (4 * KiB - 1))
        bc.send(stream)
        bc.wait_sent()
        data, replies = self.drain(s, len(stream), max_body=4 * KiB)
        self.assertEqual(data, stream)
        full = [(s.seq - len(replies) + i, r) for i, r in enumerate(replies) if len(r.body) == 4 * KiB]
        self.assertGreaterEqual(len(full), 3, "the backend bytes did not come in full replies")
        for seq, r in full[-2:]:
            self.assertEqual(s.idle(seq=seq).raw, r.raw, f"full reply {seq} was not retried byte-identical")
        old = s.idle(seq=0)
        self.assertError(old, 400)
        self.assertIn(b"already used", old.body)
        self.gw.wait_for_log(r"answered 400: seq 0 already used and older than the reply cache")
        stats = self.stop_and_stats()
        self.assertEqual((stats["retries_from_cache"], stats["refused_stale_sequence"]), (2, 1), stats)
