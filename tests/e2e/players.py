"""Client processes (ffmpeg, rtmpdump) for end-to-end tests and benchmarks.

Output goes to files in a caller-provided directory (no pipes to drain); every wait is bounded.
"""
import os
import signal
import subprocess
import time

FFMPEG = "ffmpeg"
RTMPDUMP = "rtmpdump"


def inherited_environment():
    return {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "no_proxy")}


class Client:
    """One client process with its log file and (for players) its output file."""

    def __init__(self, label, cmd, workdir, output=None, env=None):
        """env: variables added to this process's environment (e.g. http_proxy). A proxy set in the
        environment the tests run in is not inherited: clients go where the test sends them."""
        self.label = label
        self.cmd = cmd
        self.output = output
        self.log_path = os.path.join(workdir, f"{label}.log")
        self._log = open(self.log_path, "w")
        self.started = time.monotonic()
        self.ended = None
        self.killed = False
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
                                     cwd=workdir, env={**inherited_environment(), **(env or {})})

    def wait(self, timeout):
        """Waits up to `timeout` s; returns the exit code, or None (process still running)."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        if self.ended is None:
            self.ended = time.monotonic()
        return rc

    def running(self):
        return self.proc.poll() is None

    def kill(self, grace=5.0):
        """Stops the process: SIGINT first (ffmpeg and rtmpdump then finish their output file, which keeps
        it readable for the report), SIGKILL after `grace` seconds."""
        if self.proc.poll() is None:
            self.killed = True
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.ended is None:
            self.ended = time.monotonic()

    def elapsed(self):
        return (self.ended or time.monotonic()) - self.started

    def output_size(self):
        try:
            return os.path.getsize(self.output)
        except (TypeError, FileNotFoundError):
            return 0

    def log_text(self, tail=4000):
        if not self._log.closed:
            self._log.flush()
        with open(self.log_path, errors="replace") as f:
            text = f.read()
        return text[-tail:] if tail else text

    def close(self):
        self.kill()
        self._log.close()

    def describe(self):
        """For failure reports: the command, how it ended, the tail of its log (without ffmpeg's line per
        RTMPT request)."""
        state = "stopped by the test, " if self.killed else ""
        text = self.log_text(tail=None)
        lines = [ln for ln in text.splitlines() if "Opening 'http://" not in ln]
        skipped = text.count("Opening 'http://")
        note = f"[{skipped} 'Opening http://...' lines left out]\n" if skipped else ""
        tail = "\n".join(lines)[-4000:]
        return f"--- {self.label} ({state}rc={self.proc.poll()}): {' '.join(self.cmd)}\n{note}{tail}"


def ffmpeg_player(label, url, workdir, extra_args=(), env=None):
    out = os.path.join(workdir, f"{label}.flv")
    cmd = [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "info", "-y", *extra_args,
           "-i", url, "-map", "0", "-c", "copy", "-flush_packets", "1", "-f", "flv", out]
    return Client(label, cmd, workdir, out, env=env)


def rtmpdump_player(label, url, workdir, timeout_s=30):
    """rtmpdump parses rtmp[t]://host:port/APP/PLAYPATH itself: app=live, playpath=NAME."""
    out = os.path.join(workdir, f"{label}.flv")
    cmd = [RTMPDUMP, "-r", url, "--live", "--timeout", str(timeout_s), "-o", out]
    return Client(label, cmd, workdir, out)


def ffmpeg_publisher(label, clip, url, workdir, realtime=True, extra_args=(), env=None):
    cmd = [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "warning", *(["-re"] if realtime else []),
           "-i", clip, "-map", "0", "-c", "copy", *extra_args, "-f", "flv", url]
    return Client(label, cmd, workdir, env=env)

