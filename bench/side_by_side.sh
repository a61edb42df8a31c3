#!/usr/bin/env bash
# Runs the gateway and plain nginx side by side under rtmpt-load, in one sitting, and prints one
# table with ratios.  See bench/README.md ("Load: side by side with plain nginx").
#
#   bench/side_by_side.sh [-b GATEWAY_BIN] [-l RTMPT_LOAD_BIN] [-d SECONDS] [-s "1 100 1000"]
#                         [-m "idle echo download"] [-r REFERENCE_GATEWAY_BIN] [-w WARMUP] [-t TRIES] [-k]
#                         [-W WORKERS] [-u]
#
# The server under test runs alone on CPU 0; the load generator and the backend share CPU 1
# (-u: nothing pinned, the scheduler places everything).
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GW_BIN=$ROOT/build/gateway/rtmpt-gateway
LOAD_BIN=$ROOT/build/bench/rtmpt-load
REF_BIN=
DURATION=5
WARMUP=1
SESSIONS="1 100 1000"
MODES="idle echo download"
KEEP=0
TRIES=2
WORKERS= # process.workers; empty: the gateway's default (one per CPU it may run on)
UNPINNED=0
OTHER_MAX=10 # % of a CPU used by other processes in a row's window past which the row is doubtful
NGINX=${NGINX:-/usr/sbin/nginx}
SERVER_CPU=0
LOAD_CPU=1
CMDLINE=$(printf '%q ' "$0" "$@")

usage() {
    cat <<EOF
usage: $0 [-b GATEWAY_BIN] [-l RTMPT_LOAD_BIN] [-d SECONDS] [-s "1 100 1000"]
          [-m "idle echo download"] [-r REFERENCE_GATEWAY_BIN] [-w WARMUP_SECONDS] [-t TRIES] [-k]
  -b  gateway under test (default: build/gateway/rtmpt-gateway)
  -l  load generator (default: build/bench/rtmpt-load)
  -d  measured seconds per row (default 5)
  -w  warm-up seconds per row, not measured (default 1)
  -s  session counts (default "1 100 1000")
  -m  gateway modes: idle echo download (default all three)
  -r  a second gateway binary (e.g. an older build) run the same way; its rows get new/ref ratios
  -t  runs of a row at most, while other processes use more than $OTHER_MAX% CPU in it (default 2)
  -k  keep the temporary directory (configs, logs, raw rtmpt-load output)
  -W  process.workers for the gateways (default: theirs, one per CPU they may run on: 1 when pinned)
  -u  pin nothing: server, load generator and backend go where the scheduler puts them
Environment: NGINX (default /usr/sbin/nginx).
EOF
}

while getopts "b:l:d:w:s:m:r:t:W:ukh" opt; do
    case $opt in
    b) GW_BIN=$OPTARG ;;
    l) LOAD_BIN=$OPTARG ;;
    d) DURATION=$OPTARG ;;
    w) WARMUP=$OPTARG ;;
    s) SESSIONS=$OPTARG ;;
    m) MODES=$OPTARG ;;
    r) REF_BIN=$OPTARG ;;
    t) TRIES=$OPTARG ;;
    k) KEEP=1 ;;
    W) WORKERS=$OPTARG ;;
    u) UNPINNED=1 ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || { usage >&2; exit 2; }

fail() { echo "side_by_side: $*" >&2; exit 1; }
[ -z "$WORKERS" ] || [[ $WORKERS =~ ^[0-9]+$ ]] || fail "bad -W $WORKERS"

on_cpu() { # CPU COMMAND...: COMMAND pinned to CPU, or unpinned with -u. Only ever run with `&`: it
    # execs, so that the subshell `&` makes becomes COMMAND and $! is COMMAND's pid.
    local cpu=$1
    shift
    if [ "$UNPINNED" = 1 ]; then exec "$@"; else exec taskset -c "$cpu" "$@"; fi
}
for b in "$GW_BIN" "$LOAD_BIN" "$NGINX" ${REF_BIN:+"$REF_BIN"}; do
    [ -x "$b" ] || fail "not an executable: $b"
done
for m in $MODES; do
    case $m in idle | echo | download) ;; *) fail "unknown mode $m (idle, echo, download)" ;; esac
done
for n in $SESSIONS; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || fail "bad session count $n"
done
[[ $DURATION =~ ^[0-9]+(\.[0-9]+)?$ ]] || fail "bad -d $DURATION"
[[ $WARMUP =~ ^[0-9]+(\.[0-9]+)?$ ]] || fail "bad -w $WARMUP"
[[ $TRIES =~ ^[1-9][0-9]*$ ]] || fail "bad -t $TRIES"
command -v taskset >/dev/null || fail "taskset (util-linux) is needed"
[ "$(nproc)" -ge 2 ] || echo "side_by_side: warning: fewer than 2 CPUs, server and load share one" >&2

