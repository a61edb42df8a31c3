"""The HTTP layer: status codes, paths, methods, keep-alive, pipelining, header spellings."""
import unittest

from rtmpt_client import build_request
from support import UNKNOWN_SID, GatewayTestCase, q


class Ident2Test(GatewayTestCase):
    def test_ident2_default_is_404(self):
        self.start()
        conn = self.connect()
        r = conn.request("/fcs/ident2", b"\x00")
        self.assertError(r, 404)
        # The connection is still usable: the client goes on to /open/1 (Shumway does this).
        self.open(conn)

    def test_ident2_configured_answers_the_address(self):
        self.start(http__ident2=q("203.0.113.7"))
        conn = self.connect()
        r = conn.request("/fcs/ident2", b"\x00")
        self.assertEqual(r.status, 200, repr(r))
        self.assertEqual(r.version, "HTTP/1.1")
        self.assertEqual(r.reason, "OK")
        self.assertEqual(r.header("Content-Type"), "text/plain", repr(r))
        self.assertEqual(r.body, b"203.0.113.7")
        self.assertNotEqual((r.header("Connection") or "").lower(), "close", repr(r))
        self.open(conn)


class StatusCodeTest(GatewayTestCase):
    def test_method_other_than_post_is_405(self):
        self.start()
        for method in ("GET", "PUT", "DELETE", "OPTIONS"):
            with self.subTest(method=method):
                conn = self.connect()
                conn.send_raw(build_request("/open/1", b"", method=method, style="minimal", content_length=False))
                self.assertError(conn.read_response(), 405)

    def test_garbage_is_400_and_connection_closed(self):
        self.start()
        garbage = {
            "text": b"hello there, this is not http\r\n\r\n",
            "binary": bytes(range(1, 32)) + b"\r\n\r\n",
            "bad content-length": b"POST /open/1 HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n\x00",
            "bad version": b"POST /open/1 HTTP/9x\r\nContent-Length: 1\r\n\r\n\x00",
        }
        for name, raw in garbage.items():
            with self.subTest(garbage=name):
                conn = self.connect()
                conn.send_raw(raw)
                r = conn.read_response()
                self.assertError(r, 400)
                self.assertTrue(conn.wait_closed(5.0), "connection not closed after a 400 for malformed HTTP")
        # The gateway still serves new connections.
        self.open()

    def test_unknown_paths_are_404(self):
        self.start()
        live = self.open()
        paths = ["/foo", "/", "/send/", "/send", "/idle/", f"/send/{live.sid}", "/open/2", "/open/",
                 "/open", "/fcs/ident3", "/open/1/extra", "/fcs/ident2/x"]
        for path in paths:
            with self.subTest(path=path):
                conn = self.connect()
                r = conn.request(path, b"\x00")
                self.assertError(r, 404)

    def test_unknown_session_is_404(self):
        self.start()
        live = self.open()  # a real session exists; other ids are still unknown
        other = live.sid[:-1] + ("A" if live.sid[-1] != "A" else "B")
        for path in (f"/send/{UNKNOWN_SID}/0", f"/idle/{UNKNOWN_SID}/0", f"/close/{UNKNOWN_SID}/0",
                     f"/close/{UNKNOWN_SID}", f"/send/{other}/0", "/idle/nosuchsession/1"):
            with self.subTest(path=path):
                conn = self.connect()
                r = conn.request(path, b"\x00")
                self.assertError(r, 404)
        # The real session was not disturbed.
        self.assertReply(live.idle())


class KeepAliveTest(GatewayTestCase):
    def test_http10_with_keepalive_header_stays_open(self):
        self.start(backend=None)
        conn = self.connect(style="minimal")
        kw = dict(version="HTTP/1.0", extra_headers=["Connection: keep-alive"])
        r = conn.request("/open/1", b"\x00", **kw)
        self.assertOk(r)
        sid = r.body[:-1].decode()
        r = conn.request(f"/send/{sid}/0", b"abc", **kw)
        self.assertReply(r)
        self.assertEqual(r.head[:17], b"HTTP/1.1 200 OK\r\n")
        self.assertEqual(self.backend.wait_for_connection().wait_for_bytes(3), b"abc")
        r = conn.request(f"/close/{sid}/1", b"\x00", **kw)
        self.assertOk(r, b"\x00")
        self.assertFalse(conn.wait_closed(0.3), "HTTP/1.0 keep-alive connection was closed")

    def test_http10_without_keepalive_is_closed_after_reply(self):
        self.start()
        conn = self.connect(style="minimal")
        r = conn.request("/open/1", b"\x00", version="HTTP/1.0")
        self.assertOk(r, last_on_connection=True)
        sid = r.body[:-1].decode()
        self.assertTrue(conn.wait_closed(5.0), "HTTP/1.0 connection without keep-alive stayed open")
        # The session is not bound to that connection.
        conn2 = self.connect(style="minimal")
        r = conn2.request(f"/send/{sid}/0", b"xyz", version="HTTP/1.0")
        self.assertReply(r, last_on_connection=True)
        self.assertTrue(conn2.wait_closed(5.0), "HTTP/1.0 connection without keep-alive stayed open")
        self.assertEqual(self.backend.wait_for_connection().wait_for_bytes(3), b"xyz")
        conn3 = self.connect()
        self.assertReply(conn3.request(f"/idle/{sid}/1", b"\x00"))

    def test_keepalive_timeout_closes_quiet_connection_not_session(self):
        self.start(http__keepalive_timeout=q("1s"), session__idle_hold=q("0ms"))
        conn = self.connect()
        s = self.open(conn)
        self.assertReply(s.idle())
        self.assertTrue(conn.wait_closed(4.0), "quiet keep-alive connection not closed after http.keepalive_timeout")
        # The session outlives its connection.
        self.assertReply(s.idle(conn=self.connect()))
        self.assertFalse(self.backend.wait_for_connection().eof)

    def test_http11_connection_serves_many_requests(self):
        self.start(session__idle_hold=q("0ms"))
        conn = self.connect()
        s = self.open(conn)
        for _ in range(200):
            self.assertReply(s.idle())
        self.assertOk(s.close(), b"\x00")
        self.assertFalse(conn.wait_closed(0.2), "keep-alive connection closed after a close request")


