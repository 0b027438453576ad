"""Hardening, part 2 (issue 20): each finding of the second review, tried as the probe
did, against real processes. Each test fails on a build without the fix it names."""

import copy
import http.server
import json
import os
import subprocess
import threading
import time

import pytest
import requests
from aistore.sdk import Client
from aistore.sdk.errors import AISError
from aistore.sdk.list_object_flag import ListObjectFlag

from nodes import BIN, SigV4, fail_fast, start_cluster, start_node, start_target


def smap_of(url, headers=None):
    return requests.get(f"{url}/v1/daemon?what=smap", headers=headers or {}, timeout=5).json()


def stop_all(nodes):
    for n in nodes:
        n.proc.kill()
        n.proc.wait()


def stranger_si(smap, url, daemon_id="tEVIL1"):
    si = copy.deepcopy(next(iter(smap["tmap"].values())))
    si["daemon_id"] = daemon_id
    for net in ("public_net", "intra_control_net", "intra_data_net"):
        host, port = url.removeprefix("http://").rsplit(":", 1)
        si[net] = {"node_hostname": host, "daemon_port": port, "direct_url": url}
    return si


# 1. A stranger joining as a target.

def test_public_join_is_refused_and_targets_join_on_the_intra_port(tmp_path):
    proxy, targets = start_cluster(tmp_path, n_targets=2)
    try:
        smap = smap_of(proxy.url)
        si = stranger_si(smap, "http://127.0.0.1:1")
        r = requests.post(f"{proxy.url}/v1/cluster/autoreg", json={"si": si}, timeout=5)
        assert r.status_code == 403, r.text
        intra = smap["proxy_si"]["intra_control_net"]["direct_url"]
        assert r.headers["Ais-Intra-Url"] == intra
        assert "intra-cluster port" in r.json()["message"]
        # Unsigned on the intra-cluster port: refused too (every cluster has a secret now).
        r = requests.post(f"{intra}/v1/cluster/autoreg", json={"si": si}, timeout=5)
        assert r.status_code == 403, r.text
        assert set(smap_of(proxy.url)["tmap"]) == {t.id for t in targets}
        # The real targets were given only the public URL and joined through the intra port.
        assert all(f"--proxy" in " ".join(t.proc.args) for t in targets)
    finally:
        stop_all([proxy] + targets)


def test_proxy_makes_a_secret_and_a_target_without_it_does_not_start(tmp_path):
    state = tmp_path / "proxy"
    state.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIS_")}
    proc, url, _ = start_node([str(BIN), "proxy", "--port", "0", "--host", "127.0.0.1", "--state-dir", str(state)],
                              tmp_path / "proxy.log", {})
    nodes = []
    try:
        secret_file = state / "cluster.secret"
        assert secret_file.exists()
        assert oct(secret_file.stat().st_mode & 0o777) == "0o600"
        assert "cluster.secret" in (tmp_path / "proxy.log").read_text()
        mp = tmp_path / "mp"
        mp.mkdir()
        args = [str(BIN), "target", "--port", "0", "--host", "127.0.0.1", "--allow-shared-fs",
                "--mountpath", str(mp), "--proxy", url]
        r = subprocess.run(args, env=env, capture_output=True, timeout=30)
        assert r.returncode != 0
        assert b"joins a cluster only with its secret" in r.stderr, r.stderr[-2000:]
        # With the file the proxy made, it joins (through the public URL it was given).
        t = start_target(tmp_path / "t", n_mountpaths=1,
                         extra=["--proxy", url, "--cluster-secret-file", str(secret_file)])
        nodes.append(t)
        deadline = time.time() + 15
        while t.id not in smap_of(url)["tmap"]:
            assert time.time() < deadline, "the target did not join"
            time.sleep(0.1)
    finally:
        proc.kill()
        proc.wait()
        stop_all(nodes)


class FakeTarget(http.server.BaseHTTPRequestHandler):
    """Says "stored" to every object it is sent, and keeps nothing."""
    received = 0

    def do_PUT(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(n)
        FakeTarget.received += 1
        self.send_response(200)
        self.send_header("ais-replica", "stored")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_POST = do_GET

    def log_message(self, *a):
        pass


def test_rebalance_keeps_its_copy_without_a_verified_receipt(tmp_path):
    """With --no-cluster-secret (the intra port open on purpose) a stranger can still join
    there; the objects rebalance sends it are never deleted on its word."""
    proxy, targets = start_cluster(tmp_path, n_targets=1, env={"AIS_NO_CLUSTER_SECRET": "true"})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeTarget)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    evil = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        bucket = Client(proxy.url, retry_config=fail_fast(), timeout=30).bucket("b")
        bucket.create()
        names = [f"o{i}" for i in range(20)]
        for n in names:
            bucket.object(n).get_writer().put_content(n.encode() * 10)
        smap = smap_of(proxy.url)
        intra = smap["proxy_si"]["intra_control_net"]["direct_url"]
        r = requests.post(f"{intra}/v1/cluster/autoreg", json={"si": stranger_si(smap, evil)}, timeout=5)
        assert r.status_code == 200, r.text
        deadline = time.time() + 30
        while FakeTarget.received == 0:
            assert time.time() < deadline, "rebalance sent nothing to the new target"
            time.sleep(0.2)
        # Each send ends as an error (no receipt), retried by later passes, never a deletion.
        state = {}
        deadline = time.time() + 30
        while state.get("errors", 0) < 10:
            assert time.time() < deadline, state
            state = requests.get(f"{targets[0].url}/v1/daemon?what=rebalance", timeout=5).json()
            time.sleep(0.2)
        assert state["objects_moved"] == 0, state
        t = targets[0]
        assert "no valid receipt" in (tmp_path / "t0" / "target.log").read_text()
        # Every object is still on the real target's disks, whole (its API would now ask
        # the stranger, the owner by the map).
        for n in names:
            found = [mp for mp in t.mountpaths if os.path.isfile(os.path.join(mp, "@ais", "b", "%ob", n))]
            assert len(found) == 1, (n, found)
            with open(os.path.join(found[0], "@ais", "b", "%ob", n), "rb") as f:
                assert f.read() == n.encode() * 10, n
    finally:
        server.shutdown()
        stop_all([proxy] + targets)