# Every session is a client connection, a gateway backend connection and a backend connection.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

WORK=$(mktemp -d /tmp/rtmpt-side-by-side.XXXXXX) || fail "mktemp failed"
chmod 755 "$WORK" # the gateway reads its config as root, but runs as nobody
PIDS=()

stop_pid() { # PID: SIGTERM, then SIGKILL after 5 s; bounded
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    PIDS=()
    if [ "$KEEP" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

forget_pid() { # PID: drop it from the cleanup list
    local p keep=()
    for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

USED_PORTS=" "
FREE_PORT=
free_port() { # sets FREE_PORT: a port nobody uses, below the usual ephemeral range
    local p i
    for ((i = 0; i < 200; i++)); do
        p=$((12000 + RANDOM % 20000))
        [[ $USED_PORTS == *" $p "* ]] && continue
        if ! port_open "$p" && ! ss -Htan "( sport = :$p )" 2>/dev/null | grep -q .; then
            USED_PORTS+="$p "
            FREE_PORT=$p
            return 0
        fi
    done
    fail "no free port found"
}

wait_port() { # PORT PID: until PORT accepts, at most 10 s; fails if PID dies
    local i
    for ((i = 0; i < 200; i++)); do
        kill -0 "$2" 2>/dev/null || return 1
        port_open "$1" && return 0
        sleep 0.05
    done
    return 1
}

# ---------------------------------------------------------------------------------------------
RUN=0
SRV_PID=
BE_PID=

start_backend() { # MODE PORT
    on_cpu "$LOAD_CPU" "$LOAD_BIN" --backend "$2" --backend-mode "$1" >"$RUNDIR/backend.log" 2>&1 &
    BE_PID=$!
    PIDS+=("$BE_PID")
    wait_port "$2" "$BE_PID" || { cat "$RUNDIR/backend.log" >&2; fail "backend did not start"; }
}

start_nginx() { # PORT SESSIONS
    local prefix=$RUNDIR/nginx user_line=
    mkdir -p "$prefix/tmp" "$prefix/logs"
    chmod -R 777 "$prefix/tmp"
    [ "$(id -u)" = 0 ] && user_line="user nobody $(id -gn nobody 2>/dev/null || echo nogroup);"
    cat >"$prefix/nginx.conf" <<EOF
$user_line
worker_processes 1;
daemon off;
master_process off;
pid $prefix/nginx.pid;
error_log $prefix/logs/error.log warn;
events {
    worker_connections $(($2 + 1024));
}
http {
    access_log off;
    client_body_temp_path $prefix/tmp/body;
    proxy_temp_path $prefix/tmp/proxy;
    fastcgi_temp_path $prefix/tmp/fastcgi;
    uwsgi_temp_path $prefix/tmp/uwsgi;
    scgi_temp_path $prefix/tmp/scgi;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
    server {
        listen 127.0.0.1:$1 backlog=4096;
        location / { return 200 "ok"; }
    }
}
EOF
    on_cpu "$SERVER_CPU" "$NGINX" -p "$prefix" -e "$prefix/logs/error.log" -c "$prefix/nginx.conf" \
        >"$RUNDIR/server.log" 2>&1 &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    wait_port "$1" "$SRV_PID" || {
        cat "$RUNDIR/server.log" "$prefix/logs/error.log" >&2
        fail "nginx did not start"
    }
}

start_gateway() { # BIN PORT BACKEND_PORT
    local conf=$RUNDIR/gateway.yaml
    cat >"$conf" <<EOF
listen: ["127.0.0.1:$2"]
backend:
  address: "127.0.0.1:$3"
session:
  idle_hold: 0ms
  max_sessions: 20000
  handshake_timeout: 5m
http:
  max_connections: 30000
admin:
  listen: []
log:
  level: warn
process:
  shutdown_timeout: 0s
EOF
    [ -n "$WORKERS" ] && printf '  workers: %s\n' "$WORKERS" >>"$conf"
    [ "$(id -u)" = 0 ] && printf '  user: nobody\n' >>"$conf"
    on_cpu "$SERVER_CPU" "$1" -c "$conf" >"$RUNDIR/server.log" 2>&1 &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    wait_port "$2" "$SRV_PID" || { cat "$RUNDIR/server.log" >&2; fail "gateway $1 did not start"; }
}

stop_all() {
    local pid
    for pid in $SRV_PID $BE_PID; do
        stop_pid "$pid"
        forget_pid "$pid"
    done
    SRV_PID=''
    BE_PID=''
}

declare -A RES # "server|mode|sessions|key" -> value
ROWS=()        # "server|mode|sessions"
NOTES=()
ROW_NOTES=()

# run_once SERVER(nginx|gateway|reference) MODE SESSIONS: one attempt at a row, into RES and
# ROW_NOTES; returns 1 if other processes disturbed it.
run_once() {
    local server=$1 mode=$2 n=$3 port bport bmode hwm line kv f
    local key="$server|$mode|$n"
    ROW_NOTES=()
ROW_NOTES=()
    for f in failed rss gen other mode sessions req_s down_Bps up_Bps bytes_per_reply p50_us p99_us errors cpu_srv; do
        unset "RES[$key|$f]"
    done
    RUN=$((RUN + 1))
    RUNDIR=$WORK/$RUN-$server-$mode-$n
    mkdir -p "$RUNDIR"
    free_port
    port=$FREE_PORT
    if [ "$server" = nginx ]; then
        start_nginx "$port" "$n"
    else
        case $mode in idle) bmode='sink' ;; echo) bmode='echo' ;; *) bmode='source' ;; esac
        free_port
        bport=$FREE_PORT
        start_backend "$bmode" "$bport"
        if [ "$server" = gateway ]; then start_gateway "$GW_BIN" "$port" "$bport"; else start_gateway "$REF_BIN" "$port" "$bport"; fi
    fi
    # In the background, so that a signal to this script is handled at once (wait returns).
    on_cpu "$LOAD_CPU" "$LOAD_BIN" --url "http://127.0.0.1:$port" --mode "$mode" --sessions "$n" \
        --duration "$DURATION" --warmup "$WARMUP" --cpu-pid "$SRV_PID" ${BE_PID:+--cpu-pid "$BE_PID"} \
        >"$RUNDIR/load.out" 2>"$RUNDIR/load.err" &
    local load_pid=$!
    PIDS+=("$load_pid")
    wait "$load_pid"
    forget_pid "$load_pid"
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$SRV_PID/status" 2>/dev/null)
    kill -0 "$SRV_PID" 2>/dev/null || ROW_NOTES+=("the server was gone at the end of the run")
    stop_all
    RES[$key|rss]=${hwm:--}
    line=$(grep '^result:' "$RUNDIR/load.out" | tail -n 1)
    if [ -z "$line" ]; then
        RES[$key|failed]=1
        ROW_NOTES+=("rtmpt-load gave no result: $(tail -n 3 "$RUNDIR/load.err" | tr '\n' ' ')")
        return 0
    fi
    RES[$key|gen]=$(awk '/^cpu: load generator/ { v = $4; sub(/%,?$/, "", v); print v }' "$RUNDIR/load.out")
    RES[$key|other]=$(awk '/^cpu: machine busy/ { v = $NF; sub(/%$/, "", v); print v }' "$RUNDIR/load.out")
    for kv in ${line#result: }; do
        RES["$key|${kv%%=*}"]=${kv#*=}
    done
    if [ "${RES[$key|errors]:-0}" != 0 ]; then
        ROW_NOTES+=("${RES[$key|errors]} errors; first: $(grep -m 3 '^error:' "$RUNDIR/load.err" | tr '\n' ' ')")
    fi
    if [ "$server" != nginx ] && grep -q . "$RUNDIR/server.log"; then
        ROW_NOTES+=("server log: $(wc -l <"$RUNDIR/server.log") lines; first: $(head -n 2 "$RUNDIR/server.log" | tr '\n' ' ')")
    fi
    if awk -v o="${RES[$key|other]:-0}" -v max="$OTHER_MAX" 'BEGIN { exit !(o > max) }'; then
        ROW_NOTES+=("other processes used ${RES[$key|other]}% CPU during the window: the row is doubtful")
        return 1
    fi
    return 0
}

# run_row SERVER MODE SESSIONS: a row, run again (up to -t times in all) while other processes disturb it.
run_row() {
    local try note
    for ((try = 1; try <= TRIES; try++)); do
        [ "$try" -gt 1 ] && echo "running: again ($try/$TRIES): other processes used CPU" >&2
        run_once "$@" && break
    done
    ROWS+=("$1|$2|$3")
    local runs=$((try > TRIES ? TRIES : try))
    [ "$runs" -gt 1 ] && ROW_NOTES+=("run $runs times: other processes were busy")
    for note in "${ROW_NOTES[@]}"; do NOTES+=("$1 $2 $3: $note"); done
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "-" }'; }

row_ratio() { # KEY -> ratio text
    local key=$1 server mode n metric other
    IFS='|' read -r server mode n <<<"$key"
    [ -n "${RES[$key|failed]:-}" ] && { echo "-"; return; }
    case $mode in idle | static) metric=req_s ;; *) metric=down_Bps ;; esac
    if [ "$server" = gateway ] && [ "$mode" = idle ]; then
        other="nginx|static|$n"
        [ -n "${RES[$other|req_s]:-}" ] && { echo "$(ratio "${RES[$key|req_s]}" "${RES[$other|req_s]}") gw/nginx"; return; }
    elif [ "$server" = reference ]; then
        other="gateway|$mode|$n"
        [ -n "${RES[$other|$metric]:-}" ] && { echo "$(ratio "${RES[$other|$metric]}" "${RES[$key|$metric]}") new/ref"; return; }
    fi
    echo "-"
}

