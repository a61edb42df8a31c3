"""A scripted stand-in for the RTMP server behind the gateway: a TCP server on 127.0.0.1:0.

Each accepted connection records every byte it receives and whether the gateway closed it (EOF).
Behaviour per test, set at construction:
  echo=True             send back everything received
  on_connect=b"..."     send these bytes as soon as the connection is accepted
  after_bytes=(n, data) send `data` once `n` bytes in total have been received
  close_after=n         close (FIN after anything already queued) once `n` bytes have been received
  read_paused=True      a busy server: accept, but read nothing until resume_reading() is called
  rcvbuf=n              SO_RCVBUF of the accepted connections (set on the listening socket)
  pause_after=n         a server that stalls mid-stream: stop reading once `n` bytes have been received
                        (conn.resume_reading() reads again)
  read_chunk=n, read_interval=s
                        a slow reader (trickle): each read takes at most `n` bytes, then waits `s` seconds
Tests can also drive a connection directly: conn.send(data), conn.close(), conn.abort() (a reset).
Sends go through one writer thread per connection, so a large burst never blocks the recorder and
"send then close" keeps its order. All waits are bounded and use a Condition.
"""
import queue
import selectors
import socket
import struct
import threading
import time

DEFAULT_TIMEOUT = 5.0
_CLOSE = object()
_RESET = object()


class BackendConnection:
    def __init__(self, sock, backend, index):
        self.sock = sock
        self.index = index
        self._backend = backend
        self._cond = threading.Condition()
        self.received = bytearray()
        self.eof = False            # the gateway closed (or reset) its side
        self.reset = False          # a read failed with ECONNRESET (a reset may also read as plain EOF)
        self.closed_by_us = False
        self.reset_by_us = False    # we reset the connection (abort())
        self._after_done = False
        self._closed_after = False
        self._may_read = threading.Event()   # cleared by pause_after, set again by resume_reading()
        self._may_read.set()
        self._stop = threading.Event()
        self._out = queue.Queue()
        self._sent_total = 0
        self._queued_total = 0
        self._reader = threading.Thread(target=self._read_loop, daemon=True, name=f"backend-read-{index}")
        self._writer = threading.Thread(target=self._write_loop, daemon=True, name=f"backend-write-{index}")

    def start(self):
        self._reader.start()
        self._writer.start()
        if self._backend.on_connect:
            self.send(self._backend.on_connect)

    # --- script actions

    def send(self, data):
        """Queues `data` for the gateway (sent in order by the writer thread)."""
        with self._cond:
            self._queued_total += len(data)
        self._out.put(bytes(data))

    def close(self):
        """Half-closes after everything queued is sent (the gateway sees FIN), then keeps recording."""
        self._out.put(_CLOSE)

    def abort(self):
        """Aborts after everything queued is handed to the kernel: SO_LINGER 0 and close, so the
        gateway sees a reset (RST), not an end of stream. Nothing is recorded after it."""
        self._out.put(_RESET)

    def resume_reading(self):
        """Reads again after pause_after stopped this connection's reading."""
        self._may_read.set()

    def wait_sent(self, timeout=DEFAULT_TIMEOUT):
        """Waits until everything queued so far has been handed to the kernel."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._sent_total < self._queued_total:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"backend could not send {self._queued_total - self._sent_total} "
                                         f"bytes to the gateway within {timeout}s")
                self._cond.wait(remaining)

    # --- observations

    def data(self):
        with self._cond:
            return bytes(self.received)

    def wait_for_bytes(self, n, timeout=DEFAULT_TIMEOUT):
        """Waits until at least `n` bytes were received; returns everything received so far."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.received) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.eof and len(self.received) < n):
                    raise AssertionError(f"backend received {len(self.received)} bytes, expected at least {n} "
                                         f"within {timeout}s (eof={self.eof}): {bytes(self.received[:80])!r}")
                self._cond.wait(remaining)
            return bytes(self.received)

    def wait_for_eof(self, timeout=DEFAULT_TIMEOUT):
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self.eof:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"backend connection {self.index} not closed by the gateway within {timeout}s")
                self._cond.wait(remaining)

    # --- threads

    def _read_loop(self):
        b = self._backend
        while True:
            b._reading.wait()
            self._may_read.wait()
            try:
                chunk = self.sock.recv(b.read_chunk or 65536)
            except ConnectionResetError:
                with self._cond:
                    self.reset = True
                chunk = b""
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    # After our own reset nothing more is known about the gateway's side.
                    if not self.reset_by_us:
                        self.eof = True
                    self._cond.notify_all()
                b._notify()
                return
            with self._cond:
                self.received += chunk
                total = len(self.received)
                self._cond.notify_all()
            if b.echo:
                self.send(chunk)
            if b.after_bytes and not self._after_done and total >= b.after_bytes[0]:
                self._after_done = True
                self.send(b.after_bytes[1])
            if b.close_after is not None and not self._closed_after and total >= b.close_after:
                self._closed_after = True
                self.close()
            if b.pause_after is not None and total >= b.pause_after:
                self._may_read.clear()
            if b.read_interval:
                self._stop.wait(b.read_interval)

    def _write_loop(self):
        while True:
            item = self._out.get()
            if item is None:
                return
            if item is _CLOSE:
                try:
                    self.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                with self._cond:
                    self.closed_by_us = True
                    self._cond.notify_all()
                continue
            if item is _RESET:
                with self._cond:
                    self.reset_by_us = True
                    self.closed_by_us = True
                    self._cond.notify_all()
                try:
                    self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    # Wakes our reader (which then stops) without sending anything; close sends the RST.
                    self.sock.shutdown(socket.SHUT_RD)
                except OSError:
                    pass
                self._may_read.set()
                self.sock.close()
                continue
            try:
                self.sock.sendall(item)
            except OSError:
                pass  # the gateway went away; the recorder notes the EOF
            with self._cond:
                self._sent_total += len(item)
                self._cond.notify_all()

    def shutdown(self):
        self._out.put(None)
        self._stop.set()
        self._may_read.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._reader.join(2)
        self._writer.join(2)
        self.sock.close()


