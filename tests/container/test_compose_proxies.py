"""A partition between proxies, in containers: the Compose cluster's three proxies and two
targets, the primary cut off the nodes' network (`docker network disconnect`; its own
network still carries its published port, so this host reaches it). The two others elect
a new primary and keep taking changes, while clients write through them; the cut-off
proxy refuses changes with a 503 that says why and never publishes a map. After the
partition heals there is one primary and one history: the bucket asked of the minority
exists nowhere, the majority's everywhere, and no acknowledged write is lost."""

import os
import subprocess
import threading
import time

import pytest
import requests

from compose_env import COMPOSE, IMAGE, SECRET, run, wait

PROJECT = "aisha"
# below the ephemeral range (32768+), where a parallel test's client socket can take a port
PORTS = {"AIS_PROXY_PORT": "29080", "AIS_PROXY2_PORT": "29090", "AIS_PROXY3_PORT": "29091",
         "AIS_TARGET1_PORT": "29081", "AIS_TARGET2_PORT": "29082"}
PROXIES = {name: f"http://127.0.0.1:{PORTS[var]}" for name, var in
           (("proxy", "AIS_PROXY_PORT"), ("proxy2", "AIS_PROXY2_PORT"), ("proxy3", "AIS_PROXY3_PORT"))}
TARGETS = [f"http://127.0.0.1:{PORTS[v]}" for v in ("AIS_TARGET1_PORT", "AIS_TARGET2_PORT")]


def compose(*args, check=True):
    env = dict(os.environ, AISNODE_IMAGE=IMAGE, AIS_CLUSTER_SECRET=SECRET, **PORTS)
    return subprocess.run(["docker-compose", "-p", PROJECT, "-f", str(COMPOSE), *args],
                          check=check, capture_output=True, text=True, env=env, cwd=COMPOSE.parent)


def smap(url):
    return requests.get(f"{url}/v1/daemon?what=smap", timeout=5).json()


def buckets(url):
    return sorted(b["name"] for b in requests.get(f"{url}/v1/buckets", timeout=5).json())



@pytest.fixture
def three_proxies(image):
    compose("down", "-v", check=False)
    compose("up", "-d")
    try:
        wait("3 proxies and 2 targets in every map", lambda: all(
            len(smap(u)["pmap"]) == 3 and len(smap(u)["tmap"]) == 2 for u in PROXIES.values())
            and len({smap(u)["version"] for u in PROXIES.values()}) == 1, limit=60)
        yield
    finally:
        compose("down", "-v", check=False)


def test_primary_cut_off_the_majority_elects_and_one_history_remains(three_proxies):
    ids = {name: requests.get(f"{u}/v1/daemon?what=snode", timeout=5).json()["daemon_id"]
           for name, u in PROXIES.items()}
    assert smap(PROXIES["proxy"])["proxy_si"]["daemon_id"] == ids["proxy"]
    assert requests.post(f"{PROXIES['proxy2']}/v1/buckets/before", json={"action": "create-bck"}, timeout=10).ok
    wait("bucket on every proxy", lambda: all("before" in buckets(u) for u in PROXIES.values()))
    majority = [PROXIES["proxy2"], PROXIES["proxy3"]]
    acked, failed, stop, lock = {}, [], threading.Event(), threading.Lock()

    def writer(w):
        n, s = 0, requests.Session()
        while not stop.is_set():
            n += 1
            key, data = f"w{w}-{n}", os.urandom(512 + n)
            for attempt in range(2):
                try:
                    r = s.put(f"{majority[(n + attempt) % 2]}/v1/objects/before/{key}", data=data, timeout=15)
                    if r.status_code == 200:
                        with lock:
                            acked[key] = data
                        break
                    assert r.status_code == 503 and "message" in r.json(), r.text
                except (requests.RequestException, AssertionError) as e:
                    if attempt == 1:
                        failed.append(str(e))
                time.sleep(1)
    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    cut_version = int(smap(PROXIES["proxy"])["version"])
    run("docker", "network", "disconnect", f"{PROJECT}_ais", f"{PROJECT}_proxy_1")
    try:
        took = wait("a new primary on the majority side",
                    lambda: all(smap(u)["proxy_si"]["daemon_id"] in (ids["proxy2"], ids["proxy3"]) for u in majority))
        print(f"new primary {took:.2f} s after the cut")
        assert requests.post(f"{PROXIES['proxy3']}/v1/buckets/majority", json={"action": "create-bck"}, timeout=15).ok
        r = requests.post(f"{PROXIES['proxy']}/v1/buckets/minority", json={"action": "create-bck"}, timeout=15)
        assert r.status_code == 503, r.text
        assert "majority" in r.json()["message"], r.text
        wait("the cut-off proxy to say it is not ready", lambda: requests.get(
            f"{PROXIES['proxy']}/v1/health?readiness=true", timeout=5).status_code == 503, limit=10)
        # Reads keep working from the map it has.
        assert "before" in buckets(PROXIES["proxy"])
        time.sleep(2)
        assert int(smap(PROXIES["proxy"])["version"]) == cut_version, "the cut-off proxy changed its map"
    finally:
        run("docker", "network", "connect", "--alias", "proxy", f"{PROJECT}_ais", f"{PROJECT}_proxy_1")
    wait("one primary and one map everywhere", lambda: len({(smap(u)["proxy_si"]["daemon_id"], smap(u)["version"])
                                                           for u in list(PROXIES.values()) + TARGETS}) == 1)
    stop.set()
    for t in threads:
        t.join()
    assert not failed, failed[:5]
    primary = smap(PROXIES["proxy"])["proxy_si"]["daemon_id"]
    assert primary in (ids["proxy2"], ids["proxy3"])
    for u in PROXIES.values():
        assert buckets(u) == ["before", "majority"], u
    for u in TARGETS:
        assert "minority" not in buckets(u)
    s = requests.Session()
    lost = [k for k, d in acked.items()
            if (r := s.get(f"{PROXIES['proxy']}/v1/objects/before/{k}", timeout=10)).status_code != 200 or r.content != d]
    print(f"{len(acked)} objects acknowledged during the partition")
    assert len(acked) > 0 and not lost, f"{len(lost)} acknowledged objects lost"
