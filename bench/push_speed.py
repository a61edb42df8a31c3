#!/usr/bin/env python3
"""Benchmarks of rtmpt-gateway with real clients against a private nginx-rtmp (not a test: no assertions).

  push       (default) time `ffmpeg -i CLIP -c copy -f flv URL` (no -re) through the gateway
             (rtmpt://) and straight to nginx (rtmp://), N runs each; a direct rtmpdump player counts the
             packets nginx relayed. The clip is --seconds long (30), --size (320x240) at --video-bitrate
             (400k); the table shows its size in MB and the throughput of the median push in MB/s.
  reply-cap  for each session.reply_max_bytes (8, 16, 64 KiB), a 720p stream with real keyframe sizes published
             straight to nginx, played by ffmpeg and rtmpdump through the gateway and directly: each player
             session's requests per second, its largest reply, and the delivery lag against the direct player
             (how much later each part of the stream reached the player's output file).
  idle-hold  for each session.idle_hold value, publish a 10 s clip with -re through the gateway while
             ffmpeg and rtmpdump play through it; report publish wall time, player start-up latency
             (publish start to first bytes in the player's output file), how long each player takes to end
             after the publish ends, the gateway's CPU time (/proc/<pid>/stat utime+stime), and the
             request and empty-reply counts of each session from the gateway's `session end` log lines.

  python3 bench/push_speed.py --binary build/gateway/rtmpt-gateway [push|idle-hold|reply-cap] [--runs N]
                              [--size WxH] [--video-bitrate RATE] [--seconds S]
"""
import argparse
import asyncio
import os
import re
import shutil
import socket
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
REPLY_CAPS = ["8KiB", "16KiB", "64KiB"]
MB = 1e6
SESSION_OPEN = re.compile(r"session open sid=(\S+)")
SESSION_END = re.compile(r"session end sid=(\S+) client=(\S+) age=([0-9.]+)s up=(\d+) down=(\d+) "
                         r"requests=(\d+) empty=(\d+) closing because: (.*)$")


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class Watcher:
    """Polls clients from a start instant: when each output file first became non-empty, when each exited."""

    def __init__(self, clients, period=0.002, start=None):
        self.clients = clients
        self.period = period
        self.first = {}
        self.exited = {}
        self.growth = {c.label: [] for c in clients}  # (t, size) each time a client's output grew
        self._stop = threading.Event()
        self.start = time.monotonic() if start is None else start
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sweep(self):
        now = time.monotonic() - self.start
        for c in self.clients:
            size = c.output_size() if c.output else 0
            grown = self.growth[c.label]
            if size > (grown[-1][1] if grown else 0):
                grown.append((now, size))
            if c.output and c.label not in self.first and size > 0:
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

    def reached(self, label, size):
        """When the client's output first held `size` bytes, or None."""
        for t, n in self.growth[label]:
            if n >= size:
                return t
        return None

    def lag(self, label, reference, points=50):
        """How much later `label`'s output reached each of `points` sizes than `reference`'s did (the two
        write the same stream in the same format): seconds, one per size from 5% to 95% of the smaller
        final size."""
        last = min(self.growth[label][-1][1] if self.growth[label] else 0,
                   self.growth[reference][-1][1] if self.growth[reference] else 0)
        out = []
        for i in range(points):
            size = int(last * (0.05 + 0.9 * i / (points - 1)))
            a, b = self.reached(label, size), self.reached(reference, size)
            if size > 0 and a is not None and b is not None:
                out.append(a - b)
        return out


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


def make_clip(args, work, seconds):
    return media.make_clip(os.path.join(work, f"clip{seconds:g}s_{args.size}_{args.video_bitrate}{'_noise' if args.noise else ''}.flv"),
                           seconds=seconds, size=args.size, video_bitrate=args.video_bitrate, timeout=900,
                           noise=args.noise)


