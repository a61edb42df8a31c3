"""A tiny raw HTTP/RTMPT client over one TCP socket.

It writes requests exactly as given (so tests can pipeline several in one write, mimic a given
client's header spelling, or send garbage) and parses replies strictly: status line, header block kept
byte for byte, body sized by Content-Length only (chunked replies are refused, as librtmp refuses them).
Every read is bounded by a socket timeout.
"""
import re
import select
import socket
import time

DEFAULT_TIMEOUT = 5.0
MAX_HEAD_BYTES = 16 * 1024

# Header spellings of real clients (see /work/shared/rtmpt-reference.md, sections 1 and 2).
STYLES = ("librtmp", "ffmpeg", "flash", "minimal")


class ProtocolError(AssertionError):
    """The server's reply is not well-formed HTTP as our strict clients expect it."""


class ConnectionClosed(AssertionError):
    """The server closed the connection where a reply was expected."""


class Response:
    """One parsed HTTP reply; `head` is the raw header block including the final blank line."""

    def __init__(self, head, body):
        self.head = head
        self.body = body
        lines = head[:-4].decode("latin-1").split("\r\n")
        m = re.fullmatch(r"(HTTP/\d\.\d) (\d{3})(?: (.*))?", lines[0])
        if not m:
            raise ProtocolError(f"bad status line {lines[0]!r}")
        self.version, self.status, self.reason = m.group(1), int(m.group(2)), m.group(3) or ""
        self.headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise ProtocolError(f"bad header line {line!r} in {head!r}")
            self.headers.append((name, value.strip()))

    @property
    def raw(self):
        return self.head + self.body

    def header(self, name):
        """The value of the first header called `name` (case-insensitive), or None."""
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return None

    def header_all(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]

    @property
    def polling(self):
        """The polling byte of a send/idle reply."""
        return self.body[0] if self.body else None

    @property
    def data(self):
        """The backend bytes carried by a send/idle reply (the body after the polling byte)."""
        return self.body[1:]

    def __repr__(self):
        return f"<Response {self.status} head={self.head!r} body={self.body[:64]!r}{'...' if len(self.body) > 64 else ''}>"


def build_request(path, body=b"", method="POST", version="HTTP/1.1", style="librtmp", host="127.0.0.1:80",
                  extra_headers=(), content_length=True):
    """The bytes of one request, with the header spelling of the client named by `style`."""
    if isinstance(body, str):
        body = body.encode()
    h = []
    if style == "librtmp":
        # Lower-case "type"/"length", as librtmp writes them.
        h += [f"Host: {host}", "Accept: */*", "User-Agent: Shockwave Flash", "Connection: Keep-Alive",
              "Cache-Control: no-cache", "Content-type: application/x-fcs"]
        if content_length:
            h.append(f"Content-length: {len(body)}")
    elif style == "ffmpeg":
        h += ["User-Agent: Lavf/59.27.100", "Accept: */*", "Connection: keep-alive", f"Host: {host}",
              "Icy-MetaData: 1", "Content-type: application/x-fcs"]
        if content_length:
            h.append(f"Content-Length: {len(body)}")
    elif style == "flash":
        # Flash Player 10.3 was captured repeating headers within one request.
        h += [f"Host: {host}", "User-Agent: Shockwave Flash", "User-Agent: Shockwave Flash",
              "Accept: */*", "CONNECTION: Keep-Alive", "connection: Keep-Alive",
              "Content-Type: application/x-fcs", "content-type: application/x-fcs", "Pragma: no-cache"]
        if content_length:
            h.append(f"CONTENT-LENGTH: {len(body)}")
    elif style == "minimal":
        h.append(f"Host: {host}")
        if content_length:
            h.append(f"Content-Length: {len(body)}")
    else:
        raise ValueError(style)
    h += list(extra_headers)
    head = f"{method} {path} {version}\r\n" + "".join(x + "\r\n" for x in h) + "\r\n"
    return head.encode("latin-1") + body


