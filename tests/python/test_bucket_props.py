"""Bucket properties as AIStore's API sets and shows them: create with props,
`set-bprops` (a partial update merged in), `reset-bprops`, HEAD's `Ais-Bucket-Props`,
validation errors; through the proxy (pushed to the targets) and on a lone target."""

import json
import time

import pytest
import requests
from aistore.sdk import Client

from nodes import fail_fast, start_cluster, start_target


@pytest.fixture(params=["cluster", "target"])
def setup(request, tmp_path):
    if request.param == "cluster":
        proxy, targets = start_cluster(tmp_path, n_targets=2)
        nodes, url = [proxy] + targets, proxy.url
    else:
        node = start_target(tmp_path, n_mountpaths=1)
        nodes, url, targets = [node], node.url, []
    yield url, targets
    for n in nodes:
        n.proc.kill()
        n.proc.wait()


def props(url, bucket):
    r = requests.head(f"{url}/v1/buckets/{bucket}", timeout=10)
    assert r.status_code == 200, r.status_code
    return json.loads(r.headers["Ais-Bucket-Props"])


def patch(url, bucket, action, value=None):
    return requests.patch(f"{url}/v1/buckets/{bucket}", json={"action": action, "value": value}, timeout=10)


def test_set_patch_reset_and_validate(setup):
    url, targets = setup
    client = Client(url, retry_config=fail_fast(), timeout=30)
    client.bucket("bp").create()
    p = props(url, "bp")
    assert p["provider"] == "ais" and p["checksum"]["type"] == "xxhash" and p["versioning"]["enabled"] is True
    assert p["mirror"] == {"copies": 1, "burst_buffer": 128, "enabled": False}
    assert int(p["created"]) > 0

    r = patch(url, "bp", "set-bprops", {"mirror": {"enabled": True, "copies": 2}, "versioning": {"enabled": False}})
    assert r.status_code == 200, r.text
    r = patch(url, "bp", "set-bprops", {"checksum": {"type": "md5"}, "access": "255"})
    assert r.status_code == 200, r.text
    p = props(url, "bp")
    assert p["mirror"]["copies"] == 2 and p["mirror"]["enabled"] is True
    assert p["versioning"]["enabled"] is False, "an earlier change stays"
    assert p["checksum"]["type"] == "md5" and p["checksum"]["validate_cold_get"] is True
    assert p["access"] == "255"
    # The SDK reads the same header.
    assert json.loads(client.bucket("bp").head()["Ais-Bucket-Props"])["mirror"]["copies"] == 2

    for bad, why in [
        ({"checksum": {"type": "crc64"}}, "checksum.type"),
        ({"mirror": {"copies": 0}}, "mirror.copies"),
        ({"colour": "red"}, "colour"),
        ({"ec": {"slices": 3}}, "ec.slices"),
        ({"created": "1"}, "read-only"),
        ({"versioning": {"enabled": "no"}}, "versioning.enabled"),
    ]:
        r = patch(url, "bp", "set-bprops", bad)
        assert r.status_code == 400 and why in r.json()["message"], (bad, r.status_code, r.text)
    assert props(url, "bp")["checksum"]["type"] == "md5", "a refused change changes nothing"
    assert patch(url, "bp", "rename-bck", {}).status_code == 400
    assert patch(url, "missing", "set-bprops", {"mirror": {"copies": 2}}).status_code == 404

    if targets:
        # Pushed with the bucket list: each target's own HEAD shows them.
        deadline = time.time() + 10
        while any(props(t.url, "bp")["mirror"]["copies"] != 2 for t in targets):
            assert time.time() < deadline, "targets did not get the bucket properties"
            time.sleep(0.1)

    assert patch(url, "bp", "reset-bprops").status_code == 200
    p = props(url, "bp")
    assert p["mirror"]["copies"] == 1 and p["checksum"]["type"] == "xxhash" and p["versioning"]["enabled"] is True


def test_create_with_props_through_the_proxy(tmp_path):
    proxy, targets = start_cluster(tmp_path, n_targets=2)
    try:
        r = requests.post(f"{proxy.url}/v1/buckets/withprops",
                          json={"action": "create-bck", "value": {"checksum": {"type": "sha256"}}}, timeout=10)
        assert r.status_code == 200, r.text
        assert props(proxy.url, "withprops")["checksum"]["type"] == "sha256"
        r = requests.post(f"{proxy.url}/v1/buckets/badprops",
                          json={"action": "create-bck", "value": {"mirror": {"copies": 99}}}, timeout=10)
        assert r.status_code == 400, r.text
        assert requests.head(f"{proxy.url}/v1/buckets/badprops", timeout=10).status_code == 404, \
            "refused props create nothing"
    finally:
        for n in [proxy] + targets:
            n.proc.kill()
            n.proc.wait()