def bench_push(args, work):
    seconds = 30 if args.seconds is None else args.seconds
    clip = make_clip(args, work, seconds)
    pub = media.framemd5(clip)
    n_video, n_audio = len(pub["video"].md5s), len(pub["audio"].md5s)
    clip_bytes = os.path.getsize(clip)
    clip_mb = clip_bytes / MB
    print(f"clip: {seconds:g} s, {args.size}, video {args.video_bitrate}, {n_video} video + {n_audio} audio "
          f"packets, {clip_bytes} bytes ({clip_mb:.2f} MB, {clip_bytes * 8 / seconds / 1000:.0f} kbit/s)")
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
                print(f"run {i + 1} {target:5}: {secs:7.2f} s  {clip_mb / secs:7.2f} MB/s  rc={rc}  "
                      f"gateway cpu={cpu:.2f} s  "
                      f"nginx relayed video={counts[0]} audio={counts[1]}", flush=True)
    print()
    head = ("target", "runs", "median s", "min s", "max s", "clip MB", "MB/s", "gw cpu s", "video rx",
            "audio rx", "failed")
    rows = []
    for target, label in (("rtmpt", "gateway rtmpt://"), ("rtmp", "nginx rtmp://")):
        r = results[target]
        secs = [x[0] for x in r]
        median = statistics.median(secs)
        rows.append((label, len(r), f"{median:.2f}", f"{min(secs):.2f}", f"{max(secs):.2f}",
                     f"{clip_mb:.2f}", f"{clip_mb / median:.2f}",
                     fmt([x[2] for x in r]) if target == "rtmpt" else "-",
                     f"{fmt([x[3][0] for x in r], '{:.0f}')}/{n_video}",
                     f"{fmt([x[3][1] for x in r], '{:.0f}')}/{n_audio}",
                     sum(1 for x in r if x[1] != 0)))
    print(f"MB/s = clip MB / median s; clip: {seconds:g} s, {args.size}, video {args.video_bitrate}")
    table(head, rows)


def start_session(gw, client_factory, timeout=20.0):
    """Starts a client and waits for the gateway's next `session open` line; returns (client, sid)."""
    start = len(gw.lines)
    client = client_factory()
    try:
        sid = gw.wait_for_log(SESSION_OPEN.pattern, timeout=timeout, start=start).group(1)
    except AssertionError:
        client.close()
        raise
    return client, sid


def session_ends(gw, sids, timeout):
    """{sid: dict(age, up, down, requests, empty, reason)} from the `session end` lines of `sids`; waits up to
    `timeout` s for all of them (a session still open at the gateway's shutdown logs its end then)."""
    deadline = time.monotonic() + timeout
    while True:
        found = {}
        for line in list(gw.lines):
            m = SESSION_END.search(line)
            if m and m.group(1) in sids:
                found[m.group(1)] = dict(client=m.group(2), age=float(m.group(3)), up=int(m.group(4)),
                                         down=int(m.group(5)), requests=int(m.group(6)),
                                         empty=int(m.group(7)), reason=m.group(8))
        if len(found) == len(sids) or time.monotonic() >= deadline:
            return found
        time.sleep(0.05)


