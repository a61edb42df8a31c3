"""Starts the real rtmpt-gateway binary for a test and follows its log.

Every wait is bounded and event-driven: a test waits for a log line, never for a fixed time.
"""
import os
import re
import subprocess
import tempfile
import threading
import time


class GatewayProcess:
    """One gateway on loopback ports chosen by the kernel (listen on port 0)."""

    def __init__(self, binary, yaml_text, start_timeout=10.0):
        self.binary = binary
        self._dir = tempfile.TemporaryDirectory(prefix="rtmpt-gw-")
        self.config_path = os.path.join(self._dir.name, "gateway.yaml")
        with open(self.config_path, "w") as f:
            f.write(yaml_text)
        self.lines = []
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(
            [binary, "-c", self.config_path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        m = self.wait_for_log(r"(?<!admin )listening on (\S+):(\d+)", timeout=start_timeout)
        # The identity line comes last in start-up (after every listener, the admin one too): from
        # here on the process holds what it holds at rest, which descriptor counts compare with.
        self.wait_for_log(r"running as |switched to user |running unprivileged", timeout=start_timeout)
        self.host, self.port = m.group(1).strip("[]"), int(m.group(2))
        self._admin = None

    def admin_address(self, timeout=5.0):
        """(host, port) of the admin listener, from its "admin listening on" line (the first one)."""
        if self._admin is None:
            m = self.wait_for_log(r"admin listening on (\S+):(\d+)", timeout=timeout)
            self._admin = (m.group(1).strip("[]"), int(m.group(2)))
        return self._admin

    def _read_log(self):
        for line in self.proc.stderr:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for_log(self, pattern, timeout=10.0, start=0):
        """Returns the match of the first log line (from index `start`) matching `pattern`."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines[start:]:
                    m = rx.search(line)
                    if m:
                        return m
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(
                        f"no log line matching {pattern!r} within {timeout}s; log:\n" + "\n".join(self.lines))
                self._cond.wait(remaining)

    def wait_until(self, predicate, timeout=10.0):
        """Waits until predicate(lines) holds, checked as each log line arrives; returns whether it did."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.lines):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    return False
                self._cond.wait(remaining)
            return True

    def log_text(self):
        with self._cond:
            return "\n".join(self.lines)

    def write_config(self, yaml_text):
        """Replaces the config file (atomically: a reload never reads half a file)."""
        tmp = self.config_path + ".new"
        with open(tmp, "w") as f:
            f.write(yaml_text)
        os.replace(tmp, self.config_path)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=10.0):
        """The exit status, once the process has ended on its own (bounded)."""
        return self.proc.wait(timeout)

    def stop(self, timeout=10.0):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self._reader.join(timeout)
        self.proc.stderr.close()
        self._dir.cleanup()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# Workers of the gateways the suites start: RTMPT_TEST_WORKERS, 1 when unset.
TEST_WORKERS = int(os.environ.get("RTMPT_TEST_WORKERS", "1"))
# The base64url digits a session id is written in; the i-th also names worker i.
SID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# A session id without its node tag: 22 random characters, after the worker's digit (A for worker 0,
# B for 1, ...) when there are several workers.
SID_PATTERN = ("" if TEST_WORKERS == 1 else "[" + SID_ALPHABET[:TEST_WORKERS] + "]") + "[A-Za-z0-9_-]{22}"


def gateway_yaml(backend_port, backend_host="127.0.0.1", listen=("127.0.0.1:0",), **overrides):
    """A config for tests: loopback listener on a kernel-chosen port, short timeouts.

    listen: the listen addresses, e.g. ("[::1]:0",) or ("[::1]:0", "127.0.0.1:0"); GatewayProcess.host and
    .port are the first one's (each has its own "listening on" line).
    overrides: dotted keys, e.g. {"session.idle_timeout": "2s"} passed as session__idle_timeout="2s".
    """
    values = {
        "session.idle_timeout": "60s",
        "session.idle_hold": "100ms",
        "log.level": "info",
        # Tests run as whoever runs them, root in CI containers; the refusal has its own test.
        "process.allow_root": "true",
        # Stopping a test gateway ends its sessions at once; the drain has tests of its own.
        "process.shutdown_timeout": "0s",
        # Never the default 127.0.0.1:9180: gateways of parallel tests would collide on it.
        "admin.listen": '["127.0.0.1:0"]',
        # The suites run once with one worker and once with four (RTMPT_TEST_WORKERS=4: more
        # workers than this machine's cores, so that requests cross between them).
        "process.workers": str(TEST_WORKERS),
    }
    for k, v in overrides.items():
        values[k.replace("__", ".")] = v
    sections = {}
    for key, v in values.items():
        section, name = key.split(".", 1)
        sections.setdefault(section, {})[name] = v
    out = ["listen: [" + ", ".join(f'"{a}"' for a in listen) + "]", "backend:",
           f'  address: "{backend_host}:{backend_port}"']
    for k, v in sections.pop("backend", {}).items():
        out.append(f"  {k}: {v}")
    for section, kv in sections.items():
        out.append(f"{section}:")
        for k, v in kv.items():
            out.append(f"  {k}: {v}")
    return "\n".join(out) + "\n"
