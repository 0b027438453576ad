"""Mountpaths at run time (attach, enable, disable, detach; with and without resilver),
start-up with a lost mountpath, and the filesystem health checker on real filesystems:
a loop-mounted XFS made read-only, another shut down as by a dying disk, a tiny tmpfs
filled up, and finally the last mountpath lost (the target leaves the map)."""

import os
import pathlib
import random
import subprocess
import time

import pytest
import requests
from aistore.sdk.utils import get_digest, xoshiro256_hash

from nodes import BIN, start_cluster, start_node, start_target


def intra_url(node):
    snode = requests.get(f"{node.url}/v1/daemon?what=snode", timeout=5).json()
    return snode["intra_control_net"]["direct_url"]


def mountpaths(node):
    return requests.get(f"{node.url}/v1/daemon?what=mountpaths", timeout=5).json()


def mp_action(base, method, action, path, dntres=False, headers=None):
    q = "?dntres=true" if dntres else ""
    return requests.request(method, f"{base}/v1/daemon/mountpaths{q}",
                            json={"action": action, "value": str(path)}, headers=headers or {}, timeout=10)


def hrw_mountpath(mps, bucket, name):
    """The mountpath AIStore's HRW picks among `mps` (the SDK's own hash functions)."""
    h = get_digest(f"ais/@#/{bucket}/{name}")
    digests = [get_digest(mp) for mp in mps]
    return mps[max(range(len(mps)), key=lambda k: (xoshiro256_hash(digests[k] ^ h), k))]


def holders(all_mps, bucket, name):
    return [mp for mp in all_mps if os.path.isfile(os.path.join(mp, "@ais", bucket, "%ob", name))]


def wait_resilver(node, finished_before, limit=30):
    deadline = time.time() + limit
    while True:
        s = requests.get(f"{node.url}/v1/daemon?what=resilver", timeout=5).json()
        if s["finished"] > finished_before and not s["running"]:
            return s
        assert time.time() < deadline, f"resilver did not finish: {s}"
        time.sleep(0.1)


def resilvers_finished(node):
    return requests.get(f"{node.url}/v1/daemon?what=resilver", timeout=5).json()["finished"]


def assert_placed(node, all_mps, bucket, data):
    """Every object readable byte-exact, on exactly one mountpath: the HRW pick among the
    available ones."""
    available = mountpaths(node)["available"]
    for name, body in data.items():
        where = holders(all_mps, bucket, name)
        assert where == [hrw_mountpath(available, bucket, name)], (name, where, available)
        r = requests.get(f"{node.url}/v1/objects/{bucket}/{name}", timeout=10)
        assert r.status_code == 200 and r.content == body, (name, r.status_code)


@pytest.fixture(params=["uring", "psync"])
def engine(request):
    return request.param


