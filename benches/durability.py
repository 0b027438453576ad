#!/usr/bin/env python3
"""What durability costs: PUT throughput and latency of one target with 2 mountpaths in each
durability mode, measured in the same run, for 4 KiB, 64 KiB and 1 MiB objects with 1, 8
and 64 concurrent writers (aisloader, `--pctput 100`).

    sudo .venv/bin/python benches/durability.py [--fs loop|disk|both] [--duration 4s]
        [--sizes 4KiB,64KiB,1MiB] [--writers 1,8,64] [--bin-dir target/release]
        [--csv FILE] [--smoke]

Modes (one target each, started once, every case run against each in turn):
- `group`: the default (`durability = "group"`, `group_sync = "filesystem"`: one `syncfs`
  shared by every request waiting);
- `group-files`: the same with the other flush method (`group_sync = "files"`: fdatasync
  of each object and a shared fsync per directory, run concurrently), to compare the two;
- `object`: each object flushed by itself on the disk's thread (the former `--fsync`);
- `none`: no flush (acknowledged once in the page cache).

`--fs loop`: each target's 2 mountpaths are 2 loop-mounted XFS filesystems of their own
(files under /var/tmp), as in production (one disk per mountpath).
`--fs disk`: 2 directories on the machine's own filesystem (ext4 here).
Before each case `sync` runs, so no case pays for the dirty pages of the one before; after
it another `sync` is timed: what the mode left unwritten (`none` leaves everything to the
kernel's writeback, which a 4 s run never reaches). Ratios are against `none` in the same
case, both as measured (`vs_none`) and counting the time that final sync took
(`vs_none_synced`: objects per second made durable). `cpu_busy` is the whole machine's
(target, aisloader and the kernel's writeback share its 2 cores).
"""

import argparse
import csv
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time

SIZES = {"4KiB": 4 << 10, "64KiB": 64 << 10, "1MiB": 1 << 20}
MODES = {
    "group": "",
    "group-files": 'group_sync = "files"\n',
    "object": 'durability = "object"\n',
    "none": 'durability = "none"\n',
}


def sh(*args):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True).stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Target:
    def __init__(self, bin_dir, work, mode, fs, image_gib):
        self.mode, self.mounts, self.proc = mode, [], None
        root = os.path.join(work, mode)
        os.makedirs(root)
        mps = []
        for i in range(2):
            mp = os.path.join(root, f"mp{i}")
            os.makedirs(mp)
            if fs == "loop":
                img = os.path.join(root, f"disk{i}.img")
                sh("truncate", "-s", f"{image_gib}G", img)
                sh("mkfs.xfs", "-q", img)
                sh("mount", "-o", "loop", img, mp)
                self.mounts.append(mp)
            mps.append(mp)
        cfg = os.path.join(root, "target.toml")
        with open(cfg, "w") as f:
            f.write(MODES[mode])
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [os.path.join(bin_dir, "aisnode"), "target", "--host", "127.0.0.1",
                "--port", str(self.port), "--config", cfg]
        if fs == "disk":
            args.append("--allow-shared-fs")
        for mp in mps:
            args += ["--mountpath", mp]
        self.log = open(os.path.join(root, "target.log"), "wb")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log,
                                     env=dict(os.environ, AIS_LOG="warn"))
        line = self.proc.stdout.readline().decode()
        if "listening on" not in line:
            raise RuntimeError(f"{mode} target did not start: {line}")

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
        for mp in self.mounts:
            subprocess.run(["umount", "-l", mp], capture_output=True)


def cpu_times():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v), v[3] + v[4]  # all, idle + iowait


def busy(a, b):
    total, idle = b[0] - a[0], b[1] - a[1]
    return 1 - idle / total if total else 0.0


def delete_bucket(target, bucket):
    subprocess.run(["curl", "-sf", "-X", "DELETE", "-H", "Content-Type: application/json",
                    "-d", '{"action":"destroy-bck"}', f"{target.url}/v1/buckets/{bucket}"],
                   capture_output=True)


