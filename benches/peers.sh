#!/usr/bin/env bash
# Side-by-side throughput: aisnode target (and the proxy path) vs nginx serving the same
# files (GET) and accepting WebDAV PUT, with the same load tool (wrk), object size and
# concurrency, interleaved rounds, medians reported as ratios. Also the proxy's 307 against
# nginx answering `return 307`. HEAD is driven by ApacheBench (`ab -k -i`, one thread):
# wrk waits for a HEAD response's body and hangs.
#
#   benches/peers.sh [SIZE_KIB=1024] [ROUNDS=3] [SECONDS=6] [CONNECTIONS=32] [OBJECTS=64]
#   (OBJECTS=1: every GET asks for the same hot object.)
#   (AIS_TARGET_CONFIG=FILE gives the target a config file.)
#
# Needs: nginx (with the dav module, e.g. Debian nginx-light), wrk, ab (apache2-utils), a
# release build.
set -euo pipefail
SIZE_KIB=${1:-1024}; ROUNDS=${2:-3}; SECS=${3:-6}; CONNS=${4:-32}; OBJECTS=${5:-64}
cd "$(dirname "$0")/.."
BIN=${AIS_BIN_DIR:-target/release}/aisnode
[ -x "$BIN" ] || cargo build --release --quiet --bins
test -c /dev/null || { echo "/dev/null is not a device; fix it first" >&2; exit 1; }
command -v wrk >/dev/null && command -v nginx >/dev/null && command -v ab >/dev/null \
  || { echo "needs wrk, ab (apache2-utils) and nginx" >&2; exit 1; }

W=$(mktemp -d /tmp/aisbench.XXXXXX)
chmod 755 "$W"   # nginx workers run unprivileged
cleanup() { [ -f "$W/nginx.pid" ] && kill "$(cat "$W/nginx.pid")" 2>/dev/null; pkill -P $$ 2>/dev/null || true; sleep 0.3; rm -rf "$W"; }
trap cleanup EXIT INT TERM

