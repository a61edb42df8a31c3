#!/usr/bin/env python3
"""End-to-end test: real RTMPT clients (ffmpeg 5.1, rtmpdump 2.4) through the gateway to nginx-rtmp.

    python3 tests/e2e/run.py --binary build/gateway/rtmpt-gateway [-v] [unittest args]

A generated clip is published live; players started before the publish record what they receive; every
player's per-packet listing (ffmpeg framemd5) must be an in-order run of the published packets, nearly
complete, and the same as what a player reading nginx directly over plain RTMP received.

--no-gateway runs the same scenarios with every gateway URL replaced by nginx's rtmp:// URL: a check of
this harness alone. --keep keeps the working directory (clip, outputs, client logs) for inspection.
"""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))  # tests/, for lib.gateway_process

import media  # noqa: E402
import players  # noqa: E402
from nginx_rtmp import NginxRtmp  # noqa: E402
from server_process import free_port  # noqa: E402
from lib.gateway_process import GatewayProcess, gateway_yaml  # noqa: E402

ARGS = argparse.Namespace(binary=None, no_gateway=False, keep=False)

CLIP_SECONDS = 10
MIN_SHARE = 0.95          # each player must receive at least this share of the published packets per stream
READY_TIMEOUT = 20.0      # players connected (nginx logged their play)
PUBLISH_SLACK = 40.0      # a -re publish may take this much longer than the clip
PLAYER_EXIT_TIMEOUT = 60.0
SESSION_END_TIMEOUT = 10.0
SESSION_OPEN = re.compile(r"session open sid=(\S+)")