def run_case(bin_dir, target, size, writers, duration, bucket, cleanup=True):
    out = subprocess.run(
        [os.path.join(bin_dir, "aisloader"), "--proxy", target.url, "--bucket", bucket,
         "--pctput", "100", "--minsize", str(size), "--maxsize", str(size),
         "--numworkers", str(writers), "--duration", duration, "--json",
         "--cksum-type", "none"] + (["--cleanup"] if cleanup else []),
        check=True, capture_output=True, text=True).stdout
    stats = json.loads(out)
    put = next(s for s in stats if s.get("op", "").upper() == "PUT") if isinstance(stats, list) else stats["put"]
    return put


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fs", default="loop", choices=["loop", "disk", "both"])
    ap.add_argument("--duration", default="4s")
    ap.add_argument("--sizes", default="4KiB,64KiB,1MiB")
    ap.add_argument("--writers", default="1,8,64")
    ap.add_argument("--modes", default=None, help="default: group, the other method, object, none")
    ap.add_argument("--bin-dir", default="target/release")
    ap.add_argument("--image-gib", type=int, default=8)
    ap.add_argument("--csv", default=None)
    ap.add_argument("--smoke", action="store_true", help="one short case per mode (checks the script)")
    a = ap.parse_args()
    if a.smoke:
        a.duration, a.sizes, a.writers, a.fs, a.image_gib = "1s", "64KiB", "8", "loop", 1
    rows = []
    for fs in (["loop", "disk"] if a.fs == "both" else [a.fs]):
        modes = a.modes.split(",") if a.modes else ["group", "group-files", "object", "none"]
        base = "/var/tmp" if fs == "loop" else os.getcwd() + "/target"
        work = tempfile.mkdtemp(prefix="durability-", dir=base)
        targets = []
        try:
            for m in modes:
                targets.append(Target(a.bin_dir, work, m, fs, a.image_gib))
            for size_name in a.sizes.split(","):
                for writers in [int(w) for w in a.writers.split(",")]:
                    case = {}
                    for t in targets:
                        os.sync()
                        bucket = f"d{random.randrange(1 << 30)}"
                        cpu0 = cpu_times()
                        put = run_case(a.bin_dir, t, SIZES[size_name], writers, a.duration, bucket,
                                       cleanup=False)
                        cpu1 = cpu_times()
                        # What the mode left to write: the time a sync then takes.
                        t0 = time.perf_counter()
                        os.sync()
                        put["sync_after_s"] = time.perf_counter() - t0
                        put["cpu_busy"] = busy(cpu0, cpu1)
                        delete_bucket(t, bucket)
                        case[t.mode] = put
                    none = case.get("none")
                    for mode, put in case.items():
                        ops = put["ops_per_sec"]
                        lat = put["latency_us"]
                        ratio = ops / none["ops_per_sec"] if none and none["ops_per_sec"] else float("nan")
                        # Throughput counting the writeback a mode leaves for later.
                        synced = put["count"] / (put["seconds"] + put["sync_after_s"])
                        none_synced = none["count"] / (none["seconds"] + none["sync_after_s"]) if none else 0
                        ratio_synced = synced / none_synced if none_synced else float("nan")
                        row = {"fs": fs, "size": size_name, "writers": writers, "mode": mode,
                               "ops_per_sec": round(ops), "mib_per_sec": round(put["mib_per_sec"], 1),
                               "p50_us": lat["p50"], "p99_us": lat["p99"], "errors": put["errors"],
                               "vs_none": round(ratio, 3), "sync_after_s": round(put["sync_after_s"], 3),
                               "ops_per_sec_synced": round(synced), "vs_none_synced": round(ratio_synced, 3),
                               "cpu_busy": round(put["cpu_busy"], 3)}
                        rows.append(row)
                        print(f"{fs:4} {size_name:>6} {writers:>3} writers  {mode:12} {ops:9.0f} PUT/s "
                              f"{put['mib_per_sec']:8.1f} MiB/s  p50 {lat['p50']/1000:7.2f} ms  "
                              f"p99 {lat['p99']/1000:7.2f} ms  {ratio:5.2f}x none | sync after "
                              f"{put['sync_after_s']:5.2f} s, {synced:8.0f} synced PUT/s {ratio_synced:5.2f}x"
                              f" | CPU {put['cpu_busy']*100:3.0f}%", flush=True)
        finally:
            for t in targets:
                t.stop()
            subprocess.run(["rm", "-rf", work], capture_output=True)
    if a.csv:
        with open(a.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    bad = [r for r in rows if r["errors"]]
    if bad:
        print(f"errors in {len(bad)} cases", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
