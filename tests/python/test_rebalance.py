"""Rebalance and get-from-neighbor: a target joins a loaded cluster while clients read
through the proxy; no read fails, and every object ends on its HRW owner."""

import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from aistore.sdk import Client

from nodes import fail_fast, start_cluster, start_target

N = 20_000


def on_disk(target, bucket):
    """Object names stored on a target's mountpaths."""
    names = set()
    for mp in target.mountpaths:
        root = os.path.join(mp, "@ais", bucket, "%ob")
        for d, _, files in os.walk(root):
            names.update(os.path.relpath(os.path.join(d, f), root) for f in files)
    return names


def content(i):
    return (b"%06d-" % i) * (1 + i % 200)


class ReadLoad:
    """Eight clients reading random objects through the proxy until stopped, each read
    checked against the bytes written."""

    def __init__(self, proxy_url, bucket, n, expected):
        self.stop, self.failures, self.reads, self.retried = threading.Event(), [], 0, 0
        self.threads = [threading.Thread(target=self._run, args=(proxy_url, bucket, n, expected, k))
                        for k in range(8)]
        for t in self.threads:
            t.start()

    def _run(self, proxy_url, bucket, n, expected, seed):
        rng, sess = random.Random(seed), requests.Session()
        while not self.stop.is_set():
            i = rng.randrange(n)
            try:
                r = sess.get(f"{proxy_url}/v1/objects/{bucket}/obj-{i}", timeout=30)
                if r.status_code == 503:
                    # The documented answer while a new map is being pushed ("retry"): one
                    # retry, as the SDK makes; a second 503 is a failure.
                    self.retried += 1
                    time.sleep(0.05)
                    r = sess.get(f"{proxy_url}/v1/objects/{bucket}/obj-{i}", timeout=30)
                ok, status = r.status_code == 200 and r.content == expected(i), r.status_code
            except requests.RequestException as e:
                ok, status = False, repr(e)
            self.reads += 1
            if not ok:
                self.failures.append((i, status))

    def finish(self):
        """Stops the readers; asserts that none failed; returns the number of reads."""
        self.stop.set()
        for t in self.threads:
            t.join()
        assert not self.failures, f"{len(self.failures)} of {self.reads} reads failed, e.g. {self.failures[:5]}"
        return self.reads


def test_join_under_load_moves_a_quarter_and_loses_nothing(tmp_path):
    proxy, targets = start_cluster(tmp_path, n_targets=3)
    nodes = [proxy] + targets
    try:
        client = Client(proxy.url, retry_config=fail_fast(), timeout=30)
        bucket = client.bucket("reb")
        bucket.create()
        s = requests.Session()

        def put(i):
            r = s.put(f"{proxy.url}/v1/objects/reb/obj-{i}", data=content(i), timeout=30)
            assert r.status_code == 200, r.text

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(put, range(N)))
        before = {t.id: on_disk(t, "reb") for t in targets}
        assert sum(len(v) for v in before.values()) == N

        load = ReadLoad(proxy.url, "reb", N, content)
        time.sleep(1)
        # Foreground throughput before the change, to compare with during it.
        r0, t_before = load.reads, time.time()
        time.sleep(4)
        rate_before = (load.reads - r0) / (time.time() - t_before)
        newcomer = start_target(tmp_path / "t-new", n_mountpaths=2, extra=["--proxy", proxy.url], env=proxy.env)
        nodes.append(newcomer)
        everyone = targets + [newcomer]
        t0, r1 = time.time(), load.reads

        def placed():
            smap = client.cluster().get_info()
            if len(smap.tmap) != 4:
                return False
            states = [requests.get(f"{t.url}/v1/daemon?what=rebalance", timeout=5).json() for t in everyone]
            if any(st["running"] for st in states):
                return False
            for t in everyone:
                for name in on_disk(t, "reb"):
                    owner = smap.get_target_for_object(f"ais/@#/reb/{name}")
                    if owner.daemon_id != t.id:
                        return False
            return sum(len(on_disk(t, "reb")) for t in everyone) == N

        while not placed():
            assert time.time() - t0 < 90, "objects did not reach their owners in 90 s"
            time.sleep(0.5)
        took = time.time() - t0
        rate_during = (load.reads - r1) / took
        time.sleep(1)
        reads = load.finish()
        moved = len(on_disk(newcomer, "reb"))
        assert 0.15 * N < moved < 0.35 * N, moved
        for t in targets:
            assert on_disk(t, "reb") <= before[t.id], "objects only left the old targets"
        states = [requests.get(f"{t.url}/v1/daemon?what=rebalance", timeout=5).json() for t in targets]
        # Each moved object was pushed by its old holder, or first pulled by a reader's GET
        # at the newcomer (the push then found it there).
        pushed = sum(st["objects_moved"] for st in states)
        pulled = sum(st["objects_kept_newer"] for st in states)
        assert pushed + pulled == moved, (pushed, pulled, moved)
        moved_bytes = sum(st["bytes_moved"] for st in states)
        print(f"rebalance: {moved} of {N} objects ({moved_bytes} bytes pushed) moved to the new target in "
              f"{took:.1f} s ({pushed} pushed, {pulled} fetched on demand first); {reads} reads, 0 failed; "
              f"foreground GETs {rate_before:.0f}/s before, {rate_during:.0f}/s during "
              f"({rate_during / rate_before:.2f}x)")
        for i in random.Random(7).sample(range(N), 200):
            assert bucket.object(f"obj-{i}").get_reader().read_all() == content(i)
    finally:
        for n in nodes:
            n.proc.kill()
            n.proc.wait()


