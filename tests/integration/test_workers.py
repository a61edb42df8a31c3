"""Several workers (process.workers: 4): one event loop and thread each, sharing the listeners through
SO_REUSEPORT. A session belongs to the worker whose connection carried its /open, and its id names that
worker with one digit (base64url, 'A' = worker 0) before the 22 random characters; a send, idle or close
that arrives on a connection of another worker is handed over to the owner and its reply comes back.

Every test here passes process.workers explicitly, whatever RTMPT_TEST_WORKERS says. A connection's worker
is learnt deterministically: an /open on it (a "probe") returns an id whose digit names the worker that
accepted the connection; the probe session is closed again on the same connection. The kernel spreads
connections over the workers' sockets by a hash of the address pair, so a few dozen connections find every
worker.

Every request a test writes goes through a WorkerConnection, which records its path. Once the
connections' workers are known, that record gives, exactly, what each worker parsed and how many requests
each one handed over (a tunnel request whose id names another existing worker): every test compares that
with /metrics (worker_requests_total, worker_requests_handed_over_total, requests_handed_over_total) and,
where it stops the gateway, with the stats line.
"""
import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

import support
from rtmpt_client import ConnectionClosed, HttpConnection, open_session
from scripted_backend import ScriptedBackend, SinkBackend
from support import SID_ALPHABET, GatewayTestCase, parse_stats, q
from test_admin import Metrics
from test_churn import fd_count, sanitized_build
from test_limits import STATS_NAMES
from test_robustness import proc_status_kib, wait_until
from test_signals import free_port
from lib.gateway_process import gateway_yaml

WORKERS = 4
# A session id of a gateway with several workers: the node tag and its dot if any, the worker's digit,
# then the 22 random characters.
SID_RE = re.compile(r"^(?:[A-Za-z0-9_-]{1,16}\.)?[" + re.escape(SID_ALPHABET[:WORKERS]) + r"][A-Za-z0-9_-]{22}$")
TUNNEL_PATH_RE = re.compile(r"^/(?:send|idle|close)/([^/]+)(?:/\d+)?$")
NATIVE_OPEN_RE = r"session open sid=(\S+) client=127\.0\.0\.1:{port} transport=rtmp$"

C0C1 = b"\x03" + random.Random(11).randbytes(1536)


def blob(size, salt=0):
    """`size` bytes that differ by position, so loss, duplication and order all show."""
    return random.Random(salt).randbytes(size)


def sid_worker(sid, workers=WORKERS):
    """The worker an id names, as the gateway reads it, or None: no digit (not one character longer than
    the random part), or a digit of no worker of this gateway."""
    rest = sid.split(".", 1)[1] if "." in sid else sid
    if workers < 2 or len(rest) != 23:
        return None
    digit = SID_ALPHABET.find(rest[0])
    return digit if 0 <= digit < workers else None


def random_part(sid):
    rest = sid.split(".", 1)[1] if "." in sid else sid
    return rest[1:]


class WorkerConnection(HttpConnection):
    """A client connection that records the path of every request it writes, and its worker once probed."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.worker = None
        self.paths = []
        # False for a connection the gateway closed at accept: it parsed none of what was written on it.
        self.counted = True
        # How many of `paths` the gateway surely read, when the connection was dropped with requests
        # it may not have read; None: all of them.
        self.sure = None

    def request_bytes(self, path, body=b"", **kw):
        self.paths.append(path)
        return super().request_bytes(path, body, **kw)


class WorkersTestCase(GatewayTestCase):
    # --- the gateway and its connections

    def start_workers(self, backend=None, **overrides):
        self.conns = []
        self.probe_sids = []
        overrides["process__workers"] = str(WORKERS)  # whatever RTMPT_TEST_WORKERS says
        return self.start(backend=backend, **overrides)

    def new_conn(self, source=None, port=None):
        conn = WorkerConnection(self.gw.host, port or self.gw.port, timeout=5.0, source=source)
        self.addCleanup(conn.close)
        self.conns.append(conn)
        return conn

    def open_on(self, conn, body=b"\x00"):
        """Opens a session on `conn` and checks the reply; the session is its connection's worker's."""
        s, r = open_session(conn, body)
        self.assertOk(r)
        self.assertTrue(r.body.endswith(b"\n"), repr(r))
        self.assertRegex(s.sid, SID_RE, repr(r))
        w = sid_worker(s.sid)
        if conn.worker is None:
            conn.worker = w
        self.assertEqual(w, conn.worker, f"a session opened on a connection of worker {conn.worker} "
                                         f"names worker {w}: {s.sid}")
        return s

    def probe(self, conn):
        """Learns `conn`'s worker: an /open on it, closed again on the same connection (no hand-over)."""
        s = self.open_on(conn)
        self.assertOk(s.close(), b"\x00")
        self.probe_sids.append(s.sid)
        return conn.worker

    def by_worker(self, count=20, want=WORKERS, source=None, port=None, limit=64, settle_to=None):
        """Opens and probes `count` connections, more (up to `limit`) until `want` workers have one;
        returns {worker: [connections]}. `settle_to`: after each probe, waits until /metrics shows that
        many sessions again, i.e. the probe's session has given back its place under the session limits
        (the /close reply may come first: see test_a_closed_sessions_place_is_free_once_its_close_is_answered)."""
        pools = {}
        n = 0
        while n < count or (len(pools) < want and n < limit):
            conn = self.new_conn(source=source, port=port)
            pools.setdefault(self.probe(conn), []).append(conn)
            if settle_to is not None:
                self.wait_active(settle_to)
            n += 1
        self.assertGreaterEqual(len(pools), want, f"{n} connections reached only the workers {sorted(pools)}")
        return pools

    # --- the admin pages

    def admin_get(self, path):
        host, port = self.gw.admin_address()
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=5) as resp:
            return resp.read()

    def scrape(self):
        return Metrics(self.admin_get("/metrics").decode())

    def sessions(self):
        return json.loads(self.admin_get("/sessions"))

    def wait_scrape(self, predicate, what, timeout=5.0):
        """Scrapes /metrics until predicate(page) holds (bounded); returns that page."""
        deadline = time.monotonic() + timeout
        pause = threading.Event()
        while True:
            m = self.scrape()
            if predicate(m):
                return m
            if time.monotonic() > deadline:
                self.fail(f"/metrics: {what} not reached within {timeout}s:\n{m.text}")
            pause.wait(0.02)

    def wait_active(self, n, timeout=5.0):
        return self.wait_scrape(lambda m: m.get("sessions_active") == n, f"sessions_active == {n}", timeout)

    # --- what the workers must have counted

    def expected_counts(self):
        """What the workers must have counted, from what was written: ((requests parsed per worker, at
        least and at most), (requests handed over per worker, at least and at most)). The two bounds
        differ only by the requests of connections dropped before the gateway may have read them."""
        requests = ([0] * WORKERS, [0] * WORKERS)
        handed = ([0] * WORKERS, [0] * WORKERS)
        for c in self.conns:
            if not c.counted:
                continue
            if c.worker is None:
                self.assertEqual(c.paths, [], "a connection whose worker is unknown carried requests")
                continue
            sure = len(c.paths) if c.sure is None else c.sure
            for i, path in enumerate(c.paths):
                m = TUNNEL_PATH_RE.match(path)
                owner = sid_worker(m.group(1)) if m else None
                away = owner is not None and owner != c.worker
                for bound in ((0, 1) if i < sure else (1,)):
                    requests[bound][c.worker] += 1
                    handed[bound][c.worker] += away
        return requests, handed

    def assertCounted(self, what, got, bounds):
        low, high = bounds
        if low == high:
            self.assertEqual(got, low, f"{what}: counted otherwise than written")
        else:
            self.assertTrue(all(lo <= g <= hi for g, lo, hi in zip(got, low, high)),
                            f"{what}: {got} not between {low} and {high}")

    def assertWorkerCounters(self, m=None):
        """/metrics counts, per worker and summed, the requests written and those handed over; returns
        (requests per worker, handed over per worker) as counted."""
        m = m or self.scrape()
        requests, handed = self.expected_counts()
        self.assertEqual(m.get("workers"), WORKERS)
        got_requests = [int(m.get("worker_requests_total", worker=str(w))) for w in range(WORKERS)]
        got_handed = [int(m.get("worker_requests_handed_over_total", worker=str(w))) for w in range(WORKERS)]
        self.assertCounted("requests per worker", got_requests, requests)
        self.assertCounted("requests handed over per worker", got_handed, handed)
        self.assertEqual(m.get("requests_parsed_total"), sum(got_requests))
        self.assertEqual(m.get("requests_handed_over_total"), sum(got_handed))
        return got_requests, got_handed

    def assertStatsSum(self, stats, m=None):
        """The stats line holds the sums over the workers of what was written (and of the last /metrics
        page `m` when given, for counters that cannot change after it)."""
        requests, handed = self.expected_counts()
        self.assertEqual(sorted(stats), sorted(STATS_NAMES), "the stats line does not name the expected counters")
        self.assertCounted("stats requests", [stats["requests"]], ([sum(requests[0])], [sum(requests[1])]))
        self.assertCounted("stats requests_handed_over", [stats["requests_handed_over"]],
                           ([sum(handed[0])], [sum(handed[1])]))
        self.assertEqual(stats["connections_accepted"], sum(1 for c in self.conns if c.counted))
        if m is not None:
            self.assertEqual((stats["requests"], stats["requests_handed_over"]),
                             (m.get("requests_parsed_total"), m.get("requests_handed_over_total")))

    # --- the backend

    def backend_with(self, prefix, timeout=5.0):
        """The backend connection whose received bytes start with `prefix` (waits, bounded)."""
        found = wait_until(lambda: next((c for c in list(self.backend.connections) if c.data().startswith(prefix)),
                                        None), timeout, interval=0.01)
        self.assertIsNotNone(found, f"no backend connection received {prefix[:16]!r} within {timeout}s")
        return found

    def drain_over(self, session, n, conns, timeout=10.0):
        """Idles over `conns` in turn until `n` backend bytes came; returns them."""
        data = bytearray()
        deadline = time.monotonic() + timeout
        i = 0
        while len(data) < n:
            self.assertLess(time.monotonic(), deadline, f"only {len(data)} of {n} backend bytes arrived")
            r = session.idle(conn=conns[i % len(conns)])
            self.assertReply(r)
            data += r.data
            i += 1
        return bytes(data)


