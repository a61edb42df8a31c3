#!/usr/bin/env python3
"""PROXY protocol end to end: the origin sees the client, not the gateway; a balancer's header is the client.

    python3 tests/e2e/test_proxy_protocol.py --binary build/gateway/rtmpt-gateway [-v] [--keep]

nginx-rtmp (Debian's libnginx-mod-rtmp 1.2.2) listens on 127.0.0.1 with `proxy_protocol` (it reads PROXY v1
only), lets only ::1 publish and play (`allow publish ::1; deny publish all; allow play ::1; deny play all;`)
and writes its rtmp access log, whose lines begin with the client's address ($remote_addr, the header's
source). So a stream that flows proves the header named the IPv6 client, though every connection nginx
accepts comes from 127.0.0.1.

  v1              gateway on [::1], backend.proxy_protocol v1: ffmpeg publishes rtmpt://[::1] and plays
                  rtmpt:// and rtmp:// there; the packets arrive, nginx logs ::1.
  off             the same without a header: nginx takes the RTMP handshake for a bad header ("proxy_protocol:
                  bad header") and closes; the publish fails.
  ipv4-client     v1, the client comes over 127.0.0.1: the header names 127.0.0.1 and nginx's rules deny the
                  publish and the play ("access forbidden by rule, client: 127.0.0.1").
  native          v1, ffmpeg publishes native RTMP (rtmp://[::1] on the RTMPT port): allowed, nginx logs ::1.
  haproxy-v2/v1   HAProxy in mode tcp on [::1] sends a PROXY v2 (send-proxy-v2), then v1 (send-proxy), header
                  to the gateway on 127.0.0.1 (access.proxy_protocol_from 127.0.0.1/32): the gateway logs
                  client=[::1]:<port> via=127.0.0.1:<port>, nginx logs ::1, the packets arrive.
  per-client      behind the same HAProxy, session.max_sessions_per_client 1: a second session of [::1] is
                  refused 429 (the raw client of tests/integration), counted on /metrics and logged with the
                  client named by the header.
  mixed families  X-Forwarded-For ::1 from a trusted proxy over 127.0.0.1: the header is TCP6 with the
                  destination IPv4-mapped; nginx answers the RTMP handshake (raw client) and logs ::1.

There is no reference player reading nginx directly, as the other e2e tests have: nginx here admits only
connections that begin with a PROXY header naming ::1. Each player's packets are checked against the published
clip (an in-order run, nearly whole: tests/e2e/run.py), and an RTMPT player's against a native RTMP player's
through the same gateway. rtmpdump takes no part: librtmp 2.4 cannot parse an IPv6 literal
("rtmp://[::1]:port/..." fails with "Problem accessing the DNS. (addr: [)"), nor resolve one given with --host
(it resolves IPv4 only), and over 127.0.0.1 nginx's rules would deny it.

Prints at the end, per case, nginx's access-log lines (and the error-log lines of the refusals) and the
gateway's session lines, so that the addresses each side saw can be read.
"""
import argparse
import os
import re
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))  # tests/, for lib.gateway_process
# The raw RTMPT client, searched last: tests/integration has a run.py of its own.
sys.path.append(os.path.join(os.path.dirname(HERE), "integration"))

import media  # noqa: E402
import players  # noqa: E402
import run as e2e  # noqa: E402  (Scenario: players, publisher, packet comparison; admin_get)
from haproxy import HAPROXY, HAProxy  # noqa: E402
from lib.gateway_process import GatewayProcess, gateway_yaml  # noqa: E402
from rtmpt_client import HttpConnection, open_session  # noqa: E402

ARGS = argparse.Namespace(binary=None, keep=False)

