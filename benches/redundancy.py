#!/usr/bin/env python3
"""What redundancy costs: PUT and GET throughput of a plain bucket, a 2-way mirror and EC
1+1, 2+1 and 4+2 buckets (objects under ec.objsize_limit, 256 KiB, kept as P+1 whole
copies on distinct machines; larger ones whole on the owner plus D+P slices), at 64 KiB,
1 MiB and 8 MiB, each as a ratio to the plain bucket in the same run; and a degraded GET
(the owners killed: each object rebuilt from D slices) against a normal one.

    benches/redundancy.py [--bin target/release/aisnode] [--mib 256] [--threads 8] [--smoke]

A proxy and 7 targets (2 mountpaths each) on 3 simulated machines, on this machine's
disk, started here with the release build; the client is this script (8 threads over
requests sessions), on the same 2 cores: compare the ratios, not the absolute figures."""

import argparse
import os
import pathlib
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import requests

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "python"))

SCHEMES = {"plain": None, "mirror2": "mirror", "ec1+1": (1, 1), "ec2+1": (2, 1), "ec4+2": (4, 2)}
SIZES = {"64KiB": 64 << 10, "1MiB": 1 << 20, "8MiB": 8 << 20}


def run(pool, fn, jobs):
    t0 = time.perf_counter()
    list(pool.map(fn, jobs))
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "aisnode"))
    ap.add_argument("--mib", type=int, default=256, help="MiB written per scheme and size")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--smoke", action="store_true", help="8 MiB per case: checks the script, measures nothing")
    args = ap.parse_args()
    os.environ["AISNODE_BIN"] = args.bin
    from nodes import start_cluster  # reads AISNODE_BIN

    mib = 8 if args.smoke else args.mib
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="aisred.", dir="/var/tmp"))
    machines = ["m1", "m1", "m1", "m2", "m2", "m3", "m3"]
    proxy, targets = start_cluster(tmp, n_targets=7, node_names=machines)
    local = __import__("threading").local()

    def sess():
        if not hasattr(local, "s"):
            local.s = requests.Session()
        return local.s

    try:
        url = proxy.url
        print("scheme,size,objects,put_mib_s,get_mib_s,put_x_plain,get_x_plain")
        plain = {}
        for scheme, ec in SCHEMES.items():
            for label, size in SIZES.items():
                bucket = f"{scheme.replace('+', '')}-{label}".lower()
                assert sess().post(f"{url}/v1/buckets/{bucket}", json={"action": "create-bck"}, timeout=30).ok
                if ec:
                    props = ({"mirror": {"enabled": True, "copies": 2}} if ec == "mirror" else
                             {"ec": {"enabled": True, "data_slices": ec[0], "parity_slices": ec[1]}})
                    r = sess().patch(f"{url}/v1/buckets/{bucket}", json={"action": "set-bprops", "value": props}, timeout=30)
                    assert r.ok, r.text
                    time.sleep(0.5)
                n = max(8, (mib << 20) // size)
                body = os.urandom(size)

                def put(i, bucket=bucket, body=body):
                    r = sess().put(f"{url}/v1/objects/{bucket}/o{i}", data=body, timeout=120)
                    assert r.status_code == 200, r.text

                def get(i, bucket=bucket, size=size):
                    r = sess().get(f"{url}/v1/objects/{bucket}/o{i}", timeout=120)
                    assert r.status_code == 200 and len(r.content) == size

                with ThreadPoolExecutor(args.threads) as pool:
                    tput = run(pool, put, range(n))
                    tget = run(pool, get, range(n))
                total = n * size / (1 << 20)
                pm, gm = total / tput, total / tget
                if ec is None:
                    plain[label] = (pm, gm)
                bp, bg = plain[label]
                print(f"{scheme},{label},{n},{pm:.1f},{gm:.1f},{pm / bp:.3f},{gm / bg:.3f}", flush=True)

        # Degraded GET: the 8 MiB objects of the EC 2+1 bucket owned by a machine's
        # targets, that machine killed: each read rebuilds the object from 2 slices (and
        # keeps it), the second read of the same objects is a normal one.
        bucket, size = "ec21-8mib", SIZES["8MiB"]
        victims = [t for t in targets if t.node_name == "m1"]
        owned = [i for i in range(max(8, (mib << 20) // size))
                 if any(requests.get(f"{url}/v1/objects/{bucket}/o{i}", timeout=30, allow_redirects=False)
                        .headers.get("Location", "").startswith(v.url) for v in victims)]
        smap = requests.get(f"{url}/v1/daemon?what=smap", timeout=5).json()
        assert len(smap["tmap"]) == 7, f"a target left before the kill: see the logs in {tmp}"
        for v in victims:
            v.proc.kill()
            v.proc.wait()
        t0 = time.time()
        while len(requests.get(f"{url}/v1/daemon?what=smap", timeout=5).json()["tmap"]) != 7 - len(victims):
            time.sleep(0.01)
        print(f"the proxy dropped the killed machine's targets after {time.time() - t0:.3f} s", flush=True)

        def get8(i):
            r = sess().get(f"{url}/v1/objects/{bucket}/o{i}", timeout=120)
            assert r.status_code == 200 and len(r.content) == size, r.status_code

        with ThreadPoolExecutor(args.threads) as pool:
            tdeg = run(pool, get8, owned)
            tnorm = run(pool, get8, owned)
        if owned:
            total = len(owned) * size / (1 << 20)
            print(f"degraded GET of {len(owned)} x 8 MiB (owner's machine killed, rebuilt from slices): "
                  f"{total / tdeg:.1f} MiB/s, the same objects again (now whole on the new owner): "
                  f"{total / tnorm:.1f} MiB/s, ratio {tnorm / tdeg:.3f}")
    finally:
        for n in [proxy] + targets:
            n.proc.kill()
            n.proc.wait()
        if sys.exc_info()[0] is None:
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
