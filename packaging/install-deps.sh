#!/usr/bin/env bash
# Installs every build and test dependency of rtmpt-gateway on Debian 12.
# Idempotent: packages already present are left as they are.
set -euo pipefail

packages=(
  # build
  build-essential g++ meson ninja-build pkg-config clang-format
  libevent-dev libyaml-cpp-dev doctest-dev node-llhttp libssl-dev
  # tests: real clients and a real RTMP backend
  ffmpeg rtmpdump nginx-light libnginx-mod-rtmp python3 procps
  # tests: certificates made at test time, and a TLS scanner run against the TLS listener
  openssl sslscan
  # tests: promtool validates the /metrics page (the prometheus package ships it)
  prometheus
  # tests: several gateway nodes behind a real load balancer (tests/e2e/test_haproxy.py)
  haproxy
  # tests: clients behind a real forward proxy (tests/e2e/test_squid.py)
  squid
  # the Debian package (packaging/build-deb.sh, check-package.sh): its build tools, man page checks,
  # systemd-analyze for the unit
  debhelper dpkg-dev groff-base man-db systemd
  # fuzzing (packaging/fuzz.sh): clang with libFuzzer and the sanitizer runtimes, llvm-symbolizer
  clang-14 libclang-rt-14-dev llvm-14
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
