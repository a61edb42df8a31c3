"""The admin listener: /metrics (checked by promtool), /healthz and /sessions, read during live sessions.

Each page is read while the state it reports is known: a session with bytes flowing each way, a
forced refusal, a backend that is up and then gone. The exposition is validated by `promtool check
metrics` (Debian package prometheus, installed by packaging/install-deps.sh); without promtool these
tests fail rather than skip, so a missing tool cannot pass for a valid page.
"""
import http.client
import json
import re
import signal
import socket
import subprocess
import time

from rtmpt_client import build_request
from scripted_backend import ScriptedBackend
from support import GatewayTestCase, q

PREFIX = "rtmpt_gateway_"
SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
CLOSE_REASONS = ["client_close", "idle_timeout", "backend_closed", "backend_connect_failed", "backend_error",
                 "sequence_out_of_window", "sequence_gap_timeout", "handshake_timeout", "max_lifetime",
                 "byte_limit", "shutdown"]
LIMITS = ["max_connections", "max_sessions", "draining", "per_client", "access", "other_client", "queue_full",
          "stale_sequence", "retries", "malformed", "upgrade", "header_too_large", "body_too_large",
          "header_timeout", "method", "admin_max_connections"]


class Metrics:
    """A parsed exposition: samples by (name, labels), and each family's HELP and TYPE."""

    def __init__(self, text):
        self.text = text
        self.samples = {}
        self.help = {}
        self.type = {}
        for line in text.splitlines():
            if line.startswith("# HELP "):
                name, _, help_text = line[len("# HELP "):].partition(" ")
                self.help[name] = help_text
            elif line.startswith("# TYPE "):
                name, _, kind = line[len("# TYPE "):].partition(" ")
                self.type[name] = kind
            elif line and not line.startswith("#"):
                m = SAMPLE_RE.match(line)
                if not m:
                    raise AssertionError(f"not a sample line: {line!r}")
                labels = frozenset(LABEL_RE.findall(m.group(2) or ""))
                self.samples[(m.group(1), labels)] = float(m.group(3))

    def get(self, name, **labels):
        """The value of one series; fails if it is not on the page."""
        key = (PREFIX + name, frozenset(labels.items()))
        if key not in self.samples:
            raise AssertionError(f"no series {key[0]}{dict(labels)} on the page:\n{self.text}")
        return self.samples[key]

    def has(self, name, **labels):
        return (PREFIX + name, frozenset(labels.items())) in self.samples


class AdminTestCase(GatewayTestCase):
    def admin(self, path, method="GET", headers=None, body=None, timeout=5.0):
        """(status, headers, body) of one admin request."""
        host, port = self.gw.admin_address()
        c = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, r, r.read()
        finally:
            c.close()

    def metrics(self):
        """The /metrics page, checked by promtool and against our own naming rules."""
        status, resp, body = self.admin("/metrics")
        self.assertEqual(status, 200, body)
        self.assertEqual(resp.getheader("Content-Type"), "text/plain; version=0.0.4")
        text = body.decode("utf-8")
        self.promtool(text)
        m = Metrics(text)
        self.assertTrue(m.samples, "no samples")
        for (name, _labels) in m.samples:
            self.assertTrue(name.startswith(PREFIX), name)
            family = re.sub(r"_(bucket|sum|count)$", "", name) if m.type.get(name) is None else name
            self.assertIn(family, m.type, f"{name}: no # TYPE for its family")
            self.assertTrue(m.help.get(family), f"{name}: no # HELP for its family")
            if m.type[family] == "counter":
                self.assertTrue(name.endswith("_total"), f"counter {name} does not end in _total")
        return m

    def sessions(self):
        status, resp, body = self.admin("/sessions")
        self.assertEqual(status, 200, body)
        self.assertEqual(resp.getheader("Content-Type"), "application/json")
        return json.loads(body)

    def health(self):
        status, resp, body = self.admin("/healthz")
        self.assertEqual(resp.getheader("Content-Type"), "application/json")
        return status, json.loads(body)

    def wait_metric(self, name, value, timeout=5.0, **labels):
        """Scrapes until the series has `value`; returns that page."""
        deadline = time.monotonic() + timeout
        while True:
            m = self.metrics()
            if m.has(name, **labels) and m.get(name, **labels) == value:
                return m
            if time.monotonic() > deadline:
                self.fail(f"{name}{labels} did not reach {value} within {timeout}s:\n{m.text}")
            time.sleep(0.05)