# 2. Listing prefixes that reach the host's files.

@pytest.mark.parametrize("via", ["proxy", "target"])
def test_list_prefix_never_leaves_the_bucket(tmp_path, via):
    proxy, targets = start_cluster(tmp_path, n_targets=1, env={"AIS_NO_CLUSTER_SECRET": "true"})
    try:
        url = proxy.url if via == "proxy" else targets[0].url
        client = Client(proxy.url, retry_config=fail_fast(), timeout=30)
        client.bucket("b").create()
        client.bucket("b").object("dir/x").get_writer().put_content(b"x")
        bucket = Client(url, retry_config=fail_fast(), timeout=30).bucket("b")
        for prefix in ["/etc/", "../../..", "../../../../../../etc/", "dir/../../../", "/", "dir//"]:
            with pytest.raises(AISError) as e:
                bucket.list_objects(prefix=prefix, flags=[ListObjectFlag.NO_RECURSION])
            assert e.value.status_code == 400, (prefix, e.value)
            assert "prefix" in str(e.value)
            with pytest.raises(AISError) as e:
                bucket.list_objects(prefix=prefix)
            assert e.value.status_code == 400, (prefix, e.value)
        names = [e.name for e in bucket.list_objects(prefix="dir/", flags=[ListObjectFlag.NO_RECURSION]).entries]
        assert names == ["dir/x"]
    finally:
        stop_all([proxy] + targets)


# 3. One rule for client credentials, on every API of every node.

def issue(secret, *args):
    out = subprocess.run([str(BIN), "token", "issue", "--secret", secret, *args],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def s3_client(endpoint, session_token=None):
    import boto3
    from botocore.config import Config
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="any", aws_secret_access_key="any",
                        aws_session_token=session_token, region_name="us-east-1",
                        config=Config(retries={"max_attempts": 1}))


def s3_status(fn):
    from botocore.exceptions import ClientError
    try:
        fn()
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"]
    return 200


@pytest.fixture
def authn(tmp_path):
    secret = "authn-" + os.urandom(6).hex()
    admin = issue(secret, "--user", "root", "--admin")
    proxy, targets = start_cluster(tmp_path, env={"AIS_AUTHN_SECRET_KEY": secret}, token=admin)
    root = Client(proxy.url, retry_config=fail_fast(), timeout=30, token=admin)
    uuid = root.cluster().get_info().uuid
    yield proxy, targets, secret, admin, uuid, root
    stop_all([proxy] + targets)


def test_tokens_guard_s3_on_proxy_and_targets(authn):
    proxy, targets, secret, admin, uuid, root = authn
    root.bucket("data").create()
    root.bucket("other").create()
    root.bucket("data").object("k").get_writer().put_content(b"v")
    alice = issue(secret, "--user", "alice", "--bucket", "data=rw")
    for url in [proxy.url, targets[0].url]:
        anon = s3_client(url + "/s3")
        assert s3_status(lambda: anon.create_bucket(Bucket="evil")) == 403
        assert s3_status(lambda: anon.put_object(Bucket="data", Key="x", Body=b"x")) == 403
        assert s3_status(lambda: anon.get_object(Bucket="data", Key="k")) == 403
        assert s3_status(lambda: anon.delete_object(Bucket="data", Key="k")) == 403
        assert s3_status(lambda: anon.list_objects_v2(Bucket="data")) == 403
        assert s3_status(lambda: anon.list_buckets()) == 403
        # The token as the S3 session token (what S3 SDKs send): its rights, no more.
        s3 = s3_client(url + "/s3", session_token=alice)
        s3.put_object(Bucket="data", Key="by-alice", Body=b"hers")
        assert s3.get_object(Bucket="data", Key="by-alice")["Body"].read() == b"hers"
        assert s3_status(lambda: s3.put_object(Bucket="other", Key="x", Body=b"x")) == 403
        assert s3_status(lambda: s3.create_bucket(Bucket="alices")) == 403
        # A bearer token works on /s3 as on /v1.
        r = requests.get(f"{url}/s3/data/k", headers={"Authorization": f"Bearer {alice}"}, timeout=5)
        assert r.status_code == 200 and r.content == b"v", r.text
    assert "evil" not in [b.name for b in root.cluster().list_buckets()]
    assert root.bucket("data").object("k").get_reader().read_all() == b"v"
    # An S3 request refused at a node's gate (unsigned, on the intra-cluster port) is
    # still answered in S3's words.
    smap = requests.get(f"{proxy.url}/v1/cluster?what=smap", headers={"Authorization": f"Bearer {admin}"},
                        timeout=5).json()
    intra = [smap["proxy_si"]["intra_control_net"]["direct_url"]]
    intra += [t["intra_control_net"]["direct_url"] for t in smap["tmap"].values()]
    for url in intra:
        r = requests.get(f"{url}/s3/data/k", timeout=5)
        assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text, (url, r.status_code, r.text)
    # Metrics and node state on the public ports need a token too.
    for url in [proxy.url] + [t.url for t in targets]:
        for path in ["/metrics", "/v1/daemon?what=config", "/v1/daemon?what=mountpaths"]:
            assert requests.get(url + path, timeout=5).status_code == 401, (url, path)
        assert requests.get(url + "/metrics", headers={"Authorization": f"Bearer {admin}"}, timeout=5).status_code == 200
        assert requests.get(url + "/v1/health", timeout=5).status_code == 200


