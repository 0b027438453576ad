"""Bitrot: a byte flipped in an object's file on disk is never served as good."""

import os
import time

import pytest
import requests

from nodes import start_cluster, start_target


@pytest.fixture(params=["uring", "psync"])
def direct_target(request, tmp_path):
    """A lone target reading with O_DIRECT: every read comes from the disk, so the test
    does not depend on evicting pages from the page cache (which the kernel may refuse)."""
    node = start_target(tmp_path, n_mountpaths=1, engine=request.param, extra=["--direct-io"])
    yield node
    node.proc.kill()
    node.proc.wait()


def flip(path, offset, byte):
    """Writes one byte in an object's file behind the target's back, to the disk."""
    fd = os.open(path, os.O_RDWR)
    try:
        os.pwrite(fd, bytes([byte]), offset)
        os.fsync(fd)
    finally:
        os.close(fd)


def test_flipped_byte_in_a_small_object_is_not_served(direct_target):
    target = direct_target
    u = target.url
    requests.post(f"{u}/v1/buckets/b", json={"action": "create-bck"}, timeout=5).raise_for_status()
    data = os.urandom(10_000)
    requests.put(f"{u}/v1/objects/b/o", data=data, timeout=5).raise_for_status()
    assert requests.get(f"{u}/v1/objects/b/o", timeout=5).content == data
    path = next(p for p in (os.path.join(mp, "@ais", "b", "%ob", "o") for mp in target.mountpaths) if os.path.exists(p))
    flip(path, 5000, data[5000] ^ 0x01)
    # Refused before the headers (500) or cut before the body completes: never the
    # whole body with a 200.
    try:
        r = requests.get(f"{u}/v1/objects/b/o", timeout=5)
        served = (r.status_code, len(r.content), r.content == data)
    except requests.RequestException as e:
        served = repr(e)
    assert not (isinstance(served, tuple) and served[0] == 200 and served[1] == len(data)), served
    if isinstance(served, tuple):
        assert served[0] == 500, served
    assert_moved_aside(target, "b", "o", expected=1)


def quarantined(target):
    for line in requests.get(f"{target.url}/metrics", timeout=5).text.splitlines():
        if line.startswith("ais_target_quarantined_count"):
            return float(line.split()[-1])
    raise AssertionError("no quarantined_count metric")


def assert_moved_aside(target, bucket, name, expected):
    """The damaged file leaves the object's place (kept under .ais.quarantine), is
    counted, and the object answers 404 from then on."""
    deadline = time.time() + 5
    while quarantined(target) < expected:
        assert time.time() < deadline, "damaged object was not moved aside"
        time.sleep(0.05)
    assert quarantined(target) == expected
    assert requests.get(f"{target.url}/v1/objects/{bucket}/{name}", timeout=5).status_code == 404
    aside = [f for mp in target.mountpaths for _, _, fs in os.walk(os.path.join(mp, ".ais.quarantine")) for f in fs]
    assert len(aside) == expected and aside[-1].startswith(name.split("/")[-1] + "."), aside


def test_flipped_byte_in_a_streamed_object_is_cut_and_moved_aside(direct_target):
    target = direct_target
    u = target.url
    requests.post(f"{u}/v1/buckets/b", json={"action": "create-bck"}, timeout=5).raise_for_status()
    data = os.urandom(3 << 20)
    requests.put(f"{u}/v1/objects/b/big", data=data, timeout=10).raise_for_status()
    path = os.path.join(target.mountpaths[0], "@ais", "b", "%ob", "big")
    flip(path, 2_000_000, data[2_000_000] ^ 0x80)
    try:
        r = requests.get(f"{u}/v1/objects/b/big", timeout=10)
        served = (r.status_code, len(r.content))
    except requests.RequestException as e:
        served = repr(e)
    assert served != (200, len(data)), "the corrupted object was served whole"
    assert_moved_aside(target, "b", "big", expected=1)


def test_scrub_through_the_proxy_finds_and_moves_aside_rotten_objects(tmp_path):
    proxy, targets = start_cluster(tmp_path, n_targets=3)
    try:
        u = proxy.url
        requests.post(f"{u}/v1/buckets/s", json={"action": "create-bck"}, timeout=5).raise_for_status()
        data = {f"d/o{i}": os.urandom(1000 + 997 * i) for i in range(100)}
        for name, body in data.items():
            requests.put(f"{u}/v1/objects/s/{name}", data=body, timeout=10).raise_for_status()
        files = sorted(p for t in targets for mp in t.mountpaths
                       for p in [os.path.join(mp, "@ais", "s", "%ob", name) for name in data] if os.path.exists(p))
        assert len(files) == 100
        rotten = [files[7], files[60]]
        for p in rotten:
            fd = os.open(p, os.O_RDWR)
            os.pwrite(fd, b"\x00\xff", 500)
            os.close(fd)
        r = requests.put(f"{u}/v1/cluster", json={"action": "start", "value": {"kind": "scrub"}}, timeout=10)
        assert r.status_code == 400, r.text
        r = requests.put(f"{u}/v1/cluster", json={"action": "start", "value": {"kind": "scrub", "bucket": "nope"}},
                         timeout=10)
        assert r.status_code == 404, r.text
        r = requests.put(f"{u}/v1/cluster", json={"action": "start", "value": {"kind": "scrub", "bucket": "s"}},
                         timeout=10)
        assert r.status_code == 200, r.text
        deadline = time.time() + 30
        while True:
            states = requests.get(f"{u}/v1/cluster?what=scrub", timeout=5).json()
            assert len(states) == 3 and all(s is not None for s in states.values()), states
            if not any(s["running"] for s in states.values()):
                break
            assert time.time() < deadline, states
            time.sleep(0.1)
        assert sum(s["checked"] for s in states.values()) == 100, states
        assert sum(s["bytes"] for s in states.values()) == sum(map(len, data.values()))
        assert sum(s["damaged"] for s in states.values()) == 2, states
        assert sum(s["misplaced"] for s in states.values()) == 0, states
        deadline = time.time() + 5
        while any(os.path.exists(p) for p in rotten):
            assert time.time() < deadline, "rotten files stayed in place"
            time.sleep(0.05)
        for name, body in data.items():
            r = requests.get(f"{u}/v1/objects/s/{name}", timeout=10)
            rotted = any(p.endswith("/" + name) for p in rotten)
            assert (r.status_code, r.content == body) == ((404, False) if rotted else (200, True)), name
    finally:
        for n in [proxy] + targets:
            n.proc.kill()
            n.proc.wait()
