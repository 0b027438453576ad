#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian/Ubuntu machine, or says what is missing:
# promtool (package prometheus) checks /metrics; python3-venv builds the SDK venv;
# xfsprogs, nginx, wrk and ab (apache2-utils) serve the benchmark smoke runs; musl-tools gives musl-gcc for
# the C part of mimalloc in the static (container) build. Called by tests/run.sh.
set -euo pipefail

need=()
command -v promtool >/dev/null || need+=(prometheus)
command -v mkfs.xfs >/dev/null || need+=(xfsprogs)
command -v nginx >/dev/null || need+=(nginx-light)
command -v wrk >/dev/null || need+=(wrk)
command -v ab >/dev/null || need+=(apache2-utils)
command -v musl-gcc >/dev/null || need+=(musl-tools)
python3 -m venv --help >/dev/null 2>&1 || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "tests/setup.sh: missing Debian packages: ${need[*]}" >&2
    echo "  install them (apt-get install ${need[*]}) or run this as root on Debian/Ubuntu" >&2
    exit 1
  fi
  echo "== installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if command -v rustup >/dev/null; then
  rustup component add clippy rustfmt >/dev/null 2>&1 || true
  # The container image holds a static (musl) binary.
  rustup target list --installed | grep -qx x86_64-unknown-linux-musl ||
    rustup target add x86_64-unknown-linux-musl
fi
