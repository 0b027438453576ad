"""Node administration and the details AIStore's own SDK suite checks, through the proxy
over three targets: node logs (current, by severity, all as an archive, every node),
node status and counters, jobs started and listed, native multipart completion rules
and their messages, bucket names with a slash, HEAD v2 properties, copy with renamed
extensions, what the cluster configuration says about direct reads from targets."""

import io
import os
import random
import signal
import socket
import subprocess
import tarfile
import time

import pytest
import requests
from aistore.sdk import Client
from aistore.sdk.enums import LogSeverity, NodeFilter
from aistore.sdk.errors import AISError

from nodes import BIN, fail_fast, start_cluster


@pytest.fixture(scope="module")
def ais(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("admin")
    proxy, targets = start_cluster(tmp, log_dirs=True)
    client = Client(proxy.url, retry_config=fail_fast(), timeout=60)
    client.url = proxy.url
    yield client
    for n in [proxy] + targets:
        n.proc.kill()
        n.proc.wait()


def test_node_logs_by_severity_archive_and_every_node(ais):
    cluster = ais.cluster()
    smap = cluster.get_info()
    tid = next(iter(smap.tmap))
    log = cluster.get_node_log(tid)
    assert "target" in log.lower() or "listening" in log.lower(), log[:500]
    assert isinstance(cluster.get_node_log(tid, severity=LogSeverity.ERROR), str)
    with tarfile.open(fileobj=io.BytesIO(cluster.get_node_log_archive(tid)), mode="r:gz") as tar:
        names = tar.getnames()
        assert "aisnode.INFO" in names, names
        assert tar.extractfile("aisnode.INFO").read(), "the current log is in the archive"
    every = cluster.get_cluster_logs(role=NodeFilter.ALL)
    assert set(every) == set(smap.tmap) | set(smap.pmap)
    assert all(every.values())
    # Bad severity and offset: 400 with the reason; an unknown node: 404.
    hdr = {"Ais-Node-Id": tid}
    r = requests.get(f"{ais.url}/v1/reverse/daemon", params={"what": "log", "severity": "debug"},
                     headers=hdr, timeout=10)
    assert r.status_code == 400 and "severity" in r.text, r.text
    r = requests.get(f"{ais.url}/v1/reverse/daemon", params={"what": "log", "offset": str(1 << 40)},
                     headers=hdr, timeout=10)
    assert r.status_code == 400 and "offset" in r.text, r.text
    r = requests.get(f"{ais.url}/v1/reverse/daemon", params={"what": "log"},
                     headers={"Ais-Node-Id": "nosuchnode"}, timeout=10)
    assert r.status_code == 404, r.text


def test_node_status_carries_counters_and_capacity(ais):
    bck = ais.bucket("perf")
    bck.create(exist_ok=True)
    for i in range(12):
        bck.object(f"o{i}").get_writer().put_content(b"x" * 100)
    perf = ais.cluster().get_performance()
    smap = ais.cluster().get_info()
    assert set(perf) == set(smap.tmap)
    puts = sum(int(p["tracker"].get("put.n", {"v": "0"})["v"]) for p in perf.values())
    assert puts >= 12, puts
    for tid, p in perf.items():
        assert p["snode"]["daemon_id"] == tid and p["status"] == "online"
        assert len(p["capacity"]["mountpaths"]) == 2
        assert int(p["capacity"]["total_avail"]) > 0
        assert p["sys_info"]["mem_used"] > 0


def test_jobs_started_and_listed(ais):
    lru = ais.job(job_kind="lru").start()
    cleanup = ais.job(job_kind="cleanup").start()
    assert lru and cleanup and lru != cleanup
    assert ais.job(job_id=cleanup).wait(timeout=30).success
    assert ais.job(job_id=lru).wait(timeout=30).success
    every = [j.uuid for j in ais.cluster().list_jobs_status()]
    assert lru in every and cleanup in every
    only_lru = [j.uuid for j in ais.cluster().list_jobs_status(job_kind="lru")]
    assert lru in only_lru and cleanup not in only_lru
    assert all(s.end_time > 0 for s in ais.cluster().list_jobs_status(job_kind="cleanup"))
    assert not any(cleanup in s for s in ais.cluster().list_running_jobs())
    with pytest.raises(AISError) as e:
        ais.job(job_kind="no-such-kind").start()
    assert e.value.status_code == 400


def test_native_multipart_rules_and_messages(ais):
    bck = ais.bucket("mpt")
    bck.create(exist_ok=True)
    obj = bck.object("joined")
    mpu = obj.multipart_upload().create()
    for n, data in [(3, b"third"), (1, b"first-"), (2, b"second-")]:
        mpu.add_part(n).put_content(data)
    assert mpu.parts == [3, 1, 2]
    mpu.complete()  # listed out of order: joined by number
    assert obj.get_reader().read_all() == b"first-second-third"
    with pytest.raises(AISError) as e:
        mpu.complete()
    assert "does not exist" in e.value.message

    empty = bck.object("empty").multipart_upload().create()
    with pytest.raises(AISError) as e:
        empty.complete()
    assert "no chunks" in e.value.message
    with pytest.raises(AISError) as e:
        empty.add_part(1).put_content(b"")
    assert "invalid size (0)" in e.value.message

    twice = bck.object("twice").multipart_upload().create()
    twice.add_part(1).put_content(b"a")
    twice.add_part(1).put_content(b"b")
    with pytest.raises(AISError) as e:
        twice.complete()
    assert "partial completion" in e.value.message


def test_bucket_name_with_a_slash_is_refused(ais):
    with pytest.raises(AISError) as e:
        ais.bucket("bucket/badname").create()
    assert e.value.status_code == 400
    assert "bucket" not in [b.name for b in ais.cluster().list_buckets()], "no bucket 'bucket' made"


def test_head_v2_sends_last_modified_and_etag_only_when_asked(ais):
    bck = ais.bucket("headv2")
    bck.create(exist_ok=True)
    obj = bck.object("o")
    obj.get_writer().put_content(b"hello")
    # HEAD v2 (`?props=`, what newer SDKs' head_v2 sends; SDK 2.0.0 has no head_v2).
    url = f"{ais.url}/v1/objects/headv2/o"

    def head(props):
        r = requests.head(url, params={"provider": "ais", "props": props}, allow_redirects=True, timeout=10)
        assert r.status_code == 200, r.status_code
        return r.headers

    plain = head("name,size")
    assert "Last-Modified" not in plain and "ETag" not in plain, dict(plain)
    both = head("last-modified,etag")
    assert both["Last-Modified"].endswith("GMT") and both["ETag"].strip('"'), dict(both)
    assert "ETag" not in head("last-modified")
    assert obj.head().size == 5  # v1 unchanged


def test_copy_renames_extensions(ais):
    src, dst = ais.bucket("extsrc"), ais.bucket("extdst")
    src.create(exist_ok=True)
    dst.create(exist_ok=True)
    for name in ["a.old", "b.keep", "dir.old/c.old", "skip.old"]:
        src.object(name).get_writer().put_content(name.encode())
    job = src.copy(dst, prefix_filter="", prepend="n-", ext={"old": "new"})
    ais.job(job_id=job).wait_for_idle(timeout=60)
    got = sorted(o.name for o in dst.list_all_objects())
    assert got == ["n-a.new", "n-b.keep", "n-dir.old/c.new", "n-skip.new"], got
    assert dst.object("n-dir.old/c.new").get_reader().read_all() == b"dir.old/c.old"


def test_cluster_config_says_whether_targets_take_direct_reads(ais, tmp_path):
    """`what=cluster_config` in AIStore's shape: with a cluster secret (the default) a read
    straight from a target without the proxy's signed redirect is refused; `aisnode cluster
    --no-cluster-secret` says so and serves it (AIStore's SDK suite reads this to decide)."""
    cfg = requests.get(f"{ais.url}/v1/cluster", params={"what": "cluster_config"}, timeout=10).json()
    assert cfg["auth"]["intra_cluster"]["enabled"] is True and cfg["auth"]["enabled"] is False, cfg
    bck = ais.bucket("direct")
    bck.create(exist_ok=True)
    bck.object("o").get_writer().put_content(b"direct bytes")
    owner = requests.get(f"{ais.url}/v1/objects/direct/o", allow_redirects=False, timeout=10)
    assert owner.status_code == 307
    direct = requests.get(owner.headers["Location"].split("?")[0], timeout=10)
    assert direct.status_code in (401, 403), direct.status_code

    base = free_port_block(3)
    proc = subprocess.Popen([str(BIN), "cluster", "--targets", "2", "--mountpaths", "1", "--base-port", str(base),
                             "--data-dir", str(tmp_path / "open"), "--no-cluster-secret"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{base}"
        deadline = time.time() + 60
        while True:
            try:
                if len(requests.get(f"{url}/v1/daemon?what=smap", timeout=2).json()["tmap"]) == 2:
                    break
            except (requests.RequestException, ValueError, KeyError):
                pass
            assert time.time() < deadline and proc.poll() is None, "aisnode cluster did not come up"
            time.sleep(0.2)
        cfg = requests.get(f"{url}/v1/cluster", params={"what": "cluster_config"}, timeout=10).json()
        assert cfg["auth"]["intra_cluster"]["enabled"] is False, cfg
        open_client = Client(url, retry_config=fail_fast(), timeout=60)
        open_client.bucket("direct").create()
        open_client.bucket("direct").object("o").get_writer().put_content(b"open bytes")
        owner = requests.get(f"{url}/v1/objects/direct/o", allow_redirects=False, timeout=10)
        direct = requests.get(owner.headers["Location"].split("?")[0], timeout=10)
        assert direct.status_code == 200 and direct.content == b"open bytes", direct.status_code
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def free_port_block(n):
    """A base port with base..base+n and each + 1000 free (what `aisnode cluster` takes),
    below the kernel's ephemeral range."""
    for base in random.sample(range(20000, 28000, 10), 200):
        try:
            for port in [p + d for p in range(base, base + n) for d in (0, 1000)]:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free block of ports")
