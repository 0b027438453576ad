"""Membership changes of the Compose cluster under load: a third target container added
(scale-out) while clients read, then decommissioned; a target cut off the network while
clients write and read, then reconnected."""

import random
import threading
import time

import requests
from aistore.sdk import Client

from compose_env import PROXY, compose, container, run, smap, target_ids, wait

TARGET3 = "http://127.0.0.1:18083"


def body(i):
    return (b"%05d|" % i) * (1 + i % 97)


def put_all(bucket, n):
    s = requests.Session()
    for i in range(n):
        r = s.put(f"{PROXY}/v1/objects/{bucket}/o{i}", data=body(i), timeout=10)
        assert r.status_code == 200, r.text


def listed_here(url, bucket):
    """Names a target holds (a target lists its own objects)."""
    names, token = [], ""
    while True:
        page = requests.get(f"{url}/v1/buckets/{bucket}", json={"action": "list", "value": {"continuation_token": token}},
                            timeout=10).json()
        names += [e["name"] for e in page["entries"]]
        token = page.get("continuation_token", "")
        if not token:
            return names


class Readers:
    """Eight clients reading random objects through the proxy, each read checked."""

    def __init__(self, bucket, n):
        self.stop, self.failures, self.reads = threading.Event(), [], 0
        self.threads = [threading.Thread(target=self._run, args=(bucket, n, k)) for k in range(8)]
        for t in self.threads:
            t.start()

    def _run(self, bucket, n, seed):
        rng, s = random.Random(seed), requests.Session()
        while not self.stop.is_set():
            i = rng.randrange(n)
            try:
                r = s.get(f"{PROXY}/v1/objects/{bucket}/o{i}", timeout=10)
                ok, why = r.status_code == 200 and r.content == body(i), r.status_code
            except requests.RequestException as e:
                ok, why = False, repr(e)
            self.reads += 1
            if not ok:
                self.failures.append((i, why))

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join()
        assert not self.failures, f"{len(self.failures)} of {self.reads} reads failed: {self.failures[:5]}"
        return self.reads


def test_scale_out_under_load_then_decommission(cluster):
    n = 2000
    Client(PROXY).bucket("scale").create(exist_ok=True)
    put_all("scale", n)
    readers = Readers("scale", n)
    try:
        time.sleep(1)
        compose("--profile", "scale-out", "up", "-d", "target3")
        wait("target3 in the map", lambda: len(smap()["tmap"]) == 3, 60)
        t3 = requests.get(f"{TARGET3}/v1/daemon?what=snode", timeout=5).json()["daemon_id"]
        urls = {**{target_ids()[k]: v for k, v in {"target1": "http://127.0.0.1:18081",
                                                   "target2": "http://127.0.0.1:18082"}.items()}, t3: TARGET3}

        def settled():
            states = requests.get(f"{PROXY}/v1/cluster?what=rebalance", timeout=5).json()
            if len(states) != 3 or any(s is None or s["running"] for s in states.values()):
                return False
            info = Client(PROXY).cluster().get_info()
            held = {tid: listed_here(u, "scale") for tid, u in urls.items()}
            return sum(map(len, held.values())) == n and all(
                info.get_target_for_object(f"ais/@#/scale/{x}").daemon_id == tid for tid, xs in held.items() for x in xs)

        took = wait("every object on its owner", settled, 120)
        moved = len(listed_here(TARGET3, "scale"))
        assert 0.2 * n < moved < 0.47 * n, moved
        reads = readers.finish()
        print(f"compose scale-out: {moved} of {n} objects moved to target3 in {took:.1f} s, {reads} reads, 0 failed")
    finally:
        readers.stop.set()

    # Scale in again: decommission moves target3's objects off before it leaves.
    readers = Readers("scale", n)
    r = requests.put(f"{PROXY}/v1/cluster", json={"action": "decommission-node", "value": {"sid": t3}}, timeout=10)
    assert r.status_code == 200, r.text
    wait("target3 decommissioned", lambda: t3 not in smap()["tmap"], 120)
    wait("target3 stopped", lambda: run("docker", "inspect", "-f", "{{.State.Running}}",
                                       container("target3")).stdout.strip() == "false", 60)
    readers.finish()
    compose("--profile", "scale-out", "rm", "-sf", "target3")
    assert sorted(listed_here("http://127.0.0.1:18081", "scale") + listed_here("http://127.0.0.1:18082", "scale")) \
        == sorted(f"o{i}" for i in range(n))


def test_partition_under_load_converges_without_losing_acknowledged_writes(cluster):
    ids = target_ids()
    Client(PROXY).bucket("part").create(exist_ok=True)
    n0 = 300
    put_all("part", n0)
    acked = {f"o{i}": body(i) for i in range(n0)}
    outcomes, lock, stop = {}, threading.Lock(), threading.Event()
    slow = []

    def worker(k):
        rng, s, i = random.Random(k), requests.Session(), 0
        while not stop.is_set():
            i += 1
            t0 = time.time()
            try:
                if rng.random() < 0.5:
                    name = f"w{k}-{i}"
                    data = body(i) + name.encode()
                    r = s.put(f"{PROXY}/v1/objects/part/{name}", data=data, timeout=15)
                    if r.status_code == 200:
                        with lock:
                            acked[name] = data
                else:
                    j = rng.randrange(n0)
                    r = s.get(f"{PROXY}/v1/objects/part/o{j}", timeout=15)
                    assert r.status_code != 200 or r.content == body(j), "wrong bytes"
                key = r.status_code
                if r.status_code >= 400:
                    # A clear, AIStore-shaped error: JSON naming what failed.
                    assert "message" in r.json(), r.text
            except requests.Timeout:
                key = "TIMEOUT"
            except requests.ConnectionError:
                key = "connection refused/reset"
            if time.time() - t0 > 14:
                slow.append(time.time() - t0)
            with lock:
                outcomes[key] = outcomes.get(key, 0) + 1

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    network = f"aisci_ais"
    try:
        time.sleep(2)
        run("docker", "network", "disconnect", network, container("target1"))
        try:
            wait("target1 out of the map", lambda: ids["target1"] not in smap()["tmap"], 60)
            time.sleep(3)
        finally:
            run("docker", "network", "connect", "--alias", "target1", network, container("target1"))
        wait("target1 back in the map", lambda: ids["target1"] in smap()["tmap"], 60)
        time.sleep(3)
    finally:
        stop.set()
        for t in threads:
            t.join()

    def converged():
        info = smap()
        versions = [requests.get(f"{u}/v1/daemon?what=smap", timeout=5).json()["version"]
                    for u in ("http://127.0.0.1:18081", "http://127.0.0.1:18082")]
        states = requests.get(f"{PROXY}/v1/cluster?what=rebalance", timeout=5).json()
        return set(versions) == {info["version"]} and not any(s is None or s["running"] for s in states.values())

    wait("map and data converged", converged, 120)
    print(f"partition: outcomes {outcomes}; {len(acked)} acknowledged objects")
    assert "TIMEOUT" not in outcomes and not slow, (outcomes, slow)
    assert outcomes.get(200, 0) > 100, outcomes
    s = requests.Session()
    lost = [name for name, data in acked.items()
            if (r := s.get(f"{PROXY}/v1/objects/part/{name}", timeout=10)).status_code != 200 or r.content != data]
    assert not lost, f"{len(lost)} acknowledged objects lost, e.g. {lost[:5]}"
