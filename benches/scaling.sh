#!/usr/bin/env bash
# Disk-linear scaling: throughput against the number of disks, each disk a loop device
# with XFS, every disk limited to the same bandwidth with cgroup v1 blkio throttling, and
# the target (direct I/O, one mountpath per disk) running inside that cgroup.
# Runs aisloader PUT then GET phases of 8 MiB objects for N = 1, 2, 4, 8 disks, throttled
# and then unthrottled (where the CPU becomes the limit), and writes
# scaling.csv, scaling.json and scaling.svg (throughput against disks, with the ideal line).
#
# Two figures per phase: the client's (aisloader: bytes of objects completed in the run,
# which loses the objects still in flight at either end, up to workers x size / 2 each),
# and the disks' steady-state rate: sectors moved by the loop devices according to the
# kernel (/sys/block/loopN/stat, as iostat reads them) in the window that skips the first
# WARMUP seconds and the last second. Efficiency = disk rate / (N x limit).
#
#   sudo benches/scaling.sh [--smoke] [--limit-mib 100] [--duration 10s] [--disks "1 2 4 8"]
#                           [--size 8MiB] [--backing DIR] [--out DIR] [--no-unthrottled]
#                           [--workers-per-disk 32] [--via-proxy] [--target-config FILE]
#                           [--targets "1 2 4"]
#
# The target runs with its defaults plus --direct-io (it sizes its chunks by object and its
# buffer budget by mountpaths and memory); --target-config FILE gives it a config file, e.g.
# benches/large-objects.toml (1 MiB chunks for every object, 256 MiB budget).
#
# aisloader talks to the target itself by default: the benchmark is about the target's
# disks. --via-proxy puts a proxy in front (each request then takes a 307, and a PUT's body
# also travels to the proxy first, as with any HTTP client that follows redirects).
# --targets "1 2 4" (with --via-proxy) runs each case once per count T, the N disks split
# evenly over T targets on this machine (N/T mountpaths each), all behind one proxy:
# one CSV, one line per T in the chart.
#
# Needs root, losetup, mkfs.xfs (xfsprogs), cgroup v1 blkio, and a release build; with fio
# installed, each case also measures fio on the same disks in the same cgroup (the peer).
# Cleans up loop devices, mounts, cgroups and processes even when interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

LIMIT_MIB=100; DURATION=20s; DISKS="1 2 4 8"; SIZE=8MiB; BACKING=""; OUT="$ROOT/target/scaling"; UNTHROTTLED=1; PER_DISK=32; WARMUP=4; VIA_PROXY=0
TARGETS=1
TARGET_CONFIG=
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) DISKS="1 2"; DURATION=3s; WARMUP=1; UNTHROTTLED=0; SMOKE=1 ;;
    --limit-mib) LIMIT_MIB=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --disks) DISKS=$2; shift ;;
    --size) SIZE=$2; shift ;;
    --backing) BACKING=$2; shift ;;
    --out) OUT=$2; shift ;;
    --no-unthrottled) UNTHROTTLED=0 ;;
    --workers-per-disk) PER_DISK=$2; shift ;;
    --via-proxy) VIA_PROXY=1 ;;
    --targets) TARGETS=$2; shift ;;
    --target-config) TARGET_CONFIG=$2; shift ;;
    -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || { echo "run as root (loop devices, mounts, cgroups)" >&2; exit 1; }
command -v mkfs.xfs >/dev/null || { echo "needs mkfs.xfs (apt-get install xfsprogs)" >&2; exit 1; }
CG_ROOT=/sys/fs/cgroup/blkio
[ -f "$CG_ROOT/blkio.throttle.read_bps_device" ] || { echo "needs cgroup v1 blkio throttling at $CG_ROOT" >&2; exit 1; }
test -c /dev/null || { echo "/dev/null is not a device" >&2; exit 1; }
BIN_DIR=$(cd "${AIS_BIN_DIR:-target/release}" 2>/dev/null && pwd || echo "$ROOT/target/release")
[ -x "$BIN_DIR/aisnode" ] && [ -x "$BIN_DIR/aisloader" ] || cargo build --release --quiet --bins
AISNODE=$BIN_DIR/aisnode; LOADER=$BIN_DIR/aisloader
# The chart (plotters): built before any disk is touched, so a build problem fails early.
# A smoke run writes the CSV only (its figures mean nothing; no release build just for it).
PLOT=
if [ "${SMOKE:-0}" = 0 ]; then
  cargo build --release --quiet --example plot_scaling
  PLOT=$ROOT/target/release/examples/plot_scaling
fi

