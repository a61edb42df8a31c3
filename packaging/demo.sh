#!/usr/bin/env bash
# Demo on one machine: installs what is needed, builds, starts a private nginx-rtmp on loopback
# as the backend and rtmpt-gateway in front of it, then publishes a generated stream through the
# gateway with ffmpeg over rtmpt:// while ffmpeg and rtmpdump play it back through the gateway.
# Everything stops by itself after DURATION seconds (default 30) and a summary is printed.
#   GATEWAY_PORT (default 8080)  RTMP_PORT (default 19350)  DURATION (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash packaging/install-deps.sh
[ -d build ] || meson setup build
ninja -C build

gw_port=${GATEWAY_PORT:-8080}
rtmp_port=${RTMP_PORT:-19350}
duration=${DURATION:-30}
work=$(mktemp -d /tmp/rtmpt-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

cat > "$work/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
daemon off;
master_process off;
pid $work/nginx.pid;
lock_file $work/nginx.lock;
error_log $work/nginx-error.log info;
events { worker_connections 256; }
rtmp {
    server {
        listen 127.0.0.1:$rtmp_port;
        application live { live on; play_restart on; }
    }
}
CONF
/usr/sbin/nginx -p "$work/" -c "$work/nginx.conf" -e "$work/nginx-error.log" &
pids+=($!)

# Run as root (a fresh machine), the gateway binds and then becomes `nobody`, as it would in production.
run_as=""
[ "$(id -u)" -eq 0 ] && run_as=nobody
sed -e "/^listen:/{n;s/.*/  - \"127.0.0.1:$gw_port\"/}" \
    -e "s/^\(  address:\).*/\1 \"127.0.0.1:$rtmp_port\"/" \
    -e "s/^\(  user:\).*/\1 \"$run_as\"/" \
    config/rtmpt-gateway.example.yaml > "$work/gateway.yaml"
build/gateway/rtmpt-gateway -t -c "$work/gateway.yaml"
build/gateway/rtmpt-gateway -c "$work/gateway.yaml" 2> >(tee "$work/gateway.log" >&2) &
pids+=($!)

wait_port() {  # bounded wait for a TCP port to accept connections
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "port $1 did not open" >&2
  return 1
}
wait_port "$rtmp_port"
wait_port "$gw_port"

url="rtmpt://127.0.0.1:$gw_port/live/demo"
echo "== players: ffmpeg and rtmpdump through $url"
timeout $((duration + 30)) ffmpeg -hide_banner -loglevel error -y -i "$url" -c copy -f flv "$work/ffmpeg-player.flv" &
player1=$!
timeout $((duration + 30)) rtmpdump -q -r "$url" --live -o "$work/rtmpdump-player.flv" &
player2=$!
sleep 1
echo "== publishing ${duration}s of testsrc + sine through $url (ffmpeg -re)"
ffmpeg -hide_banner -loglevel error -re \
  -f lavfi -i "testsrc=size=640x360:rate=25" -f lavfi -i "sine=frequency=440:sample_rate=44100" \
  -t "$duration" -c:v libx264 -preset veryfast -g 50 -pix_fmt yuv420p -c:a aac -f flv "$url"
wait "$player1" "$player2" || true

echo "== received through the gateway"
for f in ffmpeg-player rtmpdump-player; do
  printf '%-16s %s\n' "$f" "$(ffprobe -v error -count_packets -show_entries stream=codec_type,nb_read_packets \
    -of csv=p=0 "$work/$f.flv" | tr '\n' ' ')"
done
echo "== gateway log: $work/gateway.log"
grep 'session' "$work/gateway.log" || true
