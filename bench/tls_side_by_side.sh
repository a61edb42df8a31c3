#!/usr/bin/env bash
# TLS side by side, in one sitting: TLS handshakes per second and HTTPS keep-alive request rate of
# the gateway's TLS listener beside plain nginx (`return 200` over HTTPS, the same certificate),
# and RTMPTS download throughput beside RTMPT on the gateway itself.  Prints one table with
# ratios.  See bench/README.md ("Load over TLS").
#
#   bench/tls_side_by_side.sh [-b GATEWAY_BIN] [-l RTMPT_LOAD_BIN] [-d SECONDS] [-s "1 100"]
#                             [-p "handshake keepalive download"] [-w WARMUP] [-t TRIES] [-k]
#
# The server under test runs alone on CPU 0; the load generator and the backend share CPU 1.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GW_BIN=$ROOT/build/gateway/rtmpt-gateway
LOAD_BIN=$ROOT/build/bench/rtmpt-load
DURATION=5
WARMUP=1
SESSIONS="1 100"
PARTS="handshake keepalive download"
KEEP=0
TRIES=2
OTHER_MAX=10 # % of a CPU used by other processes in a row's window past which the row is doubtful
NGINX=${NGINX:-/usr/sbin/nginx}
OPENSSL=${OPENSSL:-openssl}
SERVER_CPU=0
LOAD_CPU=1
SNI=localhost
CMDLINE=$(printf '%q ' "$0" "$@")

usage() {
    cat <<EOF
usage: $0 [-b GATEWAY_BIN] [-l RTMPT_LOAD_BIN] [-d SECONDS] [-s "1 100"]
          [-p "handshake keepalive download"] [-w WARMUP_SECONDS] [-t TRIES] [-k]
  -b  gateway under test (default: build/gateway/rtmpt-gateway)
  -l  load generator, built with TLS (default: build/bench/rtmpt-load)
  -d  measured seconds per row (default 5)
  -w  warm-up seconds per row, not measured (default 1)
  -s  session counts (default "1 100")
  -p  parts: handshake (a new connection and TLS handshake per request: nginx HTTPS return 200
      vs the gateway's POST /fcs/ident2), keepalive (HTTPS on keep-alive connections: nginx
      return 200 vs gateway RTMPTS idle polls), download (gateway RTMPTS vs RTMPT download from
      the same source backend) (default all three)
  -t  runs of a row at most, while other processes use more than $OTHER_MAX% CPU in it (default 2)
  -k  keep the temporary directory (certificates, configs, logs, raw rtmpt-load output)
Environment: NGINX (default /usr/sbin/nginx), OPENSSL (default openssl).
EOF
}

while getopts "b:l:d:w:s:p:t:kh" opt; do
    case $opt in
    b) GW_BIN=$OPTARG ;;
    l) LOAD_BIN=$OPTARG ;;
    d) DURATION=$OPTARG ;;
    w) WARMUP=$OPTARG ;;
    s) SESSIONS=$OPTARG ;;
    p) PARTS=$OPTARG ;;
    t) TRIES=$OPTARG ;;
    k) KEEP=1 ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || { usage >&2; exit 2; }

fail() { echo "tls_side_by_side: $*" >&2; exit 1; }
for b in "$GW_BIN" "$LOAD_BIN" "$NGINX"; do
    [ -x "$b" ] || fail "not an executable: $b"
done
command -v "$OPENSSL" >/dev/null || fail "openssl (the command) is needed for the test certificate"
"$NGINX" -V 2>&1 | grep -q -- '--with-http_ssl_module' || fail "$NGINX has no ssl module (nginx -V)"
"$LOAD_BIN" --help | grep -q -- '--new-connection-per-request' || fail "$LOAD_BIN has no TLS client: rebuild it"
for p in $PARTS; do
    case $p in handshake | keepalive | download) ;; *) fail "unknown part $p (handshake, keepalive, download)" ;; esac
