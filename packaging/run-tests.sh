#!/usr/bin/env bash
# Installs what the tests need, builds with warnings as errors, and runs every test:
# unit tests (doctest), integration tests against the real binary, end-to-end tests with
# nginx-rtmp, ffmpeg and rtmpdump. Safe to run again: the build directory is reused.
set -euo pipefail
cd "$(dirname "$0")/.."

bash packaging/install-deps.sh

build=${BUILD_DIR:-build}
if [ -d "$build" ]; then
  meson setup --reconfigure "$build" -Dwerror=true
else
  meson setup "$build" -Dwerror=true
fi
ninja -C "$build"
status=0
meson test -C "$build" --print-errorlogs --num-processes 1 "$@" || status=$?
python3 tests/summarize.py "$build/meson-logs/testlog.json" || true
exit $status
