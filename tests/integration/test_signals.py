"""Signals: SIGHUP reloads the config file (new sessions only, invalid files refused, listen addresses
moved without a gap); SIGTERM and SIGINT drain (opens refused, live sessions run on up to
process.shutdown_timeout, then end); every case checks the client's view, the log and the counters."""
import json
import re
import signal
import socket

from lib.gateway_process import gateway_yaml
from support import GatewayTestCase, parse_stats, q


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SignalTestCase(GatewayTestCase):
    def config(self, listen=None, **overrides):
        """The YAML the gateway was started with, with other keys; `listen` replaces the address list."""
        text = gateway_yaml(self.backend.port, **overrides)
        if listen is not None:
            # The first line is the public `listen`; admin.listen further down keeps its value.
            text = text.replace('listen: ["127.0.0.1:0"]', "listen: [" + ", ".join(q(a) for a in listen) + "]", 1)
        return text

    def reload(self, yaml_text, expect):
        """Writes the file, sends SIGHUP, and returns the match of the log line `expect` that follows."""
        start = len(self.gw.lines)
        self.gw.write_config(yaml_text)
        self.gw.signal(signal.SIGHUP)
        return self.gw.wait_for_log(expect, start=start)

    def exchange(self, session, payload, backend):
        """One send through the session, checked at the backend; one echo back through an idle."""
        self.assertReply(session.send(payload))
        backend.wait_for_bytes(len(payload))
        backend.send(payload[::-1])
        data, _ = self.drain(session, len(payload))
        self.assertEqual(data, payload[::-1])