def test_attach_disable_enable_detach_with_resilver(tmp_path, engine):
    node = start_target(tmp_path / "t", n_mountpaths=2, engine=engine)
    try:
        u, intra = node.url, intra_url(node)
        extra = [str((tmp_path / "t" / f"new{i}").resolve()) for i in (1, 2)]
        for p in extra:
            os.makedirs(p)
        all_mps = node.mountpaths + extra
        requests.post(f"{u}/v1/buckets/b", json={"action": "create-bck"}, timeout=5).raise_for_status()
        rnd = random.Random(5)
        # Mostly small objects, a few above the streaming threshold.
        data = {f"d{i % 7}/o{i}": os.urandom(rnd.choice([10, 3000, 200_000])) for i in range(240)}
        for name, body in data.items():
            requests.put(f"{u}/v1/objects/b/{name}", data=body, timeout=10).raise_for_status()
        assert_placed(node, all_mps, "b", data)

        # The public port takes no node actions.
        assert mp_action(u, "PUT", "attach-mp", extra[0]).status_code == 403

        # Attach: about a third of the objects move to the new disk, and the automatic
        # buffer budget (32 MiB per mountpath) grows with it.
        budget = metric(node, "buffer_budget_bytes")
        assert budget == 2 * 32 * 2**20, budget
        done = resilvers_finished(node)
        assert mp_action(intra, "PUT", "attach-mp", extra[0]).status_code == 200
        s = wait_resilver(node, done)
        assert mountpaths(node)["available"] == node.mountpaths + [extra[0]]
        assert metric(node, "buffer_budget_bytes") == 3 * 32 * 2**20
        on_new = sum(1 for n in data if holders(all_mps, "b", n) == [extra[0]])
        assert 40 <= on_new <= 130 and s["errors"] == 0, (on_new, s)
        assert_placed(node, all_mps, "b", data)
        # Attaching it twice, or a path inside another mountpath, is refused.
        assert mp_action(intra, "PUT", "attach-mp", extra[0]).status_code == 400
        nested = os.path.join(node.mountpaths[0], "inner")
        os.makedirs(nested)
        assert mp_action(intra, "PUT", "attach-mp", nested).status_code == 400
        assert mp_action(intra, "PUT", "attach-mp", tmp_path / "missing").status_code == 400

        # Disable: its objects move off first, then it is listed as disabled.
        victim = node.mountpaths[0]
        done = resilvers_finished(node)
        assert mp_action(intra, "POST", "disable-mp", victim).status_code == 200
        wait_resilver(node, done)
        state = mountpaths(node)
        assert state["disabled"] == [victim] and victim not in state["available"], state
        assert_placed(node, all_mps, "b", data)
        # Enable: objects move back to where HRW now puts them.
        done = resilvers_finished(node)
        assert mp_action(intra, "POST", "enable-mp", victim).status_code == 200
        wait_resilver(node, done)
        assert mountpaths(node)["disabled"] == []
        assert_placed(node, all_mps, "b", data)

        # Detach: objects move off, the mountpath is forgotten and its lock released
        # (attaching it again works).
        done = resilvers_finished(node)
        assert mp_action(intra, "DELETE", "detach-mp", extra[0]).status_code == 200
        wait_resilver(node, done)
        state = mountpaths(node)
        assert extra[0] not in state["available"] + state["disabled"] + state["waiting_dd"], state
        assert metric(node, "buffer_budget_bytes") == 2 * 32 * 2**20
        assert_placed(node, all_mps, "b", data)
        done = resilvers_finished(node)
        assert mp_action(intra, "PUT", "attach-mp", extra[0]).status_code == 200
        wait_resilver(node, done)
        assert_placed(node, all_mps, "b", data)

        # dntres: disabled at once, nothing moves; its objects are not served until it
        # is enabled again, and answer 503 meanwhile (they exist: not a 404).
        victim = node.mountpaths[1]
        stranded = [n for n in data if holders(all_mps, "b", n) == [victim]]
        assert stranded
        done = resilvers_finished(node)
        assert mp_action(intra, "POST", "disable-mp", victim, dntres=True).status_code == 200
        assert mountpaths(node)["disabled"] == [victim]
        assert all(holders(all_mps, "b", n) == [victim] for n in stranded)
        assert requests.get(f"{u}/v1/objects/b/{stranded[0]}", timeout=5).status_code == 503
        assert mp_action(intra, "POST", "enable-mp", victim, dntres=True).status_code == 200
        assert resilvers_finished(node) == done, "dntres started a resilver"
        assert_placed(node, all_mps, "b", data)

        # The last available mountpath is never disabled or detached by the admin.
        for mp in mountpaths(node)["available"][:-1]:
            assert mp_action(intra, "POST", "disable-mp", mp, dntres=True).status_code == 200
        last = mountpaths(node)["available"][0]
        r = mp_action(intra, "DELETE", "detach-mp", last)
        assert r.status_code == 400 and "last" in r.json()["message"], r.text
        # Bad requests.
        assert mp_action(intra, "POST", "attach-mp", extra[1]).status_code == 400  # wrong method
        assert mp_action(intra, "POST", "enable-mp", tmp_path / "nope").status_code == 404
        r = requests.post(f"{intra}/v1/daemon/mountpaths", json={"action": "enable-mp"}, timeout=5)
        assert r.status_code == 400
    finally:
        node.proc.kill()
        node.proc.wait()


def test_mountpath_actions_through_the_proxy_reverse_path(tmp_path):
    proxy, targets = start_cluster(tmp_path, n_targets=2)
    try:
        t = targets[0]
        new = tmp_path / "t0" / "extra"
        new.mkdir()
        rev = f"{proxy.url}/v1/reverse/daemon/mountpaths"
        body = {"action": "attach-mp", "value": str(new.resolve())}
        r = requests.put(rev, json=body, timeout=10)
        assert r.status_code == 400 and "Ais-Node-Id" in r.text, r.text
        r = requests.put(rev, json=body, headers={"Ais-Node-Id": "nosuchnode"}, timeout=10)
        assert r.status_code == 404, r.text
        r = requests.put(rev, json=body, headers={"Ais-Node-Id": t.id}, timeout=10)
        assert r.status_code == 200, r.text
        assert str(new.resolve()) in mountpaths(t)["available"]
        assert str(new.resolve()) not in mountpaths(targets[1])["available"]
        r = requests.delete(rev + "?dntres=true", json={"action": "detach-mp", "value": str(new.resolve())},
                            headers={"Ais-Node-Id": t.id}, timeout=10)
        assert r.status_code == 200, r.text
        assert str(new.resolve()) not in mountpaths(t)["available"]
    finally:
        for n in [proxy] + targets:
            n.proc.kill()
            n.proc.wait()