done
for n in $SESSIONS; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || fail "bad session count $n"
done
[[ $DURATION =~ ^[0-9]+(\.[0-9]+)?$ ]] || fail "bad -d $DURATION"
[[ $WARMUP =~ ^[0-9]+(\.[0-9]+)?$ ]] || fail "bad -w $WARMUP"
[[ $TRIES =~ ^[1-9][0-9]*$ ]] || fail "bad -t $TRIES"
command -v taskset >/dev/null || fail "taskset (util-linux) is needed"
[ "$(nproc)" -ge 2 ] || echo "tls_side_by_side: warning: fewer than 2 CPUs, server and load share one" >&2

# Every session is a client connection, a gateway backend connection and a backend connection.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

WORK=$(mktemp -d /tmp/rtmpt-tls-side-by-side.XXXXXX) || fail "mktemp failed"
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
# A throwaway CA and a leaf for localhost and 127.0.0.1, both EC P-256 (ECDSA): nginx and the
# gateway serve the same leaf + CA chain and key.
CERT_DIR=$WORK/cert
make_certificate() {
    local d=$CERT_DIR
    mkdir -p "$d"
    chmod 755 "$d"
    {
        "$OPENSSL" ecparam -name prime256v1 -genkey -noout -out "$d/ca.key" &&
            "$OPENSSL" req -x509 -new -key "$d/ca.key" -sha256 -days 2 -subj "/CN=rtmpt bench throwaway CA" \
                -out "$d/ca.pem" &&
            "$OPENSSL" ecparam -name prime256v1 -genkey -noout -out "$d/leaf.key" &&
            "$OPENSSL" req -new -key "$d/leaf.key" -subj "/CN=$SNI" -out "$d/leaf.csr" &&
            printf '%s\n' "subjectAltName=DNS:$SNI,IP:127.0.0.1" "basicConstraints=critical,CA:FALSE" \
                "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$d/leaf.ext" &&
            "$OPENSSL" x509 -req -in "$d/leaf.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
                -sha256 -extfile "$d/leaf.ext" -out "$d/leaf.pem" &&
            cat "$d/leaf.pem" "$d/ca.pem" >"$d/fullchain.pem"
    } >"$d/openssl.log" 2>&1 || { cat "$d/openssl.log" >&2; fail "could not make the test certificate"; }
    chmod 600 "$d/leaf.key" "$d/ca.key" # read by root only: nginx (no master) and the gateway read it before anything
}

# ---------------------------------------------------------------------------------------------
RUN=0
SRV_PID=
BE_PID=

start_backend() { # MODE PORT
    taskset -c "$LOAD_CPU" "$LOAD_BIN" --backend "$2" --backend-mode "$1" >"$RUNDIR/backend.log" 2>&1 &
    BE_PID=$!
    PIDS+=("$BE_PID")
    wait_port "$2" "$BE_PID" || { cat "$RUNDIR/backend.log" >&2; fail "backend did not start"; }
}

start_nginx() { # PORT SESSIONS: HTTPS only
    local prefix=$RUNDIR/nginx user_line=
    mkdir -p "$prefix/tmp" "$prefix/logs"
    chmod -R 777 "$prefix/tmp"
    [ "$(id -u)" = 0 ] && user_line="user nobody $(id -gn nobody 2>/dev/null || echo nogroup);"
    # TLS as the gateway has it: 1.2 and 1.3 (Debian's nginx 1.22 would also offer 1.0 and 1.1, and
    # does not offer 1.3 unless told), OpenSSL's default groups and 1.3 suites, the client's
    # preference, tickets on (OpenSSL's default, as the gateway).
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
        listen 127.0.0.1:$1 ssl backlog=4096;
        ssl_certificate $CERT_DIR/fullchain.pem;
        ssl_certificate_key $CERT_DIR/leaf.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / { return 200 "ok"; }
    }
}
EOF
    taskset -c "$SERVER_CPU" "$NGINX" -p "$prefix" -e "$prefix/logs/error.log" -c "$prefix/nginx.conf" \
        >"$RUNDIR/server.log" 2>&1 &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    wait_port "$1" "$SRV_PID" || {
        cat "$RUNDIR/server.log" "$prefix/logs/error.log" >&2
        fail "nginx did not start"
    }
}

