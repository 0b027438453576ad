"""Object operations beyond GET/PUT/HEAD/DELETE as the SDK does them, through the proxy
over three targets and on a lone target: copy (`Object.copy`: `PUT ?object_to=<uname>`,
most copies crossing targets) and user metadata set in place (`set_custom_props`:
`PATCH`, merged or, with `set-new-custom`, replaced)."""

import os

import pytest
from aistore.sdk.errors import AISError


def test_copy_keeps_bytes_and_metadata(client):
    src, dst = client.bucket("src"), client.bucket("dst")
    src.create()
    dst.create()
    data = {f"d/o{i}": os.urandom(10 + 7919 * i) for i in range(20)}
    for name, body in data.items():
        src.object(name).get_writer().put_content(body)
    src.object("d/o3").get_writer().set_custom_props({"owner": "ann", "kind": "jpeg"})
    for name in data:
        r = src.object(name).copy(dst.object(f"copy/{name}"))
        assert r.status_code == 200, r.text
    for name, body in data.items():
        assert dst.object(f"copy/{name}").get_reader().read_all() == body
        assert src.object(name).get_reader().read_all() == body, "the source stays"
    props = dst.object("copy/d/o3").head(props="custom,version,checksum")
    assert props.custom_metadata == {"owner": "ann", "kind": "jpeg"}
    assert props.checksum_value == src.object("d/o3").head(props="checksum").checksum_value
    # Within one bucket, and again onto an existing copy: a new version.
    src.object("d/o1").copy(src.object("d/o1.bak"))
    src.object("d/o1").copy(src.object("d/o1.bak"))
    assert src.object("d/o1.bak").head(props="version").obj_version == "2"
    assert src.object("d/o1.bak").get_reader().read_all() == data["d/o1"]

    with pytest.raises(AISError) as e:
        src.object("absent").copy(dst.object("x"))
    assert e.value.status_code == 404
    with pytest.raises(AISError) as e:
        src.object("d/o2").copy(client.bucket("nobucket").object("x"))
    assert e.value.status_code == 404
    with pytest.raises(AISError) as e:
        src.object("d/o2").copy(src.object("d/o2"))
    assert e.value.status_code == 400


def test_set_custom_props_merges_or_replaces(client):
    bck = client.bucket("meta")
    bck.create()
    obj = bck.object("dir/photo")
    obj.get_writer().put_content(b"pixels")
    before = obj.head(props="version,checksum")
    w = obj.get_writer()
    w.set_custom_props({"a": "1", "b": "2"})
    w.set_custom_props({"b": "3", "c": "4"})
    after = obj.head(props="custom,version,checksum")
    assert after.custom_metadata == {"a": "1", "b": "3", "c": "4"}, "merged, later value wins"
    assert (after.obj_version, after.checksum_value) == (before.obj_version, before.checksum_value)
    w.set_custom_props({"only": "this"}, replace_existing=True)
    assert obj.head(props="custom").custom_metadata == {"only": "this"}
    assert obj.get_reader().read_all() == b"pixels"
    with pytest.raises(AISError) as e:
        w.set_custom_props({"big": "x" * 3000})
    assert e.value.status_code == 400
    assert obj.head(props="custom").custom_metadata == {"only": "this"}, "a refused change changes nothing"
    with pytest.raises(AISError) as e:
        bck.object("absent").get_writer().set_custom_props({"a": "1"})
    assert e.value.status_code == 404


def test_append_and_the_file_writer(client):
    bck = client.bucket("app")
    bck.create()
    obj = bck.object("log/day1")
    w = obj.get_writer()
    h = w.append_content(b"one,")
    assert h
    h = w.append_content(b"two,", handle=h)
    with pytest.raises(AISError) as e:
        obj.get_reader().read_all()
    assert e.value.status_code == 404, "appended but not flushed: not visible"
    # A stale handle (its length is behind) is refused; the right one goes on.
    with pytest.raises(AISError) as e:
        w.append_content(b"lost?", handle=h.split("@")[0] + "@4")
    assert e.value.status_code == 400
    w.append_content(b"three", handle=h, flush=True)
    assert obj.get_reader().read_all() == b"one,two,three"
    assert obj.head(props="version").obj_version == "1"

    # The SDK's file-like writer: mode "a" keeps what is there, "w" starts over.
    with obj.get_writer().as_file(mode="a") as f:
        f.write(b"|four")
        f.write(b"|five")
    assert obj.get_reader().read_all() == b"one,two,three|four|five"
    with obj.get_writer().as_file(mode="w") as f:
        f.write(b"fresh")
    assert obj.get_reader().read_all() == b"fresh"
    with pytest.raises(AISError) as e:
        bck.object("other").get_writer().append_content(b"x", handle=h)
    assert e.value.status_code == 400, "another object's handle"


def test_delete_by_list_and_by_template(client):
    bck = client.bucket("multi")
    bck.create()
    for i in range(40):
        bck.object(f"shard-{i:03d}.tar").get_writer().put_content(b"x%d" % i)
    job = bck.objects(obj_names=["shard-000.tar", "shard-001.tar", "never-there"]).delete()
    assert job
    job = bck.objects(obj_template="shard-{010..019}.tar").delete()
    assert job
    left = sorted(e.name for e in bck.list_all_objects())
    assert left == sorted(f"shard-{i:03d}.tar" for i in list(range(2, 10)) + list(range(20, 40)))
    with pytest.raises(AISError) as e:
        bck.objects(obj_template="shard-{5..1}.tar").delete()
    assert e.value.status_code == 400


def test_head_with_every_property(client):
    from email.utils import parsedate_to_datetime

    b = client.bucket("h")
    b.create()
    obj = b.object("dir/x.bin")
    obj.get_writer().put_content(b"z" * 3000)
    obj.get_writer().set_custom_props({"k": "v"})
    attrs = obj.head(props="name,size,version,checksum,atime,copies,custom,location,last-modified,etag")
    assert attrs.size == 3000 and attrs.present
    assert attrs.checksum_type == "xxhash" and len(attrs.checksum_value) == 16
    assert attrs.obj_version == "1"
    assert attrs.custom_metadata == {"k": "v"}
    assert attrs.mirror_copies == 1 and len(attrs.mirror_paths) == 1
    # AIStore's location: t[<target ID>]:<mountpath>
    assert attrs.location.startswith("t[") and "]:" in attrs.location
    assert attrs.location.split("]:", 1)[1] == attrs.mirror_paths[0]
    assert parsedate_to_datetime(attrs.last_modified).year >= 2024
    assert attrs.etag
    assert int(attrs.access_time) > 0
    # The default selection is name and size; the object is present either way.
    plain = obj.head()
    assert plain.size == 3000 and plain.present
