#!/usr/bin/env bash
# Runs every check and test: formatting, clippy, Rust unit and integration tests (real
# aisnode processes on loopback), the AIStore Python SDK tests against real processes, the
# deployment files rendered and validated offline, and
# the container tests (image built from the static binary, Compose cluster; needs Docker);
# the benchmark scripts run once in smoke mode first (needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
# Each stage is stamped with the seconds since the start (CI must stay under 30 min).
stage() { echo "== [${SECONDS}s] $*"; }

stage "system packages and toolchain parts (tests/setup.sh)"
tests/setup.sh

stage "cargo fmt --check"
cargo fmt --all -- --check
stage "cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings

stage "Python venv (.venv) with the AIStore SDK"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt

stage "cargo test"
cargo build --quiet --bins
cargo test --quiet --all-targets

stage "static release binary (the container image's, and the benchmark smoke runs')"
cargo build --quiet --release --target x86_64-unknown-linux-musl --bins

stage "benchmark scripts, smoke mode (root, loop devices, nginx)"
AIS_BIN_DIR="$PWD/target/x86_64-unknown-linux-musl/release" benches/smoke.sh

stage "Python tests: SDK against real processes, then the container image and Compose cluster"
# The node tests pick their own ports: two workers, one file each at a time (a file's
# tests share fixtures); the container tests share one Compose project: one at a time.
# Targets flush their filesystem (syncfs) before acknowledging a PUT: the builds' dirty
# pages are written first, so the first test does not pay for them.
sync
AISNODE_BIN="$PWD/target/debug/aisnode" .venv/bin/python -m pytest -q -p no:cacheprovider --durations=20 \
  -n 2 --dist loadfile tests/python
AISNODE_BIN="$PWD/target/debug/aisnode" .venv/bin/python -m pytest -q -p no:cacheprovider --durations=10 \
  tests/deploy tests/container
stage "done"
