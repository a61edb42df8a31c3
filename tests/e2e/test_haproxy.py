#!/usr/bin/env python3
"""Several nodes behind HAProxy: ffmpeg and rtmpdump stream over rtmpt:// through Debian's HAProxy, configured
from the shipped packaging/haproxy/rtmpt-gateway.cfg, to two gateway nodes (node.tag n1 and n2) that both relay
to one nginx-rtmp.

    python3 tests/e2e/test_haproxy.py --binary build/gateway/rtmpt-gateway [-v] [--keep]

ffmpeg publishes through HAProxy; two ffmpeg and two rtmpdump players play through HAProxy, one ffmpeg player
reads nginx directly as the reference. Asserted: both nodes opened sessions, each id carries its node's tag,
HAProxy sent every request of a session to the node that opened it (HAProxy's own log names the server of each
request; the count per session equals the node's `requests=` of that session), nothing anywhere was answered
404 ("unknown session") or worse, and every player received an in-order run of the published packets, nearly
whole (framemd5, as tests/e2e/run.py). Prints sessions and requests per node and the packet table.

A second case is a rolling restart: n1 is sent SIGTERM and drains; opens through HAProxy must all land on
n2 (n1's 503 retried there), while n1's live session still answers through HAProxy until it is closed.
"""
import argparse
import collections
import http.client
import os
import re
import signal
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))  # tests/, for lib.gateway_process
# The raw RTMPT client, searched last: tests/integration has a run.py of its own.
sys.path.append(os.path.join(os.path.dirname(HERE), "integration"))

import run as e2e  # noqa: E402  (Scenario: players, publisher, packet comparison)
from haproxy import HAPROXY, REQUEST_LINE, HAProxy  # noqa: E402
from lib.gateway_process import GatewayProcess, gateway_yaml  # noqa: E402
from rtmpt_client import HttpConnection, open_session  # noqa: E402

ARGS = argparse.Namespace(binary=None, keep=False)

NODES = ("n1", "n2")
# librtmp pipelines its /close behind a request and closes the socket at once; HAProxy answers that request,
# finds the client gone and drops the /close unread (README, "Several nodes behind HAProxy"). Such a session
# ends at session.idle_timeout: short here, as README advises behind HAProxy.
IDLE_TIMEOUT = "5s"
SESSION_END_TIMEOUT = 15.0
END_REASONS = ("client close", "idle timeout")
HAPROXY_LOG_TIMEOUT = 10.0
TUNNEL_PATH = re.compile(r"^/(send|idle|close)/([^/?]+)")
SESSION_OPEN = re.compile(r"session open sid=(\S+)")
SESSION_END = re.compile(r"session end sid=(\S+) .* requests=(\d+) .*closing because: (.*)$")
ACCESS = re.compile(r" access client=\S+ (?:via=\S+ )?method=(\S+) path=(\S+) status=(\d+)")
DRAIN_TIMEOUT = 10.0


def logged_for(lines, sid):
    """How many send, idle and close requests of session `sid` HAProxy's log `lines` hold."""
    count = 0
    for line in lines:
        m = REQUEST_LINE.search(line)
        if m:
            tunnel = TUNNEL_PATH.match(m.group("path"))
            count += bool(tunnel and tunnel.group(2) == sid)
    return count


def start_servers(cls, clip, **overrides):
    """nginx-rtmp, the nodes n1 and n2 and HAProxy in front of them, as attributes of a TestCase class."""
    cls.nodes = {}
    cls.haproxy = None
    try:
        # cls.gw stays None: Scenario's single-gateway checks do not apply, the nodes are checked here.
        e2e.open_stream_fixture(cls, "rtmpt-e2e-haproxy-", clip=clip)
        for tag in NODES:
            # As README asks: HAProxy is a trusted proxy (X-Forwarded-For names the client), and the idle
            # timeout is short. log.access gives the node's own line per request.
            cls.nodes[tag] = GatewayProcess(ARGS.binary, gateway_yaml(
                cls.nginx.port, node__tag=f'"{tag}"', access__trusted_proxies='["127.0.0.1/32"]',
                session__idle_timeout=IDLE_TIMEOUT, log__access="true", **overrides))
        cls.haproxy = HAProxy({tag: gw.port for tag, gw in cls.nodes.items()})
    except BaseException:
        stop_servers(cls)
        raise


