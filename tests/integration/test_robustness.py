"""Robustness against hostile or unlucky clients and backends (regressions of review findings).

Linux only: the checks read the gateway's memory, stack and CPU time from /proc/<pid>, and the
kernel's per-socket queues from /proc/net/tcp, so they need no log line to see what happened.
"""
import os
import resource
import socket
import threading
import time
import unittest

from rtmpt_client import ConnectionClosed, HttpConnection, build_request
from scripted_backend import ScriptedBackend, SinkBackend
from support import GatewayTestCase, expected_ok_head, q

KiB = 1024
MiB = 1024 * KiB

TCP_ESTABLISHED = 0x01
TCP_CLOSE_WAIT = 0x08


# --- /proc helpers

def proc_status_kib(pid, key):
    """A `kB` field of /proc/<pid>/status (VmRSS, VmHWM, VmStk...), in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {key} in /proc/{pid}/status")


def proc_cpu_seconds(pid):
    """User plus system CPU time the process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tcp_sockets():
    """{(local_port, remote_port): (state, tx_queue, rx_queue)} of the IPv4 loopback TCP sockets."""
    out = {}
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            local, remote, state, queues = parts[1], parts[2], parts[3], parts[4]
            lip, lport = local.split(":")
            rip, rport = remote.split(":")
            if lip != "0100007F" or rip != "0100007F":
                continue
            tx, rx = queues.split(":")
            out[(int(lport, 16), int(rport, 16))] = (int(state, 16), int(tx, 16), int(rx, 16))
    return out


def wait_until(predicate, timeout, interval=0.02):
    """Polls `predicate` until it is true or `timeout` passes; returns its last value."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        pause.wait(interval)


def local_port(sock):
    return sock.getsockname()[1]


def peer_port(sock):
    return sock.getpeername()[1]


def send_until_stalled(sock, chunks, stall):
    """Sends `chunks` in order until the peer stops taking bytes for `stall` seconds; returns bytes sent."""
    sent = 0
    sock.settimeout(stall)
    try:
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                n = sock.send(view)
                sent += n
                view = view[n:]
    except (socket.timeout, BlockingIOError):
        pass
    return sent


def pattern(i, size):
    """`size` bytes that differ from one index to the next (0..250), so order and loss both show."""
    base = bytes(range(251)) * (size // 251 + 2)
    start = i % 251
    return base[start:start + size]


class Talker:
    """Sends a little data to the gateway every 10 ms from a backend connection, like an RTMP server
    streaming pings and acknowledgements, until stopped."""

    def __init__(self, conn, size=200, interval=0.01):
        self._conn = conn
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(size, interval), daemon=True, name="talker")

    def _run(self, size, interval):
        while not self._stop.is_set() and not self._conn.eof:
            self._conn.send(b"B" * size)
            self._stop.wait(interval)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(2)


class RobustnessTestCase(GatewayTestCase):
    def gateway_side(self, client_sock):
        """(state, tx_queue, rx_queue) of the gateway's end of a client connection, or None once it is gone."""
        return tcp_sockets().get((self.gw.port, local_port(client_sock)))

    def assertCleanEof(self, bc, ports):
        """The gateway ended backend connection `bc` with a FIN (our end sits in CLOSE_WAIT), not a reset.
        `ports`: (our port, the gateway's port) of that connection, taken while it was open."""
        bc.wait_for_eof(timeout=10)
        entry = tcp_sockets().get(ports)
        self.assertFalse(bc.reset, f"the gateway reset the backend connection after {len(bc.data())} bytes")
        self.assertTrue(entry is not None and entry[0] == TCP_CLOSE_WAIT,
                        f"backend connection ended without a clean end of stream (socket {entry}) "
                        f"after {len(bc.data())} bytes")

    def rss_growth_kib(self, baseline_kib, bound_kib, settle):
        """Peak RSS growth of the gateway over `baseline_kib`, watched for `settle` seconds (returns
        early once past `bound_kib`)."""
        pid = self.gw.proc.pid

        def grown():
            return proc_status_kib(pid, "VmHWM") - baseline_kib > bound_kib

        wait_until(grown, settle, interval=0.05)
        return proc_status_kib(pid, "VmHWM") - baseline_kib



