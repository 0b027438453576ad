#!/usr/bin/env python3
"""GetBatch against single GETs of the same items: 10,000 objects of 4 KiB, 64 KiB and
1 MiB over 3 targets behind one proxy, read (a) by one GetBatch, (b) by 32 concurrent
single GETs through the proxy and (c) by sequential single GETs; then the same for members
of TAR shards (100 members per shard; single GETs with `?archpath=`).

    .venv/bin/python benches/get_batch.py [--items 10000] [--sizes 4KiB,64KiB,1MiB]
        [--member-sizes 4KiB,64KiB] [--bin-dir target/release] [--csv FILE] [--smoke]

Every side is aisloader, a native client, reading each item once (`--uniquegets`) and
discarding it: single GETs follow the proxy's redirect like every AIStore client; the
batch is `--get-batchsize <all items>` (AIStore's aisloader flag), one request that the
proxy redirects to a designated target, read as a streamed TAR whose members aisloader
counts (fewer than asked is an error). Members are listed with `--arch.list`. The data is
in the page cache (the PUTs just wrote it) for every method alike; each method runs
`--repeat` times and its best run counts. While a batch runs, the resident memory of
every target is sampled every 50 ms: the peak of any target bounds the designated one's.
"""

import argparse
import csv
import io
import json
import os
import random
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

import requests

SIZES = {"4KiB": 4 << 10, "64KiB": 64 << 10, "1MiB": 1 << 20}


def free_base_port(targets=3):
    # aisnode cluster listens on base..base+targets and each + 1000: a block below the
    # kernel's ephemeral range (outgoing connections take ports there), every port free.
    for base in random.sample(range(20000, 28000, 20), 400):
        try:
            for port in [p + d for p in range(base, base + targets + 1) for d in (0, 1000)]:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free block of ports")