def stop_servers(cls):
    if cls.haproxy:
        cls.haproxy.stop()
    statuses = {tag: gw.stop() for tag, gw in cls.nodes.items()}
    e2e.close_stream_fixture(cls)
    bad = {tag: s for tag, s in statuses.items() if s != 0}
    if bad:
        raise AssertionError(f"gateway nodes exited non-zero: {bad}")



def draining_refusals(node):
    """refusals_total{limit="draining"} from the node's /metrics (its admin listener serves through a drain)."""
    host, port = node.admin_address()
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        page = conn.getresponse().read().decode()
    finally:
        conn.close()
    m = re.search(r'^rtmpt_gateway_refusals_total\{limit="draining"\} (\d+)$', page, re.M)
    if not m:
        raise AssertionError("no draining refusals series on /metrics:\n" + page)
    return int(m.group(1))

class SeveralNodes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        start_servers(cls, clip=True)

    @classmethod
    def tearDownClass(cls):
        stop_servers(cls)

    def haproxy_url(self, name):
        return f"rtmpt://127.0.0.1:{self.haproxy.port}/live/{name}"

    def direct_url(self, name):
        return f"rtmp://127.0.0.1:{self.nginx.port}/live/{name}"

    def test_streams_through_haproxy_stay_on_their_node(self):
        s = e2e.Scenario(self, "nodes")
        starts = {tag: len(gw.lines) for tag, gw in self.nodes.items()}
        url = self.haproxy_url(s.name)
        # Alternating kinds, so that each node is likely to get both kinds of client.
        s.add_player("ffmpeg", "ffmpeg-rtmpt-1", url, compare_with="ffmpeg-direct")
        s.add_player("rtmpdump", "rtmpdump-rtmpt-1", url, compare_with="ffmpeg-direct")
        s.add_player("ffmpeg", "ffmpeg-rtmpt-2", url, compare_with="ffmpeg-direct")
        s.add_player("rtmpdump", "rtmpdump-rtmpt-2", url, compare_with="ffmpeg-direct")
        s.add_player("ffmpeg", "ffmpeg-direct", self.direct_url(s.name))
        s.wait_players_connected()
        s.publish(url)
        s.wait_players_exit()
        self.check_nodes(s, starts, expected_sessions=5)  # four players and the publisher
        s.check_outputs(lossy_publisher=True)  # ffmpeg's RTMPT publisher drops its last batch (reference §8)
        s.finish()

    def check_nodes(self, s, starts, expected_sessions):
        problems = s.problems
        opened = {}   # sid -> node
        ended = {}    # sid -> (requests, reason)
        for tag, gw in self.nodes.items():
            for sid in (m.group(1) for m in map(SESSION_OPEN.search, gw.lines[starts[tag]:]) if m):
                opened[sid] = tag
                if not sid.startswith(tag + "."):
                    problems.append(f"node {tag} opened session {sid}, which does not carry its tag")
                try:
                    gw.wait_for_log(r"session end sid=%s\s" % re.escape(sid), timeout=SESSION_END_TIMEOUT,
                                    start=starts[tag])
                except AssertionError:
                    last = [line for line in self.haproxy.log.snapshot() if sid in line][-3:]
                    problems.append(f"node {tag}: session {sid} did not end within {SESSION_END_TIMEOUT}s; "
                                    "its last requests in HAProxy's log:\n    " + "\n    ".join(last))
            for m in map(SESSION_END.search, gw.lines[starts[tag]:]):
                if m:
                    ended[m.group(1)] = (int(m.group(2)), m.group(3))
        for sid, (_, reason) in ended.items():
            if reason not in END_REASONS:
                problems.append(f"session {sid} ended because {reason!r}")
        sessions = collections.Counter(opened.values())
        if len(opened) != expected_sessions:
            problems.append(f"the nodes opened {len(opened)} sessions, expected {expected_sessions}")
        for tag in NODES:
            if sessions[tag] == 0:
                problems.append(f"node {tag} opened no session: HAProxy did not spread the opens")

        # HAProxy logs a request once it is answered; wait for the /close of every session its client closed.
        closed = sum(1 for _, reason in ended.values() if reason == "client close")
        self.haproxy.log.wait_for(
            lambda lines: sum(1 for line in lines if '"POST /close/' in line) >= closed, HAPROXY_LOG_TIMEOUT)
        # It may also log a session's last request after the node's end line (a client gone mid-request):
        # wait, bounded, until it has logged as many requests of every ended session as the node counted.
        self.haproxy.log.wait_for(
            lambda lines: all(logged_for(lines, sid) >= count for sid, (count, _) in ended.items()),
            HAPROXY_LOG_TIMEOUT)
        requests = self.haproxy.requests()
        per_session = collections.Counter()
        per_node = collections.Counter()
        opens = collections.Counter()
        for r in requests:
            per_node[r["server"]] += 1
            path, status = r["path"], r["status"]
            if path.startswith("/open/"):
                opens[r["server"]] += 1
            tunnel = TUNNEL_PATH.match(path)
            if tunnel:
                sid = tunnel.group(2)
                per_session[sid] += 1
                tag = sid.split(".", 1)[0]
                if r["server"] != tag:
                    problems.append(f"HAProxy sent {path} to {r['server']}, not to node {tag}")
                if opened.get(sid) != tag:
                    problems.append(f"{path}: session {sid} was not opened by node {tag}")
            # librtmp sends /close and shuts its socket without reading the reply: HAProxy may log -1 then.
            if status != 200 and not (status == -1 and path.startswith("/close/")):
                problems.append(f"HAProxy logged {status} for {r['method']} {path} via {r['server']}")
        for tag in NODES:
            if opens[tag] != sessions[tag]:
                problems.append(f"HAProxy sent {opens[tag]} opens to {tag}, which opened {sessions[tag]} sessions")
        for sid, tag in opened.items():
            got = per_session.get(sid, 0)
            gateway_count = ended.get(sid, (None,))[0]
            if got == 0:
                problems.append(f"HAProxy logged no request of session {sid}")
            elif gateway_count is not None and got != gateway_count:
                problems.append(f"session {sid}: HAProxy logged {got} requests, node {tag} counted {gateway_count}")
        # The nodes' own access lines: what each node received, health checks included.
        node_requests = collections.Counter()
        health_checks = collections.Counter()
        for tag, gw in self.nodes.items():
            lines = gw.lines[starts[tag]:]
            for line in lines:
                if "unknown session" in line or re.search(r"\s(warn|warning|error)\s", line):
                    problems.append(f"node {tag} logged: {line}")
                m = ACCESS.search(line)
                if not m:
                    continue
                node_requests[tag] += 1
                path, status = m.group(2), int(m.group(3))
                if path == "/fcs/ident2":
                    health_checks[tag] += 1
                    continue
                tunnel = TUNNEL_PATH.match(path)
                if tunnel and not tunnel.group(2).startswith(tag + "."):
                    problems.append(f"node {tag} received {path}")
                if status != 200:
                    problems.append(f"node {tag} answered {status} to {path}")

        self.print_figures(opened, ended, per_session, per_node, sessions, len(requests), node_requests,
                           health_checks)

    def print_figures(self, opened, ended, per_session, per_node, sessions, total, node_requests, health_checks):
        out = ["", "[nodes] node  sessions  requests (HAProxy log)  requests (node's access log)  of them health "
               "checks  session requests (HAProxy)  session requests (node)"]
        for tag in NODES:
            mine = [sid for sid, t in opened.items() if t == tag]
            logged = sum(per_session.get(sid, 0) for sid in mine)
            counted = sum(ended.get(sid, (0,))[0] for sid in mine)
            out.append(f"        {tag:<4}  {sessions[tag]:>8}  {per_node[tag]:>22}  {node_requests[tag]:>28}  "
                       f"{health_checks[tag]:>22}  {logged:>25}  {counted:>23}")
        lost = sum(1 for _, reason in ended.values() if reason == "idle timeout")
        out.append(f"        HAProxy logged {total} client requests in all (it does not log health checks); "
                   f"{lost} of {len(opened)} sessions ended by idle timeout (their /close lost in HAProxy)")
        out.append("[sessions] sid                              node  requests (HAProxy)  requests (node)  end")
        for sid, tag in sorted(opened.items(), key=lambda kv: kv[1]):
            n, reason = ended.get(sid, ("-", "-"))
            out.append(f"           {sid:<33}{tag:<6}{per_session.get(sid, 0):>18}  {n:>15}  {reason}")
        print("\n".join(out), file=sys.stderr, flush=True)