def test_missing_mountpath_stops_the_start_unless_allowed(tmp_path):
    present = tmp_path / "present"
    present.mkdir()
    lost = tmp_path / "lost"
    args = [str(BIN), "target", "--port", "0", "--host", "127.0.0.1",
            "--mountpath", str(present), "--mountpath", str(lost)]
    r = subprocess.run(args, capture_output=True, timeout=30)
    assert r.returncode != 0
    assert b"does not exist" in r.stderr and b"--start-with-lost-mountpath" in r.stderr, r.stderr
    proc, url, _ = start_node(args + ["--start-with-lost-mountpath"], tmp_path / "t.log")
    try:
        state = requests.get(f"{url}/v1/daemon?what=mountpaths", timeout=5).json()
        assert state["available"] == [str(present.resolve())]
        assert b"missing" in (tmp_path / "t.log").read_bytes()
    finally:
        proc.kill()
        proc.wait()


# --- filesystem health checker on real filesystems (needs root for mount) ---


def sh(*args):
    subprocess.run([str(a) for a in args], check=True, capture_output=True)


class Mounts:
    def __init__(self, root):
        self.root, self.mounted = root, []

    def xfs(self, name):
        img, mnt = self.root / f"{name}.img", self.root / name
        sh("truncate", "-s", "320M", img)
        sh("mkfs.xfs", "-q", img)
        mnt.mkdir()
        sh("mount", "-o", "loop", img, mnt)
        self.mounted.append(mnt)
        return str(mnt)

    def tmpfs(self, name, size):
        mnt = self.root / name
        mnt.mkdir()
        sh("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", mnt)
        self.mounted.append(mnt)
        return str(mnt)

    def cleanup(self):
        for m in reversed(self.mounted):
            subprocess.run(["umount", "-l", str(m)], capture_output=True)


def metric(node, name):
    for line in requests.get(f"{node.url}/metrics", timeout=5).text.splitlines():
        if line.startswith(f"ais_target_{name}"):
            return float(line.split()[-1])
    raise AssertionError(f"no metric {name}")


def put_until_on(node, mp_list, want, bucket, prefix, body):
    """PUTs new names until one whose HRW mountpath (among `mp_list`) is `want`;
    returns its response."""
    for i in range(10_000):
        name = f"{prefix}{i}"
        if hrw_mountpath(mp_list, bucket, name) == want:
            return name, requests.put(f"{node.url}/v1/objects/{bucket}/{name}", data=body, timeout=10)
    raise AssertionError("no name maps there")


def wait_disabled(node, mp, limit=15):
    deadline = time.time() + limit
    while mp not in mountpaths(node)["disabled"]:
        assert time.time() < deadline, f"{mp} was not disabled: {mountpaths(node)}"
        time.sleep(0.1)


def no_partial_files(mp, bucket):
    work = os.path.join(mp, "@ais", bucket, "%wk")
    return os.listdir(work) == []


