"""Cluster-only SDK checks: the map, readiness, and HRW placement across targets."""

import requests
from aistore.sdk import Client
from aistore.sdk.utils import get_digest, xoshiro256_hash

from nodes import fail_fast, start_cluster


def test_get_info_and_is_ready(cluster):
    proxy, targets = cluster
    client = Client(proxy.url, retry_config=fail_fast(), timeout=30)
    smap = client.cluster().get_info()
    assert set(smap.tmap.keys()) == {t.id for t in targets}
    assert smap.proxy_si.daemon_id == proxy.id
    assert client.cluster().is_ready()


def test_redirects_follow_sdk_hrw(cluster):
    """The proxy's 307 names the target the SDK's own HRW code picks, for every name."""
    proxy, targets = cluster
    client = Client(proxy.url, retry_config=fail_fast(), timeout=30)
    client.bucket("hrw").create()
    smap = client.cluster().get_info()
    by_url = {t.url: t.id for t in targets}
    chosen = set()
    for i in range(300):
        name = f"dir/obj-{i}"
        resp = requests.get(f"{proxy.url}/v1/objects/hrw/{name}", allow_redirects=False, timeout=10)
        assert resp.status_code == 307
        loc = resp.headers["Location"]
        want = smap.get_target_for_object(f"ais/@#/hrw/{name}")
        assert loc.startswith(want.public_net.direct_url + f"/v1/objects/hrw/{name}?")
        # An independent recomputation from the raw digests, as the SDK documents it.
        h = get_digest(f"ais/@#/hrw/{name}")
        best = max(smap.tmap.values(), key=lambda t: xoshiro256_hash(t.id_digest ^ h))
        assert best.daemon_id == want.daemon_id
        chosen.add(by_url[want.public_net.direct_url])
    assert chosen == {t.id for t in targets}


def test_direct_reads_hit_the_owner(tmp_path, request):
    # Direct reads go to a target's public port: open only in a cluster without a secret.
    proxy, targets = start_cluster(tmp_path, env={"AIS_NO_CLUSTER_SECRET": "true"})
    request.addfinalizer(lambda: [(n.proc.kill(), n.proc.wait()) for n in [proxy] + targets])
    client = Client(proxy.url, retry_config=fail_fast(), timeout=30)
    bck = client.bucket("direct")
    bck.create()
    for i in range(20):
        bck.object(f"o{i}").get_writer().put_content(b"v%d" % i)
    def gets(url, name):
        text = requests.get(f"{url}/metrics", timeout=5).text
        return sum(float(l.split()[-1]) for l in text.splitlines() if l.startswith(name))

    smap = client.cluster().get_info()
    owned = {t.id: 0 for t in targets}
    for i in range(20):
        owned[smap.get_target_for_object(f"ais/@#/direct/o{i}").daemon_id] += 1
    before = {t.id: gets(t.url, "ais_target_get_count") for t in targets}
    proxy_before = gets(proxy.url, "ais_proxy_get_count")
    for i in range(20):
        assert bck.object(f"o{i}").get_reader(direct=True).read_all() == b"v%d" % i
    # Each read went straight to the object's owner (by the SDK's own HRW), none via the proxy.
    assert {t.id: gets(t.url, "ais_target_get_count") - before[t.id] for t in targets} == owned
    assert gets(proxy.url, "ais_proxy_get_count") == proxy_before