class Scenario:
    """One live stream: players started first, then one publisher, then the outputs checked."""

    def __init__(self, test, name):
        self.test = test
        self.name = name
        self.workdir = os.path.join(test.tmp, name)
        os.makedirs(self.workdir)
        self.players = []       # (Client, kind, reference label or None)
        self.publisher = None
        self.problems = []
        self.gw_log_start = len(test.gw.lines) if test.gw else 0

    def add_player(self, kind, label, url, compare_with=None, env=None, extra_args=()):
        """env: extra environment of the client (ffmpeg takes http_proxy; rtmpdump has no proxy support).
        extra_args: ffmpeg's input options (TLS verification, for one)."""
        if kind == "ffmpeg":
            c = players.ffmpeg_player(label, url, self.workdir, extra_args=extra_args, env=env)
        else:
            c = players.rtmpdump_player(label, url, self.workdir)
        self.test.addCleanup(c.close)  # whatever ends the test early, no client outlives it
        self.players.append((c, kind, compare_with))
        return c

    def wait_players_connected(self):
        n = len(self.players)
        got = self.test.nginx.wait_for_count(r"play: name='%s'" % self.name, n, timeout=READY_TIMEOUT)
        if got < n:
            self.fail_now(f"only {got} of {n} players reached nginx within {READY_TIMEOUT}s")
        for c, _, _ in self.players:
            if not c.running():
                self.fail_now(f"player {c.label} exited before the publish")

    def publish(self, url, env=None, extra_args=()):
        self.start_publish(url, env, extra_args)
        return self.wait_publish()

    def start_publish(self, url, env=None, extra_args=()):
        self.publisher = players.ffmpeg_publisher("publisher", self.test.clip, url, self.workdir,
                                                  extra_args=extra_args, env=env)
        self.test.addCleanup(self.publisher.close)

    def wait_publishing(self):
        """Returns once nginx has the publish and its players are receiving (bounded)."""
        if self.test.nginx.wait_for_count(r"publish: name='%s'" % self.name, 1, timeout=READY_TIMEOUT) < 1:
            self.fail_now(f"the publisher did not reach nginx within {READY_TIMEOUT}s")

    def wait_publish(self):
        rc = self.publisher.wait(CLIP_SECONDS + PUBLISH_SLACK)
        if rc is None:
            self.publisher.kill()
            self.fail_now(f"publisher still running after {CLIP_SECONDS + PUBLISH_SLACK}s")
        if rc != 0:
            self.problems.append(f"publisher exited with {rc}")
        return self.publisher.elapsed()

    def wait_players_exit(self):
        deadline = time.monotonic() + PLAYER_EXIT_TIMEOUT
        for c, _, _ in self.players:
            rc = c.wait(max(0.0, deadline - time.monotonic()))
            if rc is None:
                c.kill()
                self.problems.append(f"{c.label} did not end within {PLAYER_EXIT_TIMEOUT}s of the publish end")
                continue
            # 0 for rtmpdump too: nginx's NetStream.Play.Stop makes it report "Download complete"; 2 ("may
            # be incomplete") means the connection ended without it, e.g. the tunnel closed too early.
            if rc != 0:
                self.problems.append(f"{c.label} exited with {rc}")

    def check_gateway_sessions(self, expected, expected_problems=None):
        """Every session this scenario opened ended (the clients closed them), and nothing was logged as a
        warning or error meanwhile (but lines matching `expected_problems`)."""
        gw = self.test.gw
        if gw is None:
            return
        lines = gw.lines[self.gw_log_start:]
        sids = [m.group(1) for m in map(SESSION_OPEN.search, lines) if m]
        if len(sids) != expected:
            self.problems.append(f"gateway opened {len(sids)} sessions, expected {expected}")
        for sid in sids:
            try:
                gw.wait_for_log(r"session end sid=%s(\s|$)" % re.escape(sid), timeout=SESSION_END_TIMEOUT,
                                start=self.gw_log_start)
            except AssertionError:
                self.problems.append(f"gateway session {sid} did not end within {SESSION_END_TIMEOUT}s "
                                     "of its client")
        bad = [line for line in gw.lines[self.gw_log_start:] if re.search(r"\s(warn|warning|error)\s", line)
               and not (expected_problems and re.search(expected_problems, line))]
        if bad:
            self.problems.append("gateway logged:\n  " + "\n  ".join(bad[:20]))

    def check_outputs(self, lossy_publisher):
        published = self.test.published
        listings = {}
        for c, _, _ in self.players:
            if c.output_size() == 0:
                self.problems.append(f"{c.label}: empty output")
                listings[c.label] = {}
                continue
            try:
                listings[c.label] = media.framemd5(c.output)
            except Exception as e:  # noqa: BLE001 - report every player
                self.problems.append(f"{c.label}: output unreadable: {e}")
                listings[c.label] = {}

        rows = []
        for c, _, ref in self.players:
            got = listings[c.label]
            label = c.label + (" (stopped)" if c.killed else "")
            for kind in ("video", "audio"):
                pub = published[kind]
                rec = got.get(kind)
                if rec is None:
                    self.problems.append(f"{c.label}: no {kind} stream")
                    rows.append((label, kind, len(pub.md5s), 0, "-", "-"))
                    continue
                k = media.find_run(pub.md5s, rec.md5s)
                n = len(rec.md5s)
                if k is None:
                    good, start = media.first_mismatch(pub.md5s, rec.md5s)
                    self.problems.append(
                        f"{c.label} {kind}: received packets are not an in-order run of the published ones "
                        f"(longest matching run: {good} packets from published #{start}; received {n})")
                    rows.append((label, kind, len(pub.md5s), n, "no run", "-"))
                    continue
                missing_tail = len(pub.md5s) - (k + n)
                rows.append((label, kind, len(pub.md5s), n, str(k), str(missing_tail)))
                if n < MIN_SHARE * len(pub.md5s):
                    self.problems.append(f"{c.label} {kind}: received {n} of {len(pub.md5s)} packets "
                                         f"(< {MIN_SHARE:.0%})")
                if not lossy_publisher and missing_tail != 0:
                    self.problems.append(f"{c.label} {kind}: the last {missing_tail} packets are missing")
                if rec.extradata != pub.extradata:
                    self.problems.append(f"{c.label} {kind}: codec configuration {rec.extradata} differs "
                                         f"from the published {pub.extradata}")
                if ref is not None:
                    other = listings.get(ref, {}).get(kind)
                    if other is not None and other.md5s != rec.md5s:
                        self.problems.append(f"{c.label} {kind}: received {n} packets, {ref} received "
                                             f"{len(other.md5s)}; the two lists differ")
        self.print_table(rows)

    def print_table(self, rows):
        head = ("player", "stream", "published", "received", "first#", "lost tail")
        widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
        line = "  ".join("{:<%d}" % w for w in widths)
        out = [f"\n[{self.name}] publisher took {self.publisher.elapsed():.2f}s"
               if self.publisher else f"\n[{self.name}]", line.format(*head),
               line.format(*("-" * w for w in widths))]
        out += [line.format(*r) for r in rows]
        print("\n".join(out), file=sys.stderr, flush=True)

    def fail_now(self, message):
        self.problems.append(message)
        self.finish()

    def finish(self):
        clients = [c for c, _, _ in self.players] + ([self.publisher] if self.publisher else [])
        for c in clients:
            c.close()
        if self.problems:
            details = [c.describe() for c in clients]
            if self.test.gw:
                details.append("--- gateway log (tail)\n" + self.test.gw.log_text()[-6000:])
            details.append("--- nginx error log (tail)\n" + self.test.nginx.log_text()[-4000:])
            self.test.fail("\n".join(["", *self.problems, "", *details]))