class HandOverTest(WorkersTestCase):
    def test_flash_style_session_spread_over_every_worker(self):
        self.start_workers(backend=ScriptedBackend(echo=True))
        pools = self.by_worker()
        home = pools[0][0]
        s = self.open_on(home)
        owner = home.worker
        rotation = [pools[w][0] for w in range(WORKERS)]
        others = [c for c in rotation if c.worker != owner]
        m0 = self.wait_active(1)
        self.assertEqual([m0.get("worker_sessions_active", worker=str(w)) for w in range(WORKERS)],
                         [1 if w == owner else 0 for w in range(WORKERS)])
        before = {w: len(pools[w][0].paths) for w in range(WORKERS)}
        replies = {}

        # Flash: /idle/<id>/1 and /send/<id>/0 at the same moment on two connections (of two other workers).
        others[0].send_request(f"/idle/{s.sid}/1", b"\x00")
        others[1].send_request(f"/send/{s.sid}/0", C0C1)
        replies[0] = others[1].read_response()
        replies[1] = others[0].read_response()
        s.seq = 2
        # Then pairs of sends, the later number written first on the other connection, and an idle on a third.
        chunks = [blob(n, salt) for salt, n in enumerate((1, 700, 1536, 3000, 64, 12000, 5, 9000), 1)]
        for j in range(0, len(chunks), 2):
            x, y, z = rotation[j % WORKERS], rotation[(j + 1) % WORKERS], rotation[(j + 2) % WORKERS]
            n = s.seq
            s.seq += 2
            y.send_request(f"/send/{s.sid}/{n + 1}", chunks[j + 1])
            x.send_request(f"/send/{s.sid}/{n}", chunks[j])
            replies[n] = x.read_response()
            replies[n + 1] = y.read_response()
            n = s.seq
            replies[n] = s.idle(conn=z)
        for seq in sorted(replies):
            self.assertReply(replies[seq], f"seq {seq}: {replies[seq]!r}")
        up = C0C1 + b"".join(chunks)
        got = b"".join(replies[seq].data for seq in sorted(replies))
        got += self.drain_over(s, len(up) - len(got), rotation)
        self.assertEqual(got, up, "the echo came back altered, short, or out of order")
        backend = self.backend_with(C0C1[:64])
        self.assertEqual(backend.wait_for_bytes(len(up)), up, "the backend got the sends altered or out of order")
        self.assertOk(s.close(conn=others[-1]), b"\x00")
        end = self.wait_session_end(s.sid)
        self.assertEqual((end["reason"], end["up"], end["down"]), ("client close", len(up), len(up)))
        backend.wait_for_eof()

        m = self.wait_active(0)
        self.assertWorkerCounters(m)
        sent = {w: len(pools[w][0].paths) - before[w] for w in range(WORKERS)}
        self.assertTrue(all(sent[w] > 0 for w in range(WORKERS)), sent)
        delta = {w: m.get("worker_requests_handed_over_total", worker=str(w))
                 - m0.get("worker_requests_handed_over_total", worker=str(w)) for w in range(WORKERS)}
        self.assertEqual(delta, {w: 0 if w == owner else sent[w] for w in range(WORKERS)},
                         "each worker hands over exactly the requests its connection carried for the session")
        self.assertEqual(m.get("requests_handed_over_total") - m0.get("requests_handed_over_total"),
                         sum(n for w, n in sent.items() if w != owner))
        self.assertEqual(m.get("retries_from_cache_total"), 0)
        self.assertEqual(m.get("sequence_starts_total", order="one"), 0)
        self.assertIn(m.get("sequence_starts_total", order="reordered"), (0, 1))
        stats = self.stop_and_stats()
        self.assertStatsSum(stats)
        self.assertEqual((stats["sessions_opened"], stats["closed_client_close"], stats["bytes_up"],
                          stats["bytes_down"], stats["unknown_session"]),
                         (len(self.probe_sids) + 1, len(self.probe_sids) + 1, len(up), len(up), 0))

    def test_retry_on_a_fresh_connection_gets_the_cached_reply(self):
        self.start_workers(backend=ScriptedBackend(echo=True), session__idle_hold=q("1s"))
        pools = self.by_worker()
        home = pools[0][0]
        s = self.open_on(home)
        owner = home.worker
        foreign = [pools[w][0] for w in range(WORKERS) if w != owner]
        r0 = s.send(b"hello", conn=foreign[0])
        self.assertReply(r0)
        backend = self.backend_with(b"hello")
        r1 = s.idle(conn=foreign[1])        # held until the echo is there
        self.assertReply(r1)
        self.assertEqual(r0.data + r1.data, b"hello")
        m0 = self.scrape()
        # The client lost both replies and asks again, on a new connection each time; until one of
        # them lands on a worker other than the session's.
        retried = []
        for _ in range(16):
            fresh = self.new_conn()
            fresh.send_pipelined([(f"/send/{s.sid}/0", b"hello"), (f"/idle/{s.sid}/1", b"\x00")])
            again0, again1 = fresh.read_response(), fresh.read_response()
            self.assertEqual(again0.raw, r0.raw, "the retried send did not get the cached reply")
            self.assertEqual(again1.raw, r1.raw, "the retried idle did not get the cached reply")
            retried.append(fresh)
            if self.probe(fresh) != owner:
                break
        self.assertNotEqual(retried[-1].worker, owner, "16 new connections all landed on the session's worker")
        m = self.scrape()
        self.assertEqual(m.get("retries_from_cache_total") - m0.get("retries_from_cache_total"), 2 * len(retried))
        handed = sum(2 for c in retried if c.worker != owner)
        self.assertEqual(m.get("requests_handed_over_total") - m0.get("requests_handed_over_total"), handed)
        self.assertWorkerCounters(m)
        # The body of a retried send is not forwarded twice, and the session carries on.
        r2 = s.send(b"-more", conn=foreign[-1])
        self.assertReply(r2)
        self.assertEqual(backend.wait_for_bytes(10), b"hello-more")
        self.assertEqual(r2.data + self.drain_over(s, 5 - len(r2.data), [retried[-1]]), b"-more")
        self.assertEqual(backend.data(), b"hello-more")
        stats = self.stop_and_stats()
        self.assertStatsSum(stats)
        self.assertEqual((stats["retries_from_cache"], stats["refused_stale_sequence"]), (2 * len(retried), 0))

    def test_one_connection_pipelines_sessions_of_three_workers_in_order(self):
        self.start_workers(session__idle_hold=q("5s"))
        pools = self.by_worker()
        p = 0
        a, b = 1, 2
        conn = pools[p][0]
        sa, sb, sp = (self.open_on(pools[w][0]) for w in (a, b, p))
        # One send each on its own worker's connection, to find its backend connection.
        for s, mark in ((sa, b"mark-a"), (sb, b"mark-b"), (sp, b"mark-p")):
            self.assertReply(s.send(mark))
        ba, bb, bp = self.backend_with(b"mark-a"), self.backend_with(b"mark-b"), self.backend_with(b"mark-p")
        bb.send(b"B-data")
        bp.send(b"P-data")
        self.wait_scrape(lambda m: m.get("queued_bytes", direction="down") == 12, "12 bytes queued down")
        m0 = self.scrape()
        conn.send_pipelined([
            (f"/idle/{sa.sid}/1", b"\x00"),     # worker a's, held: nothing to return yet
            (f"/idle/{sb.sid}/1", b"\x00"),     # worker b's, answered at once
            (f"/idle/{sp.sid}/1", b"\x00"),     # this connection's worker's, answered at once
            (f"/send/{sb.sid}/2", b"xb"),
            (f"/send/{sp.sid}/2", b"xp"),
            (f"/close/{sb.sid}/3", b"\x00"),
            (f"/send/{sp.sid}/3", b"yp"),
        ])
        # The later requests are applied while the first waits ...
        self.assertEqual(bb.wait_for_bytes(8), b"mark-bxb")
        self.assertEqual(bp.wait_for_bytes(10), b"mark-pxpyp")
        bb.wait_for_eof()
        self.assertEqual(self.wait_session_end(sb.sid)["reason"], "client close")
        # ... but their replies wait behind its reply.
        self.assertTrue(conn.nothing_received_within(0.3), "a reply overtook the held idle before it")
        ba.send(b"A-data")
        replies = [conn.read_response() for _ in range(7)]
        for r in replies[:5] + replies[6:]:
            self.assertReply(r)
        self.assertEqual([r.data for r in replies[:5]] + [replies[6].data],
                         [b"A-data", b"B-data", b"P-data", b"", b"", b""])
        self.assertOk(replies[5], b"\x00")
        self.assertEqual(ba.data(), b"mark-a")
        m = self.scrape()
        self.assertEqual(m.get("worker_requests_handed_over_total", worker=str(p))
                         - m0.get("worker_requests_handed_over_total", worker=str(p)), 4)
        self.assertEqual(m.get("requests_handed_over_total") - m0.get("requests_handed_over_total"), 4)
        self.assertWorkerCounters(m)
        self.assertEqual([m.get("worker_sessions_active", worker=str(w)) for w in range(WORKERS)], [1, 1, 0, 0])
        stats = self.stop_and_stats()
        self.assertStatsSum(stats)
        self.assertEqual((stats["bytes_down"], stats["closed_client_close"]), (18, len(self.probe_sids) + 1))


