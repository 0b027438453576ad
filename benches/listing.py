#!/usr/bin/env python3
"""Time per list page of 1,000 names: the first, the middle and the last page of buckets of
10 k, 100 k and 1 M objects, flat names and names under 100 prefixes, on one target (2
mountpaths) and through a proxy over 2 targets.

    .venv/bin/python benches/listing.py [--sizes 10000,100000,1000000] [--bin target/release/aisnode]
                                        [--config FILE] [--repeat 5] [--csv benches/results/listing.csv]

The objects are empty files written straight into the targets' on-disk layout
(`<mountpath>/@ais/<bucket>/%ob/<name>`, spread over the mountpaths) after the bucket is
created through the API: a listing reads names (and sizes) from the directories, so how
the files were made does not change what it costs, and a million real PUTs would take
this 2-core machine longer than the listing itself. Every page is asked for by its
continuation token (the name before it), so each is timed on its own; "cold" is the very
first request after the nodes started, the others are medians of `--repeat` requests.
"""

import argparse
import csv
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import requests

PAGE = 1000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url, what="snode"):
    for _ in range(200):
        try:
            if requests.get(f"{url}/v1/daemon?what={what}", timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


class Nodes:
    """A lone target, or a proxy with `targets` targets; 2 mountpaths each."""

    def __init__(self, binary, work, targets, config):
        self.procs, self.mountpaths = [], []
        extra = ["--config", config] if config else []
        # Nodes join only with the cluster's secret: one made for the run.
        env = dict(os.environ, AIS_LOG="warn", AIS_CLUSTER_SECRET=os.urandom(16).hex())
        if targets == 0:
            port = free_port()
            mps = [os.path.join(work, f"t0-mp{i}") for i in range(2)]
            self._start([binary, "target", "--host", "127.0.0.1", "--port", str(port), "--allow-shared-fs",
                         *sum((["--mountpath", m] for m in mps), []), *extra], env)
            self.url = f"http://127.0.0.1:{port}"
            wait_up(self.url)
            self.mountpaths = mps
            return
        pport = free_port()
        self._start([binary, "proxy", "--host", "127.0.0.1", "--port", str(pport),
                     "--state-dir", os.path.join(work, "proxy")], env)
        self.url = f"http://127.0.0.1:{pport}"
        wait_up(self.url)
        for t in range(targets):
            mps = [os.path.join(work, f"t{t}-mp{i}") for i in range(2)]
            self._start([binary, "target", "--host", "127.0.0.1", "--port", str(free_port()), "--allow-shared-fs",
                         "--proxy", self.url, *sum((["--mountpath", m] for m in mps), []), *extra], env)
            self.mountpaths += mps
        for _ in range(200):
            smap = requests.get(f"{self.url}/v1/cluster?what=smap", timeout=2).json()
            if len(smap.get("tmap", {})) == targets:
                break
            time.sleep(0.05)

    def _start(self, argv, env):
        for i, a in enumerate(argv[:-1]):
            if a == "--mountpath":
                os.makedirs(argv[i + 1], exist_ok=True)
        self.procs.append(subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def stop(self):
        for p in self.procs:
            p.send_signal(signal.SIGKILL)
            p.wait()


def names_of(n, prefixed):
    if prefixed:
        return sorted(f"p{i % 100:02}/obj-{i:07}" for i in range(n))
    return [f"obj-{i:07}" for i in range(n)]


def fill(mountpaths, bucket, names):
    made = set()
    for i, name in enumerate(names):
        root = os.path.join(mountpaths[i % len(mountpaths)], "@ais", bucket, "%ob")
        d = os.path.dirname(os.path.join(root, name))
        if d not in made:
            os.makedirs(d, exist_ok=True)
            made.add(d)
        with open(os.path.join(root, name), "wb"):
            pass


def page(session, url, bucket, token):
    body = {"action": "list", "value": {"pagesize": PAGE, "continuation_token": token, "props": "name,size"}}
    t = time.perf_counter()
    r = session.get(f"{url}/v1/buckets/{bucket}", json=body, timeout=600)
    took = time.perf_counter() - t
    r.raise_for_status()
    entries = r.json().get("entries") or []
    return took, entries


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--bin", default=os.path.join(os.environ.get("AIS_BIN_DIR", "target/release"), "aisnode"))
    ap.add_argument("--config", default="", help="a target config file (e.g. list_cache_mib = 0)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--modes", default="target,proxy")
    ap.add_argument("--csv", default="")
    args = ap.parse_args()
    rows = []
    print(f"{'where':7} {'layout':8} {'objects':>9} {'cold ms':>8} {'first ms':>9} {'middle ms':>10} {'last ms':>8}")
    for mode in args.modes.split(","):
        for prefixed in (False, True):
            for n in (int(s) for s in args.sizes.split(",")):
                work = tempfile.mkdtemp(prefix="aislist.")
                nodes = Nodes(args.bin, work, 0 if mode == "target" else 2, args.config)
                try:
                    s = requests.Session()
                    s.post(f"{nodes.url}/v1/buckets/b", json={"action": "create-bck"}, timeout=30).raise_for_status()
                    names = names_of(n, prefixed)
                    fill(nodes.mountpaths, "b", names)
                    time.sleep(0.3)  # directories settle (see store/dir_cache.rs)
                    pages = (n + PAGE - 1) // PAGE
                    tokens = {"first": "", "middle": names[(pages // 2) * PAGE - 1] if pages > 1 else "",
                              "last": names[(pages - 1) * PAGE - 1] if pages > 1 else ""}
                    cold, entries = page(s, nodes.url, "b", "")
                    assert [e["name"] for e in entries] == names[:PAGE], "first page"
                    row = {"where": mode, "layout": "prefixed" if prefixed else "flat", "objects": n,
                           "cold_ms": round(cold * 1e3, 2)}
                    for which, tok in tokens.items():
                        times = []
                        for _ in range(args.repeat):
                            took, entries = page(s, nodes.url, "b", tok)
                            times.append(took)
                        start = names.index(entries[0]["name"]) if entries else -1
                        want = 0 if which == "first" else names.index(tok) + 1
                        assert start == want and len(entries) == min(PAGE, n - want), (which, start, len(entries))
                        row[f"{which}_ms"] = round(statistics.median(times) * 1e3, 2)
                    rows.append(row)
                    print(f"{row['where']:7} {row['layout']:8} {n:>9} {row['cold_ms']:>8} {row['first_ms']:>9} "
                          f"{row['middle_ms']:>10} {row['last_ms']:>8}", flush=True)
                finally:
                    nodes.stop()
                    shutil.rmtree(work, ignore_errors=True)
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)


if __name__ == "__main__":
    sys.exit(main())
