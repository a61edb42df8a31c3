"""A private nginx with the RTMP module (Debian libnginx-mod-rtmp) for end-to-end tests.

Own prefix in a temporary directory, `daemon off`, a single process, every path (pid, error log, lock)
inside the prefix, listening on a free 127.0.0.1 port. Every wait is bounded.
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
        self.stderr_path = os.path.join(self.prefix, "stderr.log")
        conf = os.path.join(self.prefix, "nginx.conf")

        def launch(port, stderr):
            with open(conf, "w") as f:
                f.write(CONF.format(module=RTMP_MODULE, prefix=self.prefix, port=port))
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
