#!/usr/bin/env python3
"""What a hand-over costs: the gateway's CPU time per /idle when the request arrives on a connection
of the worker that owns its session (local) and on a connection of another worker (handed over).

With process.workers 2, every client process opens connections until it has one on each worker
(a probe /open on a connection says which: the worker's digit leads the id), keeps a session owned
by worker 0, and then polls it for --seconds on the worker-0 connection (local) and for --seconds
on the worker-1 connection (handed over). The gateway's CPU time (utime + stime from /proc) over each
phase, divided by the requests answered in it, is the cost per request; their difference is the
hand-over's. The load is the same in both phases, so the per-request overheads that do not depend
on the worker (wake-ups, the client's pace) are the same too.

    python3 bench/handover.py --binary build/gateway/rtmpt-gateway [--clients 4] [--seconds 5] [--pin]

--pin runs the gateway on CPU 0 and the clients on CPU 1 (both workers then share one core, so what
is measured is CPU time, not parallelism); without it, everything is left to the scheduler.
"""
import argparse
import multiprocessing
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from rtmpt_post import post

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
from lib.gateway_process import SID_ALPHABET  # noqa: E402


def client(port, seconds, start_at, results, index):
    """One client: connections on worker 0 and 1, a session of worker 0, two timed phases."""
    by_worker = {}
    tries = 0
    while len(by_worker) < 2 and tries < 64:
        tries += 1
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        status, body = post(s, "/open/1", b"\x00")
        sid = body[:-1].decode()
        worker = SID_ALPHABET.index(sid[0])
        if worker in by_worker or worker > 1:
            post(s, f"/close/{sid}/0", b"")
            s.close()
            continue
        by_worker[worker] = (s, sid)
    if len(by_worker) < 2:
        results.put((index, None))
        return
    own, sid = by_worker[0]
    foreign, probe = by_worker[1]
    post(foreign, f"/close/{probe}/0", b"")
    seq = 0
    counts = []
    for phase, conn in enumerate((own, foreign)):
        # Both phases start at the same moment in every client, so the gateway sees one load.
        begin = start_at + phase * (seconds + 1)
        while time.time() < begin:
            time.sleep(0.005)
        n = 0
        end = begin + seconds
        while time.time() < end:
            status, _ = post(conn, f"/idle/{sid}/{seq}", b"")
            if status != 200:
                raise RuntimeError(f"idle answered {status}")
            seq += 1
            n += 1
        counts.append(n)
    post(own, f"/close/{sid}/{seq}", b"")
    results.put((index, counts))


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def metric(port, name):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {m.group(1) or "": float(m.group(2))
            for m in re.finditer(rf"^rtmpt_gateway_{name}(?:{{worker=\"(\d+)\"}})? (\S+)$", text, re.M)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--pin", action="store_true")
    args = ap.parse_args()

    sink = socket.socket()
    sink.bind(("127.0.0.1", 0))
    sink.listen(1024)
    backend_port = sink.getsockname()[1]
    ports = []
    for _ in range(2):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        ports.append(s.getsockname()[1])
        s.close()
    port, admin = ports
    work = tempfile.mkdtemp()
    conf = os.path.join(work, "gw.yaml")
    with open(conf, "w") as f:
        f.write(f'listen: ["127.0.0.1:{port}"]\nbackend:\n  address: "127.0.0.1:{backend_port}"\n'
                f'session:\n  idle_hold: 0ms\n  handshake_timeout: 5m\n'
                f'admin:\n  listen: ["127.0.0.1:{admin}"]\nlog:\n  level: warn\n'
                f'process:\n  workers: 2\n  shutdown_timeout: 0s\n  allow_root: true\n')
    cmd = [args.binary, "-c", conf]
    if args.pin:
        cmd = ["taskset", "-c", "0"] + cmd
    gw = subprocess.Popen(cmd, stderr=subprocess.PIPE)
    deadline = time.time() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.time() > deadline or gw.poll() is not None:
                sys.exit("gateway did not start: " + gw.stderr.read().decode())
            time.sleep(0.05)
    if args.pin:
        os.sched_setaffinity(0, {1})
    results = multiprocessing.Queue()
    start_at = time.time() + 2
    procs = [multiprocessing.Process(target=client, args=(port, args.seconds, start_at, results, i))
             for i in range(args.clients)]
    for p in procs:
        p.start()
    # CPU and hand-over counts at each phase's edges (the phases start at fixed times).
    marks = []
    for edge in (start_at, start_at + args.seconds, start_at + args.seconds + 1, start_at + 2 * args.seconds + 1):
        while time.time() < edge:
            time.sleep(0.001)
        marks.append((cpu_seconds(gw.pid), metric(admin, "worker_cpu_seconds_total"),
                      metric(admin, "requests_handed_over_total").get("", 0)))
    got = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(10)
    gw.kill()
    gw.wait()
    counts = [c for _, c in got if c]
    if not counts:
        sys.exit("no client found connections on both workers")
    print(f"# hand-over cost: {len(counts)} clients, {args.seconds:g} s a phase, "
          f"{'pinned: gateway CPU 0, clients CPU 1' if args.pin else 'unpinned'}")
    print(f"{'phase':<12} {'requests/s':>11} {'gw CPU %':>9} {'us CPU/req':>11} {'handed over':>12} per-worker CPU s")
    costs = []
    for phase, name in enumerate(("local", "handed over")):
        (c0, w0, h0), (c1, w1, h1) = marks[2 * phase], marks[2 * phase + 1]
        requests = sum(c[phase] for c in counts)
        cpu = c1 - c0
        cost = cpu / requests * 1e6 if requests else float("nan")
        costs.append(cost)
        per_worker = " ".join(f"w{k}={w1[k] - w0.get(k, 0):.2f}" for k in sorted(w1))
        print(f"{name:<12} {requests / args.seconds:>11,.0f} {cpu / args.seconds * 100:>9.0f} {cost:>11.1f} "
              f"{h1 - h0:>12,.0f} {per_worker}")
    print(f"hand-over adds {costs[1] - costs[0]:.1f} us of gateway CPU a request "
          f"({(costs[1] / costs[0] - 1) * 100:+.0f}%)")


if __name__ == "__main__":
    main()
