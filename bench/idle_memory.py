#!/usr/bin/env python3
"""Memory per idle session: opens N sessions through the gateway (each on its own keep-alive
connection, with one answered /idle, then silent) against a backend that accepts and holds its
connections, and prints the gateway's RSS before and after, and the difference per session.

    python3 bench/idle_memory.py --binary build/gateway/rtmpt-gateway [--sessions 9000] [--binary OLD ...]

Reports numbers and asserts nothing. Needs about 2 x N descriptors in this process and in the
gateway (it raises its own soft limit; the gateway raises its own too).
"""
import argparse
import os
import resource
import select
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

from lib.gateway_process import GatewayProcess, gateway_yaml  # noqa: E402
from rtmpt_post import post  # noqa: E402


class HoldingBackend:
    """Accepts every connection and holds it, reading and dropping whatever comes."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4096)
        self.port = self.listener.getsockname()[1]
        self.conns = []
        self._stop = False
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        poller = select.epoll()
        poller.register(self.listener.fileno(), select.EPOLLIN)
        by_fd = {}
        while not self._stop:
            for fd, _ in poller.poll(0.2):
                if fd == self.listener.fileno():
                    c, _ = self.listener.accept()
                    c.setblocking(False)
                    by_fd[c.fileno()] = c
                    self.conns.append(c)
                    poller.register(c.fileno(), select.EPOLLIN)
                else:
                    try:
                        if not by_fd[fd].recv(65536):
                            poller.unregister(fd)
                    except OSError:
                        poller.unregister(fd)

    def close(self):
        self._stop = True
        self._thread.join(2)
        for c in self.conns:
            c.close()
        self.listener.close()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def measure(binary, sessions):
    backend = HoldingBackend()
    gw = GatewayProcess(binary, gateway_yaml(backend.port, session__idle_hold="0ms", session__max_sessions="20000",
                                             session__handshake_timeout="5m", session__idle_timeout="5m",
                                             http__max_connections="20000"))
    try:
        time.sleep(0.3)
        before = rss_kib(gw.proc.pid)
        socks = []
        for _ in range(sessions):
            s = socket.create_connection((gw.host, gw.port))
            status, body = post(s, "/open/1", b"\x00")
            if status != 200:
                raise RuntimeError(f"open refused: {status!r} {body!r}")
            sid = body.strip().decode()
            post(s, f"/send/{sid}/0", b"\x03")  # a first byte: the session is past its handshake wait
            post(s, f"/idle/{sid}/1", b"\x00")
            socks.append(s)
        deadline = time.monotonic() + 10
        while len(backend.conns) < sessions and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        after = rss_kib(gw.proc.pid)
        for s in socks:
            s.close()
        return before, after
    finally:
        gw.stop()
        backend.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", action="append", required=True, help="gateway binary (repeat to compare)")
    ap.add_argument("--sessions", type=int, default=9000)
    args = ap.parse_args()
    need = 2 * args.sessions + 512
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, need), hard), hard))
    print(f"{'binary':<40} {'sessions':>8} {'rss_before_kib':>15} {'rss_after_kib':>14} {'kib_per_session':>16}")
    for binary in args.binary:
        before, after = measure(binary, args.sessions)
        print(f"{binary:<40} {args.sessions:>8} {before:>15} {after:>14} {(after - before) / args.sessions:>16.2f}",
              flush=True)


if __name__ == "__main__":
    main()
