#!/usr/bin/env python3
"""Integration tests of rtmpt-gateway: the real binary between a raw RTMPT client and a scripted backend.

    python3 tests/integration/run.py --binary build/gateway/rtmpt-gateway [-k PATTERN] [-q] [--show-log]

Exits non-zero if any test fails. Traffic stays on 127.0.0.1.
"""
import argparse
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True, help="path to the rtmpt-gateway executable")
    ap.add_argument("-k", dest="patterns", action="append", default=None,
                    help="only run tests whose name contains this substring (repeatable)")
    ap.add_argument("-q", "--quiet", action="store_true", help="one character per test instead of one line")
    ap.add_argument("-f", "--failfast", action="store_true")
    ap.add_argument("--show-log", action="store_true", help="print the gateway log of every test")
    args = ap.parse_args()

    binary = os.path.abspath(args.binary)
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        print(f"run.py: {binary} is not an executable file", file=sys.stderr)
        return 2
    os.environ["RTMPT_GATEWAY_BINARY"] = binary
    if args.show_log:
        os.environ["RTMPT_IT_SHOW_LOG"] = "1"

    sys.path.insert(0, HERE)
    import support  # noqa: E402  (after the environment is set)
    support.BINARY = binary
    support.VERBOSE_LOG = args.show_log

    loader = unittest.TestLoader()
    if args.patterns:
        loader.testNamePatterns = [f"*{p}*" for p in args.patterns]
    suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    runner = unittest.TextTestRunner(verbosity=1 if args.quiet else 2, failfast=args.failfast)
    result = runner.run(suite)
    if result.testsRun == 0:
        print("run.py: no tests ran", file=sys.stderr)
        return 1
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