W=$(mktemp -d "${BACKING:-/var/tmp}/aisscale.XXXXXX")
CG=$CG_ROOT/aisbench-$$
mkdir -p "$OUT"
LOOPS=(); PIDS=()
cleanup() {
  set +e
  # Targets start inside run_case's subshell, so their PIDs are kept in a file.
  [ -f "$W/pids" ] && PIDS+=($(cat "$W/pids"))
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  for m in "$W"/mp*; do mountpoint -q "$m" 2>/dev/null && umount -l "$m"; done
  for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done
  [ -d "$CG" ] && rmdir "$CG" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT INT TERM

limit=$((LIMIT_MIB * 1024 * 1024))
MAXN=$(for n in $DISKS; do echo "$n"; done | sort -n | tail -1)
echo "preparing $MAXN loop disks with XFS under $W"
for i in $(seq 1 "$MAXN"); do
  truncate -s 40G "$W/disk$i.img"   # sparse; an unthrottled 20 s PUT phase writes ~25 GiB
  dev=$(losetup --direct-io=on --show -f "$W/disk$i.img")
  LOOPS+=("$dev")
  mkfs.xfs -q -f "$dev"
  mkdir -p "$W/mp$i"
  mount "$dev" "$W/mp$i"
done
mkdir "$CG"

proxy_port=19080; target_port=19081
for t in $TARGETS; do
  [ "$t" = 1 ] || [ "$VIA_PROXY" = 1 ] || { echo "--targets $t needs --via-proxy" >&2; exit 2; }
done
CONFIG_ARGS=()
[ -n "$TARGET_CONFIG" ] && CONFIG_ARGS+=(--config "$TARGET_CONFIG")

# run_case MODE N T -> prints "put_mibs get_mibs ..." for N disks over T targets
run_case() {
  local mode=$1 n=$2 t=$3
  for dev in "${LOOPS[@]}"; do
    local mm; mm=$(lsblk -dno MAJ:MIN "$dev" | tr -d ' ')
    local v=$limit; [ "$mode" = unthrottled ] && v=0
    echo "$mm $v" > "$CG/blkio.throttle.read_bps_device"
    echo "$mm $v" > "$CG/blkio.throttle.write_bps_device"
  done
  # A fresh directory per case on each disk: the node ID a target marks its mountpaths
  # with goes too (with --targets, a disk serves another target in the next case).
  for i in $(seq 1 "$n"); do rm -rf "${W:?}/mp$i"/* "$W/mp$i"/.ais* 2>/dev/null || true; mkdir "$W/mp$i/data"; done
  # The deletions' metadata written now, outside the throttled cgroup: left for later, it
  # lands in the next case's first fsync (a bucket create then takes seconds).
  sync
  # Hand the freed blocks back to the sparse image file, or the images outgrow the disk.
  for i in $(seq 1 "$n"); do fstrim "$W/mp$i" 2>/dev/null || true; done
  local endpoint=http://127.0.0.1:$target_port join=() tpids=()
  if [ "$VIA_PROXY" = 1 ]; then
    # Nodes join only with the cluster's secret: one made for the run.
    export AIS_CLUSTER_SECRET=${AIS_CLUSTER_SECRET:-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')}
    # A fresh proxy per case: the previous case's targets are not in its map.
    rm -rf "$W/proxy"; mkdir -p "$W/proxy"
    # A bucket create right after the previous case's deletions can take its targets more
    # than the default 5 s on throttled disks.
    echo "control_timeout_ms = 60000" > "$W/proxy.toml"
    AIS_LOG=warn "$AISNODE" proxy --host 127.0.0.1 --port $proxy_port --state-dir "$W/proxy" --config "$W/proxy.toml" >"$W/proxy.out" 2>"$W/proxy.log" &
    tpids+=($!); echo "$!" >> "$W/pids"
    endpoint=http://127.0.0.1:$proxy_port; join=(--proxy "$endpoint")
    for _ in $(seq 100); do grep -q "listening" "$W/proxy.out" 2>/dev/null && break; sleep 0.1; done
  fi
  local per=$((n / t)) k
  for k in $(seq 0 $((t - 1))); do
    local args=() i
    for i in $(seq $((k * per + 1)) $(((k + 1) * per))); do args+=(--mountpath "$W/mp$i/data"); done
    sh -c "echo \$\$ > $CG/cgroup.procs; AIS_LOG=warn exec $AISNODE target --host 127.0.0.1 --port $((target_port + k)) --direct-io $(printf '%q ' "${CONFIG_ARGS[@]}" "${join[@]}" "${args[@]}")" \
      >"$W/target$k.out" 2>"$W/target$k.log" &
    tpids+=($!); echo "$!" >> "$W/pids"
    # Up to 60 s: a start right after the previous case's deletions can wait on the disks.
    for _ in $(seq 600); do grep -q "listening" "$W/target$k.out" 2>/dev/null && break; sleep 0.1; done
    grep -q "listening" "$W/target$k.out" 2>/dev/null || {
      echo "target $k did not start within 60 s; its log:" >&2; tail -20 "$W/target$k.log" >&2; exit 1
    }
  done
  if [ "$VIA_PROXY" = 1 ]; then
    for _ in $(seq 100); do
      [ "$(curl -sf "$endpoint/v1/cluster?what=smap" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["tmap"]))' 2>/dev/null)" = "$t" ] && break
      sleep 0.1
    done
  fi
  local workers=$((PER_DISK * n)) bucket="scale${t}x$n$mode"
  "$LOADER" --proxy "$endpoint" --bucket "$bucket" --pctput 100 --duration "$DURATION" \
    --minsize "$SIZE" --maxsize "$SIZE" --numworkers "$workers" --cksum-type none --json --statsinterval 0 > "$W/put.json" &
  steady_rate "$n" write $! > "$W/dput"   # not $(...): wait needs the loader as our child
  "$LOADER" --proxy "$endpoint" --bucket "$bucket" --pctput 0 --duration "$DURATION" \
    --numworkers "$workers" --json --statsinterval 0 > "$W/get.json" &
  steady_rate "$n" read $! > "$W/dget"
  local dput dget; dput=$(cat "$W/dput"); dget=$(cat "$W/dget")
  kill "${tpids[@]}"; wait "${tpids[@]}" 2>/dev/null || true
  # The peer: fio on the same disks, in the same cgroup, same block size, direct I/O.
  local fw="-" fr="-"
  if command -v fio >/dev/null; then
    local jobs=()
    for i in $(seq 1 "$n"); do jobs+=(--name="d$i" --directory="$W/mp$i"); done
    local common=(--size=1G --bs=1M --direct=1 --ioengine=io_uring --iodepth=16 --runtime="${DURATION%s}" --time_based --group_reporting --output-format=json)
    sh -c "echo \$\$ > $CG/cgroup.procs; exec fio --rw=write ${common[*]} $(printf '%q ' "${jobs[@]}")" > "$W/fw.json" 2>/dev/null \
      && fw=$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["jobs"][0]["write"]["bw_bytes"]/1048576,1))' "$W/fw.json")
    sh -c "echo \$\$ > $CG/cgroup.procs; exec fio --rw=read ${common[*]} $(printf '%q ' "${jobs[@]}")" > "$W/fr.json" 2>/dev/null \
      && fr=$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["jobs"][0]["read"]["bw_bytes"]/1048576,1))' "$W/fr.json")
    for i in $(seq 1 "$n"); do rm -f "$W/mp$i"/d"$i".*; done
  fi
  python3 - "$W/put.json" "$W/get.json" "$fw" "$fr" "$dput" "$dget" <<'PY'
import json, sys
put = json.load(open(sys.argv[1]))[0]; get = json.load(open(sys.argv[2]))[0]
assert put["errors"] == 0 and get["errors"] == 0, (put, get)
print(f'{put["mib_per_sec"]:.1f} {get["mib_per_sec"]:.1f} {sys.argv[3]} {sys.argv[4]} {sys.argv[5]} {sys.argv[6]}')
PY
}

# Sectors read (field 3) or written (field 7) by the first N loop devices, per the kernel.
sectors() {
  local n=$1 field=$2 total=0
  for dev in "${LOOPS[@]:0:$n}"; do
    total=$((total + $(awk -v f="$field" '{print $f}' "/sys/block/$(basename "$dev")/stat")))
  done
  echo "$total"
}

# steady_rate N read|write PID: the disks' MiB/s between WARMUP s after the start and 1 s
# before the end of the loader run PID; waits for the run to finish.
steady_rate() {
  local n=$1 field=3 pid=$3 secs=${DURATION%s}
  [ "$2" = write ] && field=7
  local window=$((secs - WARMUP - 1))
  sleep "$WARMUP"
  local a t0 b t1; a=$(sectors "$n" $field); t0=$(date +%s.%N)
  sleep "$window"
  b=$(sectors "$n" $field); t1=$(date +%s.%N)
  wait "$pid" || { echo "aisloader failed" >&2; exit 1; }
  awk -v a="$a" -v b="$b" -v t0="$t0" -v t1="$t1" 'BEGIN {printf "%.1f", (b - a) * 512 / 1048576 / (t1 - t0)}'
}

CSV=$OUT/scaling.csv
echo "mode,targets,disks,disk_put_mib_s,disk_get_mib_s,ideal_mib_s,put_efficiency,get_efficiency,client_put_mib_s,client_get_mib_s,fio_write_mib_s,fio_read_mib_s" > "$CSV"
modes=throttled; [ "$UNTHROTTLED" = 1 ] && modes="throttled unthrottled"
for mode in $modes; do
  for t in $TARGETS; do
    for n in $DISKS; do
      [ $((n % t)) = 0 ] || { echo "skipping $n disks over $t targets (not an even split)" >&2; continue; }
      read -r put get fw fr dput dget < <(run_case "$mode" "$n" "$t")
      if [ "$mode" = throttled ]; then
        ideal=$((n * LIMIT_MIB))
        eff=$(awk -v p="$dput" -v g="$dget" -v i="$ideal" 'BEGIN {printf "%.3f,%.3f", p/i, g/i}')
      else
        ideal=""; eff=","
      fi
      echo "$mode,$t,$n,$dput,$dget,$ideal,$eff,$put,$get,$fw,$fr" | tee -a "$CSV"
    done
  done
done
if [ -z "$PLOT" ]; then echo "wrote $CSV (smoke: no chart)"; exit 0; fi
"$PLOT" "$CSV" "$OUT/scaling.json" "$OUT/scaling.svg" \
  "$(nproc) vCPU, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $SIZE objects, ${LIMIT_MIB} MiB/s per disk"
echo "wrote $CSV, $OUT/scaling.json, $OUT/scaling.svg"