class ParseChainTest(RobustnessTestCase):
    """A reply filled by one connection's request lets another, paused, connection go on parsing.
    That must happen on a later turn of the event loop, never from inside the first one's handling:
    a chain of N such connections would otherwise recurse N levels deep (and crash the gateway)."""

    LINKS = 2000
    PIPELINE = 16  # requests that pause a connection before the fixes (its kMaxOutstanding)

    def test_chain_of_released_connections_is_not_parsed_recursively(self):
        n = self.LINKS
        # Client and backend end of every link in this process, and the same again in the gateway.
        self.raise_fd_limit(2 * n + 256)
        # Setting up thousands of links takes longer than the default gap timeout under sanitizers.
        self.start(backend=SinkBackend(), session__idle_hold=q("0ms"), session__sequence_gap_timeout=q("1m"))
        pid = self.gw.proc.pid

        setup = self.connect(timeout=10)
        sids = []
        for start in range(0, n + 1, 200):
            k = min(200, n + 1 - start)
            setup.send_raw(setup.request_bytes("/open/1", b"\x00") * k)
            for _ in range(k):
                r = setup.read_response(timeout=10)
                self.assertOk(r)
                sids.append(r.body[:-1].decode())
        for start in range(0, len(sids), 200):
            batch = sids[start:start + 200]
            setup.send_raw(b"".join(setup.request_bytes(f"/send/{sid}/0", b"\x03") for sid in batch))
            for _ in batch:
                self.assertReply(setup.read_response(timeout=10))
        junk, chain = sids[0], sids[1:]

        # Link i: a send of chain[i] that waits for seq 1, requests of a session with a gap that
        # keep the connection's pipeline full (so it stops parsing), then seq 1 of chain[i+1],
        # which is parsed only once link i's first reply is out.
        links = []
        for i in range(n):
            c = HttpConnection(self.gw.host, self.gw.port, timeout=10)
            self.addCleanup(c.close)
            msg = c.request_bytes(f"/send/{chain[i]}/2", b"\x03")
            msg += c.request_bytes(f"/idle/{junk}/2", b"\x00") * (self.PIPELINE - 1)
            if i + 1 < n:
                msg += c.request_bytes(f"/send/{chain[i + 1]}/1", b"\x03")
            c.send_raw(msg)
            links.append(c)
        # Let the gateway take in every link before pulling the first one.
        ports = {local_port(c.sock) for c in links}

        def all_read():
            socks = tcp_sockets()
            return all(socks.get((self.gw.port, p), (0, 0, 0))[2] == 0 for p in ports)

        wait_until(all_read, 5.0, interval=0.05)
        self.assertIsNone(self.gw.proc.poll(), "gateway died while the chain was set up")
        stack_before = proc_status_kib(pid, "VmStk")

        trigger = self.connect(timeout=10)
        try:
            r = trigger.request(f"/send/{chain[0]}/1", b"\x03", timeout=10)
        except ConnectionClosed:
            self.gw.proc.wait(2)
            self.fail(f"no reply to the request that releases a chain of {n} connections; "
                      f"gateway exit status {self.gw.proc.poll()}")
        self.assertReply(r)
        # Now fill the junk session's gap too, so every request of every link can be answered.
        self.assertReply(setup.request(f"/send/{junk}/1", b"\x03", timeout=10))

        deadline = time.monotonic() + 20
        for i, c in enumerate(links):
            expected = self.PIPELINE + (1 if i + 1 < n else 0)
            for j in range(expected):
                remaining = deadline - time.monotonic()
                self.assertGreater(remaining, 0, f"link {i}: reply {j} not received in time")
                try:
                    r = c.read_response(timeout=remaining)
                except (ConnectionClosed, TimeoutError) as e:
                    self.fail(f"link {i} of {n}: reply {j} of {expected} missing ({e}); "
                              f"gateway exit status {self.gw.proc.poll()}")
                if j == 0 or j == self.PIPELINE:
                    self.assertReply(r, f"link {i}: send of the chain not answered 200: {r!r}")
                elif r.status == 200:
                    self.assertReply(r)
                else:
                    # Retries of one waiting request beyond a few may be refused; still an answer.
                    self.assertError(r, 400)
        stack_after = proc_status_kib(pid, "VmStk")
        self.assertLess(stack_after - stack_before, 512,
                        f"the gateway's stack grew from {stack_before} KiB to {stack_after} KiB while a chain of "
                        f"{n} connections was released: requests were parsed recursively")


