"""Bucket copy (`Bucket.copy`, AIStore's `copy-bck`) and multi-object copy
(`ObjectGroup.copy`, `copy-listrange`) as jobs, and the job API the SDK polls them with
(`Job.status`, `Job.wait`, `Job.get_details`: `GET /v1/cluster?what=status|qryxstats`):
through the proxy over three targets and on a lone target of each engine."""

import os

import pytest
import requests
from aistore.sdk.errors import AISError
from aistore.sdk.multiobj import ObjectRange


def fill(bucket, names):
    data = {}
    for i, name in enumerate(names):
        body = os.urandom(100 + 37 * i)
        w = bucket.object(name).get_writer()
        w.put_content(body)
        data[name] = body
    bucket.object(names[0]).get_writer().set_custom_props({"origin": "src"})
    return data


def listed(bucket):
    return sorted(e.name for e in bucket.list_all_objects())


def test_bucket_copy_with_prefix_and_prepend(client):
    src, dst = client.bucket("src"), client.bucket("dst")
    src.create()
    names = [f"d{i % 3}/o{i:03}" for i in range(150)]
    data = fill(src, names)
    job_id = src.copy(dst, prefix_filter="d1/", prepend="c/")
    assert job_id
    job = client.job(job_id)
    result = job.wait(timeout=120, verbose=False)
    assert result.success, result.error
    status = job.status()
    assert status.uuid == job_id and status.end_time > 0 and not status.err
    wanted = sorted(f"c/{n}" for n in names if n.startswith("d1/"))
    assert listed(dst) == wanted  # the destination was created by the copy
    for name in wanted:
        assert dst.object(name).get_reader().read_all() == data[name[2:]], name
    # Metadata travels with the copy.
    first_d1 = next(n for n in names if n.startswith("d1/"))
    src.object(first_d1).get_writer().set_custom_props({"k": "v"})
    job2 = src.copy(dst, prefix_filter=first_d1)
    assert client.job(job2).wait(timeout=60, verbose=False).success
    assert dst.object(first_d1).head().custom_metadata.get("k") == "v"
    # The snapshots by node add up to what was copied.
    snaps = job.get_details().list_snapshots()
    assert snaps and all(s.kind == "copy-bck" for s in snaps)
    assert sum(s.stats.objects for s in snaps) == len(wanted)
    assert sum(s.stats.bytes for s in snaps) == sum(len(data[n[2:]]) for n in wanted)
    assert all(s.end_time and not s.end_time.startswith("0001") for s in snaps)
    assert all(s.destination_bck.name == "dst" for s in snaps)
    # The source is untouched.
    assert listed(src) == sorted(names)


def test_copy_objects_by_list_and_by_range(client):
    src, dst = client.bucket("src"), client.bucket("dst")
    src.create()
    names = [f"o{i}" for i in range(20)]
    data = fill(src, names)
    ids = src.objects(obj_names=["o1", "o2", "o3"]).copy(dst)
    assert len(ids) == 1
    assert client.job(ids[0]).wait(timeout=60, verbose=False).success
    ids = src.objects(obj_range=ObjectRange(prefix="o", min_index=10, max_index=14)).copy(dst, prepend="r/")
    for i in ids:
        assert client.job(i).wait(timeout=60, verbose=False).success
    want = ["o1", "o2", "o3"] + [f"r/o{i}" for i in range(10, 15)]
    assert listed(dst) == sorted(want)
    for name in want:
        assert dst.object(name).get_reader().read_all() == data[name.removeprefix("r/")]
    # Within the same bucket, under another name.
    ids = src.objects(obj_names=["o5"]).copy(src, prepend="copy-of-")
    for i in ids:
        assert client.job(i).wait(timeout=60, verbose=False).success
    assert src.object("copy-of-o5").get_reader().read_all() == data["o5"]


def test_a_missing_object_fails_the_copy_unless_told_to_go_on(client):
    src, dst = client.bucket("src"), client.bucket("dst")
    src.create()
    data = fill(src, ["a", "b"])
    ids = src.objects(obj_names=["a", "nope", "b"]).copy(dst)
    results = [client.job(i).wait(timeout=60, verbose=False) for i in ids]
    assert not all(r.success for r in results)
    assert any("nope" in (r.error or "") for r in results)
    dst2 = client.bucket("dst2")
    ids = src.objects(obj_names=["a", "nope", "b"]).copy(dst2, continue_on_error=True)
    for i in ids:
        assert client.job(i).wait(timeout=60, verbose=False).success
    assert listed(dst2) == ["a", "b"]
    assert dst2.object("b").get_reader().read_all() == data["b"]


