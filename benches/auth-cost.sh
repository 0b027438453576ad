#!/usr/bin/env bash
# What the protections cost, side by side in one run (interleaved rounds, medians, ratios):
#   - a 4 KiB GET on a target with AuthN (every request carries a JWT checked with HS256)
#     against the same GET on a target without;
#   - the proxy's 307 with a signed Location (cluster secret) against an unsigned one;
#   - a list-objects page through the proxy (its fan-out to the targets signed with the
#     cluster MAC, and checked there) against the same without a secret.
#
#   benches/auth-cost.sh [ROUNDS=3] [SECONDS=5] [CONNECTIONS=32]
#
# Needs: wrk, curl, a release build.
set -euo pipefail
ROUNDS=${1:-3}; SECS=${2:-5}; CONNS=${3:-32}
cd "$(dirname "$0")/.."
BIN=${AIS_BIN_DIR:-target/release}/aisnode
[ -x "$BIN" ] || cargo build --release --quiet --bins
command -v wrk >/dev/null || { echo "needs wrk" >&2; exit 1; }

W=$(mktemp -d /tmp/aisauth.XXXXXX)
cleanup() { pkill -P $$ 2>/dev/null || true; sleep 0.3; rm -rf "$W"; }
trap cleanup EXIT INT TERM
SECRET=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
export AIS_LOG=warn

# Lone targets: plain (P) and with AuthN (A).
mkdir -p "$W"/{p,a}/{mp1,mp2} "$W"/{c0,c1}/{proxy,mp1,mp2}
"$BIN" target --host 127.0.0.1 --port 18201 --mountpath "$W/p/mp1" --mountpath "$W/p/mp2" --allow-shared-fs >/dev/null 2>"$W/p.log" &
AIS_AUTHN_SECRET_KEY=$SECRET "$BIN" target --host 127.0.0.1 --port 18202 --mountpath "$W/a/mp1" --mountpath "$W/a/mp2" --allow-shared-fs >/dev/null 2>"$W/a.log" &
# Clusters: without (c0) and with (c1) a cluster secret, one target each.
AIS_NO_CLUSTER_SECRET=true "$BIN" proxy --host 127.0.0.1 --port 18210 --state-dir "$W/c0/proxy" >/dev/null 2>"$W/c0.log" &
AIS_CLUSTER_SECRET=$SECRET "$BIN" proxy --host 127.0.0.1 --port 18220 --state-dir "$W/c1/proxy" >/dev/null 2>"$W/c1.log" &
sleep 0.3
AIS_NO_CLUSTER_SECRET=true "$BIN" target --host 127.0.0.1 --port 18211 --mountpath "$W/c0/mp1" --mountpath "$W/c0/mp2" --allow-shared-fs --proxy http://127.0.0.1:18210 >/dev/null 2>>"$W/c0.log" &
AIS_CLUSTER_SECRET=$SECRET "$BIN" target --host 127.0.0.1 --port 18221 --mountpath "$W/c1/mp1" --mountpath "$W/c1/mp2" --allow-shared-fs --proxy http://127.0.0.1:18220 >/dev/null 2>>"$W/c1.log" &
TOKEN=$("$BIN" token issue --secret "$SECRET" --user bench --admin --expires-in 1h)
AUTH="Authorization: Bearer $TOKEN"
for p in 18210 18220; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$p/v1/cluster?what=smap" | grep -q '"tmap":{"' && break; sleep 0.1; done
done
head -c 4096 /dev/urandom > "$W/obj"
curl -sf -X POST http://127.0.0.1:18201/v1/buckets/b -d '{"action":"create-bck"}'
curl -sf -X POST -H "$AUTH" http://127.0.0.1:18202/v1/buckets/b -d '{"action":"create-bck"}'
curl -sf -X POST http://127.0.0.1:18210/v1/buckets/b -d '{"action":"create-bck"}'
curl -sf -X POST http://127.0.0.1:18220/v1/buckets/b -d '{"action":"create-bck"}'
for i in $(seq 0 63); do
  curl -sf -X PUT --data-binary @"$W/obj" http://127.0.0.1:18201/v1/objects/b/obj-$i
  curl -sf -X PUT -H "$AUTH" --data-binary @"$W/obj" http://127.0.0.1:18202/v1/objects/b/obj-$i
  curl -sf -L -X PUT --data-binary @"$W/obj" http://127.0.0.1:18210/v1/objects/b/obj-$i
  curl -sf -L -X PUT --data-binary @"$W/obj" http://127.0.0.1:18220/v1/objects/b/obj-$i
done

cat > "$W/get.lua" <<'LUA'
local n = 0
request = function() n = n + 1; return wrk.format(nil, wrk.path .. "-" .. (n % 64)) end
LUA
cat > "$W/list.lua" <<'LUA'
wrk.method = "GET"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"action":"list","value":{"pagesize":64,"props":"name,size"}}'
LUA

rate() { # URL SCRIPT [HEADER]
  local out
  if [ -n "${3:-}" ]; then
    out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" -s "$2" -H "$3" "$1")
  else
    out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" -s "$2" "$1")
  fi
  if grep -q "Non-2xx or 3xx" <<<"$out"; then echo "errors from $1: $out" >&2; exit 1; fi
  awk '/Requests\/sec/ {print $2}' <<<"$out"
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

declare -A R
for r in $(seq "$ROUNDS"); do
  R[get_plain]+="$(rate http://127.0.0.1:18201/v1/objects/b/obj "$W/get.lua")"$'\n'
  R[get_token]+="$(rate http://127.0.0.1:18202/v1/objects/b/obj "$W/get.lua" "$AUTH")"$'\n'
  R[redir_plain]+="$(rate http://127.0.0.1:18210/v1/objects/b/obj "$W/get.lua")"$'\n'
  R[redir_signed]+="$(rate http://127.0.0.1:18220/v1/objects/b/obj "$W/get.lua")"$'\n'
  R[list_plain]+="$(rate http://127.0.0.1:18210/v1/buckets/b "$W/list.lua")"$'\n'
  R[list_signed]+="$(rate http://127.0.0.1:18220/v1/buckets/b "$W/list.lua")"$'\n'
  echo "round $r done" >&2
done
m() { printf '%s' "${R[$1]}" | grep . | median; }
printf '%-44s %12s %12s %8s\n' "case (wrk -t2 -c$CONNS, ${SECS}s x $ROUNDS, median)" "without" "with" "ratio"
for pair in "4 KiB GET on a target, JWT checked:get_plain:get_token" \
            "proxy 307, Location signed:redir_plain:redir_signed" \
            "list page via proxy, fan-out MAC-signed:list_plain:list_signed"; do
  IFS=: read -r name a b <<<"$pair"
  x=$(m "$a"); y=$(m "$b")
  printf '%-44s %12.0f %12.0f %8.3f\n' "$name" "$x" "$y" "$(awk -v x="$x" -v y="$y" 'BEGIN {print y/x}')"
done
