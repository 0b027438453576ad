#!/usr/bin/env bash
# What a change costs on the hot paths: the same requests against two builds side by side
# in one run (interleaved rounds, medians, ratios new/old): a 4 KiB GET and a 1 MiB PUT on
# a lone target, and the proxy's 307 in a one-target cluster with a cluster secret.
#
#   benches/build-cost.sh OLD_AISNODE [NEW_AISNODE=target/release/aisnode] [ROUNDS=3] [SECONDS=5] [CONNECTIONS=32]
#
# e.g. build the commit before a change in a worktree (cargo build --release) and pass its
# binary as OLD_AISNODE. Needs: wrk, curl.
set -euo pipefail
OLD=$(readlink -f "$1"); NEW=$(readlink -f "${2:-target/release/aisnode}")
ROUNDS=${3:-3}; SECS=${4:-5}; CONNS=${5:-32}
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "needs wrk" >&2; exit 1; }
W=$(mktemp -d /tmp/aiscost.XXXXXX)
cleanup() { pkill -P $$ 2>/dev/null || true; sleep 0.3; rm -rf "$W"; }
trap cleanup EXIT INT TERM
export AIS_LOG=warn AIS_CLUSTER_SECRET
AIS_CLUSTER_SECRET=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')

start() { # NAME BIN TARGET_PORT PROXY_PORT
  mkdir -p "$W/$1"/{mp1,mp2,cmp1,cmp2,proxy}
  "$2" target --host 127.0.0.1 --port "$3" --mountpath "$W/$1/mp1" --mountpath "$W/$1/mp2" --allow-shared-fs >/dev/null 2>"$W/$1.log" &
  "$2" proxy --host 127.0.0.1 --port "$4" --state-dir "$W/$1/proxy" >/dev/null 2>>"$W/$1.log" &
  sleep 0.3
  "$2" target --host 127.0.0.1 --port $(($3 + 5)) --mountpath "$W/$1/cmp1" --mountpath "$W/$1/cmp2" --allow-shared-fs \
    --proxy "http://127.0.0.1:$4" >/dev/null 2>>"$W/$1.log" &
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$4/v1/cluster?what=smap" | grep -q '"tmap":{"' && break; sleep 0.1; done
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$3/v1/health" >/dev/null && break; sleep 0.1; done
  curl -sf -X POST "http://127.0.0.1:$3/v1/buckets/b" -d '{"action":"create-bck"}'
  curl -sf -X POST "http://127.0.0.1:$4/v1/buckets/b" -d '{"action":"create-bck"}'
  for i in $(seq 0 63); do
    curl -sf -X PUT --data-binary @"$W/small" "http://127.0.0.1:$3/v1/objects/b/obj-$i"
    curl -sf -L -X PUT --data-binary @"$W/small" "http://127.0.0.1:$4/v1/objects/b/obj-$i"
  done
}
head -c 4096 /dev/urandom > "$W/small"
head -c $((1 << 20)) /dev/urandom > "$W/big"
start old "$OLD" 18301 18310
start new "$NEW" 18401 18410

cat > "$W/get.lua" <<'LUA'
local n = 0
request = function() n = n + 1; return wrk.format(nil, wrk.path .. "-" .. (n % 64)) end
LUA
cat > "$W/put.lua" <<LUA
local f = io.open("$W/big", "rb"); wrk.body = f:read("*a"); f:close()
wrk.method = "PUT"
local n = 0
request = function() n = n + 1; return wrk.format(nil, wrk.path .. "-" .. (n % 64)) end
LUA
rate() { # URL SCRIPT
  local out; out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" -s "$2" "$1")
  if grep -q "Non-2xx or 3xx" <<<"$out"; then echo "errors from $1: $out" >&2; exit 1; fi
  awk '/Requests\/sec/ {print $2}' <<<"$out"
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
declare -A R
for r in $(seq "$ROUNDS"); do
  for v in old new; do
    t=18301; p=18310; [ $v = new ] && t=18401 && p=18410
    R[get_$v]+="$(rate http://127.0.0.1:$t/v1/objects/b/obj "$W/get.lua")"$'\n'
    R[put_$v]+="$(rate http://127.0.0.1:$t/v1/objects/b/big "$W/put.lua")"$'\n'
    R[redir_$v]+="$(rate http://127.0.0.1:$p/v1/objects/b/obj "$W/get.lua")"$'\n'
  done
  echo "round $r done" >&2
done
m() { printf '%s' "${R[$1]}" | grep . | median; }
printf '%-34s %12s %12s %8s\n' "req/s (wrk -t2 -c$CONNS, ${SECS}s x $ROUNDS, median)" "old" "new" "new/old"
for c in "4 KiB GET, lone target:get" "1 MiB PUT, lone target:put" "proxy 307, signed:redir"; do
  IFS=: read -r name k <<<"$c"
  x=$(m "${k}_old"); y=$(m "${k}_new")
  printf '%-34s %12.0f %12.0f %8.3f\n' "$name" "$x" "$y" "$(awk -v x="$x" -v y="$y" 'BEGIN {print y/x}')"
done