S3_KEYS = ["--s3-access-key", "k3y", "--s3-secret-key", "s3cr3t"]


def test_s3_keys_guard_the_native_and_admin_apis(tmp_path):
    proxy, targets = start_cluster(tmp_path, proxy_extra=S3_KEYS, target_extra=S3_KEYS)
    try:
        signed = proxy.auth
        victim = targets[0]
        mp = tmp_path / "intruder-mp"
        mp.mkdir()
        r = requests.post(f"{proxy.url}/v1/buckets/b", json={"action": "create-bck"}, timeout=5)
        assert r.status_code == 401, r.text
        requests.post(f"{proxy.url}/v1/buckets/b", json={"action": "create-bck"}, auth=signed,
                      timeout=5).raise_for_status()
        # Anonymous: nothing, on any node, admin endpoints included.
        for url in [proxy.url] + [t.url for t in targets]:
            for method, path in [("PUT", "/v1/objects/b/x"), ("GET", "/v1/objects/b/x"), ("GET", "/v1/buckets"),
                                 ("GET", "/metrics"), ("GET", "/v1/daemon?what=config")]:
                r = requests.request(method, url + path, data=b"x" if method == "PUT" else None, timeout=5,
                                     allow_redirects=False)
                assert r.status_code == 401, (url, method, path, r.status_code)
        r = requests.put(f"{proxy.url}/v1/reverse/daemon/mountpaths", headers={"Ais-Node-Id": victim.id},
                         json={"action": "attach-mp", "value": str(mp)}, timeout=10)
        assert r.status_code == 401, r.text
        mps = requests.get(f"{proxy.url}/v1/cluster?what=mountpaths", auth=signed, timeout=5).json()
        assert str(mp) not in json.dumps(mps)
        # Signed with the S3 key pair (as curl --aws-sigv4 does): served, redirect and all.
        r = requests.put(f"{proxy.url}/v1/objects/b/x", data=b"signed", auth=signed, timeout=10)
        assert r.status_code == 200, r.text
        r = requests.get(f"{proxy.url}/v1/objects/b/x", auth=signed, timeout=10)
        assert r.status_code == 200 and r.content == b"signed"
        wrong = SigV4("k3y", "wrong")
        assert requests.get(f"{proxy.url}/v1/objects/b/x", auth=wrong, timeout=10).status_code == 401
    finally:
        stop_all([proxy] + targets)


def test_public_metrics_is_an_explicit_choice(tmp_path):
    proxy, targets = start_cluster(tmp_path, n_targets=1, proxy_extra=S3_KEYS + ["--public-metrics"],
                                   target_extra=S3_KEYS + ["--public-metrics"])
    try:
        for url in [proxy.url, targets[0].url]:
            assert requests.get(url + "/metrics", timeout=5).status_code == 200
            assert requests.get(url + "/v1/daemon?what=config", timeout=5).status_code == 401
    finally:
        stop_all([proxy] + targets)


# 4. Permissions on every bucket a request touches: destinations too.

