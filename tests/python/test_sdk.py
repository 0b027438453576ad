"""The AIStore Python SDK (aistore==2.0.0) against a lone target and through a proxy."""

import os

import pytest
import requests
from aistore.sdk.errors import AISError, ErrBckNotFound, ErrObjNotFound
from aistore.sdk.utils import get_digest, xoshiro256_hash


def test_bucket_lifecycle(client):
    bck = client.bucket("sdk-b1")
    bck.create()
    bck.create(exist_ok=True)
    with pytest.raises(AISError) as exc:
        bck.create()
    assert exc.value.status_code == 409
    headers = bck.head()
    assert "ais" in headers["Ais-Bucket-Props"]
    client.bucket("sdk-b2").create()
    names = [b.name for b in client.cluster().list_buckets()]
    assert names == ["sdk-b1", "sdk-b2"]
    bck.delete()
    bck.delete(missing_ok=True)
    with pytest.raises(ErrBckNotFound):
        bck.delete()
    with pytest.raises(AISError) as exc:
        bck.head()  # HEAD has no body, so the SDK cannot name the error class
    assert exc.value.status_code == 404
    assert [b.name for b in client.cluster().list_buckets()] == ["sdk-b2"]


def test_objects_put_get_ranges_head_delete(client, tmp_path):
    bck = client.bucket("sdk-obj")
    bck.create()
    payload = os.urandom(1000)
    obj = bck.object("dir/one.bin")
    obj.get_writer().put_content(payload)
    assert obj.get_reader().read_all() == payload
    assert obj.get_reader(byte_range="bytes=10-19").read_all() == payload[10:20]
    assert obj.get_reader(byte_range="bytes=990-").read_all() == payload[990:]
    assert obj.get_reader(byte_range="bytes=-5").read_all() == payload[-5:]

    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(5 * 1024 * 1024 + 3))
    bck.object("big").get_writer().put_file(str(big))
    assert bck.object("big").get_reader().read_all() == big.read_bytes()

    assert obj.head().size == 1000
    props = obj.props
    assert props.size == 1000
    assert props.checksum_type == "xxhash"
    assert len(props.checksum_value) == 16
    assert props.obj_version == "1"
    obj.get_writer().put_content(b"second")
    assert bck.object("dir/one.bin").props.obj_version == "2"

    obj.delete()
    with pytest.raises(ErrObjNotFound):
        obj.get_reader().read_all()
    with pytest.raises(ErrObjNotFound):
        obj.delete()
    with pytest.raises(AISError) as exc:
        obj.head()
    assert exc.value.status_code == 404
    with pytest.raises(ErrBckNotFound):
        client.bucket("no-such-bucket").object("x").get_reader().read_all()


def test_list_objects_paging(client):
    bck = client.bucket("sdk-list")
    bck.create()
    names = sorted([f"a/{i:03d}" for i in range(7)] + ["b/x", "c"])
    for n in names:
        bck.object(n).get_writer().put_content(n.encode())
    page = bck.list_objects(page_size=2)
    assert [e.name for e in page.entries] == names[:2]
    assert page.continuation_token == names[1]
    listed = [e.name for e in bck.list_all_objects(page_size=2)]
    assert listed == names
    assert [e.name for e in bck.list_objects_iter(prefix="a/", page_size=2)] == names[:7]
    entries = bck.list_all_objects(props="name,size,checksum,version", page_size=3)
    assert {e.name: e.size for e in entries} == {n: len(n) for n in names}
    assert all(e.version == "1" for e in entries)


def test_placement_matches_sdk_hrw(target):
    """Each object lands on the mountpath the SDK's own HRW functions pick."""
    from nodes import fail_fast
    from aistore.sdk import Client

    client = Client(target.url, retry_config=fail_fast(), timeout=30)
    bck = client.bucket("sdk-hrw")
    bck.create()
    digests = [get_digest(mp) for mp in target.mountpaths]
    used = set()
    for i in range(40):
        name = f"obj-{i}"
        bck.object(name).get_writer().put_content(b"x")
        h = get_digest(f"ais/@#/sdk-hrw/{name}")
        want = max(range(len(digests)), key=lambda k: (xoshiro256_hash(digests[k] ^ h), k))
        loc = requests.head(f"{target.url}/v1/objects/sdk-hrw/{name}", timeout=10).headers["Ais-Location"]
        assert loc == f"t[{target.id}]:{target.mountpaths[want]}"
        assert os.path.exists(os.path.join(target.mountpaths[want], "@ais", "sdk-hrw", "%ob", name))
        used.add(want)
    assert len(used) == 4