def bench_idle_hold(args, work):
    clip = make_clip(args, work, 10 if args.seconds is None else args.seconds)
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
                    # One at a time, each waiting for its `session open` line: the order of those lines
                    # tells which sid is whose (ffmpeg player, rtmpdump player, publisher).
                    rd = None
                    ff, ff_sid = start_session(gw, lambda: players.ffmpeg_player("ffmpeg", url, d))
                    try:
                        rd, rd_sid = start_session(gw, lambda: players.rtmpdump_player("rtmpdump", url, d))
                        wait_plays(nginx, name, 2)
                        cpu0 = cpu_seconds(gw.proc.pid)
                        p, pub_sid = start_session(gw, lambda: players.ffmpeg_publisher("publisher", clip, url, d))
                        w = Watcher([p, ff, rd], start=p.started)  # times from the publisher's launch
                        rc = p.wait(args.timeout)
                        if rc is None:
                            p.kill()
                        for c in (ff, rd):
                            if c.wait(60) is None:
                                c.kill()
                        w.stop()
                        cpu = cpu_seconds(gw.proc.pid) - cpu0
                        pub_end = w.exited.get("publisher")
                        lags = {c.label: (w.exited[c.label] - pub_end
                                          if c.label in w.exited and pub_end is not None and not c.killed
                                          else None) for c in (ff, rd)}
                        sample = dict(publish=pub_end if pub_end is not None else p.elapsed(), rc=rc, cpu=cpu,
                                      ff_first=w.first.get("ffmpeg"), rd_first=w.first.get("rtmpdump"),
                                      ff_end=lags["ffmpeg"], rd_end=lags["rtmpdump"],
                                      ff_pk=packets(ff), rd_pk=packets(rd))
                        p.close()
                        # Each session logs its counters when it ends; give them time to end on their own.
                        ends = session_ends(gw, {ff_sid, rd_sid, pub_sid}, timeout=15.0)
                    finally:
                        ff.close()
                        if rd is not None:
                            rd.close()
                # A session still open then was ended (and logged) by the gateway's shutdown.
                ends.update(session_ends(gw, {ff_sid, rd_sid, pub_sid} - set(ends), timeout=0))
                for key, sid in (("ff", ff_sid), ("rd", rd_sid), ("pub", pub_sid)):
                    e = ends.get(sid)
                    sample[key + "_req"] = e["requests"] if e else None
                    sample[key + "_empty"] = e["empty"] if e else None
                    sample[key + "_rps"] = e["requests"] / e["age"] if e and e["age"] > 0 else None
                    sample[key + "_session"] = e
                pe = ends.get(pub_sid)
                if pe and pe["up"] <= pe["down"]:
                    print(f"warning: the third session ({pub_sid}) has up={pe['up']} <= down={pe['down']}: "
                          "it does not look like the publisher", flush=True)
                samples.append(sample)
                print(f"idle_hold={hold} run {i + 1}: publish {sample['publish']:.2f} s rc={rc}, "
                      f"first bytes ffmpeg {opt(sample['ff_first'])} s rtmpdump {opt(sample['rd_first'])} s, "
                      f"end lag ffmpeg {opt(sample['ff_end'])} s rtmpdump {opt(sample['rd_end'])} s, "
                      f"gateway cpu {cpu:.2f} s, packets (v,a) ffmpeg {sample['ff_pk']} "
                      f"rtmpdump {sample['rd_pk']}", flush=True)
                for key, label in (("ff", "ffmpeg player"), ("rd", "rtmpdump player"), ("pub", "publisher")):
                    e = sample[key + "_session"]
                    if e is None:
                        print(f"  {label}: no session end line", flush=True)
                    else:
                        print(f"  {label}: client={e['client']} age={e['age']:.3f}s up={e['up']} down={e['down']} "
                              f"requests={e['requests']} empty={e['empty']} ({opt(sample[key + '_rps'])} req/s) "
                              f"closing because: {e['reason']}", flush=True)
            rows.append((hold, len(samples),
                         fmt([s["publish"] for s in samples]),
                         fmt([s["ff_first"] for s in samples], "{:.3f}"),
                         fmt([s["rd_first"] for s in samples], "{:.3f}"),
                         fmt([s["ff_end"] for s in samples], "{:.3f}"),
                         fmt([s["rd_end"] for s in samples], "{:.3f}"),
                         fmt([s["cpu"] for s in samples]),
                         fmt([s["ff_req"] for s in samples], "{:.0f}"),
                         fmt([s["ff_empty"] for s in samples], "{:.0f}"),
                         fmt([s["ff_rps"] for s in samples], "{:.1f}"),
                         fmt([s["rd_req"] for s in samples], "{:.0f}"),
                         fmt([s["rd_empty"] for s in samples], "{:.0f}"),
                         fmt([s["rd_rps"] for s in samples], "{:.1f}"),
                         fmt([s["pub_req"] for s in samples], "{:.0f}"),
                         fmt([s["pub_empty"] for s in samples], "{:.0f}"),
                         sum(1 for s in samples if s["rc"] != 0)))
    print()
    print("medians; first = publish start to first bytes in the player's output file; "
          "end lag = publish end to player exit;")
    print("ff = ffmpeg player, rd = rtmpdump player, pub = publisher: req = requests, empty = empty replies, "
          "req/s = requests / session age (from the gateway's `session end` lines)")
    table(("idle_hold", "runs", "publish s", "ffmpeg first s", "rtmpdump first s", "ffmpeg end lag s",
           "rtmpdump end lag s", "gw cpu s", "ff req", "ff empty", "ff req/s", "rd req", "rd empty", "rd req/s",
           "pub req", "pub empty", "failed"), rows)