def test_gone_holder_is_503_not_404(tmp_path):
    """Objects of a target that left answer 503 at their new owner, never 404; a name
    that exists nowhere is still 404."""
    cfg = tmp_path / "proxy.toml"
    cfg.write_text("node_timeout_ms = 1000\ncheck_interval_ms = 200\ncontrol_timeout_ms = 1000\n")
    proxy, targets = start_cluster(tmp_path, n_targets=3, proxy_extra=["--config", str(cfg)])
    try:
        client = Client(proxy.url, retry_config=fail_fast(), timeout=30)
        client.bucket("g").create()
        for i in range(60):
            requests.put(f"{proxy.url}/v1/objects/g/o{i}", data=b"x", timeout=10).raise_for_status()
        victim = targets[0]
        old_map = client.cluster().get_info()
        held = on_disk(victim, "g")
        assert held, "the victim holds some objects"
        victim.proc.kill()
        victim.proc.wait()
        deadline = time.time() + 15
        while victim.id in client.cluster().get_info().tmap:
            assert time.time() < deadline
            time.sleep(0.2)
        for name in sorted(held)[:5]:
            r = requests.get(f"{proxy.url}/v1/objects/g/{name}", timeout=30)
            assert r.status_code == 503, (name, r.status_code, r.text)
            assert victim.id in r.json()["message"]
        # A name that was never written, and that the victim did not own either: 404.
        name = next(f"absent-{k}" for k in range(1000)
                    if old_map.get_target_for_object(f"ais/@#/g/absent-{k}").daemon_id != victim.id)
        r = requests.get(f"{proxy.url}/v1/objects/g/{name}", timeout=30)
        assert r.status_code == 404, r.text
    finally:
        for n in [proxy] + targets:
            n.proc.kill()
            n.proc.wait()


def wait_placed(client, everyone, bucket, n, limit=90):
    """Waits until every target's walk is done and each object sits on its HRW owner."""
    t0 = time.time()
    while True:
        smap = client.cluster().get_info()
        seen = {"map": {t.id: t.id in smap.tmap and smap.tmap[t.id].public_net.direct_url == t.url
                        for t in everyone}}
        ok = len(smap.tmap) == len(everyone) and all(seen["map"].values())
        if ok:
            states = [requests.get(f"{t.url}/v1/daemon?what=rebalance", timeout=5).json() for t in everyone]
            seen["rebalance"] = states
            ok = not any(st["running"] for st in states)
        if ok:
            total, misplaced = 0, 0
            for t in everyone:
                names = on_disk(t, bucket)
                total += len(names)
                misplaced += sum(smap.get_target_for_object(f"ais/@#/{bucket}/{x}").daemon_id != t.id
                                 for x in names)
            seen["objects"] = {"total": total, "want": n, "misplaced": misplaced}
            ok = total == n and misplaced == 0
        if ok:
            return time.time() - t0
        assert time.time() - t0 < limit, f"objects did not reach their owners in {limit} s: {seen}"
        time.sleep(0.5)