def open_stream_fixture(cls, prefix, clip=True, nginx_options=None, **clip_args):
    """A test class's working directory (cls.tmp), generated clip (cls.clip, its listing cls.published) and
    private nginx-rtmp (cls.nginx; nginx_options: NginxRtmp's keyword arguments). cls.gw starts as None. The
    caller closes it with close_stream_fixture, also when this raises."""
    cls.tmp = tempfile.mkdtemp(prefix=prefix)
    cls.nginx = None
    cls.gw = None
    if clip:
        cls.clip = media.make_clip(os.path.join(cls.tmp, "clip.flv"), seconds=CLIP_SECONDS, **clip_args)
        cls.published = media.framemd5(cls.clip)
        assert set(cls.published) == {"video", "audio"}, cls.published.keys()
    cls.nginx = NginxRtmp(**(nginx_options or {}))


def close_stream_fixture(cls):
    """Stops the fixture's nginx; removes its working directory, or keeps it with --keep."""
    if cls.nginx:
        cls.nginx.stop()
    if ARGS.keep:
        print(f"\nkept {cls.tmp}", file=sys.stderr)
    else:
        shutil.rmtree(cls.tmp, ignore_errors=True)


class EndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        try:
            open_stream_fixture(cls, "rtmpt-e2e-")
            if not ARGS.no_gateway:
                cls.gw = GatewayProcess(ARGS.binary, gateway_yaml(cls.nginx.port))
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        status = cls.gw.stop() if cls.gw else 0
        close_stream_fixture(cls)
        if status != 0:
            # A sanitizer build reports leaks as the process exits.
            raise AssertionError(f"the gateway exited with status {status} on SIGTERM:\n{cls.gw.log_text()[-6000:]}")

    def gw_url(self, name):
        if self.gw is None:
            return self.direct_url(name)
        return f"rtmpt://127.0.0.1:{self.gw.port}/live/{name}"

    def direct_url(self, name):
        return f"rtmp://127.0.0.1:{self.nginx.port}/live/{name}"

    def sessions_opened(self):
        return self.gw.log_text().count("session open") if self.gw else 0

    def test_publish_and_play_through_gateway(self):
        """ffmpeg publishes over RTMPT; ffmpeg and rtmpdump play over RTMPT and directly over RTMP."""
        s = Scenario(self, "both")
        sessions_before = self.sessions_opened()
        s.add_player("ffmpeg", "ffmpeg-rtmpt", self.gw_url(s.name), compare_with="ffmpeg-direct")
        s.add_player("rtmpdump", "rtmpdump-rtmpt", self.gw_url(s.name), compare_with="rtmpdump-direct")
        s.add_player("ffmpeg", "ffmpeg-direct", self.direct_url(s.name))
        s.add_player("rtmpdump", "rtmpdump-direct", self.direct_url(s.name))
        s.wait_players_connected()
        if self.gw:  # the two RTMPT players have gateway sessions
            self.assertGreaterEqual(self.sessions_opened() - sessions_before, 2, self.gw.log_text())
        s.publish(self.gw_url(s.name))
        s.wait_players_exit()
        s.check_gateway_sessions(expected=3)  # two players and the publisher
        # ffmpeg's RTMPT publisher drops its last unsent batch (reference §8): a short tail may be lost.
        s.check_outputs(lossy_publisher=True)
        s.finish()

    def test_play_through_gateway(self):
        """ffmpeg publishes directly over RTMP; ffmpeg and rtmpdump play over RTMPT (the play path alone)."""
        s = Scenario(self, "play")
        s.add_player("ffmpeg", "ffmpeg-rtmpt", self.gw_url(s.name), compare_with="ffmpeg-direct")
        s.add_player("rtmpdump", "rtmpdump-rtmpt", self.gw_url(s.name), compare_with="ffmpeg-direct")
        s.add_player("ffmpeg", "ffmpeg-direct", self.direct_url(s.name))
        s.wait_players_connected()
        s.publish(self.direct_url(s.name))
        s.wait_players_exit()
        s.check_gateway_sessions(expected=2)
        s.check_outputs(lossy_publisher=False)
        s.finish()

    def check_admin_during_stream(self, s, gw, sessions):
        """/metrics (valid for promtool, bytes flowing both ways), /sessions and /healthz mid-stream."""
        status, body = admin_get(gw, "/metrics")
        page = body.decode()
        tool = shutil.which("promtool")
        if tool is None:
            s.problems.append("promtool not found (Debian package prometheus)")
        else:
            r = subprocess.run([tool, "check", "metrics"], input=page, capture_output=True, text=True, timeout=30)
            if r.returncode != 0:
                s.problems.append(f"promtool check metrics failed: {r.stdout}{r.stderr}")

        def value(series):
            m = re.search(r"^" + re.escape(series) + r" (\S+)$", page, re.M)
            return float(m.group(1)) if m else None

        if status != 200 or value("rtmpt_gateway_sessions_active") != sessions:
            s.problems.append(f"/metrics: {status}, sessions_active {value('rtmpt_gateway_sessions_active')}, "
                              f"expected {sessions}")
        for direction in ("up", "down"):
            if not (value(f'rtmpt_gateway_bytes_total{{direction="{direction}"}}') or 0) > 0:
                s.problems.append(f"/metrics: no bytes {direction} during the stream")
        status, body = admin_get(gw, "/sessions")
        listed = json.loads(body)
        if status != 200 or len(listed) != sessions:
            s.problems.append(f"/sessions: {status}, {len(listed)} sessions listed, expected {sessions}")
        status, _ = admin_get(gw, "/healthz")
        if status != 200:
            s.problems.append(f"/healthz mid-stream: {status}")
        wanted = ("sessions_active", "bytes_total", "poll_replies_total", "queued_bytes", "requests_total",
                  "backend_connect_seconds_count")
        excerpt = [line for line in page.splitlines()
                   if not line.startswith("#") and any(w in line for w in wanted)]
        print(f"\n[{s.name}] /metrics during the stream (excerpt):\n  " + "\n  ".join(excerpt), file=sys.stderr,
              flush=True)

    def start_live_stream(self, s):
        """ffmpeg and rtmpdump play through the gateway, ffmpeg directly (the reference); once they are
        connected, ffmpeg publishes through the gateway. Returns when nginx has the publish."""
        s.add_player("ffmpeg", "ffmpeg-rtmpt", self.gw_url(s.name), compare_with="ffmpeg-direct")
        s.add_player("rtmpdump", "rtmpdump-rtmpt", self.gw_url(s.name), compare_with="ffmpeg-direct")
        s.add_player("ffmpeg", "ffmpeg-direct", self.direct_url(s.name))
        s.wait_players_connected()
        s.start_publish(self.gw_url(s.name))
        s.wait_publishing()

    def own_gateway(self, **overrides):
        """A gateway for this test alone (it is reloaded or stopped); Scenario follows it."""
        gw = GatewayProcess(ARGS.binary, gateway_yaml(self.nginx.port, **overrides))
        self.addCleanup(gw.stop)
        self.gw = gw  # shadows the class's gateway for this test
        return gw

    def test_reload_while_streaming(self):
        """SIGHUP three times during a stream: a new listen address, a file with errors, other keys. No
        session drops, the stream arrives whole, and a player started after the move uses the new port."""
        if ARGS.no_gateway:
            self.skipTest("needs the gateway")
        gw = self.own_gateway()
        old_port = gw.port
        s = Scenario(self, "reload")
        self.start_live_stream(s)
        new_port = free_port()
        moved = gateway_yaml(self.nginx.port).replace('listen: ["127.0.0.1:0"]', f'listen: ["127.0.0.1:{new_port}"]', 1)

        def reload(text, expect):
            start = len(gw.lines)
            gw.write_config(text)
            gw.signal(signal.SIGHUP)
            gw.wait_for_log(expect, start=start)

        reload(moved, r"reloaded file=\S+ changed=listen: ")
        gw.port = new_port
        # A player started mid-stream, on the new address: in-order packets from where it joined.
        late = players.rtmpdump_player("rtmpdump-late", self.gw_url(s.name), s.workdir)
        self.addCleanup(late.close)
        reload(moved + "session:\n  idle_timout: 5s\n", r"reload refused: 1 error\(s\)")
        reload(moved.replace("idle_hold: 100ms", "idle_hold: 50ms"), r"changed=session.idle_hold: ")
        s.wait_publish()
        s.wait_players_exit()
        if late.wait(PLAYER_EXIT_TIMEOUT) is None:
            late.kill()
            s.problems.append("the late player did not end")
        s.check_gateway_sessions(expected=4, expected_problems=r"reload refused")
        s.check_outputs(lossy_publisher=True)
        late_video = media.framemd5(late.output).get("video") if late.output_size() else None
        if late_video is None or media.find_run(self.published["video"].md5s, late_video.md5s) is None:
            s.problems.append("the player started on the new address got no in-order video: " + late.describe())
        log = gw.log_text()
        if f"no longer listening on 127.0.0.1:{old_port}" not in log:
            s.problems.append("the old listen address stayed open")
        ends = re.findall(r"session end sid=\S+ .* closing because: (.*)$", log, re.M)
        if any(reason != "client close" for reason in ends):
            s.problems.append(f"sessions ended for other reasons than their client: {ends}")
        print(f"\n[reload] 3 SIGHUPs during the stream (listen 127.0.0.1:{old_port} -> {new_port}, one refused); "
              f"{len(ends)} sessions, all closed by their client", file=sys.stderr, flush=True)
        s.finish()

    def test_drain_while_streaming(self):
        """SIGTERM during a stream: opens are refused, the stream runs to its end, the gateway exits 0."""
        if ARGS.no_gateway:
            self.skipTest("needs the gateway")
        gw = self.own_gateway(process__shutdown_timeout='"90s"')
        s = Scenario(self, "drain")
        self.start_live_stream(s)
        self.check_admin_during_stream(s, gw, sessions=3)
        signalled = time.monotonic()
        gw.signal(signal.SIGTERM)
        gw.wait_for_log(r"draining sessions=3: ")
        status, health = admin_get(gw, "/healthz")
        if status != 503 or "shutting down" not in health.decode():
            s.problems.append(f"/healthz during the drain: {status} {health!r}, expected 503 shutting down")
        conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
        conn.request("POST", "/open/1", body=b"\x00", headers={"Content-Type": "application/x-fcs"})
        refused = conn.getresponse()
        if refused.status != 503:
            s.problems.append(f"an open during the drain got {refused.status}, expected 503")
        conn.close()
        s.wait_publish()
        s.wait_players_exit()
        try:
            gw.wait_for_log(r"drained: every session has ended", timeout=SESSION_END_TIMEOUT)
            status = gw.wait_exit(SESSION_END_TIMEOUT)
        except (AssertionError, subprocess.TimeoutExpired):
            status = None
        if status != 0:
            s.problems.append(f"the gateway did not exit 0 after the drain (status {status})")
        s.check_gateway_sessions(expected=3)
        s.check_outputs(lossy_publisher=True)
        print(f"\n[drain] SIGTERM while streaming; publisher ran {s.publisher.elapsed():.1f}s in all; the gateway "
              f"exited {status} {time.monotonic() - signalled:.1f}s after the signal", file=sys.stderr, flush=True)
        s.finish()