class Cluster:
    """`aisnode cluster`: 1 proxy, 3 targets with 1 mountpath each, under a temp folder."""

    def __init__(self, bin_dir, work, targets=3):
        self.port = free_base_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, AIS_LOG="warn")
        self.proc = subprocess.Popen(
            [f"{bin_dir}/aisnode", "cluster", "--targets", str(targets), "--mountpaths", "1",
             "--base-port", str(self.port), "--data-dir", work],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                smap = requests.get(f"{self.url}/v1/daemon?what=smap", timeout=2).json()
                if len(smap.get("tmap", {})) == targets:
                    break
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.2)
        else:
            self.stop()
            raise RuntimeError("the cluster did not come up")
        self.target_pids = self._targets()

    def _targets(self):
        pids = []
        for pid in os.listdir("/proc"):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    args = f.read().split(b"\0")
                with open(f"/proc/{pid}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == self.proc.pid and len(args) > 1 and args[1] == b"target":
                pids.append(int(pid))
        return pids

    def stop(self):
        try:
            os.killpg(self.proc.pid, 9)
        except ProcessLookupError:
            pass
        self.proc.wait()


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def aisloader(bin_dir, url, *args):
    out = subprocess.run([f"{bin_dir}/aisloader", "--proxy", url, "--json", "--statsinterval", "0", *args],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def put_objects(bin_dir, url, bucket, n, size):
    aisloader(bin_dir, url, "--bucket", bucket, "--pctput", "100", "--maxputs", str(n), "--duration", "0",
              "--minsize", str(size), "--maxsize", str(size), "--numworkers", "16")
    names, token = [], ""
    while True:
        r = requests.get(f"{url}/v1/buckets/{bucket}", timeout=60,
                         json={"action": "list", "value": {"props": "name", "continuation_token": token}})
        r.raise_for_status()
        page = r.json()
        names += [e["name"] for e in page.get("entries") or []]
        token = page.get("continuation_token", "")
        if not token:
            return sorted(names)


def put_shards(url, bucket, n_members, size, per_shard=100):
    """TAR shards of `per_shard` members each; returns (shard, member) pairs."""
    requests.post(f"{url}/v1/buckets/{bucket}", json={"action": "create-bck"}, timeout=30).raise_for_status()
    payload, pairs = os.urandom(size), []
    for s in range((n_members + per_shard - 1) // per_shard):
        shard, buf = f"shard-{s:05d}.tar", io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for m in range(min(per_shard, n_members - s * per_shard)):
                info = tarfile.TarInfo(f"{m:05d}.bin")
                info.size = size
                tar.addfile(info, io.BytesIO(payload))
                pairs.append((shard, info.name))
        requests.put(f"{url}/v1/objects/{bucket}/{shard}", data=buf.getvalue(), timeout=60).raise_for_status()
    return pairs


class PeakRss:
    """Samples the resident memory of `pids` every 50 ms while in the `with` block."""

    def __init__(self, pids):
        self.pids, self.peak, self.done = pids, 0.0, threading.Event()

    def _sample(self):
        while not self.done.is_set():
            for pid in self.pids:
                try:
                    self.peak = max(self.peak, rss_mib(pid))
                except OSError:
                    pass
            time.sleep(0.05)

    def __enter__(self):
        self.thread = threading.Thread(target=self._sample)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()


def read(bin_dir, url, bucket, workers=1, batch=0, members=False):
    """Every item of the bucket once: single GETs from `workers` workers, or GetBatch
    requests of `batch` items; returns (items/s, MiB/s, items)."""
    args = ["--bucket", bucket, "--uniquegets", "--duration", "0", "--numworkers", str(workers)]
    if batch:
        args += ["--get-batchsize", str(batch)]
    if members:
        args.append("--arch.list")
    get = next(r for r in aisloader(bin_dir, url, *args) if r["op"] == "get")
    if get["errors"]:
        raise RuntimeError(f"{get['errors']} reads failed")
    return get["items"] / get["seconds"], get["mib_per_sec"], get["items"]


def measure(label, size, n, read_fn, pids, rows, repeat):
    """Each method `repeat` times, alternating; the best run of each counts (the first
    pass after the PUTs also fills the targets' metadata caches, whichever method runs it)."""
    best, peak = {}, 0.0
    for _ in range(repeat):
        for how in ("batch", 32, 1):
            with PeakRss(pids if how == "batch" else []) as rss:
                items_s, mib_s, count = read_fn(1, n) if how == "batch" else read_fn(how, 0)
            peak = max(peak, rss.peak)
            if count != n:
                raise RuntimeError(f"{label}: {how} read {count} items, expected {n}")
            if how not in best or items_s > best[how][0]:
                best[how] = (items_s, mib_s)
    (b_items, b_mib), (c_items, c_mib), (s_items, s_mib) = best["batch"], best[32], best[1]
    row = {"what": label, "size": size, "items": n,
           "batch_items_s": round(b_items), "batch_mib_s": round(b_mib, 1),
           "get32_items_s": round(c_items), "get32_mib_s": round(c_mib, 1),
           "get1_items_s": round(s_items), "get1_mib_s": round(s_mib, 1),
           "vs_get32": round(b_items / c_items, 2), "vs_get1": round(b_items / s_items, 2),
           "target_peak_rss_mib": round(peak)}
    rows.append(row)
    print(f"{label:8} {size:>6} x {n}: GetBatch {b_items:9.0f} items/s {b_mib:7.1f} MiB/s | "
          f"32 GETs {c_items:7.0f} items/s {c_mib:7.1f} MiB/s | 1 GET {s_items:7.0f} items/s | "
          f"{b_items / c_items:5.2f}x the 32 GETs, {b_items / s_items:5.2f}x sequential | "
          f"peak target RSS {peak:.0f} MiB", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=10000)
    ap.add_argument("--sizes", default="4KiB,64KiB,1MiB")
    ap.add_argument("--member-sizes", default="4KiB,64KiB")
    ap.add_argument("--bin-dir", default=os.environ.get("AIS_BIN_DIR", "target/release"))
    ap.add_argument("--repeat", type=int, default=3, help="runs of each method; the best counts")
    ap.add_argument("--csv", help="append the rows to this CSV file")
    ap.add_argument("--smoke", action="store_true", help="300 items of 4 KiB: checks the script, figures mean nothing")
    a = ap.parse_args()
    if a.smoke:
        a.items, a.sizes, a.member_sizes, a.repeat = 300, "4KiB", "4KiB", 1
    rows = []
    with tempfile.TemporaryDirectory(prefix="getbatch-") as work:
        c = Cluster(a.bin_dir, work)
        try:
            for size in filter(None, a.sizes.split(",")):
                bucket = f"objs-{size.lower()}"
                n = len(put_objects(a.bin_dir, c.url, bucket, a.items, SIZES[size]))
                measure("objects", size, n,
                        lambda w, b: read(a.bin_dir, c.url, bucket, w, b), c.target_pids, rows, a.repeat)
            for size in filter(None, a.member_sizes.split(",")):
                bucket = f"shards-{size.lower()}"
                n = len(put_shards(c.url, bucket, a.items, SIZES[size]))
                measure("members", size, n,
                        lambda w, b: read(a.bin_dir, c.url, bucket, w, b, members=True),
                        c.target_pids, rows, a.repeat)
        finally:
            c.stop()
    if a.csv:
        new = not os.path.exists(a.csv)
        with open(a.csv, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            if new:
                w.writeheader()
            w.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
