#!/usr/bin/env bash
# AIStore's own Python SDK integration tests (python/tests/integration/sdk of
# NVIDIA/aistore, its core set: not etl, authn, extended) run against `aisnode cluster`,
# with that copy's SDK in a venv of their own. Third-party code: it is not in this repo
# and not in CI (no GitHub there); bring a copy of aistore's python/ folder:
#
#   git -C aistore archive HEAD python | tar -x -C /tmp/ais
#   tests/aistore-suite.sh /tmp/ais/python [pytest args...]
#
# The cluster: 1 proxy, 3 targets of 2 mountpaths, promote allowed under the suite's
# promote root (/var/lib/ais/promote) through a test-only target config, as an operator
# would allow it (promote stays off by default), and no cluster secret
# (--no-cluster-secret, as AIStore's development clusters): the suite's direct-access tests
# read from targets without the proxy's signed redirect, and run only when the cluster
# configuration (what=cluster_config) says intra-cluster requests are not signed.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 PATH-TO-aistore/python [pytest args...]" >&2; exit 2; }
src=$(realpath "$1"); shift
root=$(cd "$(dirname "$0")/.." && pwd)
work=${AIS_SUITE_WORK:-/tmp/aistore-suite}
port=${AIS_SUITE_PORT:-51080}
[ -f "$src/tests/integration/sdk/test_bucket_ops.py" ] || { echo "$src is not aistore's python/ folder" >&2; exit 2; }

mkdir -p "$work" /var/lib/ais/promote
rm -rf "$work/data"
if [ ! -x "$work/venv/bin/python" ]; then
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install --quiet --disable-pip-version-check -r "$src/aistore/common_requirements"
fi
bin=${AISNODE_BIN:-}
if [ -z "$bin" ]; then
  (cd "$root" && cargo build --release --quiet --bin aisnode)
  bin="$root/target/release/aisnode"
fi
printf 'promote_roots = ["/var/lib/ais/promote"]\n' > "$work/target.toml"

"$bin" cluster --data-dir "$work/data" --targets 3 --base-port "$port" \
  --target-config "$work/target.toml" --no-cluster-secret > "$work/cluster.log" 2>&1 &
cluster=$!
trap 'kill $cluster 2>/dev/null; wait $cluster 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  n=$(curl -s "http://127.0.0.1:$port/v1/daemon?what=smap" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["tmap"]))' 2>/dev/null || echo 0)
  [ "$n" = 3 ] && break
  sleep 0.2
done
[ "$n" = 3 ] || { echo "cluster did not start: $(tail -20 "$work/cluster.log")" >&2; exit 1; }

cd "$src"
export AIS_ENDPOINT="http://127.0.0.1:$port" PYTHONPATH="$src"
# The core set (AIStore's own CI marker set for a plain cluster): one pass, 4 workers.
# AIS_SUITE_NONPARALLEL=1 also runs the tests marked nonparallel (dsort, lru interplay,
# GetBatch jobs listed as xactions), which are outside that set.
rc=0
"$work/venv/bin/python" -m pytest -p no:cacheprovider -q -rs -n 4 tests/integration/sdk \
  -m "not etl and not authn and not extended and not nonparallel" "$@" || rc=$?
if [ "${AIS_SUITE_NONPARALLEL:-0}" = 1 ]; then
  "$work/venv/bin/python" -m pytest -p no:cacheprovider -q -rs tests/integration/sdk \
    -m "nonparallel and not etl and not authn and not extended" "$@" || rc=$?
fi
exit $rc
