"""Erasure coding across machines in containers: the Compose cluster with two simulated
machines of two targets each (`deploy/compose/two-machines.yml`), an EC 1+1 bucket
(objects under 64 KiB as two whole copies, larger ones whole plus two slices), then both
target containers of one machine killed: every object still reads back whole."""

import os
import subprocess
import time

import pytest
import requests

from compose_env import COMPOSE, IMAGE, SECRET, run

PROJECT = "aisec"
# Every published port differs from the other projects', which may still be up.
PORTS = {"AIS_PROXY_PORT": "28080", "AIS_PROXY2_PORT": "28090", "AIS_PROXY3_PORT": "28091",
         "AIS_TARGET1_PORT": "28081", "AIS_TARGET2_PORT": "28082",
         "AIS_TARGET3_PORT": "28083", "AIS_TARGET4_PORT": "28084"}
PROXY = f"http://127.0.0.1:{PORTS['AIS_PROXY_PORT']}"
N = 200


def compose(*args, check=True):
    env = dict(os.environ, AISNODE_IMAGE=IMAGE, AIS_CLUSTER_SECRET=SECRET, **PORTS)
    files = ["-f", str(COMPOSE), "-f", str(COMPOSE.parent / "two-machines.yml")]
    return subprocess.run(["docker-compose", "-p", PROJECT, *files, "--profile", "scale-out", *args],
                          check=check, capture_output=True, text=True, env=env, cwd=COMPOSE.parent)


def tmap():
    return requests.get(f"{PROXY}/v1/daemon?what=smap", timeout=5).json()["tmap"]


def wait_targets(n, limit=60):
    t0 = time.time()
    while True:
        try:
            if len(tmap()) == n:
                return time.time() - t0
        except requests.RequestException:
            pass
        assert time.time() - t0 < limit, f"the map did not reach {n} targets in {limit} s"
        time.sleep(0.2)


def body(i):
    return (b"ec-%05d|" % i) * (1 + (i % 10) * 2000)  # 9 bytes to ~160 KiB


@pytest.fixture
def two_machines(image):
    compose("down", "-v", check=False)
    compose("up", "-d")
    try:
        wait_targets(4)
        yield
    finally:
        logs = compose("logs", "--no-color", check=False).stdout
        (COMPOSE.parents[2] / "target" / "compose-ec-logs.txt").write_text(logs)
        compose("down", "-v", check=False)


def test_a_machine_of_two_lost_every_object_reads(two_machines):
    s = requests.Session()
    names = {t["node_name"] for t in tmap().values()}
    assert names == {"node-a", "node-b"}, names
    assert s.post(f"{PROXY}/v1/buckets/ec", json={"action": "create-bck"}, timeout=10).ok
    props = {"ec": {"enabled": True, "data_slices": 1, "parity_slices": 1, "objsize_limit": 65536}}
    r = s.patch(f"{PROXY}/v1/buckets/ec", json={"action": "set-bprops", "value": props}, timeout=10)
    assert r.status_code == 200, r.text
    time.sleep(1)
    for i in range(N):
        r = s.put(f"{PROXY}/v1/objects/ec/o{i}", data=body(i), timeout=30)
        assert r.status_code == 200, r.text
    run("docker", "kill", f"{PROJECT}_target1_1", f"{PROJECT}_target3_1")  # machine node-a
    dropped = wait_targets(2)
    failed = []
    for i in range(N):
        r = s.get(f"{PROXY}/v1/objects/ec/o{i}", timeout=30)
        if r.status_code != 200 or r.content != body(i):
            failed.append((i, r.status_code, r.text[:200]))
    print(f"node-a's two targets killed: dropped from the map in {dropped:.1f} s; {N} reads, {len(failed)} failed")
    assert not failed, failed[:5]
