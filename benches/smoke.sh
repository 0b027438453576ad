#!/usr/bin/env bash
# A quick run of every benchmark script, so they do not rot: scaling with 1 and 2 throttled
# disks for 2 s each (and 2 disks over 2 targets behind a proxy), the nginx comparison with small objects for 1 s, and the cost of
# tokens and signatures. Needs root,
# xfsprogs, nginx, wrk and ab (.ci/run installs them); the S3 run installs its peers (SeaweedFS, s3s-fs). Figures from a smoke run mean nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
benches/scaling.sh --smoke --out target/scaling-smoke
benches/scaling.sh --smoke --disks 2 --via-proxy --targets 2 --out target/scaling-smoke-targets
benches/peers.sh 64 1 1 8
benches/peers-matrix.sh 1 1 "4" "1" "8"
.venv/bin/python benches/listing.py --sizes 2000 --repeat 1
.venv/bin/python benches/get_batch.py --smoke --bin-dir "${AIS_BIN_DIR:-target/release}"
.venv/bin/python benches/redundancy.py --smoke --bin "${AIS_BIN_DIR:-target/release}/aisnode"
.venv/bin/python benches/durability.py --smoke --bin-dir "${AIS_BIN_DIR:-target/release}"
benches/s3-peers.sh --smoke
benches/auth-cost.sh 1 1 4
.venv/bin/python benches/failover.py --smoke --bin "${AIS_BIN_DIR:-target/release}/aisnode"