class MetricsDuringSessionTest(AdminTestCase):
    def test_metrics_and_sessions_follow_a_live_session(self):
        self.start()
        m = self.metrics()
        self.assertEqual(m.get("sessions_active"), 0)
        self.assertEqual(m.get("sessions_opened_total"), 0)
        self.assertEqual(m.get("backend_connect_seconds_count"), 0)
        self.assertEqual(m.get("build_info", version=self.gw_version()), 1)
        self.assertAlmostEqual(m.get("start_time_seconds"), time.time(), delta=120)
        self.assertEqual([r for r in CLOSE_REASONS if m.has("sessions_closed_total", reason=r)], CLOSE_REASONS,
                         "one sessions_closed_total series per close reason")
        self.assertEqual([x for x in LIMITS if m.has("refusals_total", limit=x)], LIMITS,
                         "one refusals_total series per limit")
        self.assertEqual(self.sessions(), [])

        conn = self.connect()
        s = self.open(conn)
        backend = self.backend.wait_for_connection()
        up = bytes(range(256)) * 12  # 3072 bytes
        self.assertReply(s.send(up))
        self.assertEqual(backend.wait_for_bytes(len(up)), up)
        down = b"D" * 5000
        backend.send(down)
        # Nobody polls yet: the backend's bytes wait in the session's queue.
        m = self.wait_metric("queued_bytes", len(down), direction="down")
        self.assertEqual(m.get("sessions_active"), 1)
        self.assertEqual(m.get("sessions_opened_total"), 1)
        self.assertEqual(m.get("bytes_total", direction="up"), len(up))
        self.assertEqual(m.get("bytes_total", direction="down"), 0)
        self.assertEqual(m.get("backend_connect_seconds_count"), 1)
        self.assertEqual(m.get("backend_connect_seconds_bucket", le="+Inf"), 1)
        self.assertLess(m.get("backend_connect_seconds_sum"), 5)
        self.assertEqual(m.get("requests_total", kind="open", status="200"), 1)
        self.assertEqual(m.get("requests_total", kind="send", status="200"), 1)
        self.assertEqual(m.get("poll_replies_total", content="empty"), 1)  # the send's reply
        self.assertGreaterEqual(m.get("connections_open", listener="client"), 1)
        self.assertEqual(m.get("connections_open", listener="admin"), 1)

        listed = self.sessions()
        self.assertEqual(len(listed), 1, listed)
        entry = listed[0]
        self.assertEqual(entry["id"], s.sid[:8])
        self.assertEqual(entry["client"], conn.local_address)
        self.assertEqual((entry["bytes_up"], entry["bytes_down"]), (len(up), 0))
        self.assertEqual((entry["queued_up"], entry["queued_down"]), (0, len(down)))
        self.assertEqual((entry["state"], entry["backend"]), ("open", "connected"))
        self.assertGreaterEqual(entry["age"], 0)
        self.assertGreaterEqual(entry["idle"], 0)

        data, replies = self.drain(s, len(down))
        self.assertEqual(data, down)
        m = self.metrics()
        self.assertEqual(m.get("bytes_total", direction="down"), len(down))
        self.assertEqual(m.get("queued_bytes", direction="down"), 0)
        self.assertEqual(m.get("poll_replies_total", content="data"), len([r for r in replies if r.data]))
        self.assertEqual(m.get("requests_total", kind="idle", status="200"), len(replies))
        self.assertEqual(self.sessions()[0]["bytes_down"], len(down))
        # Ids are the tunnel's only credential: no page shows a whole one.
        for page in ("/metrics", "/sessions"):
            self.assertNotIn(s.sid.encode(), self.admin(page)[2], page)

        self.assertOk(s.close(), b"\x00")
        self.assertEqual(self.wait_session_end(s.sid)["reason"], "client close")
        m = self.metrics()
        self.assertEqual(m.get("sessions_active"), 0)
        self.assertEqual(m.get("sessions_closed_total", reason="client_close"), 1)
        self.assertEqual(sum(m.get("sessions_closed_total", reason=r) for r in CLOSE_REASONS), 1)
        self.assertEqual(m.get("requests_total", kind="close", status="200"), 1)
        self.assertEqual(self.sessions(), [])

        # The stats line comes from the same counters.
        stats = self.stop_and_stats()
        self.assertEqual((stats["bytes_up"], stats["bytes_down"], stats["closed_client_close"]),
                         (len(up), len(down), 1))

    def test_refusals_and_error_replies_are_counted(self):
        self.start(session__max_sessions="1")
        self.open()
        self.assertError(self.connect().request("/open/1", b"\x00"), 503)
        self.assertError(self.connect().request("/idle/AAAAAAAAAAAAAAAAAAAAAA/1", b"\x00"), 404)
        get = self.connect()
        get.send_raw(build_request("/open/1", method="GET", style="minimal"))
        self.assertError(get.read_response(), 405)
        m = self.metrics()
        self.assertEqual(m.get("refusals_total", limit="max_sessions"), 1)
        self.assertEqual(m.get("refusals_total", limit="method"), 1)
        self.assertEqual(sum(m.get("refusals_total", limit=x) for x in LIMITS), 2)
        self.assertEqual(m.get("requests_total", kind="open", status="200"), 1)
        self.assertEqual(m.get("requests_total", kind="open", status="503"), 1)
        self.assertEqual(m.get("requests_total", kind="idle", status="404"), 1)
        self.assertEqual(m.get("requests_total", kind="other", status="405"), 1)
        self.assertEqual(m.get("unknown_session_total"), 1)
        self.assertEqual(m.get("sessions_active"), 1)

    def test_connect_failure_is_a_close_reason_not_a_connect_time(self):
        self.start(refused=True)
        s = self.open()
        self.assertRegex(self.wait_session_end(s.sid)["reason"], r"^backend connect failed: ")
        m = self.metrics()
        self.assertEqual(m.get("sessions_closed_total", reason="backend_connect_failed"), 1)
        self.assertEqual(m.get("backend_connect_seconds_count"), 0)
        self.assertEqual(m.get("sessions_active"), 0)

    def gw_version(self):
        from support import VERSION
        return VERSION