class GlobalLimitsTest(WorkersTestCase):
    def test_max_sessions_is_exact_across_workers(self):
        self.start_workers(session__max_sessions="3")
        pools = self.by_worker(count=24, settle_to=0)
        conns = [c for w in sorted(pools) for c in pools[w]]
        # Every connection asks at once; the workers race for the last places.
        for c in conns:
            c.send_request("/open/1", b"\x00")
        opened, refused = [], []
        for c in conns:
            r = c.read_response()
            if r.status == 200:
                sid = r.body[:-1].decode()
                self.assertEqual(sid_worker(sid), c.worker)
                opened.append((c, sid))
            else:
                self.assertError(r, 503)
                self.assertEqual(r.body, b"no session available\n")
                refused.append(c)
        self.assertEqual(len(opened), 3, f"{len(opened)} of {len(conns)} opens succeeded with max_sessions 3")
        self.assertGreaterEqual(len({c.worker for c in refused}), 2)
        self.assertTrue(self.gw.wait_until(
            lambda lines: sum("session.max_sessions reached" in line for line in lines) == len(refused), 5))
        m = self.scrape()
        self.assertEqual(m.get("refusals_total", limit="max_sessions"), len(refused))
        self.assertEqual(m.get("sessions_active"), 3)
        self.assertEqual(sum(m.get("worker_sessions_active", worker=str(w)) for w in range(WORKERS)), 3)
        self.assertEqual(len(self.sessions()), 3)
        # One ends (closed through another worker); exactly one more may open, on any worker.
        c0, sid0 = opened[0]
        other = next(c for c in conns if c.worker != c0.worker)
        self.assertOk(other.request(f"/close/{sid0}/0", b"\x00"), b"\x00")
        self.wait_active(2)
        elsewhere = next(c for c in conns if c.worker != c0.worker and c is not other)
        self.open_on(elsewhere)
        r = c0.request("/open/1", b"\x00")
        self.assertError(r, 503)
        m = self.scrape()
        self.assertEqual(m.get("refusals_total", limit="max_sessions"), len(refused) + 1)
        self.assertWorkerCounters(m)
        stats = self.stop_and_stats()
        self.assertStatsSum(stats)
        self.assertEqual((stats["refused_max_sessions"], stats["sessions_opened"], stats["refused_per_client"]),
                         (len(refused) + 1, len(self.probe_sids) + 4, 0))

    def test_max_sessions_per_client_is_exact_across_workers(self):
        self.start_workers(session__max_sessions_per_client="2")
        pools = self.by_worker(count=16, source="127.0.0.1", settle_to=0)
        conns = [c for w in sorted(pools) for c in pools[w]]
        for c in conns:
            c.send_request("/open/1", b"\x00")
        statuses = [c.read_response() for c in conns]
        ok = [c for c, r in zip(conns, statuses) if r.status == 200]
        refused = [(c, r) for c, r in zip(conns, statuses) if r.status != 200]
        self.assertEqual(len(ok), 2, f"{len(ok)} of {len(conns)} opens from one address succeeded with a cap of 2")
        for c, r in refused:
            self.assertError(r, 429)
            self.assertEqual(r.body, b"too many sessions from this address\n")
        self.assertGreaterEqual(len({c.worker for c, _ in refused}), 2)
        self.assertTrue(self.gw.wait_until(
            lambda lines: sum("session.max_sessions_per_client reached" in line for line in lines) == len(refused), 5))
        # Another address has its own two, on whichever workers.
        pools2 = self.by_worker(count=4, want=2, source="127.0.0.2", settle_to=2)
        second = [pools2[w][0] for w in sorted(pools2)][:2]
        for c in second:
            self.open_on(c)
        r = next(c for w in sorted(pools2) for c in pools2[w] if c not in second).request("/open/1", b"\x00")
        self.assertError(r, 429)
        m = self.scrape()
        self.assertEqual(m.get("refusals_total", limit="per_client"), len(refused) + 1)
        self.assertEqual(m.get("refusals_total", limit="max_sessions"), 0)
        self.assertEqual(m.get("sessions_active"), 4)
        clients = sorted(row["client"].rsplit(":", 1)[0] for row in self.sessions())
        self.assertEqual(clients, ["127.0.0.1", "127.0.0.1", "127.0.0.2", "127.0.0.2"])
        self.assertWorkerCounters(m)
        stats = self.stop_and_stats()
        self.assertStatsSum(stats)
        self.assertEqual(stats["refused_per_client"], len(refused) + 1)

    def test_a_closed_sessions_place_is_free_once_its_close_is_answered(self):
        # GATEWAY BUG, left failing on purpose (see the report that came with this file): the /close
        # reply is written to the client (gateway/tunnel/session.cpp:231, and :401 in Session::end)
        # before the session gives back its places under session.max_sessions and
        # session.max_sessions_per_client (Session::end -> Worker::retire -> give_back_admission,
        # session.cpp:410, worker.cpp:478). With one worker nothing can run in between; with several,
        # the client's next /open, on a connection of another worker, can be refused (503 or 429)
        # although the client has no session left: ~10% of the time on loopback, ~65% under ASan.
        self.start_workers(backend=SinkBackend(), session__max_sessions="1", session__max_sessions_per_client="1")
        pools = self.by_worker(count=8, settle_to=0)
        rotation = [pools[w][0] for w in range(WORKERS)]
        rounds, refused = 200, []
        for i in range(rounds):
            a, b = rotation[i % WORKERS], rotation[(i + 1) % WORKERS]
            s = self.open_on(a)
            self.assertOk(s.close(), b"\x00")
            # The client was told its only session is closed: it may open one again, anywhere.
            t, r = open_session(b)
            if r.status == 200:
                self.assertOk(t.close(), b"\x00")
            else:
                self.assertIn(r.status, (429, 503), repr(r))
                refused.append((i, a.worker, b.worker, r.status))
            self.wait_active(0)   # whatever happened, the next round starts from no session
        m = self.scrape()
        self.assertEqual(m.get("refusals_total", limit="max_sessions") + m.get("refusals_total", limit="per_client"),
                         len(refused))
        self.assertWorkerCounters(m)
        self.assertEqual(refused, [], f"{len(refused)} of {rounds} opens right after the client's /close was "
                                      f"answered were refused (round, worker closed on, worker opened on, status)")

    def refused_at_accept(self, conn):
        """True if the gateway closed `conn` without reading: an /open on it gets no reply."""
        try:
            conn.send_request("/open/1", b"\x00")
            r = conn.read_response()
        except (ConnectionClosed, ConnectionResetError, BrokenPipeError):
            conn.counted = False
            return True
        self.assertOk(r)
        conn.worker = sid_worker(r.body[:-1].decode())
        return False

    def test_max_connections_is_exact_across_workers(self):
        limit = 12
        self.start_workers(http__max_connections=str(limit))
        accepted = [self.new_conn() for _ in range(limit)]
        for c in accepted:
            self.probe(c)
        self.assertGreaterEqual(len({c.worker for c in accepted}), 2)
        m = self.scrape()
        self.assertEqual(m.get("connections_open", listener="client"), limit)
        self.assertEqual(sum(m.get("worker_connections_open", worker=str(w)) for w in range(WORKERS)), limit)
        self.assertEqual([m.get("worker_connections_open", worker=str(w)) for w in range(WORKERS)],
                         [sum(c.worker == w for c in accepted) for w in range(WORKERS)])
        # Every connection past the limit is closed at accept, whichever worker takes it.
        extra = [self.new_conn() for _ in range(6)]
        for c in extra:
            c.counted = False
            self.assertTrue(c.wait_closed(timeout=5), "a connection past http.max_connections was kept")
        self.wait_scrape(lambda m: m.get("refusals_total", limit="max_connections") == 6, "6 refused at accept")
        # Three go; eight arrive at once: exactly three are kept.
        for c in accepted[:3]:
            c.close()
        self.wait_scrape(lambda m: m.get("connections_open", listener="client") == limit - 3, "3 connections gone")
        burst = [self.new_conn() for _ in range(8)]
        kept = [c for c in burst if not self.refused_at_accept(c)]
        self.assertEqual(len(kept), 3, f"{len(kept)} of 8 connections kept with 3 places left")
        m = self.scrape()
        self.assertEqual(m.get("refusals_total", limit="max_connections"), 6 + 5)
        self.assertEqual(m.get("connections_open", listener="client"), limit)
        self.assertEqual(m.get("connections_accepted_total"), limit + 3)
        self.assertWorkerCounters(m)
        self.gw.wait_for_log(r"connection refused client=\S+: http\.max_connections reached")
        stats = self.stop_and_stats()
        self.assertStatsSum(stats)
        self.assertEqual((stats["connections_refused"], stats["connections_accepted"]), (11, limit + 3))


