"""Data availability across machines: a proxy and 6 targets on 3 simulated machines (2
targets each), EC 2+1 and EC 1+1 buckets (objects under 64 KiB kept as P+1 whole
copies, larger ones whole on the owner plus D+P Reed-Solomon slices), all pieces of an
object on distinct targets and machines first. Readers through the proxy while both
targets of one machine are killed with kill -9: no read fails (a read that meets a dead
target's closed port retries once through the proxy), every byte is checked, the
survivors restore every copy and slice (checked file by file on disk, slice indices
from each slice's own description), and a second machine's loss after that is survived
too."""

import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import msgpack
import requests

from nodes import start_cluster

MACHINES = ["m1", "m1", "m2", "m2", "m3", "m3"]
BUCKETS = {"ec21": (2, 1), "ec11": (1, 1)}  # name -> (data, parity)
PER_BUCKET = 1000
LIMIT = 65_536  # ec.objsize_limit: smaller objects are replicated, the others sliced


def content(bucket, i):
    # Mixed sizes: empty, a few bytes, tens of KiB, up to ~600 KiB.
    size = [0, 17, 4096, 65_536 + 3, 600_000][i % 5] + i
    return (b"%s-%06d|" % (bucket.encode(), i) * (size // 12 + 1))[:size]


def holders(targets, bucket, name, kind="%ob"):
    """The targets holding a whole copy (`%ob`) or a slice (`%ec`) of bucket/name."""
    return [t for t in targets for mp in t.mountpaths
            if os.path.isfile(os.path.join(mp, "@ais", bucket, kind, name))]


def slice_index(target, bucket, name):
    """The index a slice file says it is (its `user.ais.ec`: 8-byte digest, msgpack)."""
    for mp in target.mountpaths:
        path = os.path.join(mp, "@ais", bucket, "%ec", name)
        if os.path.isfile(path):
            return msgpack.unpackb(os.getxattr(path, "user.ais.ec")[8:])[0]
    return None


def all_placed(targets):
    """None when every object has its pieces where the placement rule wants them: P+1
    whole copies, or one whole copy and slices 0..D+P-1, on distinct targets spread over
    as many machines as possible (and no more pieces); else what is not so."""
    machines_up = len({t.node_name for t in targets})
    for bucket, (d, p) in BUCKETS.items():
        for i in range(PER_BUCKET):
            name = f"o{i}"
            whole, sliced = holders(targets, bucket, name), holders(targets, bucket, name, "%ec")
            pieces = whole + sliced
            big = len(content(bucket, i)) >= LIMIT
            want_whole, want_slices = (1, d + p) if big else (p + 1, 0)
            want = min(want_whole + want_slices, len(targets))
            machines = {t.node_name for t in pieces}
            indices = sorted(slice_index(t, bucket, name) for t in sliced)
            if (len(whole) != min(want_whole, len(targets)) or len(pieces) != want
                    or len({t.id for t in pieces}) != want or len(machines) != min(want, machines_up)
                    or (big and indices != list(range(want - 1)))):
                return (f"{bucket}/{name}: whole on {[(t.id, t.node_name) for t in whole]}, "
                        f"slices {indices} on {[(t.id, t.node_name) for t in sliced]}")
    return None


def make_buckets(s, url):
    """The EC buckets, with their props."""
    for bucket, (d, p) in BUCKETS.items():
        assert s.post(f"{url}/v1/buckets/{bucket}", json={"action": "create-bck"}, timeout=10).ok
        props = {"ec": {"enabled": True, "data_slices": d, "parity_slices": p, "objsize_limit": LIMIT}}
        r = s.patch(f"{url}/v1/buckets/{bucket}", json={"action": "set-bprops", "value": props}, timeout=10)
        assert r.status_code == 200, r.text


def put_all(s, url):
    """Every object of every bucket, by 8 writers, each PUT answered 200."""
    def put(job):
        bucket, i = job
        r = s.put(f"{url}/v1/objects/{bucket}/o{i}", data=content(bucket, i), timeout=30)
        assert r.status_code == 200, r.text

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, [(b, i) for b in BUCKETS for i in range(PER_BUCKET)]))


