#!/usr/bin/env python3
"""Benchmarks of rtmpt-gateway with real clients against a private nginx-rtmp (not a test: no assertions).

  push       (default) time `ffmpeg -i clip30.flv -c copy -f flv URL` (no -re) through the gateway
             (rtmpt://) and straight to nginx (rtmp://), N runs each; a direct rtmpdump player counts the
             packets nginx relayed.
  idle-hold  for each session.idle_hold value, publish a 10 s clip with -re through the gateway while
             ffmpeg and rtmpdump play through it; report publish wall time, player start-up latency
             (publish start to first bytes in the player's output file), how long each player takes to end
             after the publish ends, and the gateway's CPU time (/proc/<pid>/stat utime+stime).

  python3 bench/push_speed.py --binary build/gateway/rtmpt-gateway [push|idle-hold] [--runs N]
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import media  # noqa: E402
import players  # noqa: E402
from nginx_rtmp import NginxRtmp  # noqa: E402
from lib.gateway_process import GatewayProcess, gateway_yaml  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
IDLE_HOLDS = ["0ms", "20ms", "50ms", "100ms", "200ms", "500ms"]


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class Watcher:
    """Polls clients from a start instant: when each output file first became non-empty, when each exited."""

    def __init__(self, clients, period=0.002):
        self.clients = clients
        self.period = period
        self.first = {}
        self.exited = {}
        self._stop = threading.Event()
        self.start = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sweep(self):
        now = time.monotonic() - self.start
        for c in self.clients:
            if c.output and c.label not in self.first and c.output_size() > 0:
                self.first[c.label] = now
            if c.label not in self.exited and c.proc.poll() is not None:
                self.exited[c.label] = now

    def _run(self):
        while not self._stop.is_set() and len(self.exited) < len(self.clients):
            self._sweep()
            time.sleep(self.period)

    def stop(self):
        """Call once every client has exited: a last sweep records what the thread had not seen yet."""
        self._stop.set()
        self._thread.join()
        self._sweep()


def opt(v):
    return "-" if v is None else f"{v:.3f}"


def fmt(values, spec="{:.2f}"):
    vals = [v for v in values if v is not None]
    if not vals:
        return "-"
    return spec.format(statistics.median(vals))


def table(head, rows):
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    line = "  ".join("{:>%d}" % w for w in widths)
    print(line.format(*head))
    print(line.format(*("-" * w for w in widths)))
    for r in rows:
        print(line.format(*r))
    sys.stdout.flush()


def wait_plays(nginx, name, n, timeout=20.0):
    got = nginx.wait_for_count(r"play: name='%s'" % name, n, timeout=timeout)
    if got < n:
        raise RuntimeError(f"only {got} of {n} players of {name} reached nginx within {timeout}s")


def packets(client):
    if client.output_size() == 0:
        return 0, 0
    try:
        listing = media.framemd5(client.output)
    except Exception:  # noqa: BLE001 - a benchmark reports, it does not fail
        return None, None
    return (len(listing["video"].md5s) if "video" in listing else 0,
            len(listing["audio"].md5s) if "audio" in listing else 0)


def bench_push(args, work):
    clip = media.make_clip(os.path.join(work, "clip30.flv"), seconds=30)
    pub = media.framemd5(clip)
    n_video, n_audio = len(pub["video"].md5s), len(pub["audio"].md5s)
    print(f"clip: 30 s, {n_video} video + {n_audio} audio packets, {os.path.getsize(clip)} bytes")
    results = {"rtmpt": [], "rtmp": []}
    with NginxRtmp() as nginx, GatewayProcess(args.binary, gateway_yaml(nginx.port, **overrides(args))) as gw:
        urls = {"rtmpt": f"rtmpt://127.0.0.1:{gw.port}/live/%s",
                "rtmp": f"rtmp://127.0.0.1:{nginx.port}/live/%s"}
        for i in range(args.runs):
            for target in ("rtmpt", "rtmp"):
                name = f"push{i}{target}"
                d = os.path.join(work, name)
                os.makedirs(d)
                watcher = None
                if not args.no_count:
                    watcher = players.rtmpdump_player("count", f"rtmp://127.0.0.1:{nginx.port}/live/{name}", d)
                    wait_plays(nginx, name, 1)
                cpu0 = cpu_seconds(gw.proc.pid)
                p = players.ffmpeg_publisher("publisher", clip, urls[target] % name, d, realtime=False)
                rc = p.wait(args.timeout)
                if rc is None:
                    p.kill()
                secs = p.elapsed()
                cpu = cpu_seconds(gw.proc.pid) - cpu0
                counts = (None, None)
                if watcher:
                    if watcher.wait(30) is None:
                        watcher.kill()
                    counts = packets(watcher)
                    watcher.close()
                p.close()
                results[target].append((secs, rc, cpu, counts))
                print(f"run {i + 1} {target:5}: {secs:7.2f} s  rc={rc}  gateway cpu={cpu:.2f} s  "
                      f"nginx relayed video={counts[0]} audio={counts[1]}", flush=True)
    print()
    head = ("target", "runs", "median s", "min s", "max s", "gw cpu s", "video rx", "audio rx", "failed")
    rows = []
    for target, label in (("rtmpt", "gateway rtmpt://"), ("rtmp", "nginx rtmp://")):
        r = results[target]
        secs = [x[0] for x in r]
        rows.append((label, len(r), f"{statistics.median(secs):.2f}", f"{min(secs):.2f}", f"{max(secs):.2f}",
                     fmt([x[2] for x in r]) if target == "rtmpt" else "-",
                     f"{fmt([x[3][0] for x in r], '{:.0f}')}/{n_video}",
                     f"{fmt([x[3][1] for x in r], '{:.0f}')}/{n_audio}",
                     sum(1 for x in r if x[1] != 0)))
    table(head, rows)


def bench_idle_hold(args, work):
    clip = media.make_clip(os.path.join(work, "clip10.flv"), seconds=10)
    holds = args.holds.split(",") if args.holds else IDLE_HOLDS
    rows = []
    with NginxRtmp() as nginx:
        for hold in holds:
            samples = []
            for i in range(args.runs):
                yaml = gateway_yaml(nginx.port, **{**overrides(args), "session__idle_hold": hold})
                with GatewayProcess(args.binary, yaml) as gw:
                    name = f"hold{hold}_{i}"
                    d = os.path.join(work, name)
                    os.makedirs(d)
                    url = f"rtmpt://127.0.0.1:{gw.port}/live/{name}"
                    ff = players.ffmpeg_player("ffmpeg", url, d)
                    rd = players.rtmpdump_player("rtmpdump", url, d)
                    try:
                        wait_plays(nginx, name, 2)
                        cpu0 = cpu_seconds(gw.proc.pid)
                        p = players.ffmpeg_publisher("publisher", clip, url, d)
                        w = Watcher([p, ff, rd])
                        rc = p.wait(args.timeout)
                        if rc is None:
                            p.kill()
                        for c in (ff, rd):
                            if c.wait(60) is None:
                                c.kill()
                        w.stop()
                        cpu = cpu_seconds(gw.proc.pid) - cpu0
                        pub_end = w.exited.get("publisher")
                        ends = {c.label: (w.exited[c.label] - pub_end
                                          if c.label in w.exited and pub_end is not None and not c.killed
                                          else None) for c in (ff, rd)}
                        sample = dict(publish=pub_end if pub_end is not None else p.elapsed(), rc=rc, cpu=cpu,
                                      ff_first=w.first.get("ffmpeg"), rd_first=w.first.get("rtmpdump"),
                                      ff_end=ends["ffmpeg"], rd_end=ends["rtmpdump"],
                                      ff_pk=packets(ff), rd_pk=packets(rd))
                        p.close()
                    finally:
                        ff.close()
                        rd.close()
                samples.append(sample)
                print(f"idle_hold={hold} run {i + 1}: publish {sample['publish']:.2f} s rc={rc}, "
                      f"first bytes ffmpeg {opt(sample['ff_first'])} s rtmpdump {opt(sample['rd_first'])} s, "
                      f"end lag ffmpeg {opt(sample['ff_end'])} s rtmpdump {opt(sample['rd_end'])} s, "
                      f"gateway cpu {cpu:.2f} s, packets (v,a) ffmpeg {sample['ff_pk']} "
                      f"rtmpdump {sample['rd_pk']}", flush=True)
            rows.append((hold, len(samples),
                         fmt([s["publish"] for s in samples]),
                         fmt([s["ff_first"] for s in samples], "{:.3f}"),
                         fmt([s["rd_first"] for s in samples], "{:.3f}"),
                         fmt([s["ff_end"] for s in samples], "{:.3f}"),
                         fmt([s["rd_end"] for s in samples], "{:.3f}"),
                         fmt([s["cpu"] for s in samples]),
                         sum(1 for s in samples if s["rc"] != 0)))
    print()
    print("medians; first = publish start to first bytes in the player's output file; "
          "end lag = publish end to player exit")
    table(("idle_hold", "runs", "publish s", "ffmpeg first s", "rtmpdump first s", "ffmpeg end lag s",
           "rtmpdump end lag s", "gw cpu s", "failed"), rows)


def overrides(args):
    out = {}
    for kv in args.set or []:
        k, _, v = kv.partition("=")
        out[k.replace(".", "__")] = v
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", nargs="?", choices=("push", "idle-hold"), default="push")
    parser.add_argument("--binary", required=True, help="path to the rtmpt-gateway binary")
    parser.add_argument("--runs", type=int, default=None, help="runs per target / per value (3 / 1)")
    parser.add_argument("--holds", help="idle-hold mode: comma-separated values (default: %s)" % ",".join(IDLE_HOLDS))
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="extra gateway setting, e.g. --set session.idle_hold=50ms (repeatable)")
    parser.add_argument("--no-count", action="store_true", help="push mode: no direct player counting packets")
    parser.add_argument("--timeout", type=float, default=300.0, help="per-publish time limit, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args()
    if args.runs is None:
        args.runs = 3 if args.mode == "push" else 1
    work = tempfile.mkdtemp(prefix="rtmpt-bench-")
    try:
        if args.mode == "push":
            bench_push(args, work)
        else:
            bench_idle_hold(args, work)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
