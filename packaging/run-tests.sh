#!/usr/bin/env bash
# Installs what the tests need and runs every test on a normal build with warnings as errors, then
# on an AddressSanitizer + UndefinedBehaviorSanitizer build (LeakSanitizer included), where any
# report fails the test that triggered it, and the suites that run several workers (suite tsan)
# on a ThreadSanitizer build, where any data race reported fails the test (the gateway exits 66).
# The suites run with four workers (suite workers) are left out of the AddressSanitizer run: the
# code they add to it is the same, and the ThreadSanitizer run is the one that checks threads.
# Suites: unit tests (doctest), integration tests against the real binary, end-to-end tests with
# nginx-rtmp, ffmpeg and rtmpdump, and the clang-format check. Safe to run again: build
# directories are reused. Extra arguments go to every `meson test` run (e.g. --suite unit).
set -euo pipefail
cd "$(dirname "$0")/.."

bash packaging/install-deps.sh

setup() {  # setup DIR OPTIONS...
  local dir=$1
  shift
  if [ -d "$dir" ]; then
    meson setup --reconfigure "$dir" "$@"
  else
    meson setup "$dir" "$@"
  fi
  ninja -C "$dir"
}

build=${BUILD_DIR:-build}
sanitize=${SANITIZE_BUILD_DIR:-build-sanitize}
tsan=${TSAN_BUILD_DIR:-build-tsan}
setup "$build" -Dwerror=true
setup "$sanitize" -Dwerror=true -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false
# The ThreadSanitizer build compiles only what suite tsan runs (the binary and the loop's unit
# tests), unless extra arguments may ask for other suites.
if [ -d "$tsan" ]; then reconfigure=--reconfigure; else reconfigure=; fi
meson setup $reconfigure "$tsan" -Dwerror=true -Dbuildtype=debugoptimized -Db_sanitize=thread -Db_lundef=false
if [ $# -eq 0 ]; then
  ninja -C "$tsan" gateway/rtmpt-gateway tests/unit/gateway/unit_gateway_loop
else
  ninja -C "$tsan"
fi

status=0
meson test -C "$build" --print-errorlogs --num-processes 1 "$@" || status=$?
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
meson test -C "$sanitize" --print-errorlogs --num-processes 1 --no-suite style --no-suite workers "$@" || status=$?
export TSAN_OPTIONS=halt_on_error=0:second_deadlock_stack=1
meson test -C "$tsan" --no-rebuild --print-errorlogs --num-processes 1 --suite tsan "$@" || status=$?
python3 tests/summarize.py "$build/meson-logs/testlog.json" "$sanitize/meson-logs/testlog.json" \
  "$tsan/meson-logs/testlog.json" || true
exit $status
