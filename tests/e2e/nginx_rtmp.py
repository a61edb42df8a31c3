"""A private nginx with the RTMP module (Debian libnginx-mod-rtmp) for end-to-end tests.

Own prefix in a temporary directory, `daemon off`, a single process, every path (pid, error log, lock)
inside the prefix, listening on a free 127.0.0.1 port. Every wait is bounded.
"""
import os
import re
import subprocess
import tempfile
import time

from server_process import start_listening, terminate

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
        listen 127.0.0.1:{port};
        chunk_size 4096;
        application live {{
            live on;
            play_restart on;
        }}
    }}
}}
"""


class NginxRtmp:
    """nginx-rtmp with `application live { live on; play_restart on; }` on 127.0.0.1:<port>."""

    def __init__(self, start_timeout=10.0, attempts=5):
        if not os.path.exists(RTMP_MODULE):
            raise RuntimeError(f"{RTMP_MODULE} missing: install libnginx-mod-rtmp")
        self._dir = tempfile.TemporaryDirectory(prefix="e2e-nginx-")
        self.prefix = self._dir.name
        self.error_log = os.path.join(self.prefix, "error.log")
        self.proc = None
        self._stderr = None
        conf = os.path.join(self.prefix, "nginx.conf")

        def launch(port):
            with open(conf, "w") as f:
                f.write(CONF.format(module=RTMP_MODULE, prefix=self.prefix, port=port))
            if self._stderr:
                self._stderr.close()
            self._stderr = open(os.path.join(self.prefix, "stderr.log"), "w+")
            return subprocess.Popen([NGINX, "-p", self.prefix + "/", "-c", conf, "-e", self.error_log],
                                    stdin=subprocess.DEVNULL, stdout=self._stderr, stderr=self._stderr)

        try:
            self.proc, self.port = start_listening("nginx", launch, lambda: self.log_text() + self._read_stderr(),
                                                   start_timeout, attempts)
        except BaseException:
            if self._stderr:
                self._stderr.close()
            self._dir.cleanup()
            raise

    def _read_stderr(self):
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read()

    def log_text(self):
        try:
            with open(self.error_log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

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

    def _terminate(self, timeout=10.0):
        terminate(self.proc, timeout)  # fast shutdown: live connections are simply closed
        self._stderr.close()

    def stop(self):
        self._terminate()
        self._dir.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