class ScriptedBackend:
    def __init__(self, echo=False, on_connect=b"", after_bytes=None, close_after=None, read_paused=False,
                 rcvbuf=None, pause_after=None, read_chunk=None, read_interval=0.0):
        self.echo = echo
        self.on_connect = on_connect
        self.after_bytes = after_bytes
        self.close_after = close_after
        self.pause_after = pause_after
        self.read_chunk = read_chunk
        self.read_interval = read_interval
        self.connections = []
        self._cond = threading.Condition()
        self._lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf is not None:
            # On the listening socket, so accepted connections advertise a window that fits it.
            self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self._reading = threading.Event()
        if not read_paused:
            self._reading.set()
        self._lsock.bind(("127.0.0.1", 0))
        self._lsock.listen(64)
        self._lsock.setblocking(False)
        self.port = self._lsock.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._stopping = False
        self._thread = threading.Thread(target=self._accept_loop, daemon=True, name="backend-accept")
        self._thread.start()

    def resume_reading(self):
        """Ends read_paused: every connection, accepted or to come, reads from now on."""
        self._reading.set()

    def _notify(self):
        with self._cond:
            self._cond.notify_all()

    def _accept_loop(self):
        sel = selectors.DefaultSelector()
        sel.register(self._lsock, selectors.EVENT_READ)
        sel.register(self._wake_r, selectors.EVENT_READ)
        try:
            while not self._stopping:
                for key, _ in sel.select():
                    if key.fileobj is self._wake_r:
                        return
                    try:
                        sock, _ = self._lsock.accept()
                    except BlockingIOError:
                        continue
                    sock.setblocking(True)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    with self._cond:
                        conn = BackendConnection(sock, self, len(self.connections))
                        self.connections.append(conn)
                        self._cond.notify_all()
                    conn.start()
        finally:
            sel.close()

    def wait_for_connection(self, index=0, timeout=DEFAULT_TIMEOUT):
        """The `index`-th accepted connection (0-based), waiting for it if needed."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.connections) <= index:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"gateway made {len(self.connections)} backend connections, "
                                         f"expected at least {index + 1} within {timeout}s")
                self._cond.wait(remaining)
            return self.connections[index]

    def connection_count(self):
        with self._cond:
            return len(self.connections)

    def close(self):
        self._stopping = True
        self._reading.set()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        self._thread.join(2)
        for c in list(self.connections):
            c.shutdown()
        self._lsock.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class RefusedPort:
    """A loopback port with nothing listening: bound (so no one else takes it) but never listen()ed,
    so a connect gets ECONNREFUSED at once."""

    def __init__(self):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]

    def close(self):
        self._sock.close()


class SinkBackend:
    """A backend for many sessions at once: one thread, accepts every connection, reads and discards.

    For tests that need thousands of backend connections, where ScriptedBackend's two threads per
    connection would be too heavy. Records nothing but how many connections it accepted.
    echo=True sends back everything it reads instead of discarding it (buffered per connection,
    written as the gateway takes it).
    """

    def __init__(self, echo=False):
        self.echo = echo
        self._pending = {}  # socket -> bytes read but not yet echoed (echo=True only)
        self._lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._lsock.bind(("127.0.0.1", 0))
        self._lsock.listen(4096)
        self._lsock.setblocking(False)
        self.port = self._lsock.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._lock = threading.Lock()
        self._accepted = 0
        self._socks = set()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="sink-backend")
        self._thread.start()

    def _loop(self):
        sel = selectors.DefaultSelector()
        sel.register(self._lsock, selectors.EVENT_READ)
        sel.register(self._wake_r, selectors.EVENT_READ)
        try:
            while True:
                for key, mask in sel.select():
                    s = key.fileobj
                    if s is self._wake_r:
                        return
                    if s is self._lsock:
                        while True:
                            try:
                                c, _ = self._lsock.accept()
                            except (BlockingIOError, InterruptedError):
                                break
                            except OSError:
                                break  # e.g. out of descriptors: try again on the next wakeup
                            c.setblocking(False)
                            sel.register(c, selectors.EVENT_READ)
                            with self._lock:
                                self._accepted += 1
                                self._socks.add(c)
                        continue
                    if mask & selectors.EVENT_WRITE and not self._flush(sel, s):
                        continue
                    if not mask & selectors.EVENT_READ:
                        continue
                    try:
                        data = s.recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        self._drop(sel, s)
                        continue
                    if self.echo:
                        self._pending.setdefault(s, bytearray()).extend(data)
                        self._flush(sel, s)
        finally:
            sel.close()

    def _flush(self, sel, s):
        """Echoes what is pending on `s` (echo=True); False if `s` failed and was dropped."""
        pending = self._pending.get(s)
        if pending:
            try:
                n = s.send(pending)
            except BlockingIOError:
                n = 0
            except OSError:
                self._drop(sel, s)
                return False
            del pending[:n]
        sel.modify(s, selectors.EVENT_READ | (selectors.EVENT_WRITE if pending else 0))
        return True

    def _drop(self, sel, s):
        sel.unregister(s)
        s.close()
        self._pending.pop(s, None)
        with self._lock:
            self._socks.discard(s)

    def connection_count(self):
        with self._lock:
            return self._accepted

    def close(self):
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        self._thread.join(5)
        with self._lock:
            socks, self._socks = self._socks, set()
        for s in socks:
            s.close()
        self._lsock.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
