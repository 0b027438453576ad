"""Bucket rename (`Bucket.rename`, AIStore's `move-bck`): every object readable under the
new name at once (from wherever it still is), the old name gone, and in the end every
object on the target and mountpath HRW picks for its new name; through the proxy over
three targets and on a lone target."""

import os
import time

import pytest
import requests
from aistore.sdk import Client
from aistore.sdk.errors import AISError
from aistore.sdk.utils import get_digest, xoshiro256_hash

from nodes import fail_fast, start_cluster, start_target


def on_disk(node, bucket):
    out = {}
    for mp in node.mountpaths:
        root = os.path.join(mp, "@ais", bucket, "%ob")
        for d, _, files in os.walk(root):
            for f in files:
                out[os.path.relpath(os.path.join(d, f), root)] = mp
    return out


def hrw_mountpath(mps, bucket, name):
    h = get_digest(f"ais/@#/{bucket}/{name}")
    digests = [get_digest(mp) for mp in mps]
    return mps[max(range(len(mps)), key=lambda k: (xoshiro256_hash(digests[k] ^ h), k))]


@pytest.mark.parametrize("where", ["cluster", "target"])
def test_rename_keeps_every_object_readable(tmp_path, where):
    if where == "cluster":
        proxy, targets = start_cluster(tmp_path, n_targets=3)
        nodes, url = [proxy] + targets, proxy.url
    else:
        node = start_target(tmp_path, n_mountpaths=3)
        nodes, url, targets = [node], node.url, [node]
    try:
        client = Client(url, retry_config=fail_fast(), timeout=30)
        old = client.bucket("old")
        old.create()
        data = {f"d{i % 5}/o{i}": os.urandom(50 + i) for i in range(300)}
        for name, body in data.items():
            old.object(name).get_writer().put_content(body)
        requests.patch(f"{url}/v1/buckets/old", json={"action": "set-bprops", "value": {"mirror": {"copies": 2}}},
                       timeout=10).raise_for_status()
        job = old.rename("new")
        assert job and old.name == "new"
        new = client.bucket("new")
        for name, body in data.items():
            assert new.object(name).get_reader().read_all() == body, name
        with pytest.raises(AISError) as e:
            client.bucket("old").head()
        assert e.value.status_code == 404
        assert sorted(e.name for e in new.list_all_objects()) == sorted(data)
        import json
        assert json.loads(new.head()["Ais-Bucket-Props"])["mirror"]["copies"] == 2, "properties moved along"

        deadline = time.time() + 60
        while True:
            placed = True
            if where == "cluster":
                info = client.cluster().get_info()
                for t in targets:
                    for name in on_disk(t, "new"):
                        placed &= info.get_target_for_object(f"ais/@#/new/{name}").daemon_id == t.id
            for t in targets:
                for name, mp in on_disk(t, "new").items():
                    placed &= mp == hrw_mountpath(t.mountpaths, "new", name)
            placed &= sum(len(on_disk(t, "new")) for t in targets) == len(data)
            if placed:
                break
            assert time.time() < deadline, "objects did not reach their places under the new name"
            time.sleep(0.3)
        for name, body in list(data.items())[:50]:
            assert new.object(name).get_reader().read_all() == body
        # A taken name is refused.
        client.bucket("other").create()
        with pytest.raises(AISError) as e:
            new.rename("other")
        assert e.value.status_code == 409
    finally:
        for n in nodes:
            n.proc.kill()
            n.proc.wait()
