"""Log formats and the access log: logfmt and JSON carry the same events as the text format, split
into fields; log.access adds one line per request, refusals included."""
import json
import re
import shlex

from support import GatewayTestCase, q

LOGFMT_PAIR = re.compile(r'([a-z_]+)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_logfmt(line):
    """One logfmt line as a dict; fails on anything that is not key=value pairs."""
    out = {}
    pos = 0
    while pos < len(line):
        m = LOGFMT_PAIR.match(line, pos)
        if not m:
            raise AssertionError(f"not logfmt at {pos}: {line!r}")
        key, value = m.group(1), m.group(2)
        out[key] = json.loads(value) if value.startswith('"') else value
        pos = m.end()
        if pos < len(line):
            if line[pos] != " ":
                raise AssertionError(f"no space after a pair at {pos}: {line!r}")
            pos += 1
    return out


class LogFormatTest(GatewayTestCase):
    def run_session(self):
        s = self.open()
        backend = self.backend.wait_for_connection(0)
        self.assertReply(s.send(b"abc"))
        backend.wait_for_bytes(3)
        self.assertOk(s.close(), b"\x00")
        return s

    def test_json(self):
        self.start(log__format="json")
        s = self.run_session()
        self.gw.wait_for_log(r'"event":"session end"')
        self.stop_gateway()
        events = [json.loads(line) for line in self.gw.lines]  # every line is one object
        end = next(e for e in events if e.get("event") == "session end")
        self.assertEqual(end["sid"], s.sid)
        self.assertEqual((end["up"], end["down"]), (3, 0))
        self.assertEqual(end["msg"], "closing because: client close")
        stats = next(e for e in events if e.get("event") == "stats")
        self.assertEqual((stats["sessions_opened"], stats["closed_client_close"]), (1, 1))
        self.assertTrue(any(e.get("msg", "").startswith("listening on 127.0.0.1:") for e in events))

    def test_logfmt(self):
        self.start(log__format="logfmt")
        s = self.run_session()
        self.gw.wait_for_log(r'event="session end"')
        self.stop_gateway()
        events = [parse_logfmt(line) for line in self.gw.lines]
        for e in events:
            self.assertEqual(list(e)[:2], ["time", "level"])
        opened = next(e for e in events if e.get("event") == "session open")
        self.assertEqual(opened["sid"], s.sid)
        end = next(e for e in events if e.get("event") == "session end")
        self.assertEqual((end["sid"], end["up"], end["msg"]), (s.sid, "3", "closing because: client close"))

    def test_client_text_cannot_break_a_json_line(self):
        self.start(log__format="json", log__access="true")
        conn = self.connect()
        r = conn.request('/x"y\\z%00', b"")
        self.assertError(r, 404)
        self.gw.wait_for_log(r'"event":"access"')
        self.stop_gateway()
        events = [json.loads(line) for line in self.gw.lines]
        access = next(e for e in events if e.get("event") == "access")
        self.assertEqual(access["path"], '/x"y\\z%00')
        self.assertEqual(access["status"], 404)


class AccessLogTest(GatewayTestCase):
    ACCESS = re.compile(r" info access client=127\.0\.0\.1:\d+ method=(\S+) path=(\S+) status=(\d+) in=(\d+) "
                        r"out=(\d+) ms=[0-9.]+$")

    def access_lines(self):
        return [m.groups() for m in (self.ACCESS.search(line) for line in self.gw.lines) if m]

    def test_one_line_per_request_with_status_and_sizes(self):
        self.start(log__access="true", session__idle_hold=q("0ms"))
        conn = self.connect()
        s = self.open(conn)
        backend = self.backend.wait_for_connection(0)
        self.assertReply(s.send(b"hello"))
        backend.wait_for_bytes(5)
        self.assertError(conn.request("/nowhere", b""), 404)
        self.assertError(conn.request("/idle/1", b"", method="GET"), 405)
        self.assertOk(s.close(), b"\x00")
        self.gw.wait_for_log(r"access .* path=/close/")
        lines = self.access_lines()
        self.assertEqual(lines, [
            ("POST", "/open/1", "200", "1", str(len(s.sid) + 1)),
            ("POST", f"/send/{s.sid}/0", "200", "5", "1"),
            ("POST", "/nowhere", "404", "0", str(len(b"not an RTMPT path\n"))),
            ("GET", "/idle/1", "405", "0", str(len(b"RTMPT requests are POST\n"))),
            ("POST", f"/close/{s.sid}/1", "200", "1", "1"),
        ])

    def test_refused_request_is_logged_too(self):
        self.start(log__access="true", http__max_header_bytes=q("1KiB"))
        conn = self.connect()
        conn.send_raw(b"POST /idle/x/1 HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 2000 + b"\r\n\r\n")
        r = conn.read_response()
        self.assertError(r, 431)
        self.gw.wait_for_log(r"access .* status=431")
        self.assertEqual([line[2] for line in self.access_lines()], ["431"])

    def test_colon_in_a_path_cannot_end_the_fields(self):
        self.start(log__access="true", log__format="logfmt")
        self.assertError(self.connect().request("/x:", b""), 404)
        self.gw.wait_for_log(r"event=access ")
        self.stop_gateway()
        access = next(parse_logfmt(line) for line in self.gw.lines if "event=access " in line)
        self.assertEqual((access["path"], access["status"], access["in"]), ("/x%3A", "404", "0"))

    def test_off_by_default(self):
        self.start()
        s = self.open()
        self.assertOk(s.close(), b"\x00")
        self.wait_session_end(s.sid)
        self.assertEqual(self.access_lines(), [])
        self.assertNotIn(" access ", self.gw.log_text())