class DelayRelay:
    """A TCP relay on 127.0.0.1 that holds every byte for `delay` seconds in each direction: a network round
    trip of 2 * delay between a client and a server on loopback (this machine's kernel has no netem). Bytes
    keep their order; each direction is a queue drained by a writer that waits for each chunk's due time."""

    def __init__(self, target_port, delay):
        self.target_port = target_port
        self.delay = delay
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        ready.wait(10)

    def _run(self, ready):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    async def _serve(self, client_r, client_w):
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_w.close()
            return
        for w in (client_w, server_w):
            w.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(self._pipe(client_r, server_w), self._pipe(server_r, client_w),
                             return_exceptions=True)

    async def _pipe(self, reader, writer):
        queue = asyncio.Queue()

        async def deliver():
            while True:
                due, data = await queue.get()
                wait = due - self.loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
            writer.close()

        task = asyncio.ensure_future(deliver())
        try:
            while True:
                data = await reader.read(65536)
                queue.put_nowait((self.loop.time() + self.delay, data))
                if not data:
                    break
        except OSError:
            queue.put_nowait((0, b""))
        await task

    def close(self):
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


def percentile(values, q):
    vals = sorted(values)
    return vals[min(len(vals) - 1, int(q * len(vals)))] if vals else None


ACCESS_OUT = re.compile(r" access client=\S+ (?:via=\S+ )?method=\S+ path=/(?:send|idle)/(\S+)/\d+ status=200 "
                        r"in=\d+ out=(\d+) ")


