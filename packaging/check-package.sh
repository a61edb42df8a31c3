#!/usr/bin/env bash
# Builds the Debian package, installs it on this machine and checks the installed result:
# the files and the conffile, the system user and its membership of group ssl-cert, `rtmpt-gateway
# -t` on the installed config (as root and as the service user), the gateway running as that user
# with only CAP_NET_BIND_SERVICE and binding a port below 1024 as the service would, the same user
# reading a TLS key of mode 0640 root:ssl-cert and serving TLS with it, `systemd-analyze verify` and
# the exposure score of the unit, the man page through groff and man, and finally the purge. One
# line per check, then 'package: N passed, N failed'. Needs root (or sudo); .ci/run calls it.
#   bash packaging/check-package.sh                 # .deb in build-deb/
#   KEEP_INSTALLED=1 bash packaging/check-package.sh   # leave the package installed
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
out=${PACKAGE_OUT_DIR:-build-deb}
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive

passed=0
failed=0
work=$(mktemp -d /tmp/rtmpt-gateway-check.XXXXXX)
gateway_pid=""
cleanup() {
  [ -n "$gateway_pid" ] && kill -9 "$gateway_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

check() {  # check NAME COMMAND...: runs the command, prints one line, keeps its output on failure
  local name=$1
  shift
  if "$@" >"$work/out" 2>&1; then
    echo "package: $name: ok"
    passed=$((passed + 1))
  else
    echo "package: $name: FAILED; its output:"
    sed 's/^/    /' "$work/out" | tail -n 40
    failed=$((failed + 1))
  fi
}

conf=/etc/rtmpt-gateway/rtmpt-gateway.yaml
unit=/lib/systemd/system/rtmpt-gateway.service
man_page=/usr/share/man/man8/rtmpt-gateway.8.gz

build() {
  rm -f "$out"/rtmpt-gateway_*.deb "$out"/rtmpt-gateway-dbgsym_*.deb
  bash packaging/build-deb.sh "$out" && ls "$out"/rtmpt-gateway_*.deb
}

install_package() {
  local debs=("$out"/rtmpt-gateway_*.deb)
  local deb=${debs[0]}
  # --reinstall: the same version may be installed from an earlier run; the new conffile wins.
  $sudo apt-get install -y -q --reinstall -o Dpkg::Options::=--force-confnew \
    "$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")"
}

installed_files() {
  local ok=0
  for f in /usr/sbin/rtmpt-gateway "$conf" "$unit" "$man_page" /usr/lib/sysusers.d/rtmpt-gateway.conf; do
    [ -e "$f" ] || { echo "missing: $f"; ok=1; }
  done
  dpkg-query -W -f='${Conffiles}\n' rtmpt-gateway | grep -q " $conf " || { echo "$conf is not a conffile"; ok=1; }
  cmp "$conf" config/rtmpt-gateway.example.yaml || { echo "$conf is not the example config"; ok=1; }
  getent passwd rtmpt-gateway || { echo "no user rtmpt-gateway"; ok=1; }
  getent group rtmpt-gateway || { echo "no group rtmpt-gateway"; ok=1; }
  ldd /usr/sbin/rtmpt-gateway | grep 'not found' && ok=1
  return $ok
}

# The identity and capabilities the unit gives: user and group rtmpt-gateway, the user's
# supplementary groups from the user database (systemd calls initgroups() for User=: ssl-cert),
# CAP_NET_BIND_SERVICE only.
# shellcheck disable=SC2054  # the commas belong to setpriv's capability lists
service_identity=(setpriv --reuid=rtmpt-gateway --regid=rtmpt-gateway --init-groups
  --inh-caps=-all,+net_bind_service --ambient-caps=+net_bind_service --bounding-set=-all,+net_bind_service
  --no-new-privs --)
as_service_user() {
  $sudo "${service_identity[@]}" "$@"
}

# The user the service runs as is a member of ssl-cert, the group Debian keeps private keys
# readable to (sysusers.d: created if the ssl-cert package has not made it).
in_group_ssl_cert() {
  getent group ssl-cert || { echo "no group ssl-cert"; return 1; }
  id rtmpt-gateway
  id -nG rtmpt-gateway | tr ' ' '\n' | grep -qx ssl-cert || { echo "rtmpt-gateway is not in group ssl-cert"; return 1; }
  # As the service would be started: the group is among the process's own.
  as_service_user id -nG | tr ' ' '\n' | grep -qx ssl-cert || { echo "ssl-cert is not among the service identity's groups"; return 1; }
}

free_port_below_1024() {  # on loopback: port 80 (and 443) may be taken on this machine
  python3 -c '
import socket
for p in range(1023, 900, -1):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        s.close()'
}