def test_copy_refusals_and_unknown_jobs(client):
    src = client.bucket("src")
    src.create()
    fill(src, ["x"])
    with pytest.raises(AISError) as e:
        src.copy(src)
    assert e.value.status_code == 400
    with pytest.raises(AISError) as e:
        client.bucket("missing").copy(client.bucket("dst"))
    assert e.value.status_code == 404
    # `ext` maps old extensions to new ones; anything else is refused.
    r = requests.post(f"{client.test_url}/v1/buckets/src", params={"bck_to": "ais/@#/dst/"},
                      json={"action": "copy-bck", "value": {"ext": [".jpg"]}}, timeout=10)
    assert r.status_code == 400 and "ext" in r.text, r.text
    with pytest.raises(AISError) as e:
        client.job("NoSuchJob1").status()
    assert e.value.status_code == 404
    r = requests.get(f"{client.test_url}/v1/cluster", params={"what": "status"}, timeout=10)
    assert r.status_code == 400


def test_deletes_and_renames_answer_jobs_that_wait_returns(client):
    b = client.bucket("b")
    b.create()
    fill(b, [f"k{i}" for i in range(6)])
    job_id = b.objects(obj_names=["k1", "k2"]).delete()
    result = client.job(job_id).wait(timeout=30, verbose=False)
    assert result.success
    snaps = client.job(job_id).get_details().list_snapshots()
    assert sum(s.stats.objects for s in snaps) == 2
    assert listed(b) == ["k0", "k3", "k4", "k5"]
    job_id = b.rename("b2")
    assert client.job(job_id).wait(timeout=30, verbose=False).success
    # Jobs of a kind can be asked for without an ID.
    kinds = {s.kind for s in client.job(job_kind="move-bck").get_details().list_snapshots()}
    assert kinds == {"move-bck"}


def read_tar(raw, gz=False):
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz" if gz else "r") as t:
        return {m.name: t.extractfile(m).read() for m in t.getmembers()}


def test_archive_objects_into_a_shard(client):
    from aistore.sdk.archive_config import ArchiveConfig

    src, dst = client.bucket("src"), client.bucket("shards")
    src.create()
    dst.create()
    long_name = "deep/" + "n" * 120 + ".jpg"
    names = [f"s{i:03}/img.jpg" for i in range(12)] + [long_name, "empty"]
    data = {}
    for i, name in enumerate(names):
        body = b"" if name == "empty" else os.urandom(300 + 1000 * i)
        src.object(name).get_writer().put_content(body)
        data[name] = body
    ids = src.objects(obj_names=names).archive("train/s1.tar", to_bck=dst)
    for i in ids:
        result = client.job(i).wait(timeout=120, verbose=False)
        assert result.success, result.error
    raw = dst.object("train/s1.tar").get_reader().read_all()
    assert read_tar(raw) == data
    assert list(read_tar(raw)) == names  # in the order given
    # Our own archive reading serves a member of it.
    member = dst.object("train/s1.tar").get_reader(archive_config=ArchiveConfig(archpath="s003/img.jpg"))
    assert member.read_all() == data["s003/img.jpg"]
    snaps = client.job(ids[0]).get_details().list_snapshots()
    assert sum(s.stats.objects for s in snaps) == len(names)
    # Gzipped, members named with the source bucket, written into the source bucket.
    ids = src.objects(obj_range=ObjectRange(prefix="s00", min_index=0, max_index=3, suffix="/img.jpg")).archive(
        "s.tgz", include_source_name=True)
    for i in ids:
        assert client.job(i).wait(timeout=60, verbose=False).success
    got = read_tar(src.object("s.tgz").get_reader().read_all(), gz=True)
    assert got == {f"src/s00{i}/img.jpg": data[f"s00{i}/img.jpg"] for i in range(4)}


def test_a_failed_archive_leaves_no_shard(client):
    src = client.bucket("src")
    src.create()
    src.object("a").get_writer().put_content(b"a" * 1000)
    ids = src.objects(obj_names=["a", "missing"]).archive("bad.tar")
    results = [client.job(i).wait(timeout=60, verbose=False) for i in ids]
    assert not all(r.success for r in results)
    assert any("missing" in (r.error or "") for r in results)
    assert listed(src) == ["a"]
    ids = src.objects(obj_names=["a", "missing"]).archive("ok.tar", continue_on_err=True)
    for i in ids:
        assert client.job(i).wait(timeout=60, verbose=False).success
    assert read_tar(src.object("ok.tar").get_reader().read_all()) == {"a": b"a" * 1000}
    for bad in ["x.zip", "x.bin"]:
        with pytest.raises(AISError) as e:
            src.objects(obj_names=["a"]).archive(bad)
        assert e.value.status_code == 400, bad
    with pytest.raises(AISError) as e:
        src.objects(obj_names=["a"]).archive("y.tar", to_bck=client.bucket("nobucket"))
    assert e.value.status_code == 404