def bench_reply_cap(args, work):
    """For each session.reply_max_bytes: a live stream published straight to nginx, played by ffmpeg and rtmpdump
    through the gateway and by the same two reading nginx directly. The request rate of each player's session, and
    the delivery lag: how much later a player through the gateway had each part of the stream in its output file
    than the same player reading nginx directly."""
    clip = make_clip(args, work, 10 if args.seconds is None else args.seconds)
    caps = args.caps.split(",") if args.caps else REPLY_CAPS
    rows = []
    with NginxRtmp() as nginx:
        for cap in caps:
            samples = []
            for i in range(args.runs):
                yaml = gateway_yaml(nginx.port, **{**overrides(args), "session__reply_max_bytes": cap,
                                                   "log__access": "true"})
                with GatewayProcess(args.binary, yaml) as gw:
                    name = f"cap{cap}_{i}"
                    d = os.path.join(work, name)
                    os.makedirs(d)
                    relays = []
                    gw_port, nginx_port = gw.port, nginx.port
                    if args.rtt:
                        # The players reach the gateway, and the direct ones nginx, over the same round trip.
                        relays = [DelayRelay(gw.port, args.rtt / 2000), DelayRelay(nginx.port, args.rtt / 2000)]
                        gw_port, nginx_port = relays[0].port, relays[1].port
                    url = f"rtmpt://127.0.0.1:{gw_port}/live/{name}"
                    direct = f"rtmp://127.0.0.1:{nginx_port}/live/{name}"
                    publish_to = f"rtmp://127.0.0.1:{nginx.port}/live/{name}"
                    clients = []
                    try:
                        ff, ff_sid = start_session(gw, lambda: players.ffmpeg_player("ffmpeg-gw", url, d))
                        clients.append(ff)
                        rd, rd_sid = start_session(gw, lambda: players.rtmpdump_player("rtmpdump-gw", url, d))
                        clients.append(rd)
                        clients.append(players.ffmpeg_player("ffmpeg-direct", direct, d))
                        clients.append(players.rtmpdump_player("rtmpdump-direct", direct, d))
                        wait_plays(nginx, name, 4)
                        cpu0 = cpu_seconds(gw.proc.pid)
                        p = players.ffmpeg_publisher("publisher", clip, publish_to, d)
                        w = Watcher(clients + [p], start=p.started)
                        rc = p.wait(args.timeout)
                        if rc is None:
                            p.kill()
                        for c in clients:
                            if c.wait(60) is None:
                                c.kill()
                        w.stop()
                        cpu = cpu_seconds(gw.proc.pid) - cpu0
                        p.close()
                        ends = session_ends(gw, {ff_sid, rd_sid}, timeout=15.0)
                        sample = dict(rc=rc, cpu=cpu, ff_pk=packets(clients[0]), rd_pk=packets(clients[1]),
                                      ff_direct_pk=packets(clients[2]), rd_direct_pk=packets(clients[3]),
                                      ff_lag=w.lag("ffmpeg-gw", "ffmpeg-direct"),
                                      rd_lag=w.lag("rtmpdump-gw", "rtmpdump-direct"))
                    finally:
                        for c in clients:
                            c.close()
                        for r in relays:
                            r.close()
                ends.update(session_ends(gw, {ff_sid, rd_sid} - set(ends), timeout=0))
                replies = [(m.group(1), int(m.group(2))) for m in map(ACCESS_OUT.search, gw.lines) if m]
                for key, sid in (("ff", ff_sid), ("rd", rd_sid)):
                    e = ends.get(sid)
                    sample[key + "_req"] = e["requests"] if e else None
                    sample[key + "_rps"] = e["requests"] / e["age"] if e and e["age"] > 0 else None
                    sizes = [n for s, n in replies if s == sid]
                    sample[key + "_max"] = max(sizes, default=0)
                    sample[key + "_full"] = sum(1 for n in sizes if n == parse_size(cap))
                samples.append(sample)
                print(f"reply_max_bytes={cap} run {i + 1}: rc={rc} gateway cpu {cpu:.2f} s; "
                      f"ffmpeg {sample['ff_req']} requests ({opt(sample['ff_rps'])}/s), largest reply "
                      f"{sample['ff_max']}, {sample['ff_full']} full, lag median "
                      f"{ms(statistics.median(sample['ff_lag']) if sample['ff_lag'] else None)} p95 "
                      f"{ms(percentile(sample['ff_lag'], 0.95))}, packets {sample['ff_pk']} "
                      f"(direct {sample['ff_direct_pk']}); rtmpdump {sample['rd_req']} requests "
                      f"({opt(sample['rd_rps'])}/s), largest reply {sample['rd_max']}, {sample['rd_full']} full, "
                      f"lag median {ms(statistics.median(sample['rd_lag']) if sample['rd_lag'] else None)} p95 "
                      f"{ms(percentile(sample['rd_lag'], 0.95))}, packets {sample['rd_pk']} "
                      f"(direct {sample['rd_direct_pk']})", flush=True)
            lag = {k: [x for smp in samples for x in smp[k + "_lag"]] for k in ("ff", "rd")}
            rows.append((cap, len(samples),
                         fmt([smp["ff_rps"] for smp in samples], "{:.1f}"),
                         fmt([smp["ff_max"] for smp in samples], "{:.0f}"),
                         ms(statistics.median(lag["ff"]) if lag["ff"] else None),
                         ms(percentile(lag["ff"], 0.95)),
                         fmt([smp["rd_rps"] for smp in samples], "{:.1f}"),
                         fmt([smp["rd_max"] for smp in samples], "{:.0f}"),
                         ms(statistics.median(lag["rd"]) if lag["rd"] else None),
                         ms(percentile(lag["rd"], 0.95)),
                         fmt([smp["cpu"] for smp in samples]),
                         sum(1 for smp in samples if smp["rc"] != 0)))
    print()
    print(f"round trip between the players and the gateway (and nginx, for the direct players): "
          f"{args.rtt:g} ms{' (loopback)' if not args.rtt else ' (DelayRelay)'}")
    print("req/s = the player session's requests / its age (gateway `session end` line); largest = the largest "
          "reply body (gateway access log); lag = how much later the player through the gateway had each part of "
          "the stream in its output than the same player reading nginx directly (median and p95 over 50 points "
          "of the stream, all runs)")
    table(("reply_max_bytes", "runs", "ffmpeg req/s", "ffmpeg largest", "ffmpeg lag ms", "ffmpeg lag p95 ms",
           "rtmpdump req/s", "rtmpdump largest", "rtmpdump lag ms", "rtmpdump lag p95 ms", "gw cpu s", "failed"),
          rows)