# ---------------------------------------------------------------------------------------------
echo "# rtmpt-gateway side by side with plain nginx"
echo "command:  $CMDLINE"
echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine:  $(nproc) CPUs, $(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo), kernel $(uname -r)"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, before the run)"
echo "gateway:  $GW_BIN ($("$GW_BIN" --version 2>&1 | head -n 1))"
[ -n "$REF_BIN" ] && echo "ref:      $REF_BIN ($("$REF_BIN" --version 2>&1 | head -n 1))"
echo "nginx:    $NGINX ($("$NGINX" -v 2>&1 | head -n 1))"
echo "load gen: $LOAD_BIN"
if [ "$UNPINNED" = 1 ]; then
    where="nothing pinned"
else
    where="server on CPU $SERVER_CPU, load generator + backend on CPU $LOAD_CPU"
fi
echo "method:   $where; each row a fresh server (and backend); ${WARMUP}s warm-up, ${DURATION}s measured;" \
    "gateway session.idle_hold 0ms${WORKERS:+, process.workers $WORKERS}"
echo

for n in $SESSIONS; do
    echo "running: sessions=$n nginx static" >&2
    run_row nginx static "$n"
    for m in $MODES; do
        echo "running: sessions=$n gateway $m" >&2
        run_row gateway "$m" "$n"
        if [ -n "$REF_BIN" ]; then
            echo "running: sessions=$n reference $m" >&2
            run_row reference "$m" "$n"
        fi
    done
