#!/usr/bin/env bash
# Builds the Debian package, installs it on this machine and checks the installed result:
# the files and the conffile, the system user, `rtmpt-gateway -t` on the installed config (as root
# and as the service user), the gateway running as that user with only CAP_NET_BIND_SERVICE and
# binding a port below 1024 as the service would, `systemd-analyze verify` and the exposure score
# of the unit, the man page through groff and man, and finally the purge. One line per check, then
# 'package: N passed, N failed'. Needs root (or sudo); .ci/run calls it.
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

# The identity and capabilities the unit gives: user and group rtmpt-gateway, CAP_NET_BIND_SERVICE only.
# shellcheck disable=SC2054  # the commas belong to setpriv's capability lists
service_identity=(setpriv --reuid=rtmpt-gateway --regid=rtmpt-gateway --clear-groups
  --inh-caps=-all,+net_bind_service --ambient-caps=+net_bind_service --bounding-set=-all,+net_bind_service
  --no-new-privs --)
as_service_user() {
  $sudo "${service_identity[@]}" "$@"
}

runs_as_service_user() {
  # A free port below 1024 on loopback (port 80 may be taken on this machine), the rest as installed.
  local port
  port=$(python3 -c '
import socket
for p in range(1023, 900, -1):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        s.close()')
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
  # exec: $! is then the gateway itself (setpriv execs it), not a subshell around it.
  (exec $sudo "${service_identity[@]}" /usr/sbin/rtmpt-gateway -c "$work/gateway.yaml" 2>"$work/gateway.log") &
  gateway_pid=$!
  local up=1
  for _ in $(seq 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then up=0; break; fi
    kill -0 "$gateway_pid" 2>/dev/null || break
    sleep 0.1
  done
  local reply=""
  [ "$up" -eq 0 ] && reply=$(python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"POST /fcs/ident2 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n\0")
print(s.recv(200).split(b"\r\n")[0].decode())' "$port")
  local user
  user=$(ps -o user= -p "$gateway_pid" 2>/dev/null)
  kill -TERM "$gateway_pid" 2>/dev/null
  local stopped=1
  for _ in $(seq 100); do
    kill -0 "$gateway_pid" 2>/dev/null || { stopped=0; break; }
    sleep 0.1
  done
  wait "$gateway_pid" 2>/dev/null
  gateway_pid=""
  cat "$work/gateway.log"
  echo "port $port: reply '$reply', user '$user', stopped on SIGTERM: $([ $stopped -eq 0 ] && echo yes || echo no)"
  [ "$up" -eq 0 ] && [[ "$reply" == HTTP/1.1\ * ]] && [ "$user" = rtmpt-gateway ] && [ "$stopped" -eq 0 ]
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
  check "rtmpt-gateway -t -c $conf" /usr/sbin/rtmpt-gateway -t -c "$conf"
  check "rtmpt-gateway -t -c $conf as the service user" as_service_user /usr/sbin/rtmpt-gateway -t -c "$conf"
  check "runs as rtmpt-gateway with CAP_NET_BIND_SERVICE, binds a port below 1024, stops on SIGTERM" \
    runs_as_service_user
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