class UnreadRepliesTest(RobustnessTestCase):
    """A client that pipelines requests and never reads its replies must not make the gateway buffer
    replies without bound: it stops reading that connection instead."""

    RSS_BOUND_KIB = 64 * 1024

    def test_pipelined_404s_never_read_keep_memory_bounded(self):
        self.start()
        pid = self.gw.proc.pid
        conn = self.connect()
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        baseline = proc_status_kib(pid, "VmRSS")
        chunk = b"POST /x HTTP/1.1\r\n\r\n" * 5000       # 100 KB of requests, each answered 404
        sent = send_until_stalled(conn.sock, (chunk for _ in range(400)), stall=1.0)  # up to 40 MB
        growth = self.rss_growth_kib(baseline, self.RSS_BOUND_KIB, settle=1.0)
        self.assertLess(growth, self.RSS_BOUND_KIB,
                        f"gateway RSS grew by {growth} KiB after {sent} bytes of pipelined requests whose "
                        f"replies were never read")
        # Everyone else is still served.
        self.open()

    def test_retried_cached_idle_never_read_keeps_memory_bounded(self):
        blob = pattern(0, 64 * KiB - 1)  # a full reply: 64 KiB of body with the polling byte
        backend = ScriptedBackend(after_bytes=(1, blob))
        self.start(backend=backend, session__idle_hold=q("0ms"))
        pid = self.gw.proc.pid
        conn = self.connect()
        s = self.open(conn)
        self.assertReply(s.send(b"\x03"))                 # seq 0
        bc = backend.wait_for_connection()
        bc.wait_for_bytes(1)
        bc.wait_sent()
        # Wait until the gateway has read all of it, so one idle carries it all (a large cached reply).
        key = (peer_port(bc.sock), self.backend.port)
        self.assertTrue(wait_until(lambda: tcp_sockets().get(key, (0, 1, 1))[2] == 0 and
                                   tcp_sockets().get((self.backend.port, key[0]), (0, 1, 1))[1] == 0, 5.0),
                        "the gateway did not read the backend's 64 KiB")
        r = s.idle()                                      # seq 1
        self.assertReply(r)
        self.assertEqual(r.data, blob)
        retry = conn.request_bytes(f"/idle/{s.sid}/1", b"\x00")
        retries = 3000                                    # ~200 MB of replies if all were buffered
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        baseline = proc_status_kib(pid, "VmRSS")
        sent = send_until_stalled(conn.sock, (retry * 100 for _ in range(retries // 100)), stall=1.0)
        growth = self.rss_growth_kib(baseline, self.RSS_BOUND_KIB, settle=1.0)
        self.assertLess(growth, self.RSS_BOUND_KIB,
                        f"gateway RSS grew by {growth} KiB after {sent // len(retry)} retries of a cached "
                        f"{len(r.raw)}-byte reply that the client never read")
        self.open()

    def test_client_that_never_reads_is_closed_after_the_write_timeout(self):
        timeout = 2.0
        self.start(http__keepalive_timeout=q("2s"))
        conn = self.connect()
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        t0 = time.monotonic()
        bulk = b"POST /x HTTP/1.1\r\n\r\n" * 5000
        # 4 MB of keep-alive requests, then one without keep-alive: the gateway has no more to read.
        chunks = [bulk] * 40 + [b"POST /x HTTP/1.0\r\n\r\n"]
        send_until_stalled(conn.sock, chunks, stall=0.5)
        limit = 2 * timeout + 1.5

        def closed():
            entry = self.gateway_side(conn.sock)
            return entry is None or entry[0] != TCP_ESTABLISHED

        self.assertTrue(wait_until(closed, limit - (time.monotonic() - t0), interval=0.05),
                        f"the gateway still holds the connection of a client that has read nothing for "
                        f"{time.monotonic() - t0:.1f}s (http.keepalive_timeout {timeout}s)")
        self.open()


class CloseFlushTest(RobustnessTestCase):
    """/close: every byte the client sent before it reaches the backend, in order, then a clean end
    of stream, even when the backend is busy (not reading) and keeps talking meanwhile."""

    def check_close_delivers_everything(self, sends, size, rcvbuf=None, wait_flushed=False):
        backend = ScriptedBackend(read_paused=True, rcvbuf=rcvbuf)
        self.start(backend=backend, session__idle_hold=q("0ms"))
        # A busy backend: it reads nothing until after the /close (or 1.5 s at most, in case the
        # gateway holds send replies back meanwhile).
        timer = threading.Timer(1.5, backend.resume_reading)
        self.addCleanup(timer.cancel)
        conn = self.connect(timeout=10)
        s = self.open(conn)
        bc = backend.wait_for_connection()
        ports = (local_port(bc.sock), peer_port(bc.sock))
        timer.start()
        talker = Talker(bc).start()
        self.addCleanup(talker.stop)
        payloads = [pattern(i, size) for i in range(sends)]
        for p in payloads:
            self.assertReply(s.send(p, timeout=10))
        total = sends * size
        if wait_flushed:
            # The gateway has handed every byte to the kernel: its own output buffer is empty.
            gw_key = (peer_port(bc.sock), backend.port)
            be_key = (backend.port, gw_key[0])

            def in_kernel():
                socks = tcp_sockets()
                return socks.get(gw_key, (0, 0, 0))[1] + socks.get(be_key, (0, 0, 0))[2] >= total

            wait_until(in_kernel, 3.0, interval=0.05)
        self.assertOk(s.close(timeout=10), b"\x00")
        # Still busy, the backend goes on sending after the close before it reads again. (A socket
        # closed with bytes still arriving is reset by the kernel, dropping what it had not sent.)
        for _ in range(3):
            bc.send(b"late" * 50)
            bc.wait_sent()
        backend.resume_reading()
        bc.wait_for_eof(timeout=8)
        talker.stop()
        got = bc.data()
        self.assertEqual(len(got), total, "the backend did not receive every byte sent before /close")
        self.assertEqual(got, b"".join(payloads), "bytes reached the backend out of order or altered")
        self.assertCleanEof(bc, ports)
        bc.close()
        end = self.wait_session_end(s.sid)
        self.assertEqual(end["reason"], "client close")
        self.assertEqual(end["up"], total)

    def test_close_while_backend_busy_and_talking(self):
        self.check_close_delivers_everything(sends=32, size=64 * KiB)           # 2 MiB

    def test_close_after_gateway_flushed_to_kernel_while_backend_talking(self):
        self.check_close_delivers_everything(sends=8, size=64 * KiB, rcvbuf=32 * KiB, wait_flushed=True)


class PipelinedBackpressureTest(RobustnessTestCase):
    """librtmp pipelines its sends on one connection. When the backend stops reading, the gateway must
    stop reading that connection rather than let sends run past the session's sequence window."""

    def test_pipelined_sends_under_backpressure_keep_the_session(self):
        # Past the kernel's socket buffers (about 3 MB on loopback) sends wait; 40 leave more than a
        # sequence window of them waiting, which the gateway must not read ahead into.
        sends, size = 40, 256 * KiB
        backend = ScriptedBackend(read_paused=True, rcvbuf=64 * KiB)
        self.start(backend=backend, session__queue_max_bytes=q("256KiB"), session__idle_hold=q("0ms"))
        conn = self.connect(timeout=10)
        s = self.open(conn)
        bc = backend.wait_for_connection()
        ports = (local_port(bc.sock), peer_port(bc.sock))
        timer = threading.Timer(1.0, backend.resume_reading)   # busy for a second, then reads everything
        self.addCleanup(timer.cancel)
        timer.start()
        payloads = [pattern(i, size) for i in range(sends)]
        wsock = conn.sock.dup()
        self.addCleanup(wsock.close)
        wsock.settimeout(15)
        errors = []

        def writer():
            try:
                for seq, p in enumerate(payloads):
                    wsock.sendall(conn.request_bytes(f"/send/{s.sid}/{seq}", p))
            except OSError as e:
                errors.append(e)

        t = threading.Thread(target=writer, daemon=True)
        t.start()
        for seq in range(sends):
            try:
                r = conn.read_response(timeout=10)
            except (ConnectionClosed, TimeoutError) as e:
                self.fail(f"no reply to pipelined send {seq}: {e}")
            self.assertReply(r, f"pipelined send {seq} not answered 200: {r!r}")
        t.join(10)
        self.assertFalse(errors, f"writing the pipelined sends failed: {errors}")
        total = sends * size
        bc.wait_for_bytes(total, timeout=10)
        self.assertNotRegex(self.gw.log_text(), rf"session end sid={s.sid}", "session ended under backpressure")
        self.assertOk(conn.request(f"/close/{s.sid}/{sends}", b"\x00", timeout=10), b"\x00")
        bc.wait_for_eof(timeout=8)
        self.assertEqual(bc.data(), b"".join(payloads), "bytes reached the backend out of order or altered")
        self.assertCleanEof(bc, ports)
        end = self.wait_session_end(s.sid)
        self.assertEqual(end["reason"], "client close")
        self.assertEqual(end["up"], total)

    def test_close_without_seq_after_pipelined_sends_forwards_them_all(self):
        sends, size = 8, 1 * MiB
        backend = ScriptedBackend(read_paused=True, rcvbuf=64 * KiB)
        self.start(backend=backend, session__queue_max_bytes=q("256KiB"), session__idle_hold=q("0ms"))
        a = self.connect(timeout=10)
        s = self.open(a)
        bc = backend.wait_for_connection()
        ports = (local_port(bc.sock), peer_port(bc.sock))
        self.addCleanup(backend.resume_reading)
        payloads = [pattern(i, size) for i in range(sends)]
        wsock = a.sock.dup()
        self.addCleanup(wsock.close)
        wsock.settimeout(15)
        errors = []

        def writer():
            try:
                for seq, p in enumerate(payloads):
                    wsock.sendall(a.request_bytes(f"/send/{s.sid}/{seq}", p))
            except OSError as e:
                errors.append(e)

        t = threading.Thread(target=writer, daemon=True)
        t.start()
        t.join(10)
        self.assertFalse(t.is_alive(), "the gateway did not take the pipelined sends")
        self.assertFalse(errors, f"writing the pipelined sends failed: {errors}")
        # The gateway has read every pipelined send; the backend has taken only part of them.
        self.assertTrue(wait_until(lambda: (self.gateway_side(a.sock) or (0, 0, 0))[2] == 0, 5.0),
                        "the gateway did not read all pipelined sends")
        b = self.connect(timeout=10)
        b.send_request(f"/close/{s.sid}", b"\x00")
        backend.resume_reading()
        r = b.read_response(timeout=10)
        self.assertOk(r, b"\x00")
        for seq in range(sends):
            try:
                r = a.read_response(timeout=10)
            except (ConnectionClosed, TimeoutError) as e:
                self.fail(f"no reply to pipelined send {seq}: {e}")
            self.assertReply(r, f"pipelined send {seq} before the close not answered 200: {r!r}")
        bc.wait_for_eof(timeout=10)
        got = bc.data()
        total = sends * size
        self.assertEqual(len(got), total, "sends made before /close/<sid> were not all forwarded")
        self.assertEqual(got, b"".join(payloads), "bytes reached the backend out of order or altered")
        self.assertCleanEof(bc, ports)
        end = self.wait_session_end(s.sid)
        self.assertEqual(end["reason"], "client close")
        self.assertEqual(end["up"], total)


class DescriptorExhaustionTest(RobustnessTestCase):
    """Out of file descriptors, accept() fails at once while the listener stays readable: the gateway
    must not spin on it (or flood the log), and must accept again once descriptors are free."""

    def test_emfile_does_not_spin_and_recovers(self):
        self.start()
        pid = self.gw.proc.pid
        try:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (64, 64))
        except (OSError, ValueError) as e:
            self.skipTest(f"cannot lower the gateway's RLIMIT_NOFILE: {e}")
        start_line = len(self.gw.log_text().splitlines())
        clients = []
        for _ in range(80):
            c = socket.create_connection((self.gw.host, self.gw.port), timeout=5)
            self.addCleanup(c.close)
            clients.append(c)
        self.gw.wait_for_log(r"accept", timeout=5, start=start_line)   # it ran out of descriptors
        cpu0 = proc_cpu_seconds(pid)
        threading.Event().wait(2.0)   # a rate, so a fixed window
        cpu = proc_cpu_seconds(pid) - cpu0
        accept_lines = [line for line in self.gw.log_text().splitlines()[start_line:] if "accept" in line]
        self.assertLess(cpu, 0.5, f"gateway used {cpu:.2f}s of CPU in 2s while out of descriptors")
        self.assertLess(len(accept_lines), 50, f"{len(accept_lines)} log lines about accept; first: {accept_lines[:3]}")
        for c in clients:
            c.close()
        # Once the clients are gone, a new one is served again.
        deadline = time.monotonic() + 5
        while True:
            try:
                conn = HttpConnection(self.gw.host, self.gw.port, timeout=2)
                self.addCleanup(conn.close)
                r = conn.request("/open/1", b"\x00", timeout=2)
                break
            except (ConnectionClosed, TimeoutError, OSError) as e:
                if time.monotonic() > deadline:
                    self.fail(f"gateway does not serve a new client after the descriptor shortage: {e}")
                threading.Event().wait(0.1)
        self.assertOk(r)


class ProtocolEdgeTest(RobustnessTestCase):
    def test_upgrade_request_is_refused_without_opening_a_session(self):
        self.start()
        conn = self.connect(style="minimal")
        conn.send_raw(build_request("/open/1", b"\x00", style="minimal", host=f"{self.gw.host}:{self.gw.port}",
                                    extra_headers=["Connection: Upgrade", "Upgrade: websocket"]))
        r = conn.read_response()
        self.assertError(r, 400)
        self.assertTrue(conn.wait_closed(5.0), f"no close right after the 400 (or more bytes): {bytes(conn._buf[:200])!r}")
        # A real open afterwards: its log line orders after anything the refused request logged.
        s = self.open()
        self.gw.wait_for_log(rf"session open sid={s.sid}")
        opens = [line for line in self.gw.log_text().splitlines() if "session open" in line]
        self.assertEqual(len(opens), 1, f"the Upgrade request opened a session: {opens}")

    def test_half_closed_client_still_gets_its_reply(self):
        self.start(session__idle_hold=q("300ms"))
        conn = self.connect()
        s = self.open(conn)
        self.assertReply(s.send(b"\x03"))
        conn.send_request(s.path("idle"), b"\x00")       # held for idle_hold: the backend is silent
        conn.sock.shutdown(socket.SHUT_WR)
        try:
            r = conn.read_response(timeout=3)
        except ConnectionClosed as e:
            self.fail(f"the gateway closed a half-closed connection without the reply it owed: {e}")
        self.assertEqual(r.status, 200, repr(r))
        self.assertIn(r.head, (expected_ok_head(len(r.body)), expected_ok_head(len(r.body), last_on_connection=True)))
        self.assertGreaterEqual(len(r.body), 1)
        self.assertTrue(conn.wait_closed(3.0), "half-closed connection not closed after its last reply")

    def assertAnsweredThenClosed(self, conn, n):
        """`n` requests sent before the client's FIN each get a 200, then the gateway closes."""
        for i in range(n):
            try:
                r = conn.read_response(timeout=5)
            except ConnectionClosed as e:
                self.fail(f"closed after {i} of {n} replies to requests sent before the FIN: {e}")
            self.assertEqual(r.status, 200, repr(r))
        self.assertTrue(conn.wait_closed(3.0), "half-closed connection not closed after its last reply")

    def test_half_close_after_more_pipelined_requests_than_are_read_at_once(self):
        # 12 idles pipelined, then FIN: the connection stops reading at 8 in flight, and the 4
        # behind them are in its buffer when the FIN arrives. All 12 are owed a reply.
        self.start(session__idle_hold=q("200ms"))
        conn = self.connect()
        s = self.open(conn)
        self.assertReply(s.send(b"\x03"))
        conn.send_pipelined([(s.path("idle"), b"\x00") for _ in range(12)])
        conn.sock.shutdown(socket.SHUT_WR)
        self.assertAnsweredThenClosed(conn, 12)
        self.assertNotRegex(self.gw.log_text(), r"mid-request")

    def test_half_close_when_the_buffered_rest_fills_the_pipeline_again(self):
        # Idles to 9 sessions, each held: reading stops at 8 in flight with the 9th buffered.
        # Backend bytes answer the first alone; that resumes reading, which meets the FIN, and the
        # 9th makes 8 in flight again with nothing left buffered. Once the holds end and all are
        # answered, the connection must still close.
        self.start(session__idle_hold=q("2s"), session__coalesce_wait=q("0ms"))
        sessions = []
        for _ in range(9):
            s = self.open()
            self.assertReply(s.send(b"\x03"))
            sessions.append(s)
        first_backend = self.backend.wait_for_connection(0)
        parsed = self.metric("requests_parsed_total")
        conn = self.connect()
        conn.send_pipelined([(s.path("idle"), b"\x00") for s in sessions])
        conn.sock.shutdown(socket.SHUT_WR)
        self.assertTrue(self.wait_metric("requests_parsed_total", parsed + 8), "8 pipelined idles not parsed")
        first_backend.send(b"data")
        self.assertAnsweredThenClosed(conn, 9)


if __name__ == "__main__":
    unittest.main()
