#!/usr/bin/env bash
# Fuzzes the config loader, the request path (llhttp, routes, the session sequence logic and
# replies), the PROXY protocol header parser and builder, and the gateway itself (its Worker
# between scripted clients and a scripted backend) with libFuzzer under AddressSanitizer,
# UndefinedBehaviorSanitizer and LeakSanitizer.
# Installs what it needs, builds the drivers of tests/fuzz with clang in their own build directory
# (reused), runs each over a fresh copy of its seed corpus with its dictionary for FUZZ_SECONDS
# (default 60) and prints one line per fuzzer. Exits non-zero if any fuzzer found a crash, a leak,
# a hang or a broken property; the input that shows it is kept and named.
#   FUZZ_SECONDS=300 bash packaging/fuzz.sh         # longer runs
#   bash packaging/fuzz.sh fuzz_request             # one fuzzer
#   ./build-fuzz/tests/fuzz/fuzz_request FILE       # replay one input (FUZZ_TRACE=1 shows what it does)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "fuzz: FUZZ_SECONDS must be a whole number of seconds, got '$seconds'" >&2
  exit 2
fi
build=${FUZZ_BUILD_DIR:-build-fuzz}
fuzzers=("$@")
[ "${#fuzzers[@]}" -gt 0 ] || fuzzers=(fuzz_config fuzz_request fuzz_proxy_header fuzz_gateway)

bash packaging/install-deps.sh

if [ -f "$build/build.ninja" ]; then
  meson setup --reconfigure "$build" -Dfuzz=true -Dtests=false >"$build/fuzz-setup.log" 2>&1 ||
    { cat "$build/fuzz-setup.log" >&2; exit 1; }
else
  rm -rf "$build"
  mkdir -p "$build"
  CC=clang-14 CXX=clang++-14 meson setup "$build" -Dfuzz=true -Dtests=false >"$build.setup.log" 2>&1 ||
    { cat "$build.setup.log" >&2; rm -f "$build.setup.log"; exit 1; }
  mv "$build.setup.log" "$build/fuzz-setup.log"
fi
targets=()
for f in "${fuzzers[@]}"; do targets+=("tests/fuzz/$f"); done
ninja -C "$build" "${targets[@]}"

# Reports name source lines; a UBSan report is fatal (the drivers are also built so).
symbolizer=/usr/lib/llvm-14/bin/llvm-symbolizer
[ -x "$symbolizer" ] && export ASAN_SYMBOLIZER_PATH=$symbolizer UBSAN_SYMBOLIZER_PATH=$symbolizer
# Memory: past 2 GiB ASan itself ends the run and libFuzzer keeps the input as a crash. libFuzzer's
# own RSS limit is set above it because its report first profiles the whole heap, which can take
# longer than the run.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:hard_rss_limit_mb=2048:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

work="$build/fuzz-work"
status=0
summary=()
for f in "${fuzzers[@]}"; do
  name=${f#fuzz_}
  seeds="tests/fuzz/corpus/$name"
  dict="tests/fuzz/$name.dict"
  dir="$work/$f"
  rm -rf "$dir"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp -r "$seeds"/. "$dir/corpus/"
  log="$dir/libfuzzer.log"
  echo "fuzz: running $f for ${seconds}s ($(ls "$dir/corpus" | wc -l) seeds, log in $log)"
  rc=0
  # -timeout: one input running this long is a hang, and a finding. The outer timeout only guards
  # against a fuzzer that cannot stop.
  timeout -k 15 $((seconds + 180)) "$build/tests/fuzz/$f" "$dir/corpus" \
    -dict="$dict" \
    -max_total_time="$seconds" \
    -detect_leaks=1 \
    -timeout=25 \
    -rss_limit_mb=3072 \
    -malloc_limit_mb=2048 \
    -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/" \
    >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 runs in \2 s/p' "$log" | tail -1)
  # A crash ends the run before its "Done" line; the final stats still count the executions.
  [ -n "$runs" ] || runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\)/\1 runs/p' "$log" | tail -1)
  findings=$(find "$dir/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
    -o -name 'oom-*' \) | wc -l)
  if [ "$rc" -eq 0 ] && grep -q '^Done [0-9]* runs' "$log" && [ "$findings" -eq 0 ]; then
    summary+=("$f: $runs, no finding")
  else
    status=1
    echo "fuzz: $f FAILED (libFuzzer exit $rc); the end of its log:" >&2
    grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse|INITED)' "$log" | tail -n 60 >&2
    line="$f: FINDING (exit $rc)"
    [ -n "$runs" ] && line+=" after $runs"
    for a in "$dir"/artifacts/crash-* "$dir"/artifacts/leak-* "$dir"/artifacts/timeout-* "$dir"/artifacts/oom-*; do
      [ -e "$a" ] || continue
      line+="; input: $a (replay: $build/tests/fuzz/$f $a)"
    done
    summary+=("$line")
  fi
done

for line in "${summary[@]}"; do echo "$line"; done
exit $status