start_gateway() { # PORT TLS_PORT BACKEND_PORT
    local conf=$RUNDIR/gateway.yaml
    cat >"$conf" <<EOF
listen: ["127.0.0.1:$1"]
tls:
  listen: ["127.0.0.1:$2"]
  certificate: $CERT_DIR/fullchain.pem
  key: $CERT_DIR/leaf.key
backend:
  address: "127.0.0.1:$3"
session:
  idle_hold: 0ms
  max_sessions: 20000
  handshake_timeout: 5m
http:
  max_connections: 30000
  ident2: "127.0.0.1"
admin:
  listen: []
log:
  level: warn
process:
  shutdown_timeout: 0s
EOF
    [ "$(id -u)" = 0 ] && printf '  user: nobody\n' >>"$conf"
    taskset -c "$SERVER_CPU" "$GW_BIN" -c "$conf" >"$RUNDIR/server.log" 2>&1 &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    # The TLS listeners open after the plain ones: wait for the TLS port.
    wait_port "$2" "$SRV_PID" || { cat "$RUNDIR/server.log" >&2; fail "gateway $GW_BIN did not start"; }
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

declare -A RES # "server|test|sessions|key" -> value
ROWS=()        # "server|test|sessions"
NOTES=()
ROW_NOTES=()
TLS_LINE=

# Tests (server|test):
#   nginx|hs       HTTPS POST / (return 200), a new connection and handshake per request
#   gateway|hs     HTTPS POST /fcs/ident2 (http.ident2), a new connection and handshake per request
#   nginx|ka       HTTPS POST / (return 200) on keep-alive connections
#   gateway|ka     RTMPTS /idle polls (sink backend) on keep-alive connections
#   gateway|dltls  RTMPTS /idle polls while a source backend streams (download)
#   gateway|dl     RTMPT, the same, on the plain port

# run_once SERVER TEST SESSIONS: one attempt at a row, into RES and ROW_NOTES; returns 1 if other
# processes disturbed it.
run_once() {
    local server=$1 test=$2 n=$3 port tport bport bmode='' hwm line kv f url args=()
    local key="$server|$test|$n"
    ROW_NOTES=()
    for f in failed rss gen other mode sessions req_s down_Bps up_Bps bytes_per_reply p50_us p99_us errors cpu_srv \
        handshakes handshakes_s; do
        unset "RES[$key|$f]"
    done
    RUN=$((RUN + 1))
    RUNDIR=$WORK/$RUN-$server-$test-$n
    mkdir -p "$RUNDIR"
    free_port
    port=$FREE_PORT
    if [ "$server" = nginx ]; then
        start_nginx "$port" "$n"
        url=https://127.0.0.1:$port
        args=(--mode static)
        [ "$test" = hs ] && args+=(--new-connection-per-request)
    else
        case $test in hs | ka) bmode=sink ;; *) bmode=source ;; esac
        free_port
        tport=$FREE_PORT
        free_port
        bport=$FREE_PORT
        start_backend "$bmode" "$bport"
        start_gateway "$port" "$tport" "$bport"
        url=https://127.0.0.1:$tport
        case $test in
        hs) args=(--mode static --static-path /fcs/ident2 --new-connection-per-request) ;;
        ka) args=(--mode idle) ;;
        dltls) args=(--mode download) ;;
        dl) url=http://127.0.0.1:$port args=(--mode download) ;;
        esac
    fi
    # In the background, so that a signal to this script is handled at once (wait returns).
    taskset -c "$LOAD_CPU" "$LOAD_BIN" --url "$url" "${args[@]}" --sni "$SNI" --sessions "$n" \
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
    [ -z "$TLS_LINE" ] && TLS_LINE=$(grep -m 1 '^tls: TLS' "$RUNDIR/load.out" | sed 's/^tls: //')
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
    if [ "$server" = nginx ] && grep -q . "$RUNDIR/nginx/logs/error.log"; then
        ROW_NOTES+=("nginx error log: $(wc -l <"$RUNDIR/nginx/logs/error.log") lines; first: $(head -n 2 "$RUNDIR/nginx/logs/error.log" | tr '\n' ' ')")
    fi
    if awk -v o="${RES[$key|other]:-0}" -v max="$OTHER_MAX" 'BEGIN { exit !(o > max) }'; then
        ROW_NOTES+=("other processes used ${RES[$key|other]}% CPU during the window: the row is doubtful")
        return 1
    fi
    return 0
}

