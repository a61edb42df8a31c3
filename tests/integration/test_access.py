"""Access: allow/deny lists, trusted proxies and X-Forwarded-For, sessions bound to their client,
and giving up root after binding.

Clients pick their source address inside 127.0.0.0/8 (all of it is loopback on Linux), so the
rules see different clients without leaving the machine. Each test checks what the client saw,
the log line and the counter together.
"""
import os
import pwd
import re
import subprocess
import tempfile
import unittest

from lib.gateway_process import GatewayProcess, gateway_yaml
from rtmpt_client import open_session
import support
from support import q

from test_limits import LimitsTestCase

XFF = "X-Forwarded-For"


class AllowDenyTest(LimitsTestCase):
    def test_denied_address_gets_403_and_others_open(self):
        self.start(access__deny=q("127.0.0.2"))
        denied = self.connect(source="127.0.0.2")
        _, r = open_session(denied)
        self.assertError(r, 403)
        self.wait_log(r"session refused client=127\.0\.0\.2:\d+: access\.deny$")
        # The connection stays usable, and other addresses are not affected.
        _, again = open_session(denied)
        self.assertError(again, 403)
        self.open(self.connect(source="127.0.0.3"))
        stats = self.stop_and_stats()
        self.assertStats(stats, refused_access=2, sessions_opened=1)

    def test_allow_list_admits_only_its_networks(self):
        self.start(access__allow='["127.0.0.0/30", "::1"]')
        self.open(self.connect(source="127.0.0.2"))
        _, r = open_session(self.connect(source="127.0.0.5"))
        self.assertError(r, 403)
        self.wait_log(r"session refused client=127\.0\.0\.5:\d+: not in access\.allow$")
        stats = self.stop_and_stats()
        self.assertStats(stats, refused_access=1, sessions_opened=1)

    def test_deny_wins_over_allow(self):
        self.start(access__allow=q("127.0.0.0/8"), access__deny=q("127.0.0.9"))
        _, r = open_session(self.connect(source="127.0.0.9"))
        self.assertError(r, 403)
        self.wait_log(r"session refused client=127\.0\.0\.9:\d+: access\.deny$")
        self.assertStats(self.stop_and_stats(), refused_access=1, sessions_opened=0)

    def test_rules_apply_to_opens_only(self):
        # A denied address can neither open nor reach a session by guessing; ident2 still answers.
        self.start(access__deny=q("127.0.0.2"), http__ident2=q("192.0.2.1"))
        conn = self.connect(source="127.0.0.2")
        r = conn.request("/fcs/ident2", b"")
        self.assertEqual((r.status, r.body), (200, b"192.0.2.1"))
        self.assertStats(self.stop_and_stats(), refused_access=0)


class ForwardedForTest(LimitsTestCase):
    def test_header_of_an_untrusted_peer_is_ignored(self):
        self.start(access__deny=q("198.51.100.7"))
        conn = self.connect()
        s, r = open_session(conn, extra_headers=[f"{XFF}: 198.51.100.7"])
        self.assertOk(r)
        m = self.wait_log(rf"session open sid={re.escape(s.sid)} client=(\S+) transport=rtmpt$")
        self.assertEqual(m.group(1), conn.local_address)
        self.assertStats(self.stop_and_stats(), refused_access=0, forwarded_unreadable=0)

    def test_trusted_proxy_names_the_client_for_rules_limits_and_logs(self):
        self.start(access__trusted_proxies=q("127.0.0.1"), access__deny=q("198.51.100.7"),
                   session__max_sessions_per_client=1)
        proxy = self.connect(source="127.0.0.1")
        _, r = open_session(proxy, extra_headers=[f"{XFF}: 198.51.100.7"])
        self.assertError(r, 403)
        self.wait_log(rf"session refused client=198\.51\.100\.7 via={re.escape(proxy.local_address)}: access\.deny$")

        # Two clients behind the same proxy each get their own per-client allowance.
        a, r = open_session(proxy, extra_headers=[f"{XFF}: 203.0.113.1"])
        self.assertOk(r)
        self.wait_log(rf"session open sid={re.escape(a.sid)} client=203\.0\.113\.1 via=127\.0\.0\.1:\d+ transport=rtmpt$")
        b, r = open_session(proxy, extra_headers=[f"{XFF}: 203.0.113.2"])
        self.assertOk(r)
        _, r = open_session(proxy, extra_headers=[f"{XFF}: 203.0.113.1"])
        self.assertError(r, 429)
        self.wait_log(r"session refused client=203\.0\.113\.1 via=127\.0\.0\.1:\d+: "
                      r"session\.max_sessions_per_client reached$")
        a.close()
        end = self.wait_session_end(a.sid)
        self.assertEqual((end["client"], end["via"]), ("203.0.113.1", proxy.local_address))
        self.assertStats(self.stop_and_stats(), refused_access=1, refused_per_client=1, sessions_opened=2)

    def test_only_the_entries_of_trusted_hops_are_believed(self):
        # The client prepended a denied address itself; the proxy appended the real one.
        self.start(access__trusted_proxies=q("127.0.0.0/8"), access__deny=q("198.51.100.7"))
        s, r = open_session(self.connect(source="127.0.0.1"),
                            extra_headers=[f"{XFF}: 198.51.100.7", f"{XFF}: 203.0.113.5, 127.0.0.4"])
        self.assertOk(r)
        self.wait_log(rf"session open sid={re.escape(s.sid)} client=203\.0\.113\.5 via=127\.0\.0\.1:\d+ transport=rtmpt$")
        self.assertStats(self.stop_and_stats(), refused_access=0, sessions_opened=1)

    def test_unreadable_entry_is_counted_and_the_last_believed_hop_is_the_client(self):
        self.start(access__trusted_proxies=q("127.0.0.1"))
        proxy = self.connect(source="127.0.0.1")
        s, r = open_session(proxy, extra_headers=[f"{XFF}: unknown"])
        self.assertOk(r)
        self.wait_log(r"http client=127\.0\.0\.1:\d+ X-Forwarded-For has an entry that is no address; "
                      r"the client is taken to be 127\.0\.0\.1$")
        self.wait_log(rf"session open sid={re.escape(s.sid)} client={re.escape(proxy.local_address)} transport=rtmpt$")
        self.assertStats(self.stop_and_stats(), forwarded_unreadable=1, sessions_opened=1)


