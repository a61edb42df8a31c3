#!/bin/sh
# Checks a man page the way lintian does: formats it with groff and man-db with every warning on,
# and fails on any warning or error. Used by the meson test 'man-page' on the built page and by
# packaging/check-package.sh on the installed (gzipped) one.
#   sh tests/docs/check-man-page.sh build/gateway/rtmpt-gateway.8
set -eu
page=$1
[ -s "$page" ] || { echo "$page: missing or empty" >&2; exit 1; }
status=0
case "$page" in
  *.gz) out=$(gzip -dc "$page" | groff -man -ww -z -t 2>&1) || status=1 ;;
  *) out=$(groff -man -ww -z -t "$page" 2>&1) || status=1 ;;
esac
if [ -n "$out" ]; then
  printf 'groff -man -ww: %s\n' "$out" >&2
  status=1
fi
if command -v man >/dev/null 2>&1; then
  # lintian's own invocation: UTF-8 output at a fixed width, warnings to stderr.
  out=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null) ||
    status=1
  if [ -n "$out" ]; then
    printf 'man --warnings: %s\n' "$out" >&2
    status=1
  fi
fi
[ "$status" -eq 0 ] && echo "$page: no warnings from groff or man"
exit $status