class DrainingNode(unittest.TestCase):
    """A rolling restart: a node told to stop drains; HAProxy moves new opens to the other node, and the
    draining node's live session keeps working through HAProxy until its client closes it."""

    @classmethod
    def setUpClass(cls):
        # The drain under test (gateway_yaml's test default is to end sessions at once).
        start_servers(cls, clip=False, process__shutdown_timeout="15s")

    @classmethod
    def tearDownClass(cls):
        stop_servers(cls)

    def open_through_haproxy(self, conn):
        session, resp = open_session(conn)
        self.assertEqual(resp.status, 200, repr(resp))
        self.assertTrue(session.sid.split(".", 1)[0] in NODES, session.sid)
        return session

    def test_opens_move_to_the_other_node_while_one_drains(self):
        conn = HttpConnection("127.0.0.1", self.haproxy.port)
        self.addCleanup(conn.close)
        held = []
        while not any(s.sid.startswith("n1.") for s in held) and len(held) < 8:
            s = self.open_through_haproxy(conn)
            self.assertEqual(s.send(b"\x03" + bytes(1536)).status, 200)  # C0+C1: the session is in use
            held.append(s)
        on_n1 = [s for s in held if s.sid.startswith("n1.")]
        self.assertTrue(on_n1, f"no open reached n1 in {len(held)} tries")

        n1 = self.nodes["n1"]
        start = len(n1.lines)
        n1.proc.send_signal(signal.SIGTERM)
        n1.wait_for_log(r"draining sessions=", timeout=DRAIN_TIMEOUT, start=start)

        logged_before = len(self.haproxy.requests())
        opens = [self.open_through_haproxy(conn) for _ in range(6)]
        landed = collections.Counter(s.sid.split(".", 1)[0] for s in opens)
        # The counter, not the log lines: refusals while draining are logged once a second.
        refused = draining_refusals(n1)
        # HAProxy's log lines arrive on their own: wait for the six opens, then read their retry counts.
        self.haproxy.log.wait_for(lambda _: len(self.haproxy.requests()) >= logged_before + len(opens),
                                  DRAIN_TIMEOUT)
        logged = [r for r in self.haproxy.requests()[logged_before:] if r["path"] == "/open/1"]
        retries = sum(int(r["retries"].lstrip("+")) for r in logged)
        print(f"\n[drain] opens while n1 drains: {len(opens)}, landed {dict(landed)}; n1 refused {refused} "
              f"with 503, HAProxy logged {retries} retries on another node", file=sys.stderr, flush=True)
        self.assertEqual(landed["n1"], 0, "a draining node got a new session")
        self.assertGreaterEqual(refused, 1, "no open was tried on n1 first, so the retry path went untested")
        self.assertEqual(retries, refused)

        # The draining node's sessions still work through HAProxy, and it exits once they are closed.
        for s in on_n1:
            self.assertEqual(s.idle().status, 200)
        for s in held + opens:
            self.assertEqual(s.close().status, 200)
        try:
            n1.proc.wait(DRAIN_TIMEOUT)
        except Exception:  # noqa: BLE001 - reported below
            pass
        self.assertEqual(n1.proc.poll(), 0, "n1 did not exit 0 once its sessions were closed:\n" + n1.log_text())
        bad = [line for tag, gw in self.nodes.items() for line in gw.lines if "unknown session" in line]
        self.assertEqual(bad, [])


def main():
    return e2e.run_tests(__doc__, ARGS, ("ffmpeg", "rtmpdump", "/usr/sbin/nginx", HAPROXY))


if __name__ == "__main__":
    sys.exit(main())
