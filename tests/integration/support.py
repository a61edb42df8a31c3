"""Shared pieces of the integration cases: the binary under test, the expected reply header block,
and a TestCase base that starts a scripted backend and a real gateway per test."""
import os
import re
import resource
import shutil
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS_DIR = os.path.dirname(HERE)
REPO_ROOT = os.path.dirname(TESTS_DIR)
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

from lib.gateway_process import SID_ALPHABET, SID_PATTERN, TEST_WORKERS, GatewayProcess, gateway_yaml  # noqa: E402, F401

from rtmpt_client import HttpConnection, open_session  # noqa: E402
from scripted_backend import RefusedPort, ScriptedBackend  # noqa: E402

# Set by run.py.
BINARY = os.environ.get("RTMPT_GATEWAY_BINARY")
# Print the gateway's log after every test, not only failed ones.
VERBOSE_LOG = os.environ.get("RTMPT_IT_SHOW_LOG") == "1"

SID_RE = re.compile(SID_PATTERN)
# Further key=value fields before "closing because" are tolerated (e.g. requests=N empty=N).
SESSION_END_RE = (r"session end sid={sid} client=(?P<client>\S+) (?:via=(?P<via>\S+) )?age=(?P<age>[0-9.]+)s "
                  r"up=(?P<up>\d+) down=(?P<down>\d+) (?:[a-z_]+=\S+ )*closing because: (?P<reason>.*)$")
UNKNOWN_SID = "AAAAAAAAAAAAAAAAAAAAAA"
# The one line of counters the gateway logs when it stops: "<time> info stats name=N name=N ...".
STATS_RE = re.compile(r" info stats ((?:[a-z_]+=\d+)(?: [a-z_]+=\d+)*)$")


def parse_stats(lines):
    """The counters of the `stats` log line among `lines`, as {name: int}; fails unless exactly one."""
    found = [m for m in (STATS_RE.search(line) for line in lines) if m]
    if len(found) != 1:
        raise AssertionError(f"expected one stats line in the gateway log, found {len(found)}:\n" + "\n".join(lines))
    stats = {}
    for pair in found[0].group(1).split(" "):
        name, value = pair.split("=")
        if name in stats:
            raise AssertionError(f"counter {name} twice in the stats line {found[0].group(0)!r}")
        stats[name] = int(value)
    return stats


def project_version():
    """The version meson stamps into the Server header, read from the top-level meson.build."""
    with open(os.path.join(REPO_ROOT, "meson.build")) as f:
        m = re.search(r"project\([^)]*?version\s*:\s*'([^']+)'", f.read(), re.S)
    if not m:
        raise RuntimeError("no project version in meson.build")
    return m.group(1)


VERSION = project_version()


def expected_ok_head(content_length, last_on_connection=False):
    """The byte-exact header block of every successful RTMPT reply (FMS order, librtmp-safe).

    The last reply on a connection the client asked to close says "Connection: close" instead.
    """
    connection = "close" if last_on_connection else "Keep-Alive"
    return (f"HTTP/1.1 200 OK\r\nCache-Control: no-cache\r\nConnection: {connection}\r\n"
            f"Content-Length: {content_length}\r\nServer: rtmpt-gateway/{VERSION}\r\n"
            f"Content-Type: application/x-fcs\r\n\r\n").encode()