def test_copies_moves_archives_and_promotes_check_the_destination(authn, tmp_path):
    proxy, targets, secret, admin, uuid, root = authn
    for b in ("mine", "other"):
        root.bucket(b).create()
    root.bucket("other").object("secret").get_writer().put_content(b"theirs")
    root.bucket("mine").object("x").get_writer().put_content(b"mine")
    alice = issue(secret, "--user", "alice", "--cluster", f"{uuid}=ro", "--bucket", "mine=admin")
    a = Client(proxy.url, retry_config=fail_fast(), timeout=30, token=alice)
    hdr = {"Authorization": f"Bearer {alice}"}

    def status_of(fn):
        try:
            r = fn()
        except AISError as e:
            return e.status_code
        return getattr(r, "status_code", 200)

    # Object copy onto another bucket's object (PUT ?object_to=).
    r = requests.put(f"{proxy.url}/v1/objects/mine/x?object_to=ais/@%23/other/secret", headers=hdr, timeout=10)
    assert r.status_code == 403, r.text
    # Within her bucket it works.
    r = requests.put(f"{proxy.url}/v1/objects/mine/x?object_to=ais/@%23/mine/y", headers=hdr, timeout=10)
    assert r.status_code == 200, r.text
    # Multi-object copy, bucket copy, archive into "other"; promote (host files) at all.
    assert status_of(lambda: a.bucket("mine").objects(obj_names=["x"]).copy(a.bucket("other"))) == 403
    assert status_of(lambda: a.bucket("mine").copy(a.bucket("other"))) == 403
    assert status_of(lambda: a.bucket("mine").copy(a.bucket("brand-new"))) == 403
    assert status_of(lambda: a.bucket("mine").objects(obj_names=["x"]).archive("stolen.tar", to_bck=a.bucket("other"))) == 403
    assert status_of(lambda: a.bucket("mine").rename("other2")) == 403
    src = tmp_path / "host-files"
    src.mkdir()
    (src / "f").write_bytes(b"host")
    assert status_of(lambda: a.bucket("mine").object("").promote(str(src))) == 403
    # S3 copies: the destination, and the source for a user who may not read it.
    s3 = s3_client(proxy.url + "/s3", session_token=alice)
    assert s3_status(lambda: s3.copy_object(Bucket="other", Key="y", CopySource={"Bucket": "mine", "Key": "x"})) == 403
    bob = s3_client(proxy.url + "/s3", session_token=issue(secret, "--user", "bob", "--bucket", "mine=rw"))
    assert s3_status(lambda: bob.copy_object(Bucket="mine", Key="stolen", CopySource={"Bucket": "other", "Key": "secret"})) == 403
    # Nothing of "other" changed; nothing was made.
    assert root.bucket("other").object("secret").get_reader().read_all() == b"theirs"
    assert sorted(e.name for e in root.bucket("other").list_all_objects()) == ["secret"]
    assert "brand-new" not in [b.name for b in root.cluster().list_buckets()]
    assert "other2" not in [b.name for b in root.cluster().list_buckets()]


def test_a_lone_target_checks_destinations_too(tmp_path):
    secret = "authn-" + os.urandom(6).hex()
    node = start_target(tmp_path, n_mountpaths=2, env={"AIS_AUTHN_SECRET_KEY": secret})
    try:
        admin = {"Authorization": f"Bearer {issue(secret, '--user', 'root', '--admin')}"}
        alice = {"Authorization": f"Bearer {issue(secret, '--user', 'alice', '--bucket', 'mine=admin')}"}
        for b in ("mine", "other"):
            requests.post(f"{node.url}/v1/buckets/{b}", json={"action": "create-bck"}, headers=admin,
                          timeout=5).raise_for_status()
        requests.put(f"{node.url}/v1/objects/other/secret", data=b"theirs", headers=admin, timeout=5).raise_for_status()
        requests.put(f"{node.url}/v1/objects/mine/x", data=b"mine", headers=alice, timeout=5).raise_for_status()
        r = requests.put(f"{node.url}/v1/objects/mine/x?object_to=ais/@%23/other/secret", headers=alice, timeout=5)
        assert r.status_code == 403, r.text
        body = {"action": "copy-listrange", "value": {"objnames": ["x"], "tobck": {"name": "other", "provider": "ais"}}}
        r = requests.post(f"{node.url}/v1/buckets/mine", json=body, headers=alice, timeout=5)
        assert r.status_code == 403, r.text
        r = requests.post(f"{node.url}/v1/objects/mine", headers=alice, timeout=5,
                          json={"action": "promote", "name": str(tmp_path), "value": {}})
        assert r.status_code == 403, r.text
        assert requests.get(f"{node.url}/v1/objects/other/secret", headers=admin, timeout=5).content == b"theirs"
    finally:
        node.proc.kill()
        node.proc.wait()


# 5. One small request must not take gigabytes or minutes.

def peak_rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    raise AssertionError("no VmHWM")


def test_template_bombs_are_refused_before_expansion(tmp_path):
    proxy, targets = start_cluster(tmp_path, n_targets=1)
    try:
        Client(proxy.url, retry_config=fail_fast(), timeout=30).bucket("b").create()
        bomb = "A" * 1000 + "{000000..999999}"

        def one(_):
            return requests.delete(f"{proxy.url}/v1/buckets/b", timeout=60,
                                   json={"action": "delete-listrange", "value": {"template": bomb}})

        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(50) as pool:
            answers = list(pool.map(one, range(50)))
        assert all(r.status_code == 400 for r in answers), {r.status_code for r in answers}
        assert "bytes of names" in answers[0].json()["message"]
        print(f"50 template bombs at once: proxy peak RSS {peak_rss_mib(proxy.proc.pid)} MiB")
        too_long = "B" * 1030 + "{0..9}"
        r = requests.delete(f"{proxy.url}/v1/buckets/b", timeout=60,
                            json={"action": "delete-listrange", "value": {"template": too_long}})
        assert r.status_code == 400 and "longer than" in r.json()["message"], r.text
        assert peak_rss_mib(proxy.proc.pid) < 256
    finally:
        stop_all([proxy] + targets)