NGINX_RULES = ("allow publish ::1;", "deny publish all;", "allow play ::1;", "deny play all;")
SHORT_CLIP_SECONDS = 2      # what a refused publisher is given: it fails, it need not take long doing so
FAIL_TIMEOUT = 30.0         # a client that should fail has done so within this
LOG_TIMEOUT = 15.0          # a line nginx or the gateway writes once a connection ends
# nginx-rtmp's default access log format: `$remote_addr [$time_local] $command "$app" "$name" "$args" - ...`,
# one line when a connection ends.
ACCESS_LINE = re.compile(r'^(?P<addr>\S+) \[[^\]]*\] (?P<command>\S+) "(?P<app>[^"]*)" "(?P<name>[^"]*)"')
GATEWAY_SESSION_LINE = re.compile(r"session (open|end|refused) ")
VIA_BALANCER = r"client=\[::1\]:\d+ via=127\.0\.0\.1:\d+"

# HAProxy as a plain TCP balancer in front of the gateway: the test's own config (the shipped one is HTTP mode).
TCP_CONFIG = """\
global
    log {log} len 4096 format raw local0
    maxconn 200

defaults
    mode tcp
    log global
    option tcplog
    timeout connect 5s
    timeout client 60s
    timeout server 60s

frontend rtmp_in
    bind [::1]:{port}
    default_backend gateway

backend gateway
    server gw 127.0.0.1:{gateway_port} {send_proxy}
"""

SUMMARY = []   # (case, [lines])


def session_lines(gw, start=0):
    """The gateway's session open/end/refused lines without the timestamp, an end line without its counters."""
    out = []
    for line in gw.lines[start:]:
        m = GATEWAY_SESSION_LINE.search(line)
        if m:
            text = line[m.start():]
            out.append(re.sub(r" age=\S+ .* transport=", " transport=", text))
    return out


class ProxyProtocolEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        try:
            e2e.open_stream_fixture(cls, "rtmpt-e2e-proxy-", nginx_options=dict(
                proxy_protocol=True, rules=NGINX_RULES, access_log=True))
            cls.short_clip = media.make_clip(os.path.join(cls.tmp, "short.flv"), seconds=SHORT_CLIP_SECONDS,
                                             size="160x120")
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        e2e.close_stream_fixture(cls)
        print_summary()

    # --- servers of one case

    def start_gateway(self, listen=("[::1]:0",), **overrides):
        """A gateway for this case (Scenario follows it as self.gw); stopped, and its exit status checked, at
        the case's end."""
        gw = GatewayProcess(ARGS.binary, gateway_yaml(self.nginx.port, listen=listen, **overrides))
        self.addCleanup(self.stop_gateway, gw)
        self.gw = gw  # shadows the fixture's None
        return gw

    def stop_gateway(self, gw):
        status = gw.stop()
        if status != 0:
            raise AssertionError(f"the gateway exited with status {status}:\n{gw.log_text()[-6000:]}")

    @staticmethod
    def listening_port(gw, host):
        """The port of the gateway's listener on `host` ("[::1]" or "127.0.0.1")."""
        return int(gw.wait_for_log(r"(?<!admin )listening on %s:(\d+)" % re.escape(host)).group(1))

    def start_haproxy(self, gateway_port, send_proxy):
        def config(port, log):
            return TCP_CONFIG.format(log=log, port=port, gateway_port=gateway_port, send_proxy=send_proxy)

        haproxy = HAProxy(config=config, host="::1")
        self.addCleanup(haproxy.stop)
        return haproxy

    # --- what nginx logged

    def access_lines(self, name):
        """nginx's access-log lines of stream `name`: [(address, command, line)]."""
        out = []
        for line in self.nginx.access_log_lines():
            m = ACCESS_LINE.match(line)
            if m and m.group("name") == name:
                out.append((m.group("addr"), m.group("command"), line))
        return out

    def wait_access_lines(self, name, publishes, plays):
        """Waits (bounded) for nginx's access-log lines of the stream's `publishes` publishers and `plays` players
        (nginx writes them as the connections end); returns them."""
        def enough(_):
            commands = [c for _, c, _ in self.access_lines(name)]
            return commands.count("PUBLISH") >= publishes and commands.count("PLAY") >= plays

        self.nginx.wait_for_access_log(enough, timeout=LOG_TIMEOUT)
        return self.access_lines(name)

    def check_access_lines(self, problems, name, address, publishes, plays):
        """nginx logged the publishes and plays of `name`, each with the client `address`. Returns the lines."""
        lines = self.wait_access_lines(name, publishes, plays)
        commands = [c for _, c, _ in lines]
        if commands.count("PUBLISH") != publishes or commands.count("PLAY") != plays:
            problems.append(f"nginx's access log has {commands} for {name}, expected {publishes} PUBLISH and "
                            f"{plays} PLAY:\n  " + "\n  ".join(self.nginx.access_log_lines()))
        wrong = [line for addr, _, line in lines if addr != address]
        if wrong:
            problems.append(f"nginx's access log names another client than {address}:\n  " + "\n  ".join(wrong))
        return [line for _, _, line in lines]

    def start_refused_publisher(self, workdir, url):
        c = players.ffmpeg_publisher("publisher", self.short_clip, url, workdir)
        self.addCleanup(c.close)
        return c

    def expect_failure(self, client, problems):
        rc = client.wait(FAIL_TIMEOUT)
        if rc is None:
            problems.append(f"{client.label} still running {FAIL_TIMEOUT}s after nginx should have refused it")
        elif rc == 0:
            problems.append(f"{client.label} succeeded, though nginx should have refused it")
        return rc

    # --- the cases

    def stream_through(self, s, publish_url, play_urls, expected_sessions, lossy_publisher=True):
        """Players first (each an ffmpeg on one of play_urls, {label: url}; the first is compared with the
        second), then ffmpeg publishes the clip to publish_url; the packets are checked as run.py checks them."""
        labels = list(play_urls)
        for i, label in enumerate(labels):
            s.add_player("ffmpeg", label, play_urls[label], compare_with=labels[1] if i == 0 else None)
        s.wait_players_connected()
        s.publish(publish_url)
        s.wait_players_exit()
        s.check_gateway_sessions(expected=expected_sessions)
        s.check_outputs(lossy_publisher=lossy_publisher)

    def test_1_v1_names_the_ipv6_client(self):
        """Gateway on [::1], v1 to nginx on 127.0.0.1: ffmpeg publishes and plays over RTMPT (and plays over
        RTMP); nginx admits ::1, its access log names ::1 for the publish and each play."""
        gw = self.start_gateway(listen=("[::1]:0",), backend__proxy_protocol="v1")
        s = e2e.Scenario(self, "v1")
        url = f"rtmpt://[::1]:{gw.port}/live/{s.name}"
        self.stream_through(s, url, {"ffmpeg-rtmpt": url, "ffmpeg-rtmp": f"rtmp://[::1]:{gw.port}/live/{s.name}"},
                            expected_sessions=3)
        access = self.check_access_lines(s.problems, s.name, "::1", publishes=1, plays=2)
        sessions = session_lines(gw, s.gw_log_start)
        if any("client=[::1]:" not in line for line in sessions):
            s.problems.append("a gateway session line names another client than [::1]")
        SUMMARY.append(("v1: gateway on [::1], backend.proxy_protocol v1", access + sessions))
        s.finish()

    def test_2_off_nginx_refuses_a_connection_without_header(self):
        """Gateway on [::1] without a header (off): nginx reads the RTMP handshake as a bad PROXY header and
        closes; the publish fails."""
        gw = self.start_gateway(listen=("[::1]:0",), backend__proxy_protocol="off")
        s = e2e.Scenario(self, "off")
        bad_header = r"proxy_protocol: bad header, client: 127\.0\.0\.1"
        before = self.nginx.count(bad_header)  # nginx's own start-up probe is one already
        start = len(gw.lines)
        publisher = self.start_refused_publisher(s.workdir, f"rtmpt://[::1]:{gw.port}/live/{s.name}")
        s.publisher = publisher
        self.expect_failure(publisher, s.problems)
        if self.nginx.wait_for_count(bad_header, before + 1, timeout=LOG_TIMEOUT) < before + 1:
            s.problems.append("nginx did not log a bad PROXY header for the gateway's connection")
        if self.nginx.publishes(s.name):
            s.problems.append("nginx took the publish")
        # nginx closes without reading the handshake it peeked at, so the gateway usually sees a reset.
        try:
            gw.wait_for_log(r"session end sid=\S+ client=\[::1\]:\d+ .*closing because: backend (closed|error)",
                            timeout=LOG_TIMEOUT, start=start)
        except AssertionError:
            s.problems.append("the gateway did not end the session for its backend (closed or reset)")
        error_lines = [line for line in self.nginx.log_text().splitlines() if re.search(bad_header, line)]
        SUMMARY.append(("off: gateway on [::1], no header (nginx's error log; the first line is its start-up "
                        "probe)", error_lines + session_lines(gw, start)))
        s.finish()

    def test_3_v1_ipv4_client_is_denied_by_nginx(self):
        """Gateway on [::1] and 127.0.0.1, v1: a client over 127.0.0.1 is named 127.0.0.1 in the header, and
        nginx's rules deny its publish and its play."""
        gw = self.start_gateway(listen=("[::1]:0", "127.0.0.1:0"), backend__proxy_protocol="v1")
        port4 = self.listening_port(gw, "127.0.0.1")
        s = e2e.Scenario(self, "ipv4-client")
        url = f"rtmpt://127.0.0.1:{port4}/live/{s.name}"
        forbidden = r"access forbidden by rule, client: 127\.0\.0\.1,"
        before = self.nginx.count(forbidden)
        start = len(gw.lines)
        player = players.ffmpeg_player("ffmpeg-rtmpt", url, s.workdir)
        self.addCleanup(player.close)
        publisher = self.start_refused_publisher(s.workdir, url)
        s.publisher = publisher
        self.expect_failure(player, s.problems)
        self.expect_failure(publisher, s.problems)
        if self.nginx.wait_for_count(forbidden, before + 2, timeout=LOG_TIMEOUT) < before + 2:
            s.problems.append("nginx did not log two denials (publish and play) for client 127.0.0.1")
        access = self.check_access_lines(s.problems, s.name, "127.0.0.1", publishes=1, plays=1)
        # Closed, or reset when a client's next bytes reached nginx after its denial and were never read.
        ends = r"session end sid=\S+ client=127\.0\.0\.1:\d+ .*closing because: backend (closed|error)"
        if not gw.wait_until(lambda lines: sum(1 for ln in lines[start:] if re.search(ends, ln)) >= 2, LOG_TIMEOUT):
            s.problems.append("the gateway did not end both sessions for their backend (closed or reset)")
        error_lines = [line for line in self.nginx.log_text().splitlines()
                       if re.search(forbidden, line) or re.search(r"(publish|play): name='%s'" % s.name, line)]
        SUMMARY.append(("ipv4-client: v1, the client over 127.0.0.1 (nginx's error log, then its access log)",
                        error_lines + access + session_lines(gw, start)))
        if s.problems:
            s.problems += [player.describe(), publisher.describe()]
        s.finish()

    def test_4_native_rtmp_with_v1(self):
        """ffmpeg publishes native RTMP to the gateway's RTMPT port on [::1], v1: nginx admits ::1."""
        gw = self.start_gateway(listen=("[::1]:0",), backend__proxy_protocol="v1")
        s = e2e.Scenario(self, "native")
        rtmp = f"rtmp://[::1]:{gw.port}/live/{s.name}"
        self.stream_through(s, rtmp, {"ffmpeg-rtmpt": f"rtmpt://[::1]:{gw.port}/live/{s.name}", "ffmpeg-rtmp": rtmp},
                            expected_sessions=3)
        access = self.check_access_lines(s.problems, s.name, "::1", publishes=1, plays=2)
        sessions = session_lines(gw, s.gw_log_start)
        if not any("transport=rtmp " in line or line.endswith("transport=rtmp") for line in sessions):
            s.problems.append("no native RTMP session in the gateway's log")
        SUMMARY.append(("native: rtmp://[::1] on the RTMPT port, v1", access + sessions))
        s.finish()

    def through_haproxy(self, send_proxy):
        gw = self.start_gateway(listen=("127.0.0.1:0",), access__proxy_protocol_from='["127.0.0.1/32"]',
                                backend__proxy_protocol="v1")
        haproxy = self.start_haproxy(gw.port, send_proxy)
        s = e2e.Scenario(self, "haproxy-" + ("v2" if send_proxy.endswith("v2") else "v1"))
        base = f"[::1]:{haproxy.port}/live/{s.name}"
        self.stream_through(s, f"rtmpt://{base}", {"ffmpeg-rtmpt": f"rtmpt://{base}", "ffmpeg-rtmp": f"rtmp://{base}"},
                            expected_sessions=3)
        access = self.check_access_lines(s.problems, s.name, "::1", publishes=1, plays=2)
        sessions = session_lines(gw, s.gw_log_start)
        opens = [line for line in sessions if line.startswith("session open")]
        wrong = [line for line in opens if not re.search(VIA_BALANCER, line)]
        if len(opens) != 3 or wrong:
            s.problems.append(f"the gateway's session open lines do not all name client=[::1]:<port> "
                              f"via=127.0.0.1:<port>:\n  " + "\n  ".join(opens))
        # HAProxy logs a connection as it ends: its start-up probe's and the three clients' (for the summary).
        haproxy.log.wait_for(lambda lines: len(lines) >= 4, LOG_TIMEOUT)
        balancer = [f"haproxy: {line}" for line in haproxy.log.snapshot()]
        SUMMARY.append((f"{s.name}: HAProxy mode tcp on [::1]:{haproxy.port}, {send_proxy} -> gateway on "
                        f"127.0.0.1:{gw.port} -> v1 -> nginx", access + sessions + balancer))
        s.finish()

    def test_5a_haproxy_send_proxy_v2(self):
        self.through_haproxy("send-proxy-v2")

    def test_5b_haproxy_send_proxy_v1(self):
        self.through_haproxy("send-proxy")

    def test_5c_per_client_limit_sees_the_client_behind_haproxy(self):
        """session.max_sessions_per_client 1 behind HAProxy: the client is [::1] (the header's), not the
        balancer; a second session of it is refused 429."""
        gw = self.start_gateway(listen=("127.0.0.1:0",), access__proxy_protocol_from='["127.0.0.1/32"]',
                                backend__proxy_protocol="v1", session__max_sessions_per_client="1")
        haproxy = self.start_haproxy(gw.port, "send-proxy-v2")
        start = len(gw.lines)

        def refusals():
            status, body = e2e.admin_get(gw, "/metrics")
            self.assertEqual(status, 200)
            m = re.search(r'^rtmpt_gateway_refusals_total\{limit="per_client"\} (\d+)$', body.decode(), re.M)
            self.assertIsNotNone(m, "no per_client refusals series on /metrics")
            return int(m.group(1))

        refused_before = refusals()
        first_conn = HttpConnection("::1", haproxy.port)
        self.addCleanup(first_conn.close)
        first, resp = open_session(first_conn)
        self.assertEqual(resp.status, 200, repr(resp))
        second_conn = HttpConnection("::1", haproxy.port)
        self.addCleanup(second_conn.close)
        _, resp = open_session(second_conn)
        self.assertEqual(resp.status, 429, repr(resp))
        self.assertEqual(refusals(), refused_before + 1)
        gw.wait_for_log(r"session refused %s: session\.max_sessions_per_client reached" % VIA_BALANCER,
                        timeout=LOG_TIMEOUT, start=start)
        gw.wait_for_log(r"session open sid=\S+ %s " % VIA_BALANCER, timeout=LOG_TIMEOUT, start=start)
        # The first session still answers, then ends with its client's close.
        self.assertEqual(first.idle().status, 200)
        self.assertEqual(first.close().status, 200)
        gw.wait_for_log(r"session end sid=%s .*closing because: client close" % re.escape(first.sid),
                        timeout=LOG_TIMEOUT, start=start)
        SUMMARY.append(("per-client: max_sessions_per_client 1 behind HAProxy (send-proxy-v2); second open 429, "
                        f"refusals_total{{limit=\"per_client\"}} {refused_before} -> {refused_before + 1}",
                        session_lines(gw, start)))

    def test_6_mixed_families_from_x_forwarded_for(self):
        """X-Forwarded-For from a trusted proxy names ::1 while the gateway was reached over IPv4: the header
        is TCP6 with the destination IPv4-mapped ("PROXY TCP6 ::1 ::ffff:127.0.0.1 0 <port>"), and nginx takes
        it: the RTMP handshake is answered, and nginx logs the connection as ::1's. (No ffmpeg here: it cannot
        add a header to rtmpt://; the project's raw client does the handshake.)"""
        gw = self.start_gateway(listen=("127.0.0.1:0",), access__trusted_proxies='["127.0.0.1/32"]',
                                backend__proxy_protocol="v1")
        start = len(gw.lines)
        seen_as_ipv6 = r"disconnect, client: ::1,"
        before = self.nginx.count(seen_as_ipv6)
        conn = HttpConnection("127.0.0.1", gw.port)
        self.addCleanup(conn.close)
        session, resp = open_session(conn, extra_headers=["X-Forwarded-For: ::1"])
        self.assertEqual(resp.status, 200, repr(resp))
        resp = session.send(b"\x03" + bytes(1536))  # C0 C1
        self.assertEqual(resp.status, 200, repr(resp))
        received = resp.data
        deadline = time.monotonic() + LOG_TIMEOUT
        while len(received) < 1 + 2 * 1536 and time.monotonic() < deadline:
            resp = session.idle()  # held by the gateway until data comes (session.idle_hold)
            self.assertEqual(resp.status, 200,
                             f"nginx closed the connection: {resp!r}\n{self.nginx.log_text()[-2000:]}")
            received += resp.data
        self.assertEqual(len(received), 1 + 2 * 1536, "no whole S0 S1 S2 from nginx")
        self.assertEqual(received[0], 3)
        self.assertEqual(session.close().status, 200)
        self.assertGreaterEqual(self.nginx.wait_for_count(seen_as_ipv6, before + 1, timeout=LOG_TIMEOUT), before + 1,
                                "nginx did not log the connection as ::1's")
        gw.wait_for_log(r"session open sid=\S+ client=::1 via=127\.0\.0\.1:\d+ ", timeout=LOG_TIMEOUT, start=start)
        error_lines = [line for line in self.nginx.log_text().splitlines() if re.search(seen_as_ipv6, line)]
        SUMMARY.append(("mixed families: X-Forwarded-For ::1 from a trusted proxy over 127.0.0.1, v1 (nginx's "
                        "error log: the connection's end)",
                        error_lines[-1:] + session_lines(gw, start)))


def print_summary():
    if not SUMMARY:
        return
    out = ["", "[proxy protocol] what nginx and the gateway saw, per case"]
    for case, lines in SUMMARY:
        out.append(f"  {case}")
        out += [f"    {line}" for line in lines]
    print("\n".join(out), file=sys.stderr, flush=True)


def main():
    return e2e.run_tests(__doc__, ARGS, ("ffmpeg", "/usr/sbin/nginx", HAPROXY))


if __name__ == "__main__":
    sys.exit(main())