class Readers:
    """Eight readers of random objects through the proxy, each read checked. A read that
    meets a closed port or a 503 retries once, after 200 ms, through the proxy."""

    def __init__(self, url):
        self.url, self.stop, self.failures = url, threading.Event(), []
        self.reads = self.retried = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(k,)) for k in range(8)]
        for t in self.threads:
            t.start()

    def get(self, sess, bucket, i):
        try:
            r = sess.get(f"{self.url}/v1/objects/{bucket}/o{i}", timeout=30)
            return r.status_code, r.content
        except requests.ConnectionError as e:
            return "refused", repr(e)

    def run(self, seed):
        rng, sess = random.Random(seed), requests.Session()
        while not self.stop.is_set():
            bucket, i = rng.choice(list(BUCKETS)), rng.randrange(PER_BUCKET)
            status, body = self.get(sess, bucket, i)
            if status in ("refused", 503):
                with self.lock:
                    self.retried += 1
                time.sleep(0.2)
                status, body = self.get(sess, bucket, i)
            with self.lock:
                self.reads += 1
                if status != 200 or body != content(bucket, i):
                    self.failures.append((bucket, i, status, body[:200] if isinstance(body, bytes) else body))

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join()
        assert not self.failures, f"{len(self.failures)} of {self.reads} reads failed: {self.failures[:5]}"


def metric(node, name):
    """A target's counter `ais_target_<name>`."""
    for line in requests.get(f"{node.url}/metrics", timeout=5).text.splitlines():
        if line.startswith(f"ais_target_{name}{{") or line.startswith(f"ais_target_{name} "):
            return float(line.split()[-1])
    raise AssertionError(f"no metric ais_target_{name} at {node.url}")


def wait_for_map(url, n, limit=60):
    t0 = time.time()
    while len(requests.get(f"{url}/v1/daemon?what=smap", timeout=5).json()["tmap"]) != n:
        assert time.time() - t0 < limit, f"the proxy did not drop to {n} targets in {limit} s"
        time.sleep(0.01)
    return time.time() - t0


def wait_healed(url, targets, limit=120):
    t0 = time.time()
    while True:
        idle = all(not requests.get(f"{t.url}/v1/daemon?what=rebalance", timeout=5).json()["running"]
                   for t in targets)
        missing = all_placed(targets) if idle else "rebalance running"
        if missing is None:
            return time.time() - t0
        assert time.time() - t0 < limit, f"not healed in {limit} s: {missing}"
        time.sleep(0.5)


def test_losing_a_machine_loses_no_read_and_heals(tmp_path):
    proxy, targets = start_cluster(tmp_path, n_targets=6, node_names=MACHINES)
    nodes = [proxy] + targets
    try:
        s = requests.Session()
        make_buckets(s, proxy.url)
        # AIStore's rules: D and P stay while EC is on; EC needs D+P+1 targets.
        for d, p, why in [(1, 2, "cannot change"), (4, 2, "needs at least 7 targets")]:
            bucket = "ec21" if why == "cannot change" else "fresh"
            if bucket == "fresh":
                assert s.post(f"{proxy.url}/v1/buckets/fresh", json={"action": "create-bck"}, timeout=10).ok
            r = s.patch(f"{proxy.url}/v1/buckets/{bucket}", timeout=10, json={
                "action": "set-bprops", "value": {"ec": {"enabled": True, "data_slices": d, "parity_slices": p}}})
            assert r.status_code == 400 and why in r.text, r.text
        time.sleep(0.5)  # the props reach every target with the next map push

        put_all(s, proxy.url)
        assert all_placed(targets) is None, all_placed(targets)
        # Counted: P copies given away per small object, D+P slices per large one; EC 2+1
        # has 4 pieces for 3 machines, so its large objects share one.
        small = {b: sum(len(content(b, i)) < LIMIT for i in range(PER_BUCKET)) for b in BUCKETS}
        copies = sum(p * small[b] for b, (_, p) in BUCKETS.items())
        slices = sum((d + p) * (PER_BUCKET - small[b]) for b, (d, p) in BUCKETS.items())
        assert sum(metric(t, "copy_tx_count") for t in targets) == copies
        assert sum(metric(t, "ec_slice_tx_count") for t in targets) == slices
        assert sum(metric(t, "copy_shared_machine_count") for t in targets) == PER_BUCKET - small["ec21"]
        # Listing shows each object once, however many copies it has.
        listed = s.get(f"{proxy.url}/v1/buckets/ec21", timeout=30,
                       json={"action": "list", "value": {"props": "name", "pagesize": 5000}}).json()
        assert len(listed["entries"]) == PER_BUCKET

        readers = Readers(proxy.url)
        time.sleep(2)
        victims = [t for t in targets if t.node_name == "m1"]
        for v in victims:
            v.proc.kill()
        window = wait_for_map(proxy.url, 4)
        time.sleep(3)
        readers.finish()
        print(f"machine m1 killed: the proxy dropped its targets after {window:.3f} s; "
              f"{readers.reads} reads, {readers.retried} retried once, 0 failed")
        survivors = [t for t in targets if t.node_name != "m1"]
        healed = wait_healed(proxy.url, survivors)
        print(f"every object back to its copies on distinct machines in {healed:.1f} s")

        # A second machine lost after healing: one copy, or D pieces, of each object are
        # left, and every object reads back whole (rebuilt from slices where needed).
        for v in [t for t in survivors if t.node_name == "m2"]:
            v.proc.kill()
        wait_for_map(proxy.url, 2)
        for bucket in BUCKETS:
            for i in range(PER_BUCKET):
                r = s.get(f"{proxy.url}/v1/objects/{bucket}/o{i}", timeout=30)
                assert r.status_code == 200 and r.content == content(bucket, i), (bucket, i, r.status_code)
    finally:
        for n in nodes:
            n.proc.kill()
            n.proc.wait()