def test_health_checker_disables_broken_disks_and_full_disk_answers_507(tmp_path):
    assert os.geteuid() == 0, "this test mounts filesystems: run it as root"
    cfg = tmp_path / "proxy.toml"
    cfg.write_text("node_timeout_ms = 1500\ncheck_interval_ms = 200\ncontrol_timeout_ms = 1000\n")
    # Straight to the target's public port, as an operator checking a disk would: a cluster
    # run without a secret on purpose (signed clusters take object requests via the proxy).
    proxy, others = start_cluster(tmp_path / "c", n_targets=0, proxy_extra=["--config", str(cfg)],
                                  env={"AIS_NO_CLUSTER_SECRET": "true"})
    mounts = Mounts(tmp_path)
    node = None
    try:
        x1, x2 = mounts.xfs("x1"), mounts.xfs("x2")
        small = mounts.tmpfs("small", "4m")
        args = [str(BIN), "target", "--port", "0", "--host", "127.0.0.1", "--proxy", proxy.url,
                "--mountpath", x1, "--mountpath", x2, "--mountpath", small]
        proc, url, node_id = start_node(args, tmp_path / "fshc-target.log", proxy.env)
        node = type("N", (), {"proc": proc, "url": url, "id": node_id})
        deadline = time.time() + 15
        while node_id not in requests.get(f"{proxy.url}/v1/daemon?what=smap", timeout=5).json()["tmap"]:
            assert time.time() < deadline
            time.sleep(0.1)
        u = url
        requests.post(f"{proxy.url}/v1/buckets/f", json={"action": "create-bck"}, timeout=10).raise_for_status()
        mps = [x1, x2, small]
        data = {}
        for i in range(60):
            body = os.urandom(2000)
            requests.put(f"{u}/v1/objects/f/o{i}", data=body, timeout=10).raise_for_status()
            data[f"o{i}"] = body

        # 1. x1 turns read-only: the first PUT that lands there fails, the checker
        # disables x1, and the target goes on with the others.
        sh("mount", "-o", "remount,ro", x1)
        _, r = put_until_on(node, mps, x1, "f", "ro-", b"y" * 1000)
        assert r.status_code >= 500, r.status_code
        wait_disabled(node, x1)
        assert metric(node, "err_fshc_count") == 1
        assert metric(node, "mountpaths_disabled") == 1
        assert requests.get(f"{u}/v1/health?readiness=true", timeout=5).status_code == 200
        state = requests.get(f"{u}/v1/health?cii=true", timeout=5).json()
        assert "disk-fault" in state["flags"] and state["mountpaths"] == {"available": 2, "waiting_dd": 0, "disabled": 1}
        for name, body in data.items():
            if hrw_mountpath(mps, "f", name) != x1:
                r = requests.get(f"{u}/v1/objects/f/{name}", timeout=5)
                assert r.status_code == 200 and r.content == body, name
        for i in range(20):
            requests.put(f"{u}/v1/objects/f/after-ro-{i}", data=b"z" * 500, timeout=10).raise_for_status()

        # 2. x2's filesystem shuts down (as XFS does on a failing disk): disabled too.
        sh("xfs_io", "-x", "-c", "shutdown", x2)
        _, r = put_until_on(node, [x2, small], x2, "f", "down-", b"y" * 1000)
        assert r.status_code >= 500, r.status_code
        wait_disabled(node, x2)
        assert metric(node, "err_fshc_count") == 2
        assert mountpaths(node)["available"] == [small]
        for name, body in data.items():
            if hrw_mountpath(mps, "f", name) == small:
                r = requests.get(f"{u}/v1/objects/f/{name}", timeout=5)
                assert r.status_code == 200 and r.content == body, name

        # 3. The tiny tmpfs fills up: 507, nothing partial left, still in service.
        requests.put(f"{u}/v1/objects/f/big1", data=os.urandom(2_500_000), timeout=10).raise_for_status()
        r = requests.put(f"{u}/v1/objects/f/big2", data=os.urandom(2_500_000), timeout=10)
        df = subprocess.run(["df", "-k", small], capture_output=True, text=True).stdout
        assert r.status_code == 507, (r.status_code, r.text, df, subprocess.run(["find", small], capture_output=True, text=True).stdout[-3000:])
        assert not os.path.exists(os.path.join(small, "@ais", "f", "%ob", "big2"))
        time.sleep(1)  # the health check the ENOSPC woke has run
        assert no_partial_files(small, "f"), os.listdir(os.path.join(small, "@ais", "f", "%wk"))
        assert mountpaths(node)["available"] == [small]
        assert metric(node, "err_fshc_count") == 2
        requests.delete(f"{u}/v1/objects/f/big1", timeout=10).raise_for_status()
        requests.put(f"{u}/v1/objects/f/big2", data=b"fits now", timeout=10).raise_for_status()

        # 4. The last mountpath fails: readiness 503, the target leaves the map.
        sh("mount", "-o", "remount,ro", small)
        r = requests.put(f"{u}/v1/objects/f/last", data=b"x", timeout=10)
        assert r.status_code >= 500
        wait_disabled(node, small)
        assert requests.get(f"{u}/v1/health?readiness=true", timeout=5).status_code == 503
        r = requests.get(f"{u}/v1/objects/f/big2", timeout=5)
        assert r.status_code == 503, r.status_code
        deadline = time.time() + 15
        while node_id in requests.get(f"{proxy.url}/v1/daemon?what=smap", timeout=5).json()["tmap"]:
            assert time.time() < deadline, "target without mountpaths stayed in the map"
            time.sleep(0.2)
        # Repaired and enabled again: it rejoins and serves what it has.
        sh("mount", "-o", "remount,rw", small)
        r = mp_action(intra_url(node), "POST", "enable-mp", small, dntres=True)
        assert r.status_code == 200, r.text
        deadline = time.time() + 15
        while node_id not in requests.get(f"{proxy.url}/v1/daemon?what=smap", timeout=5).json()["tmap"]:
            assert time.time() < deadline, "target did not rejoin"
            time.sleep(0.2)
        assert requests.get(f"{u}/v1/objects/f/big2", timeout=5).content == b"fits now"
    finally:
        for n in [proxy] + others + ([node] if node else []):
            n.proc.kill()
            n.proc.wait()
        mounts.cleanup()