class AccessTest(WorkersTestCase):
    def test_bound_session_refuses_another_address_when_handed_over(self):
        xff = "X-Forwarded-For"
        self.start_workers(access__bind_session_to_client="true", access__trusted_proxies=q("127.0.0.3"))
        mine = self.by_worker(source="127.0.0.1")
        theirs = self.by_worker(source="127.0.0.2")
        proxy = self.by_worker(source="127.0.0.3")
        home = mine[0][0]
        s = self.open_on(home)
        owner = home.worker
        m0 = self.scrape()
        # From 127.0.0.2 on every worker: handed over (three) or not (the owner's), refused alike.
        for w in range(WORKERS):
            thief = theirs[w][0]
            r = s.send(b"stolen", conn=thief, seq=0)
            self.assertError(r, 403, f"worker {w}")
            self.assertEqual(r.body, b"session belongs to another address\n")
            self.gw.wait_for_log(rf"http client={re.escape(thief.local_address)} answered 403: "
                                 rf"session sid={re.escape(s.sid)} belongs to 127\.0\.0\.1$")
        # The refused requests used no sequence number: the owner's address carries on, through a
        # connection of another worker.
        helper = mine[(owner + 1) % WORKERS][0]
        self.assertReply(s.send(b"mine", conn=helper, seq=0))
        backend = self.backend_with(b"mine")
        self.assertReply(s.idle(conn=mine[(owner + 2) % WORKERS][0], seq=1))
        self.assertOk(s.close(conn=mine[(owner + 3) % WORKERS][0], with_seq=False), b"\x00")
        backend.wait_for_eof()
        self.assertEqual(backend.data(), b"mine")

        # Behind a trusted proxy the client is the X-Forwarded-For address, and the owner judges it by
        # the header the request carried to the other worker.
        opener = proxy[1][0]
        t, r = open_session(opener, extra_headers=[f"{xff}: 203.0.113.1"])
        self.assertOk(r)
        self.assertEqual(sid_worker(t.sid), 1)
        self.gw.wait_for_log(rf"session open sid={re.escape(t.sid)} client=203\.0\.113\.1 via=127\.0\.0\.3:\d+ ")
        self.assertReply(t.send(b"via-proxy", conn=proxy[2][0], extra_headers=[f"{xff}: 203.0.113.1"]))
        other = proxy[3][0]
        r = t.send(b"stolen", conn=other, seq=1, extra_headers=[f"{xff}: 203.0.113.2"])
        self.assertError(r, 403)
        self.gw.wait_for_log(rf"http client=203\.0\.113\.2 via={re.escape(other.local_address)} answered 403: "
                             rf"session sid={re.escape(t.sid)} belongs to 203\.0\.113\.1$")
        # The proxy's own address is not the client either.
        self.assertError(t.send(b"stolen", conn=proxy[0][0], seq=1), 403)
        self.assertReply(t.send(b"-again", conn=proxy[0][0], seq=1, extra_headers=[f"{xff}: 203.0.113.1"]))
        self.assertEqual(self.backend_with(b"via-proxy").wait_for_bytes(15), b"via-proxy-again")

        m = self.scrape()
        refused = WORKERS + 2
        self.assertEqual(m.get("refusals_total", limit="other_client"), refused)
        # Handed over: the three thieves off the owner's worker, the owner's send, idle and close, and the
        # four requests through the proxy (the open stays where it came).
        self.assertEqual(m.get("requests_handed_over_total") - m0.get("requests_handed_over_total"),
                         (WORKERS - 1) + 3 + 4)
        self.assertWorkerCounters(m)
        stats = self.stop_and_stats()
        self.assertStatsSum(stats)
        self.assertEqual((stats["refused_other_client"], stats["bytes_up"]), (refused, 4 + 15))


