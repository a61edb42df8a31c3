"""One RTMPT request on a keep-alive socket, for the bench scripts: as little work on the client
side as will do, so that the gateway's cost is what the figures show."""


def post(sock, path, body):
    """POSTs `body` to `path` and reads the whole reply; returns (status, body)."""
    sock.sendall(b"POST %s HTTP/1.1\r\nHost: bench\r\nContent-Type: application/x-fcs\r\n"
                 b"Connection: Keep-Alive\r\nContent-Length: %d\r\n\r\n%s" % (path.encode(), len(body), body))
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += _recv(sock)
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in lines[1:] if line.lower().startswith(b"content-length:"))
    while len(rest) < length:
        rest += _recv(sock)
    return int(lines[0].split(b" ", 2)[1]), rest[:length]


def _recv(sock):
    chunk = sock.recv(65536)
    if not chunk:
        raise ConnectionError("the gateway closed the connection")
    return chunk