class ReloadTest(SignalTestCase):
    def test_new_sessions_get_the_new_config_live_ones_keep_theirs(self):
        self.start()
        before = self.open()
        b_before = self.backend.wait_for_connection(0)
        m = self.reload(self.config(session__max_lifetime=q("1500ms")), r"reloaded file=\S+ changed=(\S+): ")
        self.assertEqual(m.group(1), "session.max_lifetime")
        after = self.open()
        b_after = self.backend.wait_for_connection(1)
        self.exchange(after, b"new", b_after)
        # The session opened after the reload ends at its lifetime; the older one, opened under
        # the old (unlimited) lifetime, is older still and lives on.
        self.assertReason(self.wait_session_end(after.sid), "max lifetime")
        self.exchange(before, b"still here", b_before)
        self.assertNotIn(f"session end sid={before.sid}", self.gw.log_text())
        stats = self.stop_and_stats()
        self.assertEqual((stats["reloads"], stats["reloads_failed"]), (1, 0))
        self.assertEqual(stats["closed_max_lifetime"], 1)

    def test_invalid_file_is_refused_and_the_old_config_stays(self):
        self.start()
        s = self.open()
        start = len(self.gw.lines)
        bad = self.config(session__idle_timout=q("5s"), session__max_sessions="0")
        self.reload(bad, r"reload refused: \d+ error\(s\) in \S+; the running configuration stays")
        errors = [line for line in self.gw.lines[start:] if "reload refused: " in line]
        # Each error names file:line and the key, like `-t` does.
        self.assertTrue(any(re.search(r"gateway\.yaml:\d+: session\.idle_timout: unknown key", e) for e in errors),
                        errors)
        self.assertTrue(any(re.search(r"gateway\.yaml:\d+: session\.max_sessions: must be between", e)
                            for e in errors), errors)
        # Still serving, with the old settings: the live session and new opens work.
        self.exchange(s, b"abc", self.backend.wait_for_connection(0))
        self.open()
        stats = self.stop_and_stats()
        self.assertEqual((stats["reloads"], stats["reloads_failed"]), (0, 1))

    def test_listen_address_moves_without_a_gap(self):
        self.start()
        old_port = self.gw.port
        kept = self.connect()  # a keep-alive connection accepted on the old address
        s = self.open(kept)
        new_port = free_port()
        start = len(self.gw.lines)
        self.reload(self.config(listen=[f"127.0.0.1:{new_port}"]), r"reloaded file=\S+ changed=listen: ")
        lines = self.gw.lines[start:]
        opened = next(i for i, line in enumerate(lines) if f"listening on 127.0.0.1:{new_port}" in line)
        closed = next(i for i, line in enumerate(lines) if f"no longer listening on 127.0.0.1:{old_port}" in line)
        self.assertLess(opened, closed, "the old address closed before the new one was open")
        self.assertNotIn("admin.listen changed", self.gw.log_text())
        # The connection accepted before carries on; the new address takes new connections.
        self.exchange(s, b"kept", self.backend.wait_for_connection(0))
        self.gw.port = new_port
        self.open(self.connect())
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", old_port), timeout=5).close()
        self.assertEqual(self.stop_and_stats()["reloads"], 1)

    def test_unusable_listen_address_refuses_the_whole_reload(self):
        self.start()
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            self.reload(self.config(listen=[f"127.0.0.1:{port}"], session__max_lifetime=q("1s")),
                        r"reload refused: cannot listen on every address of \S+; the running configuration stays")
        s = self.open()  # the old listener still serves
        self.exchange(s, b"x", self.backend.wait_for_connection(0))
        self.assertNotIn("no longer listening", self.gw.log_text())
        stats = self.stop_and_stats()
        self.assertEqual((stats["reloads"], stats["reloads_failed"], stats["closed_max_lifetime"]), (0, 1, 0))

    def test_listen_host_names_need_a_restart(self):
        self.start()
        self.reload(self.config(listen=[f"localhost:{free_port()}"]),
                    r"reload refused: cannot listen on every address")
        self.assertIn("a reload takes IP addresses only; restart to use a name", self.gw.log_text())
        self.open()
        self.assertEqual(self.stop_and_stats()["reloads_failed"], 1)

    def test_binding_turned_on_spares_sessions_opened_before(self):
        self.start()
        before = self.open(self.connect(source="127.0.0.1"))
        self.reload(self.config(access__bind_session_to_client="true"), r"changed=access.bind_session_to_client: ")
        after = self.open(self.connect(source="127.0.0.1"))
        elsewhere = self.connect(source="127.0.0.2")
        # The session opened before the reload keeps answering any address, as it did.
        self.assertReply(before.idle(conn=elsewhere))
        r = after.idle(conn=elsewhere)
        self.assertError(r, 403)
        self.assertEqual(r.body, b"session belongs to another address\n")
        self.assertEqual(self.stop_and_stats()["refused_other_client"], 1)

    def test_signals_while_stopping_do_not_kill(self):
        self.start(process__shutdown_timeout=q("1s"))
        self.open()
        self.backend.wait_for_connection(0)
        self.gw.signal(signal.SIGTERM)
        self.gw.wait_for_log(r"shutting down: 1 sessions", timeout=10)
        # Within the last 200ms the gateway gives its replies: a reload or stop signal now is ignored.
        self.gw.signal(signal.SIGHUP)
        self.gw.signal(signal.SIGTERM)
        self.assertEqual(self.wait_gateway_exit(), 0)
        self.assertEqual(parse_stats(self.gw.lines)["closed_shutdown"], 1)

    def test_identity_keys_wait_for_a_restart(self):
        self.start()
        m = self.reload(self.config(process__user=q("nobody"), session__idle_hold=q("0ms")),
                        r"reloaded file=\S+ changed=(\S+): ")
        self.assertEqual(m.group(1), "session.idle_hold")
        self.assertIn("reload: process.user changed but applies only at the next start", self.gw.log_text())
        self.assertEqual(self.stop_and_stats()["reloads"], 1)

    def test_log_format_changes_on_reload(self):
        self.start()
        self.reload(self.config(log__format="json"), r'"event":"reloaded".*"changed":"log.format"')
        start = len(self.gw.lines)
        s = self.open()
        self.gw.wait_for_log(r'"event":"session open"', start=start)
        s.close()
        self.gw.wait_for_log(r'"event":"session end"', start=start)
        self.stop_gateway()
        for line in self.gw.lines[start:]:
            obj = json.loads(line)  # every line after the reload is one JSON object
            self.assertIn(obj["level"], ("debug", "info", "warn", "error"))
            self.assertRegex(obj["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class DrainTest(SignalTestCase):
    def test_sessions_run_on_and_new_opens_are_refused(self):
        self.start(process__shutdown_timeout=q("30s"))
        s = self.open()
        backend = self.backend.wait_for_connection(0)
        self.gw.signal(signal.SIGTERM)
        self.gw.wait_for_log(r"draining sessions=1: new sessions refused")
        r = self.connect().request("/open/1", b"\x00")
        self.assertError(r, 503)
        self.assertEqual(r.body, b"shutting down\n")
        self.gw.wait_for_log(r"session refused client=\S+: shutting down")
        # The live session carries on, on its old connection and on new ones.
        self.exchange(s, b"during drain", backend)
        s.conn = self.connect()
        self.exchange(s, b"new connection", backend)
        self.assertOk(s.close(), b"\x00")
        self.gw.wait_for_log(r"drained: every session has ended")
        self.assertEqual(self.wait_gateway_exit(), 0)
        stats = parse_stats(self.gw.lines)
        self.assertEqual((stats["refused_draining"], stats["closed_client_close"], stats["closed_shutdown"]),
                         (1, 1, 0))

    def test_shutdown_timeout_ends_what_is_left(self):
        self.start(process__shutdown_timeout=q("1s"))
        s = self.open()
        self.backend.wait_for_connection(0)
        self.gw.signal(signal.SIGINT)
        self.gw.wait_for_log(r"draining sessions=1")
        self.assertReason(self.wait_session_end(s.sid, timeout=10), "shutdown")
        self.gw.wait_for_log(r"process.shutdown_timeout reached: ending 1 sessions")
        self.assertEqual(self.wait_gateway_exit(), 0)
        self.assertEqual(parse_stats(self.gw.lines)["closed_shutdown"], 1)

    def test_second_signal_ends_sessions_at_once(self):
        self.start(process__shutdown_timeout=q("1h"))
        s = self.open()
        self.backend.wait_for_connection(0)
        self.gw.signal(signal.SIGTERM)
        self.gw.wait_for_log(r"draining sessions=1")
        self.gw.signal(signal.SIGTERM)
        self.gw.wait_for_log(r"second stop signal: ending 1 sessions now")
        self.assertReason(self.wait_session_end(s.sid), "shutdown")
        self.assertEqual(self.wait_gateway_exit(), 0)

    def test_no_sessions_stops_at_once(self):
        self.start(process__shutdown_timeout=q("1h"))
        self.gw.signal(signal.SIGTERM)
        self.assertEqual(self.wait_gateway_exit(), 0)
        self.assertNotIn("draining sessions=", self.gw.log_text())
        self.assertEqual(parse_stats(self.gw.lines)["sessions_opened"], 0)

    def test_reload_during_drain_is_ignored(self):
        self.start(process__shutdown_timeout=q("30s"))
        s = self.open()
        self.backend.wait_for_connection(0)
        self.gw.signal(signal.SIGTERM)
        self.gw.wait_for_log(r"draining sessions=1")
        self.reload(self.config(session__max_lifetime=q("1s")), r"reload ignored: shutting down")
        self.assertOk(s.close(), b"\x00")
        self.assertEqual(self.wait_gateway_exit(), 0)
        self.assertEqual(parse_stats(self.gw.lines)["reloads"], 0)