class AdminPagesTest(WorkersTestCase):
    def test_sessions_and_metrics_cover_every_worker(self):
        self.start_workers(node__tag=q("n1"))
        pools = self.by_worker()
        sessions = []
        for w in range(WORKERS):
            for k in range(2):
                conn = pools[w][k % len(pools[w])]
                s = self.open_on(conn)
                self.assertTrue(s.sid.startswith("n1."), s.sid)
                # One send through another worker's connection, of a size that tells the sessions apart.
                body = bytes([65 + w]) * (10 * w + k + 1)
                self.assertReply(s.send(body, conn=pools[(w + 1) % WORKERS][0]))
                sessions.append((s, w, len(body)))
        self.wait_active(len(sessions))
        rows = self.sessions()
        self.assertEqual(len(rows), len(sessions), rows)
        by_id = {row["id"]: row for row in rows}
        self.assertEqual(len(by_id), len(rows), "two rows show the same id")
        for s, w, up in sessions:
            shown = "n1." + s.sid[3:11]
            self.assertIn(shown, by_id, f"session {s.sid} of worker {w} is not on /sessions: {rows}")
            row = by_id[shown]
            self.assertEqual((row["worker"], SID_ALPHABET[row["worker"]]), (w, row["id"][3]), row)
            self.assertEqual((row["transport"], row["bytes_up"]), ("rtmpt", up), row)
        text = self.admin_get("/metrics").decode()
        for page in (text, self.admin_get("/sessions").decode()):
            for s, _, _ in sessions:
                self.assertNotIn(s.sid, page, "an admin page shows a whole session id")
        self.promtool(text)
        m = Metrics(text)
        self.assertEqual(m.get("workers"), WORKERS)
        self.assertEqual(m.get("sessions_active"), len(sessions))
        self.assertEqual([m.get("worker_sessions_active", worker=str(w)) for w in range(WORKERS)], [2] * WORKERS)
        conns_per_worker = [sum(1 for c in self.conns if c.worker == w) for w in range(WORKERS)]
        self.assertEqual([m.get("worker_connections_open", worker=str(w)) for w in range(WORKERS)], conns_per_worker)
        self.assertEqual(m.get("connections_open", listener="client"), len(self.conns))
        self.assertEqual(m.get("bytes_total", direction="up"), sum(up for _, _, up in sessions))
        cpu = [m.get("worker_cpu_seconds_total", worker=str(w)) for w in range(WORKERS)]
        self.assertTrue(all(0 <= c < 600 for c in cpu), cpu)
        self.assertEqual(m.get("sessions_opened_total"), len(sessions) + len(self.probe_sids))
        self.assertWorkerCounters(m)
        # Worker 0's sessions end (closed through worker 1's connection): the others' rows stay.
        for s, w, _ in sessions:
            if w == 0:
                self.assertOk(s.close(conn=pools[1][0]), b"\x00")
        m = self.wait_active(len(sessions) - 2)
        self.assertEqual([m.get("worker_sessions_active", worker=str(w)) for w in range(WORKERS)],
                         [0] + [2] * (WORKERS - 1))
        self.assertEqual(sorted(row["worker"] for row in self.sessions()), sorted([1, 2, 3] * 2))
        self.assertWorkerCounters(m)
        self.assertStatsSum(self.stop_and_stats())

    def test_ids_naming_no_worker_are_unknown_sessions(self):
        self.start_workers()
        pools = self.by_worker()
        s = self.open_on(pools[1][0])
        rand = random_part(s.sid)
        bogus = [
            "Z" + rand,                   # a digit, but of no worker of a 4-worker gateway
            SID_ALPHABET[WORKERS] + rand,     # the first digit past the last worker
            "_" + rand,                   # the last digit of all
            rand,                         # 22 characters: no digit at all
            "C" + rand,                   # an existing worker, but not the session's
            "A" * 23,                     # worker 0's, never issued
        ]
        m0 = self.scrape()
        for w in range(WORKERS):
            conn = pools[w][0]
            for n, sid in enumerate(bogus):
                start = len(self.gw.lines)
                r = conn.request(f"/{('send', 'idle', 'close')[n % 3]}/{sid}/0", b"\x00")
                self.assertError(r, 404, f"{sid} on worker {w}")
                self.assertEqual(r.body, b"unknown session\n")
                self.gw.wait_for_log(rf"answered 404: unknown session sid={re.escape(sid)}$", start=start)
        m = self.scrape()
        self.assertEqual(m.get("unknown_session_total") - m0.get("unknown_session_total"), WORKERS * len(bogus))
        # Handed over: only the ids of an existing worker other than the connection's ("C", "A").
        self.assertEqual(m.get("requests_handed_over_total") - m0.get("requests_handed_over_total"),
                         2 * (WORKERS - 1))
        self.assertWorkerCounters(m)
        # The real session was not disturbed.
        self.assertReply(s.send(b"ok", conn=pools[2][0]))
        self.assertEqual(self.backend_with(b"ok").data(), b"ok")
        stats = self.stop_and_stats()
        self.assertStatsSum(stats)
        self.assertEqual(stats["unknown_session"], WORKERS * len(bogus))