def test_a_stopped_target_keeps_its_place_a_killed_one_does_not(tmp_path):
    """SIGTERM (a restart, a rollout) leaves the target in the map until the keepalive
    timeout; kill -9 takes it out at once, through the proxy's lifeline. The keepalive
    timeout is a minute here, so only the lifeline can drop a target during the test."""
    cfg = tmp_path / "proxy.toml"
    cfg.write_text("node_timeout_ms = 60000\n")
    proxy, targets = start_cluster(tmp_path, n_targets=3, proxy_extra=["--config", str(cfg)])
    try:
        stopped, killed = targets[0], targets[1]
        stopped.stop()
        time.sleep(2.5)  # past two lifeline rescans
        tmap = requests.get(f"{proxy.url}/v1/daemon?what=smap", timeout=5).json()["tmap"]
        assert stopped.id in tmap, "a target stopped on purpose left the map before the keepalive timeout"
        killed.proc.kill()
        t0 = time.time()
        while killed.id in requests.get(f"{proxy.url}/v1/daemon?what=smap", timeout=5).json()["tmap"]:
            assert time.time() - t0 < 50, "a killed target stayed in the map (the lifeline did not drop it)"
            time.sleep(0.01)
        print(f"killed target dropped after {time.time() - t0:.3f} s; the stopped one kept its place")
        assert stopped.id in requests.get(f"{proxy.url}/v1/daemon?what=smap", timeout=5).json()["tmap"]
    finally:
        for n in [proxy] + targets:
            n.proc.kill()
            n.proc.wait()


def test_without_machine_names_a_machine_loss_makes_objects_unreadable(tmp_path):
    """The figure that shows why placement by machine matters: the same cluster, buckets
    and objects, but the targets are not told which machine they run on (all report this
    host), so pieces are placed by HRW over targets alone. Killing the two targets the
    first test calls machine m1 then leaves objects with too few pieces to read."""
    proxy, targets = start_cluster(tmp_path, n_targets=6)
    try:
        s = requests.Session()
        make_buckets(s, proxy.url)
        time.sleep(0.5)

        put_all(s, proxy.url)
        for v in targets[:2]:  # what the first test calls machine m1
            v.proc.kill()
        wait_for_map(proxy.url, 4)

        def readable(job):
            bucket, i = job
            for _ in range(2):
                r = s.get(f"{proxy.url}/v1/objects/{bucket}/o{i}", timeout=30)
                if r.status_code == 200:
                    assert r.content == content(bucket, i)
                    return True
                time.sleep(0.2)
            return False

        with ThreadPoolExecutor(8) as pool:
            ok = list(pool.map(readable, [(b, i) for b in BUCKETS for i in range(PER_BUCKET)]))
        lost = ok.count(False)
        print(f"placement blind to machines: {lost} of {len(ok)} objects unreadable after one machine's loss "
              f"({100 * lost / len(ok):.1f}%); with machine names: 0 (the first test)")
        assert lost > 0
    finally:
        for n in [proxy] + targets:
            n.proc.kill()
            n.proc.wait()
