#!/usr/bin/env python3
"""How long the cluster is without a primary when the primary proxy dies, and what the
Raft log costs a bucket change.

    benches/failover.py [--bin target/release/aisnode] [--kills 10] [--creates 50] [--smoke]

Three proxies and three targets on this machine (release build). Each round: 4 client
threads read and write through the surviving proxies in turn (a request that fails is
retried once after 1 s through the next proxy, as a client behind a Service would), the
primary is killed with kill -9, and the script measures from the kill until (a) a
surviving proxy's map names a new primary and (b) a bucket create through a survivor
succeeds; then the killed proxy restarts on its state and catches up. Then bucket
create + destroy, one at a time, through the primary and through another proxy, against
a cluster of one proxy (no peers to replicate to) in the same run."""

import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import threading
import time

import requests

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "python"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "aisnode"))
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--creates", type=int, default=50)
    ap.add_argument("--smoke", action="store_true", help="1 kill, 5 creates: checks the script")
    args = ap.parse_args()
    os.environ["AISNODE_BIN"] = args.bin
    import test_proxies as tp  # reads AISNODE_BIN
    from nodes import start_target

    kills, creates = (1, 5) if args.smoke else (args.kills, args.creates)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="aisfail.", dir="/var/tmp"))
    env, proxies, targets = tp.start_all(tmp)
    named, writable, failed_once, failed_twice, served = [], [], [0], [0], [0]
    try:
        url0 = proxies[0].url
        assert requests.post(f"{url0}/v1/buckets/fo", json={"action": "create-bck"}, timeout=10).ok
        tp.wait("bucket everywhere", lambda: all("fo" in tp.bucket_names(p.url) for p in proxies))
        body = os.urandom(4096)
        for i in range(50):
            assert requests.put(f"{url0}/v1/objects/fo/o{i}", data=body, timeout=10).ok
        for k in range(kills):
            primary = next(p for p in proxies if p.id == tp.primary_of(proxies))
            alive = [p for p in proxies if p is not primary]
            stop = threading.Event()

            def load(w):
                n, s = 0, requests.Session()
                while not stop.is_set():
                    n += 1
                    for attempt in range(2):
                        p = alive[(n + attempt) % len(alive)]
                        try:
                            if n % 2:
                                r = s.get(f"{p.url}/v1/objects/fo/o{n % 50}", timeout=10)
                                ok = r.status_code == 200 and r.content == body
                            else:
                                r = s.put(f"{p.url}/v1/objects/fo/w{w}-{k}-{n}", data=body, timeout=10)
                                ok = r.status_code == 200
                        except requests.RequestException:
                            ok = False
                        if ok:
                            served[0] += 1
                            break
                        (failed_once if attempt == 0 else failed_twice)[0] += 1
                        if attempt == 0:
                            time.sleep(1)
            threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
            for t in threads:
                t.start()
            time.sleep(1)
            t0 = time.time()
            primary.proc.kill()
            primary.proc.wait()
            t_named = t_writable = None
            while t_named is None or t_writable is None:
                if t_named is None:
                    try:
                        if tp.smap(alive[0])["proxy_si"]["daemon_id"] != primary.id:
                            t_named = time.time() - t0
                    except requests.RequestException:
                        pass
                if t_writable is None:
                    r = requests.post(f"{alive[1].url}/v1/buckets/k{k}", json={"action": "create-bck"}, timeout=15)
                    if r.ok:
                        t_writable = time.time() - t0
                assert time.time() - t0 < 60, "no primary within 60 s"
                time.sleep(0.02)
            stop.set()
            for t in threads:
                t.join()
            named.append(t_named)
            writable.append(t_writable)
            print(f"kill {k + 1}: new primary named after {t_named:.2f} s, a bucket create succeeded after {t_writable:.2f} s", flush=True)
            back = tp.start_proxy(tmp, primary.name, env, primary.port, primary.intra)
            proxies = alive + [back]
            tp.wait("the killed proxy back and caught up",
                    lambda: tp.smap(back)["version"] == tp.smap(alive[0])["version"]
                    and requests.get(f"{back.url}/v1/health?readiness=true", timeout=5).ok, 60)
        print(f"failover over {kills} kills: new primary median {statistics.median(named):.2f} s, worst {max(named):.2f} s; "
              f"writable median {statistics.median(writable):.2f} s, worst {max(writable):.2f} s; "
              f"{served[0]} requests served, {failed_once[0]} failed once and succeeded on retry after 1 s, "
              f"{failed_twice[0]} failed twice")

        def create_cost(url, prefix):
            lat = []
            for i in range(creates):
                t = time.perf_counter()
                assert requests.post(f"{url}/v1/buckets/{prefix}{i}", json={"action": "create-bck"}, timeout=10).ok
                lat.append(time.perf_counter() - t)
                assert requests.delete(f"{url}/v1/buckets/{prefix}{i}", json={"action": "destroy-bck"}, timeout=10).ok
            return statistics.median(lat) * 1000

        primary = next(p for p in proxies if p.id == tp.primary_of(proxies))
        other = next(p for p in proxies if p is not primary)
        three_primary = create_cost(primary.url, "cp")
        three_other = create_cost(other.url, "co")
    finally:
        tp.stop(proxies + targets)

    # The same with one proxy: its log has no peer to wait for.
    one = pathlib.Path(tempfile.mkdtemp(prefix="aisone.", dir="/var/tmp"))
    env1 = {"AIS_CLUSTER_SECRET": os.urandom(16).hex()}
    single = tp.start_proxy(one, "p1", env1, tp.free_port(), tp.free_port())
    ts = [start_target(one / f"t{i}", n_mountpaths=2, env=env1, extra=["--proxy", single.url]) for i in range(3)]
    try:
        tp.wait("3 targets", lambda: len(tp.smap(single)["tmap"]) == 3)
        one_proxy = create_cost(single.url, "c1")
    finally:
        tp.stop([single] + ts)
    print(f"bucket create (median of {creates}): 1 proxy {one_proxy:.1f} ms; 3 proxies through the primary "
          f"{three_primary:.1f} ms ({three_primary / one_proxy:.2f}x), through another proxy {three_other:.1f} ms "
          f"({three_other / one_proxy:.2f}x)")


if __name__ == "__main__":
    main()
