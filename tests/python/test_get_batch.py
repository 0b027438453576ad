"""GetBatch (`/v1/ml/moss`) through a proxy with three targets, with the AIStore SDK's own
`client.batch()`: items from every target and from several buckets come back in request
order, whole, byte ranges of objects and of archived files, members of TAR shards,
opaque data back untouched, missing items under `__404__/` with `coer` (and a clean 404
without), both streaming and buffered (multipart) answers, TAR, TGZ and ZIP; a batch
larger than the buffered answer's memory spool; a bucket that does not exist; and the
proxy's redirect checked by hand (a direct request to a target is refused)."""

import io
import json
import os
import tarfile
import zipfile

import pytest
import requests
from aistore.sdk import Client
from aistore.sdk.errors import AISError

from nodes import fail_fast, start_cluster


@pytest.fixture(scope="module")
def ais(tmp_path_factory):
    proxy, targets = start_cluster(tmp_path_factory.mktemp("gb"))
    client = Client(proxy.url, retry_config=fail_fast(), timeout=120)
    yield client, proxy, targets
    for node in [proxy] + targets:
        node.proc.kill()
        node.proc.wait()


def put_many(bucket, prefix, n, size=lambda i: 100 + 37 * i):
    data = {}
    for i in range(n):
        name = f"{prefix}-{i:04d}"
        data[name] = os.urandom(size(i))
        bucket.object(name).get_writer().put_content(data[name])
    return data


def owners(proxy_url, bucket, names):
    """The targets the proxy sends these objects' GETs to."""
    return {requests.get(f"{proxy_url}/v1/objects/{bucket}/{n}", allow_redirects=False, timeout=5)
            .headers["Location"].split("/v1/")[0] for n in names}


@pytest.mark.parametrize("streaming", [True, False])
def test_items_from_every_target_come_back_in_request_order(ais, streaming):
    client, proxy, targets = ais
    b = client.bucket(f"gb-order-{int(streaming)}").create(exist_ok=True)
    data = put_many(b, "o", 60)
    names = list(data)[::-1]  # not the order they were written in
    batch = client.batch(names, bucket=b, streaming_get=streaming)
    got = list(batch.get())
    assert [m.obj_name for m, _ in got] == names
    assert [c for _, c in got] == [data[n] for n in names]
    if not streaming:
        assert [m.size for m, _ in got] == [len(data[n]) for n in names]
        assert all(not m.err_msg for m, _ in got)
    # The items really came from all three targets.
    assert owners(proxy.url, b.name, names) == {t.url for t in targets}


def test_several_buckets_ranges_archpaths_and_opaque(ais):
    client, _, _ = ais
    b1 = client.bucket("gb-one").create(exist_ok=True)
    b2 = client.bucket("gb-two").create(exist_ok=True)
    big = os.urandom(10_000)
    b1.object("big").get_writer().put_content(big)
    other = os.urandom(500)
    b2.object("other").get_writer().put_content(other)
    members = {"a.txt": b"alpha" * 50, "dir/b.bin": os.urandom(3000)}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    b1.object("shard.tar").get_writer().put_content(buf.getvalue())

    batch = client.batch(bucket=b1, streaming_get=False)
    batch.add("big", start=100, length=50)
    batch.add("big", start=9_000, length=-1)
    batch.add(b2.object("other"), opaque=b"id-42")
    batch.add("shard.tar", archpath="dir/b.bin")
    batch.add("shard.tar", archpath="a.txt", start=5, length=10)
    got = list(batch.get())
    assert [c for _, c in got] == [big[100:150], big[9000:], other, members["dir/b.bin"],
                                   members["a.txt"][5:15]]
    assert [m.size for m, _ in got] == [50, 1000, 500, 3000, 10]
    assert got[2][0].bucket == "gb-two" and got[2][0].opaque == b"id-42"
    assert got[3][0].archpath == "dir/b.bin"


def raw_batch(url, bucket, body, **kw):
    return requests.get(f"{url}/v1/ml/moss/{bucket}", params={"provider": "ais"},
                        data=json.dumps(body), headers={"Content-Type": "application/json"},
                        timeout=60, **kw)