NGX_PORT=18089; NGXC_PORT=18088; NGXR_PORT=18087; AIS_PORT=18081; PROXY_PORT=18080
# A previous run's nginx or nodes may still be letting go of the ports.
for _ in $(seq 100); do
  busy=0
  for p in $NGX_PORT $NGXC_PORT $NGXR_PORT $AIS_PORT $PROXY_PORT; do
    (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && busy=1
  done
  [ $busy = 0 ] && break; sleep 0.1
done
mkdir -p "$W/www/b" "$W/nginx" "$W/mp1" "$W/mp2" "$W/proxy"
head -c $((SIZE_KIB*1024)) /dev/urandom > "$W/obj"
# 64 objects, so both servers spread the load (aisnode: over its mountpaths by HRW).
for i in $(seq 0 63); do cp "$W/obj" "$W/www/b/obj-$i"; done
cat > "$W/nginx/nginx.conf" <<NGX
worker_processes 2;
pid $W/nginx.pid;
error_log $W/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off; sendfile off; tcp_nopush on; keepalive_requests 1000000;
  client_max_body_size 0; client_body_temp_path $W/nginx/tmp;
  server { listen 127.0.0.1:$NGX_PORT; root $W/www;
    location / { dav_methods PUT; create_full_put_path on; } }
  # The same files with nginx's open-file cache (descriptors and stat results kept), the
  # peer of aisnode's own cache of hot objects.
  server { listen 127.0.0.1:$NGXC_PORT; root $W/www; open_file_cache max=1000 inactive=60s; }
  # The peer of the proxy: a 307 to the target, computed from the request URI.
  server { listen 127.0.0.1:$NGXR_PORT; location / { return 307 http://127.0.0.1:$AIS_PORT\$request_uri; } }
}
NGX
mkdir -p "$W/nginx/tmp"; chmod 777 "$W/www/b" "$W/nginx/tmp"; chmod 644 "$W"/www/b/obj-*
nginx -c "$W/nginx/nginx.conf" -p "$W/nginx"

# Objects are read straight from the target's public port (the peer of nginx): a cluster
# without a secret, by choice (a signed cluster takes object requests only via the proxy).
export AIS_NO_CLUSTER_SECRET=true
"$BIN" proxy --host 127.0.0.1 --port $PROXY_PORT --state-dir "$W/proxy" >"$W/proxy.out" 2>"$W/proxy.log" &
sleep 0.3
AIS_LOG=warn "$BIN" target --host 127.0.0.1 --port $AIS_PORT --mountpath "$W/mp1" --mountpath "$W/mp2" \
  --allow-shared-fs --proxy http://127.0.0.1:$PROXY_PORT ${AIS_TARGET_CONFIG:+--config "$AIS_TARGET_CONFIG"} >"$W/target.out" 2>"$W/target.log" &
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PROXY_PORT/v1/cluster?what=smap" | grep -q target && break; sleep 0.1; done
curl -sf -X POST "http://127.0.0.1:$PROXY_PORT/v1/buckets/b" -d '{"action":"create-bck"}'
for i in $(seq 0 63); do curl -sf -X PUT --data-binary @"$W/obj" "http://127.0.0.1:$AIS_PORT/v1/objects/b/obj-$i"; done

cat > "$W/put.lua" <<LUA
local f = io.open("$W/obj", "rb"); wrk.body = f:read("*a"); f:close()
wrk.method = "PUT"
local n = 0
request = function() n = n + 1; return wrk.format(nil, wrk.path .. "-" .. (n % 64)) end
LUA
cat > "$W/get.lua" <<LUA
local n = 0
request = function() n = n + 1; return wrk.format(nil, wrk.path .. "-" .. (n % $OBJECTS)) end
LUA
# wrk does not follow redirects: measure the redirect itself on the proxy.
# Refuses to report a run with error responses (wrk counts them silently otherwise).
rps() {
  local out; out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" "$@" 2>&1)
  if grep -q "Non-2xx" <<<"$out" && ! grep -q "redirect_ok" <<<"${WRK_OK:-}"; then
    echo "error responses in: wrk $*" >&2; echo "$out" >&2; exit 1
  fi
  awk '/Requests\/sec/ {print $2}' <<<"$out"
}
# HEAD of one object (the hot case) with keep-alive; refuses a run with failures.
hps() {
  local out; out=$(ab -k -i -q -c "$CONNS" -t "$SECS" -n 100000000 "$1" 2>&1)
  if ! grep -q "^Failed requests: *0$" <<<"$out" || grep -q "Non-2xx" <<<"$out"; then
    echo "failed HEAD requests in: ab $1" >&2; echo "$out" >&2; exit 1
  fi
  awk '/^Requests per second/ {print $4}' <<<"$out"
}
lat() { wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "$@" 2>&1 | awk '$1=="50%" {print $2}'; }

declare -A R
for round in $(seq "$ROUNDS"); do
  R[ngx_get]+="$(rps -s "$W/get.lua" http://127.0.0.1:$NGX_PORT/b/obj) "
  R[ngx_cached_get]+="$(rps -s "$W/get.lua" http://127.0.0.1:$NGXC_PORT/b/obj) "
  R[ais_get]+="$(rps -s "$W/get.lua" http://127.0.0.1:$AIS_PORT/v1/objects/b/obj) "
  R[ngx_put]+="$(rps -s "$W/put.lua" http://127.0.0.1:$NGX_PORT/b/put) "
  R[ais_put]+="$(rps -s "$W/put.lua" http://127.0.0.1:$AIS_PORT/v1/objects/b/put) "
  R[proxy_redirect]+="$(WRK_OK=redirect_ok rps -s "$W/get.lua" http://127.0.0.1:$PROXY_PORT/v1/objects/b/obj) "
  R[ngx_redirect]+="$(WRK_OK=redirect_ok rps -s "$W/get.lua" http://127.0.0.1:$NGXR_PORT/v1/objects/b/obj) "
  R[ngx_head]+="$(hps http://127.0.0.1:$NGX_PORT/b/obj-0) "
  R[ngx_cached_head]+="$(hps http://127.0.0.1:$NGXC_PORT/b/obj-0) "
  R[ais_head]+="$(hps http://127.0.0.1:$AIS_PORT/v1/objects/b/obj-0) "
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
range() { tr ' ' '\n' | grep -v '^$' | sort -g | awk 'NR==1{lo=$1} {hi=$1} END {print lo "-" hi}'; }
echo "object ${SIZE_KIB} KiB, GETs over $OBJECTS object(s), wrk -t2 -c$CONNS, ${SECS}s x $ROUNDS interleaved rounds, $(nproc) cores"
printf "%-16s %12s %22s\n" case "median req/s" "range"
for k in ngx_get ngx_cached_get ais_get ngx_put ais_put proxy_redirect ngx_redirect ngx_head ngx_cached_head ais_head; do
  printf "%-16s %12s %22s\n" "$k" "$(echo "${R[$k]}" | median)" "$(echo "${R[$k]}" | range)"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
echo "GET ratio aisnode/nginx: $(ratio "$(echo "${R[ais_get]}" | median)" "$(echo "${R[ngx_get]}" | median)")"
echo "GET ratio aisnode/nginx with open_file_cache: $(ratio "$(echo "${R[ais_get]}" | median)" "$(echo "${R[ngx_cached_get]}" | median)")"
echo "PUT ratio aisnode/nginx: $(ratio "$(echo "${R[ais_put]}" | median)" "$(echo "${R[ngx_put]}" | median)")"
echo "HEAD ratio aisnode/nginx: $(ratio "$(echo "${R[ais_head]}" | median)" "$(echo "${R[ngx_head]}" | median)")"
echo "HEAD ratio aisnode/nginx with open_file_cache: $(ratio "$(echo "${R[ais_head]}" | median)" "$(echo "${R[ngx_cached_head]}" | median)")"
echo "307 ratio proxy/nginx return 307: $(ratio "$(echo "${R[proxy_redirect]}" | median)" "$(echo "${R[ngx_redirect]}" | median)")"
# Latency added by the proxy hop: p50 of redirect + p50 of direct GET vs direct GET alone.
echo "p50 latency: direct GET $(lat -s "$W/get.lua" http://127.0.0.1:$AIS_PORT/v1/objects/b/obj), proxy redirect $(lat -s "$W/get.lua" http://127.0.0.1:$PROXY_PORT/v1/objects/b/obj)"