def zeros_tgz(size):
    import gzip
    import io
    import tarfile
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as gz:
        with tarfile.open(fileobj=gz, mode="w") as t:
            info = tarfile.TarInfo("big/zeros.bin")
            info.size = size

            class Zeros:
                left = size

                def read(self, n=-1):
                    n = self.left if n < 0 else min(n, self.left)
                    self.left -= n
                    return bytes(n)

            t.addfile(info, Zeros())
    return raw.getvalue()


def test_archive_members_stream_in_bounded_memory(tmp_path):
    node = start_target(tmp_path, n_mountpaths=2)
    try:
        u = node.url
        requests.post(f"{u}/v1/buckets/z", json={"action": "create-bck"}, timeout=5).raise_for_status()
        size = 256 << 20
        shard = zeros_tgz(size)
        assert len(shard) < 2 << 20
        requests.put(f"{u}/v1/objects/z/bomb.tgz", data=shard, timeout=30).raise_for_status()

        def get(_):
            r = requests.get(f"{u}/v1/objects/z/bomb.tgz", params={"archpath": "big/zeros.bin"}, stream=True, timeout=120)
            n = 0
            for piece in r.iter_content(1 << 20):
                assert not piece.strip(b"\0")
                n += len(piece)
            return r.status_code, n

        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(3) as pool:
            assert list(pool.map(get, range(3))) == [(200, size)] * 3
        # archregx over the same shard: a TAR of the member, streamed too.
        r = requests.get(f"{u}/v1/objects/z/bomb.tgz", params={"archregx": "zeros"}, stream=True, timeout=120)
        assert r.status_code == 200
        head = next(r.iter_content(1 << 20))
        assert head[:13] == b"big/zeros.bin", head[:100]  # a TAR header, then the member
        r.close()

        # 50 at once that read 1 MiB and leave: each read stops when its client goes.
        def read_and_leave(_):
            r = requests.get(f"{u}/v1/objects/z/bomb.tgz", params={"archpath": "big/zeros.bin"}, stream=True,
                             timeout=120)
            got = len(next(r.iter_content(1 << 20)))
            r.close()
            return r.status_code, got > 0

        with ThreadPoolExecutor(50) as pool:
            assert set(pool.map(read_and_leave, range(50))) == {(200, True)}
        # And 50 pattern bombs at once: refused when compiled.
        with ThreadPoolExecutor(50) as pool:
            codes = set(pool.map(lambda _: requests.get(f"{u}/v1/objects/z/bomb.tgz", timeout=60, params={
                "archregx": "(((.*){50}){50})x"}).status_code, range(50)))
        assert codes == {400}, codes
        print(f"archive bombs (3 x 256 MiB members whole, 50 readers leaving, 50 patterns): "
              f"target peak RSS {peak_rss_mib(node.proc.pid)} MiB")
        assert peak_rss_mib(node.proc.pid) < 256
        # The node still answers.
        assert requests.get(f"{u}/v1/health", timeout=10).status_code == 200
    finally:
        node.proc.kill()
        node.proc.wait()


def many_members_tar(n):
    import io
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for i in range(n):
            info = tarfile.TarInfo(f"m{i:05d}.txt")
            info.size = 1
            t.addfile(info, io.BytesIO(b"x"))
    return buf.getvalue()


@pytest.mark.parametrize("via", ["proxy", "lone-target"])
def test_regex_bombs_and_member_listings_are_bounded(tmp_path, via):
    if via == "proxy":
        proxy, targets = start_cluster(tmp_path, n_targets=2)
        nodes, url = [proxy] + targets, proxy.url
    else:
        node = start_target(tmp_path, n_mountpaths=2)
        nodes, url = [node], node.url
    try:
        client = Client(url, retry_config=fail_fast(), timeout=60)
        bck = client.bucket("arch")
        bck.create()
        n = 3000
        bck.object("a.tar").get_writer().put_content(many_members_tar(n))
        bck.object("b.txt").get_writer().put_content(b"plain")
        r = requests.get(f"{url}/v1/objects/arch/a.tar", params={"archregx": "(((.*){50}){50})x"}, timeout=30)
        assert r.status_code == 400, r.text
        assert "regular expression" in r.text
        # LsArchDir pages of 100 entries: members count, shards resume where they stopped.
        names, token, pages = [], "", 0
        while True:
            page = bck.list_objects(page_size=100, flags=[ListObjectFlag.ARCH_DIR], continuation_token=token)
            assert len(page.entries) <= 100, len(page.entries)
            names += [e.name for e in page.entries]
            pages += 1
            token = page.continuation_token
            if not token:
                break
        assert names == ["a.tar"] + [f"a.tar/m{i:05d}.txt" for i in range(n)] + ["b.txt"]
        assert pages >= n // 100
    finally:
        stop_all(nodes)


# 8. Archive member names that climb out of the archive.