def ms(seconds):
    return "-" if seconds is None else f"{seconds * 1000:.0f}"


def parse_size(text):
    m = re.fullmatch(r"(\d+)(KiB|MiB)?", text.strip('"'))
    if not m:
        raise ValueError(f"size {text!r}: use a number of bytes, NKiB or NMiB")
    return int(m.group(1)) * {None: 1, "KiB": 1024, "MiB": 1024 * 1024}[m.group(2)]


def overrides(args):
    out = {}
    for kv in args.set or []:
        k, _, v = kv.partition("=")
        out[k.replace(".", "__")] = v
    return out


def clip_size(text):
    if not re.fullmatch(r"[1-9]\d*x[1-9]\d*", text):
        raise argparse.ArgumentTypeError(f"expected WxH, e.g. 1280x720, not {text!r}")
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", nargs="?", choices=("push", "idle-hold", "reply-cap"), default="push")
    parser.add_argument("--binary", required=True, help="path to the rtmpt-gateway binary")
    parser.add_argument("--runs", type=int, default=None, help="runs per target / per value (3 / 1)")
    parser.add_argument("--holds", help="idle-hold mode: comma-separated values (default: %s)" % ",".join(IDLE_HOLDS))
    parser.add_argument("--caps", help="reply-cap mode: comma-separated session.reply_max_bytes values "
                        "(default: %s)" % ",".join(REPLY_CAPS))
    parser.add_argument("--rtt", type=float, default=0.0,
                        help="reply-cap mode: a round trip of this many ms between the players and the gateway "
                        "(and nginx), through a delaying relay (default 0: plain loopback)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="extra gateway setting, e.g. --set session.idle_hold=50ms (repeatable)")
    parser.add_argument("--noise", action="store_true",
                        help="add moving grain to the clip so the encoder reaches --video-bitrate")
    parser.add_argument("--no-count", action="store_true", help="push mode: no direct player counting packets")
    parser.add_argument("--size", type=clip_size, default=None,
                        help="clip frame size WxH (320x240; reply-cap: 1280x720 with --noise)")
    parser.add_argument("--video-bitrate", default=None, help="clip H.264 bitrate for -b:v (400k; reply-cap: 4000k)")
    parser.add_argument("--seconds", type=float, default=None, help="clip length (push: 30, idle-hold: 10)")
    parser.add_argument("--timeout", type=float, default=300.0, help="per-publish time limit, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args()
    if args.runs is None:
        args.runs = 3 if args.mode == "push" else 1
    if args.mode == "reply-cap" and args.size is None and args.video_bitrate is None:
        # Real keyframe sizes (44-79 KB here) are what fill replies: 720p with grain at 4 Mbit/s.
        args.size, args.video_bitrate, args.noise = "1280x720", "4000k", True
    args.size = args.size or "320x240"
    args.video_bitrate = args.video_bitrate or "400k"
    work = tempfile.mkdtemp(prefix="rtmpt-bench-")
    try:
        if args.mode == "push":
            bench_push(args, work)
        elif args.mode == "reply-cap":
            bench_reply_cap(args, work)
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