class BoundSessionTest(LimitsTestCase):
    def test_bound_session_refuses_other_addresses_and_carries_on(self):
        self.start(access__bind_session_to_client="true")
        s = self.open(self.connect(source="127.0.0.1"))
        backend = self.backend.wait_for_connection()
        stranger = self.connect(source="127.0.0.2")
        r = s.send(b"stolen", conn=stranger)
        self.assertError(r, 403)
        self.wait_log(rf"http client=127\.0\.0\.2:\d+ answered 403: session sid={re.escape(s.sid)} "
                      r"belongs to 127\.0\.0\.1$")
        # The refused request used no sequence number: the owner carries on with the same one.
        self.assertReply(s.send(b"mine", seq=s.seq - 1))
        backend.wait_for_bytes(4)
        self.assertEqual(backend.data(), b"mine")
        self.assertStats(self.stop_and_stats(), refused_other_client=1)

    def test_unbound_session_follows_its_client_to_a_new_address(self):
        self.start()
        s = self.open(self.connect(source="127.0.0.1"))
        self.assertReply(s.send(b"moved", conn=self.connect(source="127.0.0.2")))
        self.assertEqual(self.backend.wait_for_connection().wait_for_bytes(5), b"moved")
        self.assertStats(self.stop_and_stats(), refused_other_client=0)


class PrivilegeTest(unittest.TestCase):
    """Root is needed to test switching users; as anyone else these tests are skipped."""

    def run_gateway(self, yaml_text, args=("-c",), timeout=10):
        with tempfile.TemporaryDirectory(prefix="rtmpt-gw-") as d:
            path = os.path.join(d, "gateway.yaml")
            with open(path, "w") as f:
                f.write(yaml_text)
            return subprocess.run([support.BINARY, *args, path], capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)

    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_root_without_a_user_refuses_to_start(self):
        yaml_text = gateway_yaml(9, process__allow_root="false")
        r = self.run_gateway(yaml_text)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("refusing to run as root: set process.user", r.stderr)
        self.assertNotIn("listening on", r.stderr, "it bound its listeners before refusing")

    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_root_switches_to_the_configured_user_after_binding(self):
        nobody = pwd.getpwnam("nobody")
        yaml_text = gateway_yaml(9, process__allow_root="false", process__user="nobody")
        with GatewayProcess(support.BINARY, yaml_text) as gw:
            gw.wait_for_log(rf"switched to user nobody \(uid {nobody.pw_uid}, gid {nobody.pw_gid}\)$")
            with open(f"/proc/{gw.proc.pid}/status") as f:
                status = f.read()
            uids = re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()
            gids = re.search(r"^Gid:\s+(.*)$", status, re.M).group(1).split()
            groups = re.search(r"^Groups:\s*(.*)$", status, re.M).group(1).split()
            self.assertEqual(uids, [str(nobody.pw_uid)] * 4)
            self.assertEqual(gids, [str(nobody.pw_gid)] * 4)
            self.assertEqual(groups, [str(nobody.pw_gid)])
            # It still serves: the listener was bound before the switch.
            from rtmpt_client import HttpConnection
            with HttpConnection(gw.host, gw.port) as conn:
                self.assertEqual(conn.request("/fcs/ident2", b"").status, 404)
            self.assertEqual(gw.stop(), 0)

    def test_unknown_user_fails_the_config_test(self):
        r = self.run_gateway(gateway_yaml(9, process__user="no-such-user-rtmpt"), args=("-t", "-c"))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn('process.user: no such user "no-such-user-rtmpt"', r.stderr)

    def test_group_without_user_is_refused(self):
        r = self.run_gateway(gateway_yaml(9, process__group="nogroup"), args=("-t", "-c"))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("process.group: set process.user too", r.stderr)


if __name__ == "__main__":
    unittest.main()