class HealthTest(AdminTestCase):
    def test_healthz_ok_reused_then_503_once_the_backend_is_gone(self):
        self.start()
        status, body = self.health()
        self.assertEqual(status, 200, body)
        self.assertEqual(body["status"], "ok")
        self.assertTrue(body["backend"]["reachable"])
        self.assertEqual(body["backend"]["address"], f"127.0.0.1:{self.backend.port}")
        # A second check within the reuse window costs the backend nothing more.
        self.assertEqual(self.health()[0], 200)
        self.backend.wait_for_connection(0)
        self.assertEqual(self.backend.connection_count(), 1)

        self.backend.close()
        deadline = time.monotonic() + 8
        while True:
            status, body = self.health()
            if status == 503:
                break
            self.assertEqual(status, 200, body)
            self.assertLess(time.monotonic(), deadline, "/healthz still 200 with the backend gone")
            time.sleep(0.2)
        self.assertEqual(body["status"], "unavailable")
        self.assertTrue(body["reason"].startswith("backend unreachable: "), body)
        self.assertFalse(body["backend"]["reachable"])
        self.gw.wait_for_log(r"admin listening on")  # still up and answering

    def probe_bytes(self, version, expected):
        # An origin listening with proxy_protocol reads a header from every connection: the probe
        # sends one that names nobody (v2 LOCAL, v1 UNKNOWN) rather than a bare connect.
        self.start(backend__proxy_protocol=q(version))
        status, body = self.health()
        self.assertEqual(status, 200, body)
        probe = self.backend.wait_for_connection(0)
        probe.wait_for_eof()
        self.assertEqual(probe.data(), expected)

    def test_healthz_probe_sends_proxy_v2_local(self):
        self.probe_bytes("v2", bytes.fromhex("0d0a0d0a000d0a515549540a") + b"\x20\x00\x00\x00")

    def test_healthz_probe_sends_proxy_v1_unknown(self):
        self.probe_bytes("v1", b"PROXY UNKNOWN\r\n")

    def test_healthz_503_with_the_reason_when_the_backend_refuses(self):
        self.start(refused=True)
        status, body = self.health()
        self.assertEqual(status, 503, body)
        self.assertEqual(body["status"], "unavailable")
        self.assertIn("refused", body["reason"].lower())


