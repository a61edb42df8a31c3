"""A private nginx with the RTMP module (Debian libnginx-mod-rtmp) for end-to-end tests.

Own prefix in a temporary directory, `daemon off`, a single process, every path (pid, error log, lock)
inside the prefix, listening on a free 127.0.0.1 port. Every wait is bounded.

Optionally (tests/e2e/test_proxy_protocol.py) the listener reads a PROXY v1 header, the application has
allow/deny rules, and the rtmp access log (one line per ended connection, $remote_addr first) goes to a file
in the prefix. Without those options the config is the one every other test has always used.
"""
import os
import re
import subprocess
import tempfile
import time

from server_process import read_text, start_listening, terminate

NGINX = "/usr/sbin/nginx"
RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"

CONF = """\
load_module {module};
daemon off;
master_process off;
worker_processes 1;
pid {prefix}/nginx.pid;
lock_file {prefix}/nginx.lock;
error_log {prefix}/error.log info;
events {{ worker_connections 512; }}
rtmp {{
    server {{
        listen 127.0.0.1:{port}{listen_options};
        chunk_size 4096;{server_extra}
        application live {{
            live on;
            play_restart on;{application_extra}
        }}
    }}
}}
"""


class NginxRtmp:
    """nginx-rtmp with `application live { live on; play_restart on; }` on 127.0.0.1:<port>.

    proxy_protocol: `listen ... proxy_protocol` (nginx-rtmp reads PROXY v1 only; the header's source is then
    the client for its rules and logs). rules: lines added to `application live`, e.g. "allow publish ::1;".
    access_log: write the rtmp access log to self.access_log (read with access_log_lines()).
    """

    def __init__(self, start_timeout=10.0, attempts=5, proxy_protocol=False, rules=(), access_log=False):
        if not os.path.exists(RTMP_MODULE):
            raise RuntimeError(f"{RTMP_MODULE} missing: install libnginx-mod-rtmp")
        self._dir = tempfile.TemporaryDirectory(prefix="e2e-nginx-")
        self.prefix = self._dir.name
        self.error_log = os.path.join(self.prefix, "error.log")
        self.stderr_path = os.path.join(self.prefix, "stderr.log")
        self.access_log = os.path.join(self.prefix, "access.log") if access_log else None
        conf = os.path.join(self.prefix, "nginx.conf")
        listen_options = " proxy_protocol" if proxy_protocol else ""
        server_extra = f"\n        access_log {self.access_log};" if access_log else ""
        application_extra = "".join(f"\n            {rule}" for rule in rules)

        def launch(port, stderr):
            with open(conf, "w") as f:
                f.write(CONF.format(module=RTMP_MODULE, prefix=self.prefix, port=port, listen_options=listen_options,
                                    server_extra=server_extra, application_extra=application_extra))
            return subprocess.Popen([NGINX, "-p", self.prefix + "/", "-c", conf, "-e", self.error_log],
                                    stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr)

        try:
            self.proc, self.port = start_listening("nginx", launch, self.stderr_path, start_timeout, attempts,
                                                   more_text=self.log_text)
        except BaseException:
            self._dir.cleanup()
            raise

    def log_text(self):
        return read_text(self.error_log)

    def access_log_lines(self):
        """The rtmp access log's lines so far (nginx writes a line when a connection ends)."""
        return read_text(self.access_log).splitlines() if self.access_log else []

    def wait_for_access_log(self, predicate, timeout=15.0):
        """Waits until predicate(lines) holds for the access log's lines; returns the lines then (or at the
        deadline)."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.access_log_lines()
            if predicate(lines) or time.monotonic() >= deadline or self.proc.poll() is not None:
                return lines
            time.sleep(0.05)

    def count(self, pattern):
        return len(re.findall(pattern, self.log_text()))

    def wait_for_count(self, pattern, n, timeout=15.0):
        """Waits until `pattern` occurs at least n times in the error log; returns the count."""
        deadline = time.monotonic() + timeout
        while True:
            c = self.count(pattern)
            if c >= n or time.monotonic() >= deadline or self.proc.poll() is not None:
                return c
            time.sleep(0.05)

    def plays(self, name):
        return self.count(r"play: name='%s'" % re.escape(name))

    def publishes(self, name):
        return self.count(r"publish: name='%s'" % re.escape(name))

    def stop(self):
        terminate(self.proc)  # fast shutdown: live connections are simply closed
        self._dir.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