def test_returning_target_takes_the_writes_made_while_it_was_away(tmp_path):
    cfg = tmp_path / "proxy.toml"
    cfg.write_text("node_timeout_ms = 1000\ncheck_interval_ms = 200\ncontrol_timeout_ms = 1000\n")
    proxy, targets = start_cluster(tmp_path, n_targets=3, proxy_extra=["--config", str(cfg)])
    nodes = [proxy] + targets
    try:
        client = Client(proxy.url, retry_config=fail_fast(), timeout=30)
        client.bucket("w").create()
        for i in range(90):
            requests.put(f"{proxy.url}/v1/objects/w/o{i}", data=b"first", timeout=10).raise_for_status()
        victim = targets[0]
        held = sorted(on_disk(victim, "w"))
        assert held
        victim.proc.kill()
        victim.proc.wait()
        deadline = time.time() + 15
        while victim.id in client.cluster().get_info().tmap:
            assert time.time() < deadline
            time.sleep(0.2)
        time.sleep(0.5)
        for name in held:
            r = requests.put(f"{proxy.url}/v1/objects/w/{name}", data=b"second", timeout=10)
            assert r.status_code == 200, r.text
        # Some are deleted while the old copies sit on the target that is away.
        deleted = held[::3]
        for name in deleted:
            r = requests.delete(f"{proxy.url}/v1/objects/w/{name}", timeout=10)
            assert r.status_code == 200, r.text
        back = start_target(tmp_path / "t0", n_mountpaths=2, extra=["--proxy", proxy.url], env=proxy.env)
        assert back.id == victim.id
        nodes.append(back)
        wait_placed(client, [back] + targets[1:], "w", 90 - len(deleted))
        for name in held:
            r = requests.get(f"{proxy.url}/v1/objects/w/{name}", timeout=10)
            if name in deleted:
                assert r.status_code == 404, (name, r.status_code, r.content)
            else:
                assert r.content == b"second", name
    finally:
        for n in nodes:
            n.proc.kill()
            n.proc.wait()


def test_delete_during_rebalance_and_kill9_mid_rebalance(tmp_path):
    proxy, targets = start_cluster(tmp_path, n_targets=3)
    nodes = [proxy] + targets
    n = 1500
    try:
        client = Client(proxy.url, retry_config=fail_fast(), timeout=30)
        client.bucket("k").create()
        s = requests.Session()
        blob = os.urandom(32 << 10)

        def put(i):
            s.put(f"{proxy.url}/v1/objects/k/o{i}", data=blob[i:] + b"%d" % i, timeout=30).raise_for_status()

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(put, range(n)))
        newcomer = start_target(tmp_path / "t-new", n_mountpaths=2, extra=["--proxy", proxy.url], env=proxy.env)
        nodes.append(newcomer)
        # Deletes right away, while objects are on their way to the newcomer.
        doomed = list(range(0, n, 15))
        for i in doomed:
            r = requests.delete(f"{proxy.url}/v1/objects/k/o{i}", timeout=30)
            assert r.status_code == 200, (i, r.status_code, r.text)
        # And one of the senders dies mid-walk, then comes back on the same disks.
        victim = targets[1]
        victim.proc.kill()
        victim.proc.wait()
        back = start_target(tmp_path / "t1", n_mountpaths=2, extra=["--proxy", proxy.url], env=proxy.env)
        assert back.id == victim.id
        nodes.append(back)
        everyone = [targets[0], back, targets[2], newcomer]
        wait_placed(client, everyone, "k", n - len(doomed))
        gone = set(doomed)
        for i in range(n):
            r = s.get(f"{proxy.url}/v1/objects/k/o{i}", timeout=30)
            if i in gone:
                assert r.status_code == 404, (i, r.status_code)
            else:
                assert r.status_code == 200 and r.content == blob[i:] + b"%d" % i, (i, r.status_code)
    finally:
        for x in nodes:
            x.proc.kill()
            x.proc.wait()


