#!/usr/bin/env bash
# GET against nginx over the whole matrix of issue 13: object sizes 4 KiB, 64 KiB, 1 MiB
# and 8 MiB; one hot object and 64 objects; 32 and 256 connections. Runs benches/peers.sh
# for each (interleaved rounds, medians) and prints one line per case with the ratios.
#
#   benches/peers-matrix.sh [ROUNDS=3] [SECONDS=5] [SIZES="4 64 1024 8192"] [OBJECTS="1 64"] [CONNS="32 256"]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}; SECS=${2:-5}; SIZES=${3:-"4 64 1024 8192"}; OBJS=${4:-"1 64"}; CONNS=${5:-"32 256"}
failed=0
printf "%-8s %-7s %-5s %10s %10s %10s %8s %8s\n" size objects conns ais_get ngx_get ngx_ofc "x nginx" "x ofc"
for size in $SIZES; do for objs in $OBJS; do for c in $CONNS; do
  if ! out=$(benches/peers.sh "$size" "$ROUNDS" "$SECS" "$c" "$objs" 2>/tmp/peers-matrix.err); then
    echo "${size}KiB $objs objects $c connections: failed: $(tail -3 /tmp/peers-matrix.err | tr '\n' ' ')"
    failed=1; continue
  fi
  med() { awk -v k="$1" '$1==k {print $2}' <<<"$out"; }
  r1=$(awk '/^GET ratio aisnode\/nginx:/ {print $NF}' <<<"$out")
  r2=$(awk '/^GET ratio.*open_file_cache:/ {print $NF}' <<<"$out")
  printf "%-8s %-7s %-5s %10s %10s %10s %8s %8s\n" "${size}KiB" "$objs" "$c" "$(med ais_get)" "$(med ngx_get)" "$(med ngx_cached_get)" "$r1" "$r2"
done; done; done
exit $failed