def q(s):
    """A YAML double-quoted scalar."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class GatewayTestCase(unittest.TestCase):
    """Per test: one ScriptedBackend (or a refused port) and one gateway pointed at it."""

    def raise_fd_limit(self, need):
        """The gateway inherits our limit; both ends of every backend connection live here and there."""
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft >= need:
            return
        if hard != resource.RLIM_INFINITY and hard < need:
            self.skipTest(f"needs {need} file descriptors, RLIMIT_NOFILE hard limit is {hard}")
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
        except (ValueError, OSError) as e:
            self.skipTest(f"cannot raise RLIMIT_NOFILE to {need}: {e}")
        self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))

    def read_exactly(self, sock, n, timeout=5.0):
        """Up to `n` bytes from a raw socket: fewer only if it closes first."""
        sock.settimeout(timeout)
        got = bytearray()
        while len(got) < n:
            chunk = sock.recv(n - len(got))
            if not chunk:
                break
            got += chunk
        return bytes(got)

    def promtool(self, text):
        """`promtool check metrics` on an exposition; no promtool is a failure, not a skip."""
        tool = shutil.which("promtool")
        if tool is None:
            self.fail("promtool not found: install Debian package prometheus (packaging/install-deps.sh)")
        r = subprocess.run([tool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, f"promtool check metrics:\n{r.stdout}{r.stderr}\npage:\n{text}")

    def start(self, backend=None, refused=False, listen=None, **overrides):
        """Starts the gateway; overrides are gateway_yaml() keys, e.g. session__idle_hold=q("0ms").
        `listen`: the public listen addresses (e.g. ["127.0.0.1:0", "[::1]:0"]) instead of gateway_yaml()'s
        default; self.gw.host and .port are the first one's."""
        if BINARY is None:
            self.fail("no gateway binary given (run through run.py --binary PATH)")
        if refused:
            self.refused = RefusedPort()
            self.addCleanup(self.refused.close)
            port = self.refused.port
            self.backend = None
        else:
            self.backend = backend if backend is not None else ScriptedBackend()
            self.addCleanup(self.backend.close)
            port = self.backend.port
        self._problems_before = self._problem_count()
        self._stopped = None  # (proc.poll() before the stop, exit status) once stop_gateway() ran
        if listen is not None:
            overrides["listen"] = listen
        self.gw = GatewayProcess(BINARY, gateway_yaml(port, **overrides))
        self.addCleanup(self._stop_gateway)
        return self.gw

    def _problem_count(self):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        return len(result.failures) + len(result.errors) if result is not None else 0

    def stop_gateway(self):
        """Stops the gateway now (SIGTERM, waits for it); returns its exit status. The log stays in
        self.gw.lines; the cleanup then only reports (a crash before this call still fails the test)."""
        if self._stopped is None:
            crashed = self.gw.proc.poll()
            self._stopped = (crashed, self.gw.stop())
        return self._stopped[1]

    def wait_gateway_exit(self, timeout=10.0):
        """Waits for the gateway to exit on its own (after a drain); returns its exit status."""
        status = self.gw.wait_exit(timeout)
        if self._stopped is None:
            self._stopped = (None, self.gw.stop())
        return status

    def stop_and_stats(self):
        """Stops the gateway, checks it exited 0, and returns the counters of its `stats` line."""
        status = self.stop_gateway()
        self.assertEqual(status, 0, "the gateway exited non-zero on SIGTERM")
        return parse_stats(self.gw.lines)

    def _stop_gateway(self):
        failed = self._problem_count() > self._problems_before
        if self._stopped is None:
            crashed = self.gw.proc.poll()
            status = self.gw.stop()
        else:
            crashed, status = self._stopped
        # Read after stop: a sanitizer build reports leaks as the process exits.
        log = self.gw.log_text()
        if failed or VERBOSE_LOG or crashed is not None or status != 0:
            sys.stderr.write(f"\n----- gateway log of {self.id()} -----\n{log}\n----- end of log -----\n")
        if crashed is not None:
            raise AssertionError(f"the gateway exited during the test with status {crashed}")
        if status != 0:
            raise AssertionError(f"the gateway exited with status {status} on SIGTERM (sanitizer report?)")

    def connect(self, style="librtmp", timeout=5.0, source=None):
        conn = HttpConnection(self.gw.host, self.gw.port, timeout=timeout, style=style, source=source)
        self.addCleanup(conn.close)
        return conn

    def metric(self, name):
        """The value of rtmpt_gateway_<name> on the admin /metrics page (the first sample)."""
        import urllib.request
        host, port = self.gw.admin_address()
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        for line in text.splitlines():
            if line.startswith(f"rtmpt_gateway_{name} ") or line.startswith(f"rtmpt_gateway_{name}{{"):
                return float(line.rsplit(" ", 1)[1])
        self.fail(f"no {name} on /metrics")

    def wait_metric(self, name, value, timeout=5.0):
        """True once rtmpt_gateway_<name> reaches `value` (polled, bounded by `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.metric(name) >= value:
                return True
            time.sleep(0.02)
        return False

    def sessions(self):
        """The admin /sessions page: one dict per live session."""
        import json
        import urllib.request
        host, port = self.gw.admin_address()
        with urllib.request.urlopen(f"http://{host}:{port}/sessions", timeout=5) as resp:
            return json.loads(resp.read())

    def wait_queued_up(self, sid, value, timeout=5.0):
        """True once /sessions shows `value` client bytes queued for session `sid` (polled, bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(sid.startswith(s["id"]) and s["queued_up"] == value for s in self.sessions()):
                return True
            time.sleep(0.02)
        return False

    # --- assertions

    def assertOk(self, resp, body=None, msg=None, last_on_connection=False):
        """A successful RTMPT reply: byte-exact header block, and the body if given."""
        self.assertEqual(resp.head, expected_ok_head(len(resp.body), last_on_connection),
                         msg or f"reply header block is not the fixed 200 block: {resp!r}")
        if body is not None:
            self.assertEqual(resp.body, body, msg)

    def assertReply(self, resp, msg=None, last_on_connection=False):
        """A send/idle reply: the fixed 200 block and a body of polling byte + data."""
        self.assertOk(resp, msg=msg, last_on_connection=last_on_connection)
        self.assertGreaterEqual(len(resp.body), 1, msg or "send/idle reply without a polling byte")

    def assertError(self, resp, status, msg=None):
        """An error reply: the status, a Content-Length (checked by the parser) and a short text body."""
        self.assertEqual(resp.status, status, msg or f"expected {status}, got {resp!r}")
        self.assertEqual(resp.version, "HTTP/1.1", msg)
        self.assertTrue(resp.reason, msg or f"no reason phrase: {resp!r}")
        self.assertTrue(0 < len(resp.body) <= 512, msg or f"error body should be a short text: {resp!r}")
        try:
            text = resp.body.decode("utf-8")
        except UnicodeDecodeError:
            self.fail(f"error body is not text: {resp!r}")
        self.assertTrue(all(c.isprintable() or c in "\r\n\t" for c in text), f"error body is not text: {resp!r}")
        self.assertNotIn("chunked", (resp.header("Transfer-Encoding") or "").lower())

    def open(self, conn=None, body=b"\x00", first_seq=0):
        """Opens a session and checks the reply; returns the Session."""
        conn = conn or self.connect()
        session, resp = open_session(conn, body, first_seq)
        self.assertOk(resp)
        self.assertTrue(resp.body.endswith(b"\n") and not resp.body.endswith(b"\r\n"), repr(resp))
        self.assertRegex(session.sid, "^" + SID_PATTERN + "$", repr(resp))
        return session

    def wait_session_end(self, sid, timeout=5.0):
        """The `session end` log line of `sid`, as a dict (client, age, up, down, reason)."""
        m = self.gw.wait_for_log(SESSION_END_RE.format(sid=re.escape(sid)), timeout=timeout)
        d = m.groupdict()
        d["up"], d["down"], d["age"] = int(d["up"]), int(d["down"]), float(d["age"])
        return d

    def assertReason(self, end, reason):
        """The `closing because` reason of a session end; a ": detail" suffix is tolerated."""
        self.assertTrue(end["reason"] == reason or end["reason"].startswith(reason + ": "),
                        f"session ended because {end['reason']!r}, expected {reason!r}")

    def drain(self, session, n, conn=None, limit=None, timeout=10.0, max_body=None):
        """Idles until `n` backend bytes were received; returns (data, replies). Checks every reply."""
        data = bytearray()
        replies = []
        deadline = time.monotonic() + timeout
        while len(data) < n:
            self.assertLess(time.monotonic(), deadline, f"only {len(data)} of {n} backend bytes arrived in {timeout}s")
            r = session.idle(conn=conn)
            self.assertReply(r)
            if max_body is not None:
                self.assertLessEqual(len(r.body), max_body, "reply body larger than session.reply_max_bytes")
            data += r.data
            replies.append(r)
        return bytes(data), replies
