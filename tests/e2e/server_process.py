"""Starting and stopping the real servers of the end-to-end tests (nginx-rtmp, HAProxy, squid): each in
the foreground, on a free 127.0.0.1 port (or one on another loopback address, e.g. ::1), every wait bounded."""
import signal
import socket
import subprocess
import time

# What a server says when the port it was given was taken after free_port() found it free.
PORT_TAKEN = ("Address already in use", "cannot bind")


def free_port(host="127.0.0.1"):
    """A port the kernel considers free right now (another process may take it before us: callers retry)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def accepts_connections(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def terminate(proc, timeout=10.0):
    """SIGTERM, then SIGKILL if the process has not ended within `timeout`."""
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


def read_text(path):
    """A server's log or stderr file so far ("" before it exists)."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def start_listening(name, launch, stderr_path, start_timeout, attempts=5, more_text=lambda: "", host="127.0.0.1"):
    """Starts a server on a free port and returns (proc, port) once the port accepts connections.

    launch(port, stderr) starts it with its stdout and stderr going to the open file `stderr` (at
    `stderr_path`, truncated for each attempt) and returns its Popen. When it does not come up, what it
    said (that file, then more_text()) decides: a start that failed because the port was taken meanwhile
    is tried again on another port; any other failure raises RuntimeError at once, with that text.
    host: the address the server listens on (the port is found free there, and connected to there).
    """
    text = ""
    for _ in range(attempts):
        port = free_port(host)
        with open(stderr_path, "w") as stderr:
            proc = launch(port, stderr)  # the child holds its own copy of the descriptor
        deadline = time.monotonic() + start_timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if accepts_connections(port, host):
                return proc, port
            time.sleep(0.05)
        terminate(proc)
        text = read_text(stderr_path) + more_text()
        if not any(marker in text for marker in PORT_TAKEN):
            break
    raise RuntimeError(f"{name} did not start listening within {start_timeout}s:\n{text}")