class SignalsTest(WorkersTestCase):
    def test_reload_reaches_every_worker(self):
        self.start_workers()
        pools = self.by_worker()
        for w in range(WORKERS):
            r = pools[w][0].request("/fcs/ident2", b"")
            self.assertError(r, 404)
        old = self.open_on(pools[0][0])
        new_port = free_port()
        start = len(self.gw.lines)
        self.gw.write_config(gateway_yaml(self.backend.port, listen=("127.0.0.1:0", f"127.0.0.1:{new_port}"),
                                          process__workers=str(WORKERS), http__ident2=q("gw-7"),
                                          session__max_bytes="4096"))
        self.gw.signal(signal.SIGHUP)
        m = self.gw.wait_for_log(r"reloaded file=\S+ changed=(\S+): ", start=start)
        self.assertEqual(sorted(m.group(1).split(",")), ["http.ident2", "listen", "session.max_bytes"])
        self.gw.wait_for_log(rf"listening on 127\.0\.0\.1:{new_port}$", start=start)
        # The new address is served by every worker.
        fresh = self.by_worker(count=16, port=new_port)
        self.assertEqual(sorted(fresh), list(range(WORKERS)))
        # Every worker answers with the new keys, on connections of either address, old ones included.
        for w in range(WORKERS):
            for conn in (pools[w][0], fresh[w][0]):
                r = conn.request("/fcs/ident2", b"")
                self.assertEqual((r.status, r.body), (200, b"gw-7"), f"worker {w}: {r!r}")
        capped = []
        for w in range(WORKERS):
            s = self.open_on(fresh[w][0])
            body = blob(5000, w)
            # Sent through the next worker's connection: the owner applies its own (new) cap.
            self.assertReply(s.send(body, conn=fresh[(w + 1) % WORKERS][0]))
            capped.append((s, body))
        for s, body in capped:
            end = self.wait_session_end(s.sid)
            self.assertReason(end, "byte limit")
            self.assertEqual(end["up"], 4096)
            self.assertEqual(self.backend_with(body[:64]).wait_for_bytes(4096), body[:4096])
        # The session opened before the reload keeps its configuration: no cap.
        body = blob(5000, 99)
        self.assertReply(old.send(body, conn=fresh[1][0]))
        self.assertEqual(self.backend_with(body[:64]).wait_for_bytes(5000), body)
        self.assertNotIn(f"session end sid={old.sid}", self.gw.log_text())
        m = self.scrape()
        self.assertEqual((m.get("reloads_total"), m.get("reloads_failed_total")), (1, 0))
        self.assertEqual(m.get("sessions_closed_total", reason="byte_limit"), WORKERS)
        self.assertWorkerCounters(m)
        stats = self.stop_and_stats()
        self.assertStatsSum(stats)
        self.assertEqual((stats["reloads"], stats["closed_byte_limit"]), (1, WORKERS))

    def test_drain_reaches_every_worker_and_stats_sum_them(self):
        self.start_workers(backend=ScriptedBackend(echo=True), process__shutdown_timeout=q("30s"))
        pools = self.by_worker()
        rotation = [pools[w][0] for w in range(WORKERS)]
        live = [self.open_on(rotation[w]) for w in range(WORKERS)]
        self.wait_active(WORKERS)
        self.gw.signal(signal.SIGTERM)
        self.gw.wait_for_log(rf"draining sessions={WORKERS}: new sessions refused")
        # Opens are refused on every worker.
        for w in range(WORKERS):
            for conn in pools[w]:
                r = conn.request("/open/1", b"\x00")
                self.assertError(r, 503, f"worker {w}")
                self.assertEqual(r.body, b"shutting down\n")
        refused = sum(len(pools[w]) for w in range(WORKERS))
        self.gw.wait_for_log(r"session refused client=\S+: shutting down")
        m = self.scrape()
        self.assertEqual(m.get("refusals_total", limit="draining"), refused)
        # The live sessions carry on, through connections of other workers (handed over).
        total = 0
        for w, s in enumerate(live):
            payload = blob(2000 + w, w)
            self.assertReply(s.send(payload, conn=rotation[(w + 1) % WORKERS]))
            self.assertEqual(self.drain_over(s, len(payload), [rotation[(w + 2) % WORKERS], rotation[w]]), payload)
            total += len(payload)
        for w, s in enumerate(live):
            self.assertIsNone(self.gw.proc.poll(), "the gateway exited with sessions left")
            self.assertNotIn("drained:", self.gw.log_text())
            self.assertOk(s.close(conn=rotation[(w + 3) % WORKERS]), b"\x00")
        self.gw.wait_for_log(r"drained: every session has ended")
        self.assertEqual(self.wait_gateway_exit(), 0)
        stats = parse_stats(self.gw.lines)
        self.assertStatsSum(stats)
        opened = len(self.probe_sids) + WORKERS
        self.assertEqual((stats["sessions_opened"], stats["closed_client_close"], stats["closed_shutdown"],
                          stats["refused_draining"], stats["bytes_up"], stats["bytes_down"]),
                         (opened, opened, 0, refused, total, total), f"whole stats line: {stats}")


    def test_stop_answers_handed_over_requests_in_flight(self):
        # process.shutdown_timeout is 0 here: SIGTERM ends every session at once.
        self.start_workers(session__idle_hold=q("5s"))
        pools = self.by_worker()
        owned = {w: [self.open_on(pools[w][0]) for _ in range(WORKERS)] for w in range(WORKERS)}
        self.wait_active(WORKERS * WORKERS)
        # Each worker's connection carries one held idle of a session of every worker (its own included).
        carried = {w: [] for w in range(WORKERS)}
        for w in range(WORKERS):
            for k, s in enumerate(owned[w]):
                carried[(w + 1 + k) % WORKERS].append(s)
        for w in range(WORKERS):
            pools[w][0].send_pipelined([(f"/idle/{s.sid}/0", b"\x00") for s in carried[w]])
        requests, _ = self.expected_counts()
        self.wait_scrape(lambda m: m.get("requests_parsed_total") == sum(requests[0]), "every idle read")
        self.assertWorkerCounters()
        self.gw.signal(signal.SIGTERM)
        # Every held idle is answered, in order, whichever worker holds it; then the connection closes.
        for w in range(WORKERS):
            conn = pools[w][0]
            for s in carried[w]:
                r = conn.read_response()
                self.assertIn(r.status, (404, 503), f"worker {w}, idle of {s.sid}: {r!r}")
                self.assertIn(r.body, (b"session ended\n", b"shutting down\n"), r)
            self.assertTrue(conn.wait_closed(), f"worker {w}'s connection stayed open after the stop")
        for w in range(WORKERS):
            for s in owned[w]:
                self.assertReason(self.wait_session_end(s.sid), "shutdown")
        self.assertEqual(self.wait_gateway_exit(), 0)
        stats = parse_stats(self.gw.lines)
        self.assertStatsSum(stats)
        self.assertEqual((stats["closed_shutdown"], stats["sessions_opened"]),
                         (WORKERS * WORKERS, WORKERS * WORKERS + len(self.probe_sids)))