class DrainHealthTest(AdminTestCase):
    def test_healthz_503_while_draining_and_pages_still_answer(self):
        self.start(process__shutdown_timeout=q("30s"))
        self.assertEqual(self.health()[0], 200)
        s = self.open()
        self.gw.signal(signal.SIGTERM)
        self.gw.wait_for_log(r"draining sessions=1")
        status, body = self.health()
        self.assertEqual(status, 503, body)
        self.assertEqual(body["reason"], "shutting down")
        self.assertError(self.connect().request("/open/1", b"\x00"), 503)
        m = self.metrics()
        self.assertEqual(m.get("refusals_total", limit="draining"), 1)
        self.assertEqual(m.get("sessions_active"), 1)
        self.assertEqual([e["id"] for e in self.sessions()], [s.sid[:8]])
        self.assertOk(s.close(), b"\x00")
        self.gw.wait_for_log(r"drained: every session has ended")
        self.assertEqual(self.wait_gateway_exit(), 0)


class AdminHttpTest(AdminTestCase):
    def test_unknown_path_404_other_methods_405_query_ignored(self):
        self.start()
        status, _, body = self.admin("/")
        self.assertEqual(status, 404)
        self.assertIn(b"/metrics", body)
        self.assertEqual(self.admin("/metrics/x")[0], 404)
        status, resp, _ = self.admin("/metrics", method="POST", body=b"")
        self.assertEqual(status, 405)
        self.assertEqual(resp.getheader("Allow"), "GET")
        self.assertEqual(self.admin("/sessions", method="DELETE")[0], 405)
        self.assertEqual(self.admin("/metrics?name[]=x")[0], 200)
        self.assertEqual(self.admin("/metrics", headers={"X-Big": "a" * 9000})[0], 431)
        self.assertEqual(self.admin("/metrics", method="GET", body=b"x")[0], 413)
        self.assertEqual(self.raw_admin(b"NOT HTTP\r\n\r\n")[:12], b"HTTP/1.1 400")
        # The RTMPT side is unaffected and never answers admin paths.
        self.assertError(self.connect().request("/metrics", b"\x00"), 404)
        # Seven 4xx answers: counted, and logged at most once a second (here: the first).
        self.assertEqual(self.metrics().get("admin_errors_total"), 7)
        self.assertRegex(self.gw.log_text(), r"admin client=127\.0\.0\.1:\d+ answered 404: not an admin endpoint "
                                             r"\(1 so far\)")
        self.assertEqual(self.stop_and_stats()["admin_errors"], 7)

    def raw_admin(self, data):
        with socket.create_connection(self.gw.admin_address(), timeout=5) as sock:
            sock.sendall(data)
            out = b""
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    return out
                out += chunk

    def test_connection_cap(self):
        self.start(admin__max_connections="2")
        held = [socket.create_connection(self.gw.admin_address(), timeout=5) for _ in range(2)]
        try:
            # Both are accepted before the third arrives: the loop takes connections in order.
            extra = socket.create_connection(self.gw.admin_address(), timeout=5)
            with extra:
                self.assertEqual(extra.recv(100), b"", "a connection past admin.max_connections was kept")
        finally:
            for s in held:
                s.close()
        # The gateway may not have seen the two close yet: a scrape refused meanwhile is counted too.
        deadline = time.monotonic() + 5
        refused_scrapes = 0
        while True:
            try:
                m = self.metrics()
                break
            except (ConnectionError, http.client.HTTPException):
                refused_scrapes += 1
                self.assertLess(time.monotonic(), deadline, "the held admin connections were never released")
                time.sleep(0.05)
        self.assertEqual(m.get("refusals_total", limit="admin_max_connections"), 1 + refused_scrapes)

    def test_empty_list_turns_the_admin_listener_off(self):
        self.start(admin__listen="[]")
        s = self.open()
        self.assertReply(s.send(b"x"))
        self.assertNotIn("admin listening", self.gw.log_text())


class DefaultsTest(AdminTestCase):
    def test_default_admin_address_is_loopback_9180(self):
        # Read from --help: binding the real default here would collide with other gateways.
        from support import BINARY
        out = subprocess.run([BINARY, "--help"], capture_output=True, text=True, timeout=10).stdout
        self.assertRegex(out, r"\nadmin\.listen\s+host:port list\s+127\.0\.0\.1:9180\s")