# run_row SERVER TEST SESSIONS: a row, run again (up to -t times in all) while other processes disturb it.
run_row() {
    local try note
    echo "running: sessions=$3 $1 $(test_label "$1" "$2")" >&2
    for ((try = 1; try <= TRIES; try++)); do
        [ "$try" -gt 1 ] && echo "running: again ($try/$TRIES): other processes used CPU" >&2
        run_once "$@" && break
    done
    ROWS+=("$1|$2|$3")
    local runs=$((try > TRIES ? TRIES : try))
    [ "$runs" -gt 1 ] && ROW_NOTES+=("run $runs times: other processes were busy")
    for note in "${ROW_NOTES[@]}"; do NOTES+=("$1 $(test_label "$1" "$2") $3: $note"); done
}

test_label() { # SERVER TEST -> "proto what"
    case $1/$2 in
    nginx/hs) echo "https new-conn" ;;
    gateway/hs) echo "rtmpts ident2-new-conn" ;;
    nginx/ka) echo "https keep-alive" ;;
    gateway/ka) echo "rtmpts idle" ;;
    gateway/dltls) echo "rtmpts download" ;;
    gateway/dl) echo "rtmpt download" ;;
    esac
}

metric() { # TEST -> the result key a row is judged by
    case $1 in hs) echo handshakes_s ;; ka) echo req_s ;; *) echo down_Bps ;; esac
}

# The row's figure per core of server CPU: its metric / (cpu% / 100).  With the load generator
# near 100% (gen%), the raw figure measures the generator; this one estimates the server's ceiling.
per_core() { # KEY
    local test
    IFS='|' read -r _ test _ <<<"$1"
    awk -v v="${RES[$1|$(metric "$test")]:-0}" -v c="${RES[$1|cpu_srv]:--1}" \
        'BEGIN { if (c + 0 > 0) printf "%.0f", v / (c / 100); else print "-" }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "-" && b != "-" && b + 0 > 0) printf "%.2f", a / b; else print "-" }'; }

# KEY -> "RATIO RATIO_PER_CORE LABEL", or "- - -"
row_ratio() {
    local key=$1 server test n other label m
    IFS='|' read -r server test n <<<"$key"
    case $server/$test in
    gateway/hs | gateway/ka) other="nginx|$test|$n" label=gw/nginx ;;
    gateway/dltls) other="gateway|dl|$n" label=tls/plain ;;
    *) echo "- - -"; return ;;
    esac
    m=$(metric "$test")
    if [ -n "${RES[$key|failed]:-}" ] || [ -n "${RES[$other|failed]:-}" ] || [ -z "${RES[$other|$m]:-}" ]; then
        echo "- - -"
        return
    fi
    echo "$(ratio "${RES[$key|$m]}" "${RES[$other|$m]}") $(ratio "$(per_core "$key")" "$(per_core "$other")") $label"
}

# ---------------------------------------------------------------------------------------------
make_certificate
echo "# rtmpt-gateway over TLS side by side with plain nginx over HTTPS"
echo "command:  $CMDLINE"
echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine:  $(nproc) CPUs, $(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo), kernel $(uname -r)"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, before the run)"
echo "gateway:  $GW_BIN ($("$GW_BIN" --version 2>&1 | head -n 1))"
echo "nginx:    $NGINX ($("$NGINX" -v 2>&1 | head -n 1); $("$NGINX" -V 2>&1 | grep -o 'built with OpenSSL [^ ]*' | head -n 1))"
echo "openssl:  $("$OPENSSL" version)"
echo "load gen: $LOAD_BIN"
echo "cert:     throwaway EC P-256 CA and leaf (CN=$SNI, SAN $SNI and 127.0.0.1), same fullchain and key for both"
echo "method:   server on CPU $SERVER_CPU, load generator + backend on CPU $LOAD_CPU; each row a fresh server" \
    "(and backend); ${WARMUP}s warm-up, ${DURATION}s measured; SNI $SNI, full handshakes only (no resumption)"
