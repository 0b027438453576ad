#!/usr/bin/env bash
# Peak memory of a target under 256 concurrent 8 MiB GETs and PUTs (aisloader, 50% PUT,
# straight to the target): prints the target's peak RSS (VmHWM) next to the bytes moved.
#   benches/memory.sh [WORKERS=256] [SIZE=8MiB] [SECONDS=15]
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS=${1:-256}; SIZE=${2:-8MiB}; SECS=${3:-15}
[ -x target/release/aisnode ] && [ -x target/release/aisloader ] || cargo build --release --quiet --bins
W=$(mktemp -d /var/tmp/aismem.XXXXXX)
trap 'kill $TPID 2>/dev/null; wait 2>/dev/null; rm -rf "$W"' EXIT INT TERM
mkdir -p "$W/mp1" "$W/mp2"
AIS_LOG=warn target/release/aisnode target --host 127.0.0.1 --port 19181 --allow-shared-fs \
  --mountpath "$W/mp1" --mountpath "$W/mp2" > "$W/out" 2> "$W/log" &   # honours AIS_CONFIG
TPID=$!
for _ in $(seq 50); do grep -q listening "$W/out" 2>/dev/null && break; sleep 0.1; done
# Seed objects to read, then the mixed run.
target/release/aisloader --proxy http://127.0.0.1:19181 --bucket mem --pctput 100 --maxputs 64 --duration 0 \
  --minsize "$SIZE" --maxsize "$SIZE" --numworkers 16 --statsinterval 0 --json > /dev/null
target/release/aisloader --proxy http://127.0.0.1:19181 --bucket mem --pctput 50 --duration "${SECS}s" \
  --minsize "$SIZE" --maxsize "$SIZE" --numworkers "$WORKERS" --statsinterval 0 --json > "$W/run.json"
python3 - "$W/run.json" "/proc/$TPID/status" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))
status = dict(l.split(":", 1) for l in open(sys.argv[2]))
hwm = int(status["VmHWM"].split()[0]) // 1024
for r in runs:
    print(f'{r["op"]}: {r["count"]} ops, {r["mib_per_sec"]:.0f} MiB/s, errors {r["errors"]}')
print(f"target peak RSS (VmHWM): {hwm} MiB")
PY
