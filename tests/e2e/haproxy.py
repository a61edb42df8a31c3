"""A private HAProxy (Debian's haproxy package) for end-to-end tests, configured from the shipped
packaging/haproxy/rtmpt-gateway.cfg (or, for a test that needs another setup, from a config of its own:
HAProxy(config=...)).

The shipped file is used as it is, except for the addresses it names: its `bind` and `server` lines are
pointed at loopback ports, and a small global section of the test's own sends HAProxy's log to a Unix
datagram socket that the test reads (the shipped file relies on Debian's global section for logging).
Every substitution must match exactly once, so a change to the shipped file that the test no longer
understands fails loudly instead of testing something else. Every wait is bounded.
"""
import os
import re
import socket
import subprocess
import tempfile
import threading
import time

from server_process import start_listening, terminate

HAPROXY = "/usr/sbin/haproxy"
HERE = os.path.dirname(os.path.abspath(__file__))
SHIPPED_CONFIG = os.path.join(os.path.dirname(os.path.dirname(HERE)), "packaging", "haproxy", "rtmpt-gateway.cfg")

TEST_GLOBAL = """\
# Added by tests/e2e/haproxy.py: the log goes to the test's socket; the rest is the shipped file.
global
    log {socket} len 4096 format raw local0
    maxconn 2000

"""

# One line of `option httplog`: "... rtmpt rtmpt_nodes/n1 0/0/0/101/101 200 145 - - ---- ... "POST /idle/x/3 HTTP/1.1""
REQUEST_LINE = re.compile(r" (?P<frontend>\S+) (?P<backend>[^/\s]+)/(?P<server>\S+) "
                          r"(?P<timers>-?\d+/-?\d+/-?\d+/-?\d+/\+?-?\d+) (?P<status>-?\d+) (?P<bytes>\+?\d+) "
                          r"\S+ \S+ \S+ \d+/\d+/\d+/\d+/(?P<retries>\+?\d+) \d+/\d+ "
                          r".*\"(?P<method>\S+) (?P<path>\S+) HTTP/[0-9.]+\"$")


def config_from_shipped(bind_port, servers, log_socket, shipped=SHIPPED_CONFIG):
    """The shipped config with `bind` on 127.0.0.1:bind_port and each `server <tag>` on 127.0.0.1:<port>.

    servers: {tag: port}; the shipped file must name exactly these servers.
    """
    with open(shipped) as f:
        text = f.read()

    def substitute(pattern, replacement):
        nonlocal text
        text, n = re.subn(pattern, replacement, text, flags=re.M)
        if n != 1:
            raise AssertionError(f"{shipped}: expected exactly one line matching {pattern!r}, found {n}")

    substitute(r"^(\s*bind )\S+$", rf"\g<1>127.0.0.1:{bind_port}")
    for tag, port in servers.items():
        substitute(rf"^(\s*server {re.escape(tag)} )\S+(.*)$", rf"\g<1>127.0.0.1:{port}\g<2>")
    shipped_servers = re.findall(r"^\s*server (\S+) ", text, flags=re.M)
    if sorted(shipped_servers) != sorted(servers):
        raise AssertionError(f"{shipped}: servers {shipped_servers}, the test runs {sorted(servers)}")
    return TEST_GLOBAL.format(socket=log_socket) + text


class LogSocket:
    """A Unix datagram socket collecting HAProxy's log lines; waits on it are event-driven."""

    def __init__(self, path):
        self.path = path
        self.lines = []
        self._cond = threading.Condition()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self._sock.bind(path)
        os.chmod(path, 0o666)
        self._closed = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        while True:
            try:
                data = self._sock.recv(65536)
            except OSError:
                break
            if self._closed:
                break
            with self._cond:
                self.lines.append(data.decode("utf-8", "replace").rstrip("\n"))
                self._cond.notify_all()

    def wait_for(self, predicate, timeout):
        """Waits until predicate(lines) is true; returns whether it became true within `timeout`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.lines):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def snapshot(self):
        with self._cond:
            return list(self.lines)

    def close(self):
        # A blocked recv() does not return when its socket is closed: wake it with a datagram.
        self._closed = True
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            try:
                s.sendto(b"", self.path)
            except OSError:
                pass
        self._reader.join(5)
        self._sock.close()


class HAProxy:
    """haproxy -db (foreground) with the shipped config pointed at loopback ports.

    config: instead of the shipped file, a function (bind_port, log_socket_path) -> the whole config text of
    the test's own (its `log` line should name log_socket_path, for self.log). host: the address it binds,
    where readiness is checked (e.g. "::1" for `bind [::1]:<port>`).
    """

    def __init__(self, servers=None, start_timeout=10.0, attempts=5, config=None, host="127.0.0.1"):
        if not os.path.exists(HAPROXY):
            raise RuntimeError(f"{HAPROXY} missing: install Debian's haproxy (packaging/install-deps.sh)")
        if (servers is None) == (config is None):
            raise ValueError("HAProxy: give either servers (the shipped config) or config (a config of its own)")
        self._dir = tempfile.TemporaryDirectory(prefix="e2e-haproxy-")
        self.log = LogSocket(os.path.join(self._dir.name, "log.sock"))
        self.config_path = os.path.join(self._dir.name, "haproxy.cfg")
        self.stderr_path = os.path.join(self._dir.name, "stderr.log")

        def launch(port, stderr):
            with open(self.config_path, "w") as f:
                f.write(config(port, self.log.path) if config else config_from_shipped(port, servers, self.log.path))
            check = subprocess.run([HAPROXY, "-c", "-q", "-f", self.config_path], capture_output=True, text=True,
                                   timeout=30)
            if check.returncode != 0:
                raise RuntimeError(f"haproxy -c refuses the generated config:\n{check.stdout}{check.stderr}")
            return subprocess.Popen([HAPROXY, "-db", "-f", self.config_path], stdin=subprocess.DEVNULL,
                                    stdout=stderr, stderr=stderr)

        try:
            self.proc, self.port = start_listening("haproxy", launch, self.stderr_path, start_timeout, attempts,
                                                   host=host)
        except BaseException:
            self._cleanup()
            raise

    def requests(self):
        """Every logged request as a dict: server, status (int), retries ("0", "1", "+1": redispatched),
        method, path."""
        out = []
        for line in self.log.snapshot():
            m = REQUEST_LINE.search(line)
            if m:
                d = m.groupdict()
                d["status"] = int(d["status"])
                out.append(d)
        return out

    def _cleanup(self):
        self.log.close()
        self._dir.cleanup()

    def stop(self):
        terminate(self.proc)
        self._cleanup()