def admin_get(gw, path):
    """(status, body) of one GET on the gateway's admin listener."""
    host, port = gw.admin_address()
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def run_tests(doc, settings, tools, no_gateway_option=False):
    """The entry point of an e2e test file: --binary, --keep (and --no-gateway where it applies) into
    `settings`, the tools it needs checked, then unittest with the remaining arguments; returns the exit
    status."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", help="path to the rtmpt-gateway binary")
    if no_gateway_option:
        parser.add_argument("--no-gateway", action="store_true",
                            help="check the harness alone: play and publish straight to nginx over rtmp://")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args, rest = parser.parse_known_args()
    no_gateway = getattr(args, "no_gateway", False)
    if not no_gateway and not args.binary:
        parser.error("--binary is required" + (" (or --no-gateway)" if no_gateway_option else ""))
    settings.binary, settings.keep = args.binary, args.keep
    if no_gateway_option:
        settings.no_gateway = no_gateway
    # own_gateway and the stream fixture read this module's settings.
    ARGS.binary, ARGS.keep = args.binary, args.keep
    for tool in tools:
        if not shutil.which(tool) and not os.path.exists(tool):
            print(f"{tool} not found (packaging/install-deps.sh installs it)", file=sys.stderr)
            return 1
    prog = unittest.main(argv=[sys.argv[0], "-v", *rest], exit=False)
    return 0 if prog.result.wasSuccessful() else 1


def main():
    return run_tests(__doc__, ARGS, ("ffmpeg", "rtmpdump", "/usr/sbin/nginx"), no_gateway_option=True)


if __name__ == "__main__":
    sys.exit(main())