echo

for n in $SESSIONS; do
    for p in $PARTS; do
        case $p in
        handshake)
            run_row nginx hs "$n"
            run_row gateway hs "$n"
            ;;
        keepalive)
            run_row nginx ka "$n"
            run_row gateway ka "$n"
            ;;
        download)
            run_row gateway dltls "$n"
            run_row gateway dl "$n"
            ;;
        esac
    done
done

[ -n "$TLS_LINE" ] && echo "tls:      $TLS_LINE (as negotiated on the first connection)" && echo
fmt='%-8s %-6s %-17s %8s %8s %8s %12s %8s %8s %6s %6s %6s %6s %12s %8s  %s\n'
# shellcheck disable=SC2059
printf "$fmt" server proto test sessions req/s hs/s "down B/s" "p50 us" "p99 us" errors cpu% gen% oth% "per core" "rss KiB" ratio
for key in "${ROWS[@]}"; do
    IFS='|' read -r server test n <<<"$key"
    read -r proto what <<<"$(test_label "$server" "$test")"
    if [ -n "${RES[$key|failed]:-}" ]; then
        # shellcheck disable=SC2059
        printf "$fmt" "$server" "$proto" "$what" "$n" FAILED - - - - - - - - - "${RES[$key|rss]}" -
        continue
    fi
    read -r r rc label <<<"$(row_ratio "$key")"
    rtext=-
    [ "$r" != - ] && rtext="$r $label ($rc per core)"
    # shellcheck disable=SC2059
    printf "$fmt" "$server" "$proto" "$what" "$n" "${RES[$key|req_s]}" "${RES[$key|handshakes_s]:-0}" \
        "${RES[$key|down_Bps]}" "${RES[$key|p50_us]}" "${RES[$key|p99_us]}" "${RES[$key|errors]}" \
        "${RES[$key|cpu_srv]}" "${RES[$key|gen]:--}" "${RES[$key|other]:--}" "$(per_core "$key")" "${RES[$key|rss]}" "$rtext"
done
echo
echo "test: new-conn: one request per connection (rtmpt-load --new-connection-per-request), so one full"
echo "TLS handshake per request (nginx: POST / answered by return 200; gateway: POST /fcs/ident2 answered"
echo "from http.ident2); keep-alive / idle: one connection per session (nginx: POST / return 200; gateway:"
echo "RTMPTS /idle polls, sink backend, idle_hold 0ms); download: /idle polls while a source backend streams."
echo "req/s: replies per second; hs/s: TLS handshakes completed per second; down B/s: backend bytes in reply"
echo "bodies; p50/p99: request written to reply complete (new-conn: TCP connect done to reply, the handshake"
echo "included); cpu%: server CPU (100 = one core); gen%: the load generator's (near 100: the row measures the"
echo "generator, which also pays a handshake's client half, more than the server); oth%: other processes"
echo "(the backend excepted); per core: the row's figure (hs/s for new-conn, req/s for keep-alive and idle,"
echo "down B/s for download) / (cpu% / 100), the server's ceiling on one core if its cost per unit held;"
echo "rss: server VmHWM. ratio: gateway / nginx for new-conn and keep-alive/idle rows, rtmpts / rtmpt"
echo "for the rtmpts download row; in parentheses the same ratio per core."
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, after the run; other jobs on these CPUs skew rows)"
if [ ${#NOTES[@]} -gt 0 ]; then
    echo
    echo "notes:"
    printf '  %s\n' "${NOTES[@]}"
fi