class HttpConnection:
    """One client TCP connection to the gateway."""

    def __init__(self, host, port, timeout=DEFAULT_TIMEOUT, style="librtmp", source=None, tls=None):
        """`source`: local address to connect from, e.g. "127.0.0.2" (all of 127/8 is loopback).
        `tls`: an ssl.SSLContext: speak HTTPS (RTMPTS), the handshake done here, for server name localhost."""
        self.host, self.port, self.timeout, self.style = host, port, timeout, style
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname="localhost")
        self.sock.settimeout(timeout)
        self._buf = bytearray()
        self._eof = False

    @property
    def local_address(self):
        ip, port = self.sock.getsockname()[:2]
        return f"{ip}:{port}"

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- writing

    def send_raw(self, data):
        self.sock.sendall(data)

    def request_bytes(self, path, body=b"", **kw):
        kw.setdefault("style", self.style)
        kw.setdefault("host", f"{self.host}:{self.port}")
        return build_request(path, body, **kw)

    def send_request(self, path, body=b"", **kw):
        self.send_raw(self.request_bytes(path, body, **kw))

    def send_pipelined(self, requests):
        """Writes every (path, body) request in one sendall, before reading any reply."""
        self.send_raw(b"".join(self.request_bytes(p, b) for p, b in requests))

    # --- reading

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out waiting for the gateway's reply; got so far: " + repr(bytes(self._buf[:200])))
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("timed out waiting for the gateway's reply; got so far: "
                               + repr(bytes(self._buf[:200]))) from None
        except ConnectionResetError:
            chunk = b""
        finally:
            self.sock.settimeout(self.timeout)
        if not chunk:
            self._eof = True
            raise ConnectionClosed("gateway closed the connection; unparsed bytes: " + repr(bytes(self._buf[:200])))
        self._buf += chunk

    def read_response(self, timeout=None):
        """Reads exactly one reply (pipelined replies stay buffered for the next call)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            end = self._buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self._buf) > MAX_HEAD_BYTES:
                raise ProtocolError("reply header block too large: " + repr(bytes(self._buf[:200])))
            self._fill(deadline)
        head = bytes(self._buf[:end + 4])
        del self._buf[:end + 4]
        resp = Response(head, b"")
        if resp.header("Transfer-Encoding") is not None:
            raise ProtocolError(f"Transfer-Encoding in reply (clients need Content-Length): {head!r}")
        lengths = resp.header_all("Content-Length")
        if len(lengths) != 1 or not re.fullmatch(r"\d+", lengths[0]):
            raise ProtocolError(f"reply without exactly one numeric Content-Length: {head!r}")
        n = int(lengths[0])
        while len(self._buf) < n:
            self._fill(deadline)
        resp.body = bytes(self._buf[:n])
        del self._buf[:n]
        return resp

    def request(self, path, body=b"", timeout=None, **kw):
        self.send_request(path, body, **kw)
        return self.read_response(timeout)

    def nothing_received_within(self, seconds):
        """True if no reply byte arrives within `seconds` (a bounded negative check)."""
        if self._buf or (hasattr(self.sock, "pending") and self.sock.pending()):
            return False
        r, _, _ = select.select([self.sock], [], [], seconds)
        return not r

    def wait_closed(self, timeout=DEFAULT_TIMEOUT):
        """True if the gateway closes the connection (EOF or reset) within `timeout`, with no further bytes."""
        if self._eof:
            return not self._buf
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except ConnectionResetError:
                chunk = b""
            finally:
                self.sock.settimeout(self.timeout)
            if not chunk:
                self._eof = True
                return not self._buf
            self._buf += chunk


class Session:
    """The client side of one RTMPT session: its id and its sequence counter.

    Requests may go over any HttpConnection (a session is not bound to a TCP connection).
    """

    def __init__(self, sid, conn, first_seq=0):
        self.sid = sid
        self.conn = conn
        self.seq = first_seq

    def next_seq(self):
        s = self.seq
        self.seq += 1
        return s

    def path(self, kind, seq=None):
        if seq is None:
            seq = self.next_seq()
        return f"/{kind}/{self.sid}/{seq}"

    def send(self, body, conn=None, seq=None, **kw):
        return (conn or self.conn).request(self.path("send", seq), body, **kw)

    def idle(self, conn=None, seq=None, body=b"\x00", **kw):
        return (conn or self.conn).request(self.path("idle", seq), body, **kw)

    def close(self, conn=None, with_seq=True, **kw):
        path = self.path("close") if with_seq else f"/close/{self.sid}"
        return (conn or self.conn).request(path, b"\x00", **kw)


def open_session(conn, body=b"\x00", first_seq=0, **kw):
    """POST /open/1 and return (Session, Response); the caller checks the reply."""
    resp = conn.request("/open/1", body, **kw)
    sid = resp.body[:-1].decode("latin-1") if resp.status == 200 else None
    return Session(sid, conn, first_seq), resp