class ChurnTest(WorkersTestCase):
    POOL = 16
    FD_SLACK = 5
    # As test_churn.py: what a leak-free gateway keeps after warm-up waves stays well below this, and a
    # leak of 1 KiB per session over the measured 8000 sessions adds ~8 MiB.
    RSS_SLACK_KIB = 4 * 1024

    def wave(self, pool, size, label, vanish):
        """Opens `size` sessions over the pool (pipelined), then sends and idles each on connections of
        the pool other than its open's; then either closes each on a third one, or (vanish) sends one
        more idle each on new connections that are dropped unread (a FIN on even ones, a reset on odd
        ones), leaving session.idle_timeout to end them. Waits for every session end."""
        start = len(self.gw.lines)
        n = len(pool)
        per = [[] for _ in range(n)]
        for i in range(n):
            k = len(range(i, size, n))
            pool[i].send_raw(b"".join(pool[i].request_bytes("/open/1", b"\x00") for _ in range(k)))
        for i in range(n):
            for _ in range(len(range(i, size, n))):
                r = pool[i].read_response(timeout=30)
                self.assertOk(r, msg=f"wave {label}: {r!r}")
                per[i].append(r.body[:-1].decode())

        def phase(conns, shift, make, check):
            for i in range(n):
                c = conns[(i + shift) % n]
                c.send_raw(b"".join(make(c, sid) for sid in per[i]))
            if check is None:
                return
            for i in range(n):
                c = conns[(i + shift) % n]
                for _ in per[i]:
                    check(c.read_response(timeout=30))

        phase(pool, 1, lambda c, sid: c.request_bytes(f"/send/{sid}/0", C0C1), self.assertReply)
        phase(pool, 2, lambda c, sid: c.request_bytes(f"/idle/{sid}/1", b"\x00"), self.assertReply)
        if vanish:
            gone = [self.new_conn() for _ in range(n)]
            for c in gone:
                self.probe(c)
                c.sure = len(c.paths)
            phase(gone, 3, lambda c, sid: c.request_bytes(f"/idle/{sid}/2", b"\x00"), None)
            for k, c in enumerate(gone):
                if k % 2:
                    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                c.close()
        else:
            phase(pool, 3, lambda c, sid: c.request_bytes(f"/close/{sid}/2", b"\x00"),
                  lambda r: self.assertOk(r, b"\x00"))
        sids = set(sid for p in per for sid in p)
        self.assertEqual(len(sids), size)
        end_rx = re.compile(r" session end sid=(\S+) .* closing because: (.*)$")
        found = {}

        def ended(lines):
            for line in lines[start:]:
                mm = end_rx.search(line)
                if mm and mm.group(1) in sids:
                    found[mm.group(1)] = mm.group(2)
            return len(found) >= size
        self.assertTrue(self.gw.wait_until(ended, 30), f"wave {label}: {len(found)} of {size} sessions ended")
        self.assertEqual(set(found.values()), {"idle timeout" if vanish else "client close"}, f"wave {label}")
        return sids

    def test_churn_over_workers_returns_descriptors_and_memory(self):
        sanitized = sanitized_build(support.BINARY or "")
        # ASan's quarantine keeps freed memory out of reuse: fewer sessions there, and RSS unchecked
        # (LeakSanitizer checks at exit), as test_churn.py does.
        size, waves = (300, 4) if sanitized else (1000, 8)
        self.raise_fd_limit(4 * size + 512)
        self.start_workers(backend=SinkBackend(echo=True), session__idle_timeout=q("1s"))
        pid = self.gw.proc.pid
        pools = self.by_worker(count=self.POOL)
        pool = [c for w in sorted(pools) for c in pools[w]]

        def settled():
            # Every ended session's backend connection has let go (the backend closed its side too), and
            # only the pool's client connections are left.
            return self.wait_scrape(lambda m: (m.get("sessions_active"), m.get("backend_lingering"),
                                               m.get("connections_open", listener="client")) == (0, 0, len(pool)),
                                    "no session, no lingering backend connection, only the pool", timeout=10)

        settled()
        rest = fd_count(pid)
        total = vanished = 0
        for k, label in enumerate(("warm-up 1", "warm-up 2")):
            total += len(self.wave(pool, size, label, vanish=k == 1))
            settled()
            self.assertTrue(wait_until(lambda: fd_count(pid) <= rest, 10.0, interval=0.05),
                            f"after {label} the gateway holds {fd_count(pid)} descriptors, {rest} before")
        vanished += size
        fds_base = fd_count(pid)
        rss_base = proc_status_kib(pid, "VmRSS")
        workers_seen = set()
        for wave in range(waves):
            sids = self.wave(pool, size, str(wave + 1), vanish=wave % 2 == 1)
            total += len(sids)
            vanished += len(sids) if wave % 2 else 0
            workers_seen |= {sid_worker(sid) for sid in sids}
        self.assertEqual(workers_seen, set(range(WORKERS)))
        m = settled()
        self.assertTrue(wait_until(lambda: fd_count(pid) <= fds_base + self.FD_SLACK, 10.0, interval=0.05),
                        f"the gateway holds {fd_count(pid)} descriptors, {fds_base} at the baseline")
        rss_after = proc_status_kib(pid, "VmRSS")
        print(f"\nworkers churn: sessions={total} fds baseline/after={fds_base}/{fd_count(pid)} "
              f"rss_kib baseline/after={rss_base}/{rss_after}{' (sanitizer: RSS not checked)' if sanitized else ''}",
              flush=True)
        if not sanitized:
            self.assertLess(rss_after - rss_base, self.RSS_SLACK_KIB,
                            f"RSS grew by {rss_after - rss_base} KiB over {waves * size} sessions")
        self.assertEqual([m.get("worker_sessions_active", worker=str(w)) for w in range(WORKERS)], [0] * WORKERS)
        self.assertEqual(m.get("connections_open", listener="client"), len(pool))
        opened = total + len(self.probe_sids)
        self.assertEqual(m.get("sessions_opened_total"), opened)
        self.assertEqual((m.get("sessions_closed_total", reason="client_close"),
                          m.get("sessions_closed_total", reason="idle_timeout")), (opened - vanished, vanished))
        self.assertGreater(m.get("requests_handed_over_total"), total)
        self.assertWorkerCounters(m)
        stats = self.stop_and_stats()
        self.assertStatsSum(stats, m)
        self.assertEqual((stats["sessions_opened"], stats["closed_client_close"], stats["closed_idle_timeout"],
                          stats["bytes_up"]), (opened, opened - vanished, vanished, total * len(C0C1)))


