#!/usr/bin/env python3
"""Every way in, end to end: rtmpt://, rtmpts://, rtmp:// and rtmps:// through the gateway to nginx-rtmp.

    python3 tests/e2e/test_transports.py --binary build/gateway/rtmpt-gateway [-v] [--keep]

One port, every protocol: the RTMPT port also takes native RTMP (the first byte tells), and the TLS port takes
RTMPTS and RTMPS alike. ffmpeg publishes and plays rtmp:// on the RTMPT port and rtmpdump plays there (rtmpdump
has no publish mode, and Debian has no other librtmp publisher); ffmpeg publishes and plays rtmpts:// and rtmps://
on the TLS port.

Certificates are made when the test runs (openssl: a CA and a leaf for 127.0.0.1 and localhost). ffmpeg 5.1
cannot verify on rtmpts:// (its -tls_verify and -ca_file do not reach the TLS layer under RTMPT); the test's
own TLS client checks the served chain against the CA instead. Packets are checked as tests/e2e/run.py checks
them: every player's listing an in-order run of the published packets, and the same as a player reading nginx
directly. rtmpdump is left out over TLS: Debian's librtmp 2.4 crashes on rtmpts:// and rtmps:// before it
connects, with any server.

The reload case swaps the certificate files under a flowing stream and sends SIGHUP: the stream goes on
whole, and a new connection is served the new certificate.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import ssl
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))  # tests/, for lib

import run as e2e  # noqa: E402  (Scenario: players, publisher, packet comparison)
from lib import tls_certs  # noqa: E402
from lib.gateway_process import GatewayProcess, gateway_yaml  # noqa: E402

ARGS = argparse.Namespace(binary=None, keep=False)


def served_certificate(port, ca):
    """The DER leaf certificate the gateway serves a new connection (verified against `ca`)."""
    ctx = ssl.create_default_context(cafile=ca)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with ctx.wrap_socket(sock, server_hostname="localhost") as tls:
            return tls.getpeercert(binary_form=True)


def der_of(pem_path):
    """The DER form of the first certificate (the leaf) of a PEM file."""
    with open(pem_path) as f:
        text = f.read()
    end = "-----END CERTIFICATE-----"
    return ssl.PEM_cert_to_DER_cert(text[: text.index(end) + len(end)] + "\n")


class TransportsEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        try:
            e2e.open_stream_fixture(cls, "rtmpt-e2e-tls-")
            cls.certs = os.path.join(cls.tmp, "certs")
            cls.ca = tls_certs.make_ca(cls.certs)
            cls.chain, cls.key = tls_certs.make_leaf(cls.certs)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        e2e.close_stream_fixture(cls)

    def start_gateway(self):
        gw = GatewayProcess(ARGS.binary, gateway_yaml(self.nginx.port) + tls_certs.tls_yaml(self.chain, self.key))
        self.addCleanup(gw.stop)
        m = gw.wait_for_log(r"listening for TLS on (\S+):(\d+)")
        self.tls_port = int(m.group(2))
        self.gw = gw
        return gw

    def rtmpts_url(self, name):
        return f"rtmpts://localhost:{self.tls_port}/live/{name}"

    def rtmps_url(self, name):
        return f"rtmps://localhost:{self.tls_port}/live/{name}"

    def rtmp_url(self, name):
        """Native RTMP on the gateway's RTMPT port."""
        return f"rtmp://127.0.0.1:{self.gw.port}/live/{name}"

    def check_transports(self, expected):
        """The sessions' end lines name their transports: {transport: count}."""
        got = {}
        for t in re.findall(r"session end sid=\S+ .* transport=(\S+) closing because", self.gw.log_text()):
            got[t] = got.get(t, 0) + 1
        return [] if got == expected else [f"sessions by transport {got}, expected {expected}"]

    def direct_url(self, name):
        return f"rtmp://127.0.0.1:{self.nginx.port}/live/{name}"

    def verify_args(self):
        """ffmpeg 5.1 takes -tls_verify and -ca_file for rtmps:// only: through rtmpts:// (rtmp over http over
        tls) the options do not reach the TLS layer ("Option tls_verify not found") and the input fails. So
        the RTMPTS clients here do not verify; the tests/integration TLS cases verify the chain instead."""
        return []

    def test_rtmpts_publish_and_play(self):
        """ffmpeg publishes over RTMPTS; ffmpeg plays over RTMPTS and directly over RTMP."""
        self.start_gateway()
        s = e2e.Scenario(self, "rtmpts")
        s.add_player("ffmpeg", "ffmpeg-rtmpts", self.rtmpts_url(s.name), compare_with="ffmpeg-direct",
                     extra_args=self.verify_args())
        s.add_player("ffmpeg", "ffmpeg-direct", self.direct_url(s.name))
        s.wait_players_connected()
        s.publish(self.rtmpts_url(s.name), extra_args=self.verify_args())
        s.wait_players_exit()
        s.check_gateway_sessions(expected=2)
        s.problems += self.check_transports({"rtmpts": 2})
        s.check_outputs(lossy_publisher=True)
        handshakes = len(re.findall(r"tls client=", self.gw.log_text()))
        print(f"\n[rtmpts] publisher and player over TLS; handshake failures logged: {handshakes}", file=sys.stderr,
              flush=True)
        s.finish()

    def test_rtmps_publish_and_play(self):
        """ffmpeg publishes over RTMPS (native RTMP inside TLS, on the TLS port); ffmpeg plays over RTMPS and
        directly. ffmpeg verifies the gateway's certificate against the test CA here."""
        self.start_gateway()
        s = e2e.Scenario(self, "rtmps")
        verify = ["-tls_verify", "1", "-ca_file", self.ca]
        s.add_player("ffmpeg", "ffmpeg-rtmps", self.rtmps_url(s.name), compare_with="ffmpeg-direct",
                     extra_args=verify)
        s.add_player("ffmpeg", "ffmpeg-direct", self.direct_url(s.name))
        s.wait_players_connected()
        s.publish(self.rtmps_url(s.name), extra_args=verify)
        s.wait_players_exit()
        s.check_gateway_sessions(expected=2)
        s.problems += self.check_transports({"rtmps": 2})
        s.check_outputs(lossy_publisher=False)
        s.finish()

    def test_rtmp_on_the_rtmpt_port(self):
        """ffmpeg publishes native RTMP to the gateway's RTMPT port; ffmpeg and rtmpdump play native RTMP there,
        an ffmpeg player uses RTMPT on the same port, and one plays directly."""
        self.start_gateway()
        s = e2e.Scenario(self, "native")
        s.add_player("ffmpeg", "ffmpeg-rtmp", self.rtmp_url(s.name), compare_with="ffmpeg-direct")
        s.add_player("rtmpdump", "rtmpdump-rtmp", self.rtmp_url(s.name), compare_with="ffmpeg-direct")
        s.add_player("ffmpeg", "ffmpeg-rtmpt", f"rtmpt://127.0.0.1:{self.gw.port}/live/{s.name}",
                     compare_with="ffmpeg-direct")
        s.add_player("ffmpeg", "ffmpeg-direct", self.direct_url(s.name))
        s.wait_players_connected()
        s.publish(self.rtmp_url(s.name))
        s.wait_players_exit()
        s.check_gateway_sessions(expected=4)
        s.problems += self.check_transports({"rtmp": 3, "rtmpt": 1})
        s.check_outputs(lossy_publisher=True)
        s.finish()

    def test_certificate_swapped_by_sighup_while_streaming(self):
        """A renewal: new files in place, SIGHUP. The live stream over TLS goes on; new connections get the new
        certificate; a pair that does not match is refused whole and the running one stays."""
        gw = self.start_gateway()
        self.assertEqual(served_certificate(self.tls_port, self.ca), der_of(self.chain))
        s = e2e.Scenario(self, "renewal")
        s.add_player("ffmpeg", "ffmpeg-rtmpts", self.rtmpts_url(s.name), compare_with="ffmpeg-direct",
                     extra_args=self.verify_args())
        s.add_player("ffmpeg", "ffmpeg-direct", self.direct_url(s.name))
        s.wait_players_connected()
        s.start_publish(self.rtmpts_url(s.name), extra_args=self.verify_args())
        s.wait_publishing()

        old_der = der_of(self.chain)
        new_chain, new_key = tls_certs.make_leaf(self.certs, name="renewed")
        # certbot-style: the configured paths now hold the renewed pair.
        shutil.copy(new_chain, self.chain + ".new")
        shutil.copy(new_key, self.key + ".new")
        os.replace(self.key + ".new", self.key)
        os.replace(self.chain + ".new", self.chain)
        start = len(gw.lines)
        gw.signal(signal.SIGHUP)
        gw.wait_for_log(r"reloaded file=", start=start)
        served = served_certificate(self.tls_port, self.ca)
        if served == old_der or served != der_of(new_chain):
            s.problems.append("a connection after the reload was not served the renewed certificate")

        # A key that does not match: the whole reload is refused and the renewed pair stays in use.
        _, stray_key = tls_certs.make_leaf(self.certs, name="stray")
        shutil.copy(self.key, self.key + ".good")
        shutil.copy(stray_key, self.key + ".new")
        os.replace(self.key + ".new", self.key)
        start = len(gw.lines)
        gw.signal(signal.SIGHUP)
        gw.wait_for_log(r"reload refused: tls: .*does not match the certificate", start=start)
        if served_certificate(self.tls_port, self.ca) != der_of(new_chain):
            s.problems.append("a refused reload changed the certificate in use")
        os.replace(self.key + ".good", self.key)

        s.wait_publish()
        s.wait_players_exit()
        s.check_gateway_sessions(expected=2, expected_problems=r"reload refused")
        s.check_outputs(lossy_publisher=True)
        print("\n[renewal] certificate swapped by SIGHUP mid-stream; new connections got the renewed one; "
              "a mismatched key was refused", file=sys.stderr, flush=True)
        s.finish()


def main():
    return e2e.run_tests(__doc__, ARGS, ("ffmpeg", "openssl", "/usr/sbin/nginx"))


if __name__ == "__main__":
    sys.exit(main())