def test_missing_items_under_404_with_coer_and_a_clean_404_without(ais):
    client, proxy, _ = ais
    b = client.bucket("gb-missing").create(exist_ok=True)
    b.object("here").get_writer().put_content(b"present")
    body = {"in": [{"objname": "gone"}, {"objname": "here"}, {"objname": "shard.tar", "archpath": "x"}],
            "coer": True, "strm": True}
    r = raw_batch(proxy.url, "gb-missing", body)
    assert r.status_code == 200, r.text
    tar = tarfile.open(fileobj=io.BytesIO(r.content))
    assert [(m.name, m.size) for m in tar.getmembers()] == [
        ("__404__/gb-missing/gone", 0), ("gb-missing/here", 7), ("__404__/gb-missing/shard.tar/x", 0)]
    # Buffered: the metadata says why.
    batch = client.batch(["gone", "here"], bucket=b, streaming_get=False, cont_on_err=True)
    (miss, _), (ok, content) = list(batch.get())
    assert "does not exist" in miss.err_msg and miss.size == 0
    assert content == b"present" and not ok.err_msg
    # Strict: a clean 404 naming the object, no archive.
    body = {"in": [{"objname": "gone"}, {"objname": "here"}], "coer": False, "strm": True}
    r = raw_batch(proxy.url, "gb-missing", body)
    assert r.status_code == 404 and "gone" in r.text and "does not exist" in r.text, r.text


def test_output_formats_and_only_object_names(ais):
    client, proxy, _ = ais
    b = client.bucket("gb-fmt").create(exist_ok=True)
    data = put_many(b, "f", 5)
    items = [{"objname": n} for n in data]
    for mime, open_ in ((".tgz", lambda c: tarfile.open(fileobj=io.BytesIO(c), mode="r:gz")),
                        (".tar.gz", lambda c: tarfile.open(fileobj=io.BytesIO(c), mode="r:gz"))):
        r = raw_batch(proxy.url, "gb-fmt", {"in": items, "mime": mime, "strm": True, "onob": True})
        assert r.status_code == 200, r.text
        t = open_(r.content)
        assert [m.name for m in t.getmembers()] == list(data)
        assert [t.extractfile(m).read() for m in t.getmembers()] == list(data.values())
    r = raw_batch(proxy.url, "gb-fmt", {"in": items, "mime": ".zip", "strm": True})
    z = zipfile.ZipFile(io.BytesIO(r.content))
    assert z.namelist() == [f"gb-fmt/{n}" for n in data]
    assert [z.read(n) for n in z.namelist()] == list(data.values())
    # Through the SDK's zip reader too.
    got = list(client.batch(list(data), bucket=b, output_format=".zip", streaming_get=False).get())
    assert [c for _, c in got] == list(data.values())


def test_a_buffered_batch_larger_than_the_memory_spool(ais):
    client, _, _ = ais
    b = client.bucket("gb-large").create(exist_ok=True)
    data = put_many(b, "l", 40, size=lambda i: 1 << 20)  # 40 MiB: past the 32 MiB in memory
    got = list(client.batch(list(data), bucket=b, streaming_get=False).get())
    assert [c for _, c in got] == list(data.values())


def test_bad_requests_are_refused_cleanly(ais):
    client, proxy, targets = ais
    with pytest.raises(AISError) as e:
        list(client.batch(["obj"], bucket=client.bucket("gb-no-such-bucket")).get())
    assert e.value.status_code == 404 and "does not exist" in str(e.value)
    client.bucket("gb-bad").create(exist_ok=True)
    for body, want in (({"in": []}, "empty request"),
                       ({"in": [{"objname": "a", "start": 5}]}, "invalid range"),
                       ({"in": [{"objname": "a"}], "mime": ".rar"}, "unsupported output format"),
                       ({"in": [{"objname": "a", "bucket": "gb-nope"}]}, "does not exist")):
        r = raw_batch(proxy.url, "gb-bad", body)
        assert r.status_code in (400, 404) and want in r.text, (body, r.status_code, r.text)
    # A target takes a batch only through the proxy's signed redirect.
    r = raw_batch(targets[0].url, "gb-bad", {"in": [{"objname": "a"}]})
    assert r.status_code == 403, r.text