def test_climbing_member_names_are_sanitized_and_skipped(tmp_path):
    import io
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for name, data in [("../../etc/evil", b"e"), ("/abs/evil", b"a"), ("ok/good", b"g")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    node = start_target(tmp_path, n_mountpaths=2)
    try:
        client = Client(node.url, retry_config=fail_fast(), timeout=30)
        bck = client.bucket("s")
        bck.create()
        bck.object("x.tar").get_writer().put_content(buf.getvalue())
        listed = [e.name for e in bck.list_archive("x.tar", include_archive_obj=False)]
        assert listed == ["x.tar/etc/evil", "x.tar/abs/evil", "x.tar/ok/good"], listed
        r = requests.get(f"{node.url}/v1/objects/s/x.tar", params={"archregx": "."}, timeout=10)
        assert r.status_code == 200, r.text
        import tarfile as tf
        with tf.open(fileobj=io.BytesIO(r.content)) as t:
            assert [m.name for m in t.getmembers()] == ["ok/good"]
        assert "skipped" in (tmp_path / "target.log").read_text()
        r = requests.get(f"{node.url}/v1/objects/s/x.tar", params={"archpath": "../../etc/evil"}, timeout=10)
        assert r.status_code == 404, r.text
    finally:
        node.proc.kill()
        node.proc.wait()


# 6. S3 signatures: what a signature covers, how long it lasts, how long a body may take.

def test_presigned_urls_cover_every_header_and_last_a_week_at_most(tmp_path):
    keys = ["--s3-access-key", "k3y", "--s3-secret-key", "s3cr3t"]
    proxy, targets = start_cluster(tmp_path, n_targets=1, proxy_extra=keys, target_extra=keys)
    try:
        import boto3
        from botocore.config import Config
        s3 = boto3.client("s3", endpoint_url=proxy.url + "/s3", aws_access_key_id="k3y",
                          aws_secret_access_key="s3cr3t", region_name="us-east-1",
                          config=Config(retries={"max_attempts": 1}, signature_version="s3v4"))
        s3.create_bucket(Bucket="b")
        s3.put_object(Bucket="b", Key="private", Body=b"secret")
        put = s3.generate_presigned_url("put_object", Params={"Bucket": "b", "Key": "p"}, ExpiresIn=60)
        # Unsigned extras turn an upload URL into a copy of any object, or add metadata.
        r = requests.put(put, headers={"x-amz-copy-source": "/b/private"}, timeout=10)
        assert r.status_code == 403 and "not signed" in r.text, r.text
        r = requests.put(put, data=b"x", headers={"x-amz-meta-owner": "mallory"}, timeout=10)
        assert r.status_code == 403, r.text
        assert s3_status(lambda: s3.head_object(Bucket="b", Key="p")) == 404
        assert requests.put(put, data=b"fine", timeout=10).status_code == 200
        week = s3.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "p"}, ExpiresIn=604800)
        assert requests.get(week, timeout=10).content == b"fine"
        too_long = s3.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "p"}, ExpiresIn=604801)
        r = requests.get(too_long, timeout=10)
        assert r.status_code == 400 and "AuthorizationQueryParametersError" in r.text, r.text
        # Host must be signed: a URL signed without it is refused.
        from botocore.auth import S3SigV4QueryAuth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        class NoHost(S3SigV4QueryAuth):
            def headers_to_sign(self, request):
                h = super().headers_to_sign(request)
                del h["host"]
                return h

        req = AWSRequest(method="GET", url=f"{proxy.url}/s3/b/p")
        NoHost(Credentials("k3y", "s3cr3t"), "s3", "us-east-1", expires=60).add_auth(req)
        r = requests.get(req.url, timeout=10)
        assert r.status_code == 403 and "host" in r.text, r.text
    finally:
        stop_all([proxy] + targets)


def test_s3_xml_bodies_have_a_deadline(tmp_path):
    import socket
    proxy, targets = start_cluster(tmp_path, n_targets=1)
    try:
        Client(proxy.url, retry_config=fail_fast(), timeout=30).bucket("b").create()
        host, port = proxy.url.removeprefix("http://").split(":")
        s = socket.create_connection((host, int(port)))
        s.sendall(b"POST /s3/b?delete HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n" + b"<" * 1000)
        s.settimeout(60)
        reply = s.recv(4096)
        s.close()
        # Answered (refused) instead of holding the connection for the declared body.
        assert b" 400 " in reply.split(b"\r\n")[0], reply[:200]
    finally:
        stop_all([proxy] + targets)


# 7. Correct answers under faults.

def intra_of(node):
    return requests.get(f"{node.url}/v1/daemon?what=snode", timeout=5).json()["intra_control_net"]["direct_url"]


def test_objects_on_a_disabled_disk_answer_503_not_404(tmp_path):
    node = start_target(tmp_path, n_mountpaths=2)
    try:
        u = node.url
        requests.post(f"{u}/v1/buckets/b", json={"action": "create-bck"}, timeout=5).raise_for_status()
        names = [f"o{i}" for i in range(40)]
        for n in names:
            requests.put(f"{u}/v1/objects/b/{n}", data=n.encode(), timeout=5).raise_for_status()
        down = node.mountpaths[0]
        on_down = [n for n in names if os.path.exists(os.path.join(down, "@ais", "b", "%ob", n))]
        assert 0 < len(on_down) < len(names)
        # Disabled at once, objects left on it (what the health checker does to a failed disk).
        r = requests.post(f"{intra_of(node)}/v1/daemon/mountpaths?dntres=true",
                          json={"action": "disable-mp", "value": down}, timeout=10)
        assert r.status_code == 200, r.text
        for n in names:
            for method in ("GET", "HEAD"):
                r = requests.request(method, f"{u}/v1/objects/b/{n}", timeout=5)
                want = 503 if n in on_down else 200
                assert r.status_code == want, (n, method, r.status_code)
        # A name that never existed and would not be on the disabled disk: 404.
        some_404 = 0
        for i in range(40):
            r = requests.get(f"{u}/v1/objects/b/never-{i}", timeout=5)
            assert r.status_code in (404, 503), r.status_code
            some_404 += r.status_code == 404
        assert some_404 > 0
        r = requests.post(f"{intra_of(node)}/v1/daemon/mountpaths",
                          json={"action": "enable-mp", "value": down}, timeout=10)
        assert r.status_code == 200, r.text
        for n in names:
            assert requests.get(f"{u}/v1/objects/b/{n}", timeout=5).content == n.encode()
    finally:
        node.proc.kill()
        node.proc.wait()