done

us_per_req() { awk -v c="$1" -v r="$2" 'BEGIN { if (r + 0 > 0 && c != "") printf "%.1f", c / 100 * 1e6 / r; else print "-" }'; }

fmt='%-9s %-8s %8s %9s %12s %11s %8s %7s %7s %6s %6s %7s %6s %6s %8s  %s\n'
# shellcheck disable=SC2059
printf "$fmt" server mode sessions req/s "down B/s" "up B/s" B/reply "p50 us" "p99 us" errors cpu% "us/req" gen% oth% "rss KiB" ratio
for key in "${ROWS[@]}"; do
    IFS='|' read -r server mode n <<<"$key"
    if [ -n "${RES[$key|failed]:-}" ]; then
        # shellcheck disable=SC2059
        printf "$fmt" "$server" "$mode" "$n" FAILED - - - - - - - - - - "${RES[$key|rss]}" -
        continue
    fi
    # shellcheck disable=SC2059
    printf "$fmt" "$server" "$mode" "$n" "${RES[$key|req_s]}" "${RES[$key|down_Bps]}" "${RES[$key|up_Bps]}" \
        "${RES[$key|bytes_per_reply]}" "${RES[$key|p50_us]}" "${RES[$key|p99_us]}" "${RES[$key|errors]}" \
        "${RES[$key|cpu_srv]}" "$(us_per_req "${RES[$key|cpu_srv]}" "${RES[$key|req_s]}")" "${RES[$key|gen]:--}" "${RES[$key|other]:--}" "${RES[$key|rss]}" "$(row_ratio "$key")"
done
echo
echo "req/s: replies per second; down B/s: backend bytes received in reply bodies (polling bytes excluded);"
echo "up B/s: /send payload bytes; B/reply: mean reply body; p50/p99: request written to reply complete;"
echo "cpu%: server CPU over the measured window (100 = one core); us/req: server CPU time a reply; gen%: the load generator's (near 100, the"
echo "row measures the load generator, not the server); oth%: CPU used by any other process on the machine"
echo "(the backend excepted): above a few %, another job disturbed the row; rss: server VmHWM before it stopped."
echo "ratio: idle rows gateway req/s / nginx static req/s; reference rows new/ref (req/s for idle, down B/s"
echo "otherwise)."
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, after the run; other jobs on these CPUs skew rows)"
if [ ${#NOTES[@]} -gt 0 ]; then
    echo
    echo "notes:"
    printf '  %s\n' "${NOTES[@]}"
fi