def test_maintenance_then_decommission_under_load(tmp_path):
    proxy, targets = start_cluster(tmp_path, n_targets=3)
    nodes = [proxy] + targets
    n = N
    try:
        client = Client(proxy.url, retry_config=fail_fast(), timeout=30)
        client.bucket("m").create()
        s = requests.Session()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: s.put(f"{proxy.url}/v1/objects/m/obj-{i}", data=content(i), timeout=30)
                          .raise_for_status(), range(n)))
        victim, rest = targets[0], targets[1:]
        held = len(on_disk(victim, "m"))
        assert held > 0
        load = ReadLoad(proxy.url, "m", n, content)

        def owner_by_proxy(name):
            r = requests.get(f"{proxy.url}/v1/objects/m/{name}", allow_redirects=False, timeout=10)
            return r.headers["Location"].split("/v1/")[0]

        def drained():
            if on_disk(victim, "m"):
                return False
            if any(requests.get(f"{t.url}/v1/daemon?what=rebalance", timeout=5).json()["running"] for t in targets):
                return False
            names = {t.id: on_disk(t, "m") for t in rest}
            smap = client.cluster().get_info()
            return sum(map(len, names.values())) == n and all(
                smap.get_target_for_object(f"ais/@#/m/{x}").daemon_id == tid for tid, xs in names.items() for x in xs)

        r = requests.put(f"{proxy.url}/v1/cluster", json={"action": "start-maintenance", "value": {"sid": victim.id}},
                         timeout=10)
        assert r.status_code == 200, r.text
        t0 = time.time()
        while not drained():
            assert time.time() - t0 < 90, "maintenance did not move the target's objects in 90 s"
            time.sleep(0.5)
        by_url = {t.url: t.id for t in rest}
        for name in random.Random(3).sample(sorted(on_disk(rest[0], "m")), 50):
            assert by_url[owner_by_proxy(name)] == rest[0].id, name
        walk = requests.get(f"{victim.url}/v1/daemon?what=rebalance", timeout=5).json()
        assert walk["objects_moved"] + walk["objects_kept_newer"] == held, walk
        assert requests.get(f"{victim.url}/v1/health?readiness=true", timeout=5).status_code == 503
        assert victim.id in client.cluster().get_info().tmap, "in maintenance, still in the map"

        r = requests.put(f"{proxy.url}/v1/cluster", json={"action": "decommission-node", "value": {"sid": victim.id}},
                         timeout=10)
        assert r.status_code == 200, r.text
        t1 = time.time()
        while victim.id in client.cluster().get_info().tmap:
            assert time.time() - t1 < 60, "decommission did not finish"
            time.sleep(0.3)
        assert victim.proc.wait(timeout=30) == 0, "the decommissioned target shut down cleanly"
        time.sleep(1)
        reads = load.finish()
        print(f"maintenance: {held} objects moved off by a walk of {walk['last_walk_ms']} ms; decommissioned; "
              f"{reads} reads, 0 failed")
    finally:
        for x in nodes:
            x.proc.kill()
            x.proc.wait()


def test_proxy_stops_and_starts_a_rebalance(tmp_path):
    proxy, targets = start_cluster(tmp_path, n_targets=2)
    nodes = [proxy] + targets
    try:
        client = Client(proxy.url, retry_config=fail_fast(), timeout=30)
        client.bucket("ss").create()
        s = requests.Session()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: s.put(f"{proxy.url}/v1/objects/ss/obj-{i}", data=content(i), timeout=30)
                          .raise_for_status(), range(3000)))
        newcomer = start_target(tmp_path / "t-new", n_mountpaths=2, extra=["--proxy", proxy.url], env=proxy.env)
        nodes.append(newcomer)
        deadline = time.time() + 15
        while len(client.cluster().get_info().tmap) != 3:
            assert time.time() < deadline, "the newcomer did not join"
            time.sleep(0.05)
        version = int(client.cluster().get_info().version)
        while not all(st and st["smap_version"] >= version for st in
                      requests.get(f"{proxy.url}/v1/cluster?what=rebalance", timeout=5).json().values()):
            assert time.time() < deadline, "the targets did not start walking for the new map"
            time.sleep(0.05)
        r = requests.put(f"{proxy.url}/v1/cluster", json={"action": "stop", "value": {"kind": "rebalance"}}, timeout=10)
        assert r.status_code == 200, r.text
        states = requests.get(f"{proxy.url}/v1/cluster?what=rebalance", timeout=5).json()
        assert len(states) == 3 and not any(st["running"] for st in states.values()), states
        # Objects not moved yet are still served (get-from-neighbor).
        for i in random.Random(1).sample(range(3000), 100):
            assert requests.get(f"{proxy.url}/v1/objects/ss/obj-{i}", timeout=10).content == content(i)
        r = requests.put(f"{proxy.url}/v1/cluster", json={"action": "start", "value": {"kind": "rebalance"}}, timeout=10)
        assert r.status_code == 200, r.text
        wait_placed(client, targets + [newcomer], "ss", 3000)
    finally:
        for n in nodes:
            n.proc.kill()
            n.proc.wait()
