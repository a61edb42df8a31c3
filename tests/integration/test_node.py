"""Several nodes: a configured node.tag starts every session id, and a request carrying another node's tag is
answered 404 with a log line that points at the load balancer's routing."""
import re

from rtmpt_client import open_session
from support import SID_PATTERN, UNKNOWN_SID, GatewayTestCase, q


class NodeTagTest(GatewayTestCase):
    def test_tagged_ids_carry_a_whole_session(self):
        self.start(node__tag=q("n1"))
        conn = self.connect()
        s, resp = open_session(conn)
        self.assertOk(resp)
        # The tag, one dot, the 22 random characters, one newline: what librtmp and ffmpeg echo back.
        self.assertRegex(resp.body.decode("latin-1"), r"^n1\." + SID_PATTERN + r"\n$")
        self.gw.wait_for_log(r"session open sid=%s " % re.escape(s.sid))
        backend = self.backend.wait_for_connection()
        self.assertReply(s.send(b"abc"))
        self.assertEqual(backend.wait_for_bytes(3), b"abc")
        self.assertReply(s.idle())
        self.assertOk(s.close(), b"\x00")
        self.assertEqual(self.wait_session_end(s.sid)["reason"], "client close")

    def test_untagged_by_default(self):
        self.start()
        s, resp = open_session(self.connect())
        self.assertOk(resp)
        self.assertRegex(s.sid, "^" + SID_PATTERN + "$")

    def test_another_nodes_session_is_404_and_says_why(self):
        self.start(node__tag=q("n1"))
        conn = self.connect()
        for sid, note in ((f"n2.{UNKNOWN_SID}", "its tag names node n2, this is node n1"),
                          (f"n1.{UNKNOWN_SID}", None), (UNKNOWN_SID, None)):
            with self.subTest(sid=sid):
                start = len(self.gw.lines)
                self.assertError(conn.request(f"/idle/{sid}/0", b"\x00"), 404)
                m = self.gw.wait_for_log(r"answered 404: unknown session sid=%s(.*)$" % re.escape(sid), start=start)
                if note:
                    self.assertIn(note, m.group(1))
                else:
                    self.assertEqual(m.group(1), "")

    def test_untagged_node_names_the_tag_it_got(self):
        self.start()
        self.assertError(self.connect().request(f"/close/n2.{UNKNOWN_SID}/0", b"\x00"), 404)
        self.gw.wait_for_log(r"unknown session sid=n2\.%s \(its tag names node n2, this is an untagged node: "
                             r"check the load balancer's routing\)$" % UNKNOWN_SID)