class PipeliningTest(GatewayTestCase):
    def test_pipelined_mixed_requests_answered_in_order(self):
        self.start()
        conn = self.connect()
        conn.send_pipelined([
            ("/fcs/ident2", b"\x00"),
            ("/open/1", b"\x00"),
            ("/foo", b"\x00"),
            ("/open/1", b""),
            (f"/idle/{UNKNOWN_SID}/0", b"\x00"),
            ("/open/1", b"\x00"),
        ])
        rs = [conn.read_response() for _ in range(6)]
        self.assertError(rs[0], 404)
        self.assertOk(rs[1])
        self.assertError(rs[2], 404)
        self.assertOk(rs[3])
        self.assertError(rs[4], 404)
        self.assertOk(rs[5])
        sids = [r.body[:-1] for r in (rs[1], rs[3], rs[5])]
        self.assertEqual(len(set(sids)), 3, sids)

    def test_pipelined_session_requests_answered_in_order(self):
        self.start()
        conn = self.connect()
        s = self.open(conn)
        backend = self.backend.wait_for_connection()
        conn.send_pipelined([
            (f"/send/{s.sid}/0", b"first-"),
            (f"/idle/{s.sid}/1", b"\x00"),
            (f"/send/{s.sid}/2", b"second-"),
            (f"/send/{s.sid}/3", b"third"),
            (f"/idle/{s.sid}/4", b"\x00"),
            (f"/close/{s.sid}/5", b"\x00"),
        ])
        rs = [conn.read_response() for _ in range(6)]
        for r in rs[:5]:
            self.assertReply(r)
            self.assertEqual(r.polling, 0x01, repr(r))
            self.assertEqual(r.data, b"")
        self.assertOk(rs[5], b"\x00")
        backend.wait_for_eof()
        self.assertEqual(backend.data(), b"first-second-third")
        end = self.wait_session_end(s.sid)
        self.assertEqual(end["reason"], "client close")
        self.assertEqual(end["up"], len(b"first-second-third"))
        self.assertEqual(end["down"], 0)

    def test_pipelined_requests_of_two_sessions_on_one_connection(self):
        self.start()
        conn = self.connect()
        conn.send_pipelined([("/open/1", b"\x00"), ("/open/1", b"\x00")])
        a, b = (conn.read_response() for _ in range(2))
        self.assertOk(a)
        self.assertOk(b)
        sa, sb = a.body[:-1].decode(), b.body[:-1].decode()
        bconns = [self.backend.wait_for_connection(0), self.backend.wait_for_connection(1)]
        conn.send_pipelined([
            (f"/send/{sa}/0", b"to-a"),
            (f"/send/{sb}/0", b"to-b"),
            (f"/close/{sa}/1", b"\x00"),
            (f"/send/{sb}/1", b"-more"),
        ])
        rs = [conn.read_response() for _ in range(4)]
        self.assertReply(rs[0])
        self.assertReply(rs[1])
        self.assertOk(rs[2], b"\x00")
        self.assertReply(rs[3])
        self.assertEqual(self.wait_session_end(sa)["reason"], "client close")
        # Which backend connection belongs to which session is the gateway's business; the contents tell.
        for c in bconns:
            if c.wait_for_bytes(4).startswith(b"to-b"):
                c.wait_for_bytes(9)
            else:
                c.wait_for_eof()  # session a was closed
        self.assertEqual(sorted(c.data() for c in bconns), [b"to-a", b"to-b-more"])


class HeaderToleranceTest(GatewayTestCase):
    def test_header_spellings_of_real_clients(self):
        self.start()
        for style in ("librtmp", "ffmpeg", "flash", "minimal"):
            with self.subTest(style=style):
                conn = self.connect(style=style)
                s = self.open(conn)
                self.assertReply(s.send(b"\x03"))
                self.assertReply(s.idle())
                self.assertOk(s.close(), b"\x00")


if __name__ == "__main__":
    unittest.main()