def test_a_corrupted_small_object_answers_500_with_direct_io(tmp_path):
    node = start_target(tmp_path, n_mountpaths=1, extra=["--direct-io"])
    try:
        u = node.url
        requests.post(f"{u}/v1/buckets/b", json={"action": "create-bck"}, timeout=5).raise_for_status()
        for size in (100, 4096, 60_000):
            data = os.urandom(size)
            requests.put(f"{u}/v1/objects/b/o{size}", data=data, timeout=5).raise_for_status()
            assert requests.get(f"{u}/v1/objects/b/o{size}", timeout=5).content == data
            path = os.path.join(node.mountpaths[0], "@ais", "b", "%ob", f"o{size}")
            fd = os.open(path, os.O_RDWR)
            os.pwrite(fd, bytes([data[size // 2] ^ 1]), size // 2)
            os.fsync(fd)
            os.close(fd)
            r = requests.get(f"{u}/v1/objects/b/o{size}", timeout=5)
            assert r.status_code == 500, (size, r.status_code, len(r.content))
            assert "corrupted" in r.json()["message"]
    finally:
        node.proc.kill()
        node.proc.wait()


def test_abandoned_appends_expire(tmp_path):
    cfg = tmp_path / "t.toml"
    cfg.write_text("s3_upload_max_age_secs = 1\n")
    node = start_target(tmp_path, n_mountpaths=1, extra=["--config", str(cfg)])
    try:
        u = node.url
        requests.post(f"{u}/v1/buckets/b", json={"action": "create-bck"}, timeout=5).raise_for_status()
        r = requests.put(f"{u}/v1/objects/b/log?append_type=append", data=b"x" * 1000, timeout=5)
        assert r.status_code == 200, r.text
        handle = r.headers["Ais-Append-Handle"]
        work = os.path.join(node.mountpaths[0], "@ais", "b", "%wk")
        assert any(f.startswith("append.") for f in os.listdir(work))
        deadline = time.time() + 20
        while any(f.startswith("append.") for f in os.listdir(work)):
            assert time.time() < deadline, os.listdir(work)
            time.sleep(0.2)
        r = requests.put(f"{u}/v1/objects/b/log?append_type=flush&append_handle={handle}", timeout=5)
        assert r.status_code >= 400, r.text
        assert "removed an append never flushed" in (tmp_path / "target.log").read_text()
    finally:
        node.proc.kill()
        node.proc.wait()


def test_a_missing_name_is_404_after_a_node_left_on_purpose(tmp_path):
    proxy, targets = start_cluster(tmp_path, n_targets=3)
    try:
        client = Client(proxy.url, retry_config=fail_fast(), timeout=30)
        bucket = client.bucket("g")
        bucket.create()
        for i in range(30):
            bucket.object(f"o{i}").get_writer().put_content(b"v%d" % i)
        old_map = client.cluster().get_info()
        victim = targets[0]
        r = requests.put(f"{proxy.url}/v1/cluster", json={"action": "decommission-node", "value": {"sid": victim.id}},
                         timeout=10)
        assert r.status_code == 200, r.text
        deadline = time.time() + 60
        while victim.id in client.cluster().get_info().tmap:
            assert time.time() < deadline, "decommission did not finish"
            time.sleep(0.3)
        assert victim.proc.wait(timeout=30) == 0
        for i in range(30):
            assert bucket.object(f"o{i}").get_reader().read_all() == b"v%d" % i
        # Names never written that the departed node used to own: the living say no, 404.
        names = [f"absent-{k}" for k in range(400)
                 if old_map.get_target_for_object(f"ais/@#/g/absent-{k}").daemon_id == victim.id][:5]
        assert names
        for name in names:
            r = requests.get(f"{proxy.url}/v1/objects/g/{name}", timeout=30)
            assert r.status_code == 404, (name, r.status_code, r.text)
    finally:
        stop_all([proxy] + targets)


def test_a_rename_that_times_out_on_one_target_can_be_finished(tmp_path):
    import signal
    cfg = tmp_path / "proxy.toml"
    cfg.write_text("control_timeout_ms = 1500\n")
    proxy, targets = start_cluster(tmp_path, n_targets=3, proxy_extra=["--config", str(cfg)])
    try:
        client = Client(proxy.url, retry_config=fail_fast(), timeout=30)
        src = client.bucket("src")
        src.create()
        for i in range(30):
            src.object(f"o{i}").get_writer().put_content(b"v%d" % i)
        stuck = targets[1]
        os.kill(stuck.proc.pid, signal.SIGSTOP)
        try:
            r = requests.post(f"{proxy.url}/v1/buckets/src?bck_to=ais/@%23/dst", json={"action": "move-bck"},
                              timeout=60)
            assert r.status_code >= 500, r.text
            assert "rename" in r.json()["message"]
        finally:
            os.kill(stuck.proc.pid, signal.SIGCONT)
        time.sleep(1)
        names = [b.name for b in client.cluster().list_buckets()]
        assert "src" in names and "dst" not in names, names
        # Repeating the rename finishes it, whatever the stopped target did meanwhile.
        r = requests.post(f"{proxy.url}/v1/buckets/src?bck_to=ais/@%23/dst", json={"action": "move-bck"},
                          timeout=60)
        assert r.status_code == 200, r.text
        dst = client.bucket("dst")
        deadline = time.time() + 30
        for i in range(30):
            while True:
                try:
                    assert dst.object(f"o{i}").get_reader().read_all() == b"v%d" % i
                    break
                except AISError as e:
                    assert time.time() < deadline, (i, e)
                    time.sleep(0.2)
    finally:
        stop_all([proxy] + targets)


def test_a_delete_under_a_name_that_was_a_directory_leaves_its_mark(tmp_path):
    from test_mountpaths import hrw_mountpath
    proxy, targets = start_cluster(tmp_path, n_targets=1)
    try:
        bucket = Client(proxy.url, retry_config=fail_fast(), timeout=30).bucket("t")
        bucket.create()
        # A name below "d" whose mark lands on the mountpath of "d"'s (the SDK's own HRW).
        mps = targets[0].mountpaths
        x = next(f"d/x{i}" for i in range(100) if hrw_mountpath(mps, "t", f"d/x{i}") == hrw_mountpath(mps, "t", "d"))
        bucket.object(x).get_writer().put_content(b"1")
        bucket.object(x).delete()
        bucket.object("d").get_writer().put_content(b"2")
        bucket.object("d").delete()
        marks = []
        for t in targets:
            for mp in t.mountpaths:
                p = os.path.join(mp, "@ais", "t", "%tb", "d")
                if os.path.isfile(p):
                    marks.append(p)
                elif os.path.isdir(p) and "user.ais.tomb" in os.listxattr(p):
                    marks.append(p)
        assert marks, "no deletion mark for t/d"
        for i, t in enumerate(targets):
            assert "cannot record the deletion" not in (tmp_path / f"t{i}" / "target.log").read_text()
    finally:
        stop_all([proxy] + targets)


def test_s3_users_have_their_own_keys_and_rights(tmp_path):
    users = tmp_path / "s3-users.toml"
    users.write_text('''
[[user]]
name = "alice"
access_key = "alice-key"
secret_key = "alice-secret"
buckets = { data = "rw" }

[[user]]
name = "auditor"
access_key = "audit-key"
secret_key = "audit-secret"
cluster = "ro"
''')
    keys = S3_KEYS + ["--s3-users", str(users)]
    proxy, targets = start_cluster(tmp_path, n_targets=2, proxy_extra=keys, target_extra=keys)
    try:
        import boto3
        from botocore.config import Config

        def s3(key, secret):
            return boto3.client("s3", endpoint_url=proxy.url + "/s3", aws_access_key_id=key,
                                aws_secret_access_key=secret, region_name="us-east-1",
                                config=Config(retries={"max_attempts": 1}))

        admin, alice, auditor = s3("k3y", "s3cr3t"), s3("alice-key", "alice-secret"), s3("audit-key", "audit-secret")
        admin.create_bucket(Bucket="data")
        admin.create_bucket(Bucket="other")
        admin.put_object(Bucket="other", Key="x", Body=b"theirs")
        for i in range(6):  # on both targets
            alice.put_object(Bucket="data", Key=f"k{i}", Body=b"hers")
            assert alice.get_object(Bucket="data", Key=f"k{i}")["Body"].read() == b"hers"
        assert s3_status(lambda: alice.get_object(Bucket="other", Key="x")) == 403
        assert s3_status(lambda: alice.put_object(Bucket="other", Key="y", Body=b"no")) == 403
        assert s3_status(lambda: alice.create_bucket(Bucket="alices")) == 403
        assert s3_status(lambda: alice.copy_object(Bucket="data", Key="stolen",
                                                   CopySource={"Bucket": "other", "Key": "x"})) == 403
        # Read-only on the whole cluster.
        assert auditor.get_object(Bucket="other", Key="x")["Body"].read() == b"theirs"
        assert s3_status(lambda: auditor.put_object(Bucket="data", Key="z", Body=b"no")) == 403
        assert s3_status(lambda: s3("alice-key", "wrong").get_object(Bucket="data", Key="k0")) == 403
        # The same keys sign native requests, with the same rights.
        r = requests.get(f"{proxy.url}/v1/objects/data/k0", auth=SigV4("alice-key", "alice-secret"), timeout=10)
        assert r.status_code == 200 and r.content == b"hers", r.text
        r = requests.get(f"{proxy.url}/v1/objects/other/x", auth=SigV4("alice-key", "alice-secret"), timeout=10)
        assert r.status_code == 403, r.text
    finally:
        stop_all([proxy] + targets)