class NativeTest(WorkersTestCase):
    def test_native_rtmp_and_rtmpt_on_different_workers(self):
        self.start_workers(backend=ScriptedBackend(echo=True))
        pools = self.by_worker()
        home = pools[0][0]
        s = self.open_on(home)
        tunnel_worker = home.worker
        # Native connections until one lands on another worker than the tunnel's (told by its id).
        natives = []
        for _ in range(16):
            sock = socket.create_connection((self.gw.host, self.gw.port), timeout=5)
            self.addCleanup(sock.close)
            sock.sendall(C0C1)
            self.assertEqual(self.read_exactly(sock, len(C0C1)), C0C1)
            m = self.gw.wait_for_log(NATIVE_OPEN_RE.format(port=sock.getsockname()[1]))
            natives.append((sock, m.group(1)))
            if sid_worker(m.group(1)) != tunnel_worker:
                break
        sock, native_sid = natives[-1]
        native_worker = sid_worker(native_sid)
        self.assertNotEqual(native_worker, tunnel_worker, "16 native connections all landed on the tunnel's worker")
        for extra, sid in natives[:-1]:
            extra.close()
            self.assertEqual(self.wait_session_end(sid)["reason"], "client close")
        # Both at once: the tunnel's requests go through the native connection's worker (handed over).
        via_native = pools[native_worker][0]
        up_native, up_tunnel = bytearray(C0C1), bytearray()
        got_tunnel = bytearray()
        for k in range(6):
            chunk = blob(3000 + k, 100 + k)
            sock.sendall(chunk)
            up_native += chunk
            t = blob(1000 + k, 200 + k)
            r = s.send(t, conn=via_native if k % 2 else pools[(tunnel_worker + k) % WORKERS][0])
            self.assertReply(r)
            got_tunnel += r.data
            up_tunnel += t
            self.assertEqual(self.read_exactly(sock, len(chunk)), chunk)
        got_tunnel += self.drain_over(s, len(up_tunnel) - len(got_tunnel), [via_native, home])
        self.assertEqual(bytes(got_tunnel), bytes(up_tunnel))
        rows = self.sessions()
        self.assertEqual(sorted((r["transport"], r["worker"]) for r in rows),
                         sorted([("rtmp", native_worker), ("rtmpt", tunnel_worker)]), rows)
        for row in rows:
            self.assertEqual(SID_ALPHABET[row["worker"]], row["id"][0], row)
        # A native relay's id is no tunnel's, on its own worker or handed over to it.
        for conn in (via_native, home):
            self.assertError(conn.request(f"/idle/{native_sid}/0", b"\x00"), 404)
        m = self.scrape()
        self.assertEqual(m.get("transport_sessions_opened_total", transport="rtmp"), len(natives))
        self.assertEqual(m.get("transport_bytes_total", transport="rtmp", direction="up"),
                         len(up_native) + (len(natives) - 1) * len(C0C1))
        active = [m.get("worker_sessions_active", worker=str(w)) for w in range(WORKERS)]
        self.assertEqual(active, [1 if w in (native_worker, tunnel_worker) else 0 for w in range(WORKERS)])
        self.assertWorkerCounters(m)
        sock.close()
        end = self.wait_session_end(native_sid)
        self.assertEqual((end["reason"], end["up"], end["down"]), ("client close", len(up_native), len(up_native)))
        self.assertOk(s.close(conn=via_native), b"\x00")
        end = self.wait_session_end(s.sid)
        self.assertEqual((end["reason"], end["up"], end["down"]), ("client close", len(up_tunnel), len(up_tunnel)))
        stats = self.stop_and_stats()
        # Native connections are accepted too; they carry no HTTP request.
        self.assertEqual(stats["connections_accepted"], len(self.conns) + len(natives))
        stats["connections_accepted"] -= len(natives)
        self.assertStatsSum(stats)
        self.assertEqual(stats["unknown_session"], 2)


class SharedPortTest(unittest.TestCase):
    """SO_REUSEPORT lets sockets of one user share a port. The workers' sockets of one address must, but
    nothing else may: overlapping addresses of one gateway, or a second gateway on the same port, are
    refused at start as with a single worker, not silently given a share of the connections."""

    def run_gateway(self, yaml_text, timeout=10):
        with tempfile.TemporaryDirectory(prefix="rtmpt-gw-") as d:
            path = os.path.join(d, "gateway.yaml")
            with open(path, "w") as f:
                f.write(yaml_text)
            return subprocess.run([support.BINARY, "-c", path], capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)

    def test_overlapping_listen_addresses_are_refused(self):
        port = free_port()
        for workers in ("1", str(WORKERS)):
            with self.subTest(workers=workers):
                r = self.run_gateway(gateway_yaml(9, listen=(f"0.0.0.0:{port}", f"127.0.0.1:{port}"),
                                                  process__workers=workers))
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn(f"cannot listen on 127.0.0.1:{port}: Address already in use", r.stderr)

    def test_a_second_gateway_on_the_same_port_is_refused(self):
        port = free_port()
        first = support.GatewayProcess(support.BINARY, gateway_yaml(9, listen=(f"127.0.0.1:{port}",),
                                                                    process__workers=str(WORKERS)))
        self.addCleanup(first.stop)
        first.wait_for_log(r"listening on 127\.0\.0\.1:\d+")
        r = self.run_gateway(gateway_yaml(9, listen=(f"127.0.0.1:{port}",), process__workers=str(WORKERS)))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"cannot listen on 127.0.0.1:{port}: Address already in use", r.stderr)