# start_gateway CONFIG PORT: the installed gateway as the service identity, in the background
# (gateway_pid), its stderr in $work/gateway.log; returns 0 once PORT accepts connections.
start_gateway() {
  local config=$1 port=$2
  # exec: $! is then the gateway itself (setpriv execs it), not a subshell around it.
  (exec $sudo "${service_identity[@]}" /usr/sbin/rtmpt-gateway -c "$config" 2>"$work/gateway.log") &
  gateway_pid=$!
  for _ in $(seq 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    kill -0 "$gateway_pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# stop_gateway: SIGTERM, then up to 10 s for the (idle) gateway to drain and exit; prints its log.
# Returns 0 if it stopped by itself.
stop_gateway() {
  kill -TERM "$gateway_pid" 2>/dev/null
  local stopped=1
  for _ in $(seq 100); do
    kill -0 "$gateway_pid" 2>/dev/null || { stopped=0; break; }
    sleep 0.1
  done
  wait "$gateway_pid" 2>/dev/null
  gateway_pid=""
  cat "$work/gateway.log"
  return $stopped
}

runs_as_service_user() {
  # A free port below 1024 on loopback, the rest as installed.
  local port
  port=$(free_port_below_1024)
  [ -n "$port" ] || { echo "no free port below 1024"; return 1; }
  # The admin listener on a port the kernel picks: the installed 127.0.0.1:9180 may be held by a
  # demo or a running gateway on this machine. Each substitution must hit exactly one line.
  sed -e "/^listen:/{n;s/.*/  - \"127.0.0.1:$port\"/}" \
      -e "/^admin:/,/^[a-z]/{/^  listen:/{n;s/.*/    - \"127.0.0.1:0\"/}}" "$conf" >"$work/gateway.yaml"
  local changed
  changed=$(diff "$conf" "$work/gateway.yaml" | grep -c '^>')
  [ "$changed" -eq 2 ] || { echo "expected 2 changed lines (listen, admin.listen) in $conf, got $changed"; return 1; }
  chmod 0644 "$work/gateway.yaml"
  chmod 0755 "$work"
  local up=0
  start_gateway "$work/gateway.yaml" "$port" || up=1
  local reply=""
  [ "$up" -eq 0 ] && reply=$(python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"POST /fcs/ident2 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n\0")
print(s.recv(200).split(b"\r\n")[0].decode())' "$port")
  local user
  user=$(ps -o user= -p "$gateway_pid" 2>/dev/null)
  local stopped=0
  stop_gateway || stopped=1
  echo "port $port: reply '$reply', user '$user', stopped on SIGTERM: $([ $stopped -eq 0 ] && echo yes || echo no)"
  [ "$up" -eq 0 ] && [[ "$reply" == HTTP/1.1\ * ]] && [ "$user" = rtmpt-gateway ] && [ "$stopped" -eq 0 ]
}

# A key kept as the README says (as certbot's /etc/letsencrypt would be after its chgrp and chmod):
# its directory 0750 root:ssl-cert, the key 0640 root:ssl-cert. The service identity must read it:
# `-t` loads the pair and prints its expiry, and the gateway serves TLS with it on a port below
# 1024 (an HTTP request over TLS gets an HTTP reply; plain HTTP on that port gets 400). The same
# key 0600 root:root must be refused, or the check would prove nothing.
tls_key_as_service_user() {
  local dir="$work/tls"
  mkdir -p "$dir" || return 1
  chmod 0755 "$work"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=localhost \
    -keyout "$dir/privkey.pem" -out "$dir/fullchain.pem" 2>&1 || return 1
  $sudo chown root:ssl-cert "$dir" "$dir/privkey.pem" && $sudo chmod 0750 "$dir" &&
    $sudo chmod 0640 "$dir/privkey.pem" && $sudo chmod 0644 "$dir/fullchain.pem" || return 1
  ls -ld "$dir" "$dir"/*
  local port
  port=$(free_port_below_1024)
  [ -n "$port" ] || { echo "no free port below 1024"; return 1; }
  # Plain HTTP and admin on ports the kernel picks, TLS on the port below 1024. Each substitution
  # must hit exactly one line.
  sed -e "/^listen:/{n;s/.*/  - \"127.0.0.1:0\"/}" \
      -e "/^admin:/,/^[a-z]/{/^  listen:/{n;s/.*/    - \"127.0.0.1:0\"/}}" \
      -e "/^tls:/,/^[a-z]/{s|^  listen: \[\]\$|  listen: [\"127.0.0.1:$port\"]|}" \
      -e "/^tls:/,/^[a-z]/{s|^  certificate: \"\"\$|  certificate: \"$dir/fullchain.pem\"|}" \
      -e "/^tls:/,/^[a-z]/{s|^  key: \"\"\$|  key: \"$dir/privkey.pem\"|}" "$conf" >"$work/tls.yaml"
  local changed
  changed=$(diff "$conf" "$work/tls.yaml" | grep -c '^>')
  [ "$changed" -eq 5 ] || { echo "expected 5 changed lines (listen, admin.listen, tls.*) in $conf, got $changed"; return 1; }
  chmod 0644 "$work/tls.yaml"
  local tested
  tested=$(as_service_user /usr/sbin/rtmpt-gateway -t -c "$work/tls.yaml" 2>&1)
  echo "-t as the service user: $tested"
  grep -q "^$dir/fullchain.pem: .*CN *= *localhost, expires " <<<"$tested" || return 1
  local up=0
  start_gateway "$work/tls.yaml" "$port" || up=1
  local replies=""
  [ "$up" -eq 0 ] && replies=$(python3 -c '
import socket, ssl, sys
port = int(sys.argv[1])
request = b"POST /fcs/ident2 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n\0"
context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
with context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5)) as s:
    s.sendall(request)
    tls_reply = s.recv(200).split(b"\r\n")[0].decode()
    version = s.version()
with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
    s.sendall(request)
    plain_reply = s.recv(200).split(b"\r\n")[0].decode()
print(f"{version}: {tls_reply} | plain HTTP: {plain_reply}")' "$port")
  local stopped=0
  stop_gateway || stopped=1
  echo "port $port: $replies; stopped on SIGTERM: $([ $stopped -eq 0 ] && echo yes || echo no)"
  [ "$up" -eq 0 ] && [[ "$replies" == TLSv1.[23]:\ HTTP/1.1\ *\ \|\ plain\ HTTP:\ HTTP/1.1\ 400\ * ]] &&
    [ "$stopped" -eq 0 ] || return 1
  # The control: readable by root alone, the same key must not load as the service user.
  $sudo chgrp root "$dir/privkey.pem" && $sudo chmod 0600 "$dir/privkey.pem" || return 1
  if as_service_user /usr/sbin/rtmpt-gateway -t -c "$work/tls.yaml"; then
    echo "a key of mode 0600 root:root loaded as the service user: the check proves nothing"
    return 1
  fi
}

verify_unit() {
  local log="$work/verify.log"
  systemd-analyze verify "$unit" >"$log" 2>&1
  local rc=$?
  cat "$log"
  # Any complaint counts, not only the exit status (missing commands and man pages are warnings).
  [ "$rc" -eq 0 ] && ! grep -q . "$log"
}

# The hardening stays: systemd's exposure score (0 best, 10 worst; 1.7 when written) at most 2.0.
unit_exposure() {
  systemd-analyze security --offline=yes --threshold=20 --no-pager "$unit" >"$work/security.log" 2>&1
  local rc=$?
  grep -E 'Overall exposure level' "$work/security.log" || tail -n 20 "$work/security.log"
  return $rc
}

purge() {
  $sudo apt-get purge -y -q rtmpt-gateway || return 1
  local ok=0
  for f in /usr/sbin/rtmpt-gateway "$conf" "$unit" "$man_page"; do
    [ ! -e "$f" ] || { echo "left behind: $f"; ok=1; }
  done
  return $ok
}

check "build .deb (dpkg-buildpackage -us -uc -b)" build
if [ "$failed" -eq 0 ]; then
  check "apt-get install ./rtmpt-gateway_*.deb" install_package
  check "installed files, conffile, system user, libraries" installed_files
  check "service user rtmpt-gateway in group ssl-cert" in_group_ssl_cert
  check "rtmpt-gateway -t -c $conf" /usr/sbin/rtmpt-gateway -t -c "$conf"
  check "rtmpt-gateway -t -c $conf as the service user" as_service_user /usr/sbin/rtmpt-gateway -t -c "$conf"
  check "runs as rtmpt-gateway with CAP_NET_BIND_SERVICE, binds a port below 1024, stops on SIGTERM" \
    runs_as_service_user
  check "reads a TLS key 0640 root:ssl-cert as rtmpt-gateway, serves TLS on a port below 1024" \
    tls_key_as_service_user
  check "systemd-analyze verify $unit" verify_unit
  check "systemd-analyze security: exposure at most 2.0" unit_exposure
  check "man page $man_page (groff -ww, man --warnings)" sh tests/docs/check-man-page.sh "$man_page"
  check "man -w 8 rtmpt-gateway finds it" man -w 8 rtmpt-gateway
  if [ -z "${KEEP_INSTALLED:-}" ]; then
    check "apt-get purge rtmpt-gateway" purge
  fi
fi
echo "package: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
