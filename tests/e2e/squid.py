"""A private squid (Debian's squid package) as the clients' forward proxy in end-to-end tests.

Foreground (`squid -N`), one process, every file (config, pid, logs) in its own temporary directory,
listening on a free 127.0.0.1 port, admitting loopback clients only, caching nothing. Started as root it
runs as Debian's unprivileged `proxy` user (cache_effective_user), which owns the directory; started as
anyone else it stays that user. `extra` lines are the proxy setting under test (timeouts, a reply size
cap, a MIME filter). Every wait is bounded.
"""
import os
import pwd
import re
import subprocess
import tempfile
import time

from server_process import read_text, start_listening, terminate

SQUID = "/usr/sbin/squid"
USER = "proxy"

CONF = """\
http_port 127.0.0.1:{port}
visible_hostname rtmpt-e2e
pid_filename {dir}/squid.pid
cache_log {dir}/cache.log
access_log stdio:{dir}/access.log squid
logfile_rotate 0
coredump_dir {dir}
netdb_filename none
pinger_enable off
cache_effective_user {user}
cache deny all
cache_mem 8 MB
shutdown_lifetime 0 seconds
dns_nameservers 127.0.0.1
acl loopback src 127.0.0.0/8
http_access allow loopback
http_access deny all
# The setting under test:
{extra}
"""

# One line of the native access log: time elapsed client code/status bytes method URL user hierarchy type.
ACCESS_LINE = re.compile(r"^\S+\s+(?P<elapsed>\d+) (?P<client>\S+) (?P<code>[A-Z_]+)/(?P<status>\d{3}) "
                         r"(?P<bytes>\d+) (?P<method>\S+) (?P<url>\S+) \S+ (?P<hierarchy>\S+) (?P<type>\S+)")


class Squid:
    """squid -N with CONF and the given extra lines."""

    def __init__(self, extra="", start_timeout=20.0, attempts=5):
        if not os.path.exists(SQUID):
            raise RuntimeError(f"{SQUID} missing: install Debian's squid (packaging/install-deps.sh)")
        self._dir = tempfile.TemporaryDirectory(prefix="e2e-squid-")
        self.dir = self._dir.name
        if os.geteuid() == 0:
            pw = pwd.getpwnam(USER)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.access_log = os.path.join(self.dir, "access.log")
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.extra = extra
        conf = os.path.join(self.dir, "squid.conf")

        def launch(port, stderr):
            with open(conf, "w") as f:
                f.write(CONF.format(port=port, dir=self.dir, user=USER, extra=extra))
            check = subprocess.run([SQUID, "-k", "parse", "-f", conf], capture_output=True, text=True, timeout=30)
            if check.returncode != 0:
                raise RuntimeError(f"squid -k parse refuses the config:\n{check.stdout}{check.stderr}")
            return subprocess.Popen([SQUID, "-N", "-d", "1", "-f", conf], stdin=subprocess.DEVNULL,
                                    stdout=stderr, stderr=stderr)

        try:
            self.proc, self.port = start_listening("squid", launch, self.stderr_path, start_timeout, attempts)
        except BaseException:
            self._dir.cleanup()
            raise

    @property
    def url(self):
        """The value of http_proxy for clients."""
        return f"http://127.0.0.1:{self.port}"

    def user(self):
        """The user the running squid process is, from /proc."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            uid = int(re.search(r"^Uid:\s+(\d+)", f.read(), re.M).group(1))
        return pwd.getpwuid(uid).pw_name

    def requests(self):
        """Every request in the access log, as a dict (code, status (int), bytes (int, headers included),
        method, url, type)."""
        lines = read_text(self.access_log).splitlines()
        out = []
        for line in lines:
            m = ACCESS_LINE.match(line)
            if m:
                d = m.groupdict()
                d["status"], d["bytes"] = int(d["status"]), int(d["bytes"])
                out.append(d)
        return out

    def wait_for(self, predicate, timeout):
        """Waits until predicate(requests) is true (squid writes its log as requests end); bounded."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate(self.requests()):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def stop(self):
        terminate(self.proc, timeout=15.0)
        self._dir.cleanup()
