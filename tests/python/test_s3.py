"""The S3 API with boto3 (default configuration: only the endpoint and keys set), against the proxy
and against a target of a three-target cluster, and against a lone target."""

import datetime
import os

import pytest
import requests
from botocore.exceptions import ClientError

from nodes import start_cluster, start_target
from s3_helpers import client, error_code, md5, status


@pytest.fixture(scope="module")
def cluster3(tmp_path_factory):
    proxy, targets = start_cluster(tmp_path_factory.mktemp("s3c"))
    yield proxy, targets
    for n in [proxy] + targets:
        n.proc.kill()
        n.proc.wait()


@pytest.fixture(params=["proxy", "target"])
def s3(request, cluster3):
    """A client of the proxy's /s3, or of one target's /s3 (which forwards what it does not own)."""
    proxy, targets = cluster3
    url = proxy.url if request.param == "proxy" else targets[1].url
    return client(url + "/s3")


def test_buckets(s3, request):
    name = f"bk-{request.node.callspec.id}"
    s3.create_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket=name)
    assert s3.get_bucket_location(Bucket=name).get("LocationConstraint") in (None, "")
    assert "Status" not in s3.get_bucket_versioning(Bucket=name)
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=name)
    assert error_code(e) == "BucketAlreadyOwnedByYou"
    s3.put_object(Bucket=name, Key="x", Body=b"1")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=name)
    assert error_code(e) == "BucketNotEmpty" and status(e) == 409
    s3.delete_object(Bucket=name, Key="x")
    assert s3.delete_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=name)
    assert status(e) == 404
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=name)
    assert error_code(e) == "NoSuchBucket"
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="x" * 70)
    assert error_code(e) == "InvalidBucketName"


def test_objects_metadata_and_errors(s3, request):
    b = f"obj-{request.node.callspec.id}"
    s3.create_bucket(Bucket=b)
    data = os.urandom(100_000)
    put = s3.put_object(
        Bucket=b,
        Key="dir/a b+c.bin",
        Body=data,
        ContentType="application/x-test",
        ContentDisposition="attachment",
        CacheControl="no-cache",
        ContentEncoding="identity",
        Metadata={"color": "blue", "n": "7"},
    )
    assert put["ETag"] == f'"{md5(data)}"'
    assert put["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    got = s3.get_object(Bucket=b, Key="dir/a b+c.bin")
    assert got["Body"].read() == data
    assert got["ETag"] == f'"{md5(data)}"'
    assert got["ContentType"] == "application/x-test"
    assert got["ContentDisposition"] == "attachment"
    assert got["CacheControl"] == "no-cache"
    assert got["ContentEncoding"] == "identity"
    assert got["Metadata"] == {"color": "blue", "n": "7"}
    age = datetime.datetime.now(datetime.timezone.utc) - got["LastModified"]
    assert abs(age.total_seconds()) < 60
    head = s3.head_object(Bucket=b, Key="dir/a b+c.bin")
    assert head["ContentLength"] == len(data) and head["ETag"] == got["ETag"]

    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="missing")
    assert error_code(e) == "NoSuchKey" and status(e) == 404
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=b, Key="missing")
    assert status(e) == 404
    assert s3.delete_object(Bucket=b, Key="missing")["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="k" * 1100, Body=b"x")
    assert error_code(e) == "KeyTooLongError"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="bad", Body=b"hello", ContentMD5="AAAAAAAAAAAAAAAAAAAAAA==")
    assert error_code(e) == "BadDigest"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="bad", Body=b"hello", ChecksumCRC32="AAAAAA==")
    assert error_code(e) == "BadDigest"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="bad")
    assert error_code(e) == "NoSuchKey", "a refused upload must not leave an object"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="no-such-bucket", Key="k")
    assert error_code(e) == "NoSuchBucket"


def test_ranges_and_conditions(s3, request):
    b = f"cond-{request.node.callspec.id}"
    s3.create_bucket(Bucket=b)
    data = bytes(range(256)) * 40
    etag = s3.put_object(Bucket=b, Key="o", Body=data)["ETag"]
    r = s3.get_object(Bucket=b, Key="o", Range="bytes=10-19")
    assert r["Body"].read() == data[10:20] and r["ContentRange"] == f"bytes 10-19/{len(data)}"
    assert s3.get_object(Bucket=b, Key="o", Range="bytes=-5")["Body"].read() == data[-5:]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="o", Range=f"bytes={len(data)}-")
    assert error_code(e) == "InvalidRange" and status(e) == 416
    assert s3.get_object(Bucket=b, Key="o", IfMatch=etag)["Body"].read() == data
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="o", IfMatch='"0123"')
    assert error_code(e) == "PreconditionFailed" and status(e) == 412
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="o", IfNoneMatch=etag)
    assert status(e) == 304
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    past = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="o", IfModifiedSince=future)
    assert status(e) == 304
    assert s3.get_object(Bucket=b, Key="o", IfModifiedSince=past)["Body"].read() == data
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="o", IfUnmodifiedSince=past)
    assert status(e) == 412
    r = s3.get_object(Bucket=b, Key="o", ResponseContentType="text/csv", ResponseContentDisposition="inline")
    assert r["ContentType"] == "text/csv" and r["ContentDisposition"] == "inline"


def test_copy_across_targets_and_delete_objects(s3, request, cluster3):
    b = f"cp-{request.node.callspec.id}"
    s3.create_bucket(Bucket=b)
    payloads = {f"src/{i}": os.urandom(1000 + i) for i in range(12)}
    for k, v in payloads.items():
        s3.put_object(Bucket=b, Key=k, Body=v, Metadata={"k": k.replace("/", "-")}, ContentType="text/x-src")
    for k, v in payloads.items():
        out = s3.copy_object(Bucket=b, Key="dst/" + k, CopySource={"Bucket": b, "Key": k})
        assert out["CopyObjectResult"]["ETag"] == f'"{md5(v)}"'
        got = s3.get_object(Bucket=b, Key="dst/" + k)
        assert got["Body"].read() == v
        assert got["Metadata"] == {"k": k.replace("/", "-")} and got["ContentType"] == "text/x-src"
    s3.copy_object(
        Bucket=b,
        Key="dst/src/0",
        CopySource={"Bucket": b, "Key": "src/1"},
        MetadataDirective="REPLACE",
        Metadata={"new": "yes"},
    )
    assert s3.head_object(Bucket=b, Key="dst/src/0")["Metadata"] == {"new": "yes"}
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=b, Key="src/2", CopySource={"Bucket": b, "Key": "src/2"})
    assert error_code(e) == "InvalidRequest"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=b, Key="x", CopySource={"Bucket": b, "Key": "nothing"})
    assert error_code(e) == "NoSuchKey"
    # The 24 objects landed on more than one target: the copies crossed targets.
    proxy, targets = cluster3
    holders = 0
    for t in targets:
        listing = requests.get(f"{t.url}/v1/buckets/{b}", json={"action": "list"}, timeout=10).json()
        holders += bool(listing["entries"])
    assert holders >= 2

    keys = [{"Key": k} for k in payloads] + [{"Key": "never-existed"}]
    out = s3.delete_objects(Bucket=b, Delete={"Objects": keys})
    assert sorted(d["Key"] for d in out["Deleted"]) == sorted([k["Key"] for k in keys])
    out = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "dst/" + k} for k in payloads], "Quiet": True})
    assert "Deleted" not in out and "Errors" not in out
    assert s3.list_objects_v2(Bucket=b)["KeyCount"] == 0


def test_listing_delimiter_and_paging(s3, request):
    b = f"ls-{request.node.callspec.id}"
    s3.create_bucket(Bucket=b)
    keys = [f"flat/{i:05d}" for i in range(2500)]
    odd = ["a b", "a+b", "dir/x/1", "dir/x/2", "dir/y", "é", "z", "Z"]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=b, Key=k, Body=b"x"), keys + odd))
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=b, Prefix="flat/"))
    assert [p["KeyCount"] for p in pages] == [1000, 1000, 500]
    assert [o["Key"] for p in pages for o in p["Contents"]] == keys
    v1 = list(s3.get_paginator("list_objects").paginate(Bucket=b, Prefix="flat/", PaginationConfig={"PageSize": 700}))
    assert [o["Key"] for p in v1 for o in p["Contents"]] == keys
    top = s3.list_objects_v2(Bucket=b, Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == sorted(["a b", "a+b", "é", "z", "Z"], key=lambda k: k.encode())
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["dir/", "flat/"]
    sub = s3.list_objects_v2(Bucket=b, Delimiter="/", Prefix="dir/")
    assert [o["Key"] for o in sub["Contents"]] == ["dir/y"]
    assert [p["Prefix"] for p in sub["CommonPrefixes"]] == ["dir/x/"]
    small = list(s3.get_paginator("list_objects_v2").paginate(Bucket=b, Delimiter="/", PaginationConfig={"PageSize": 2}))
    items = [o["Key"] for p in small for o in p.get("Contents", [])] + [
        c["Prefix"] for p in small for c in p.get("CommonPrefixes", [])
    ]
    assert sorted(items) == sorted(["a b", "a+b", "dir/", "flat/", "é", "z", "Z"])
    after = s3.list_objects_v2(Bucket=b, StartAfter="flat/02498", MaxKeys=3)
    assert [o["Key"] for o in after["Contents"]] == ["flat/02499", "z", "é"]
    versions = s3.list_object_versions(Bucket=b, Prefix="dir/")
    assert [v["Key"] for v in versions["Versions"]] == ["dir/x/1", "dir/x/2", "dir/y"]
    assert all(v["IsLatest"] for v in versions["Versions"])


def test_multipart(s3, request, tmp_path):
    b = f"mp-{request.node.callspec.id}"
    s3.create_bucket(Bucket=b)
    big = tmp_path / "big.bin"
    data = os.urandom(40 * 1024 * 1024)
    big.write_bytes(data)
    s3.upload_file(str(big), b, "big.bin")  # s3transfer: multipart, default checksums
    head = s3.head_object(Bucket=b, Key="big.bin")
    assert head["ContentLength"] == len(data) and head["ETag"].endswith('-5"')
    out = tmp_path / "out.bin"
    s3.download_file(b, "big.bin", str(out))
    assert out.read_bytes() == data

    part = os.urandom(5 * 1024 * 1024)
    up = s3.create_multipart_upload(Bucket=b, Key="m", ContentType="text/x-mp", Metadata={"a": "1"})["UploadId"]
    e1 = s3.upload_part(Bucket=b, Key="m", UploadId=up, PartNumber=1, Body=part)["ETag"]
    e2 = s3.upload_part(Bucket=b, Key="m", UploadId=up, PartNumber=2, Body=b"tail")["ETag"]
    s3.put_object(Bucket=b, Key="src", Body=b"0123456789")
    e3 = s3.upload_part_copy(
        Bucket=b, Key="m", UploadId=up, PartNumber=3, CopySource={"Bucket": b, "Key": "src"}, CopySourceRange="bytes=2-5"
    )["CopyPartResult"]["ETag"]
    parts = s3.list_parts(Bucket=b, Key="m", UploadId=up)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, len(part)), (2, 4), (3, 4)]
    uploads = s3.list_multipart_uploads(Bucket=b)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("m", up)]

    def complete(parts):
        return s3.complete_multipart_upload(Bucket=b, Key="m", UploadId=up, MultipartUpload={"Parts": parts})

    with pytest.raises(ClientError) as e:
        complete([{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": '"00000000000000000000000000000000"'}])
    assert error_code(e) == "InvalidPart"
    with pytest.raises(ClientError) as e:
        complete([{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}])
    assert error_code(e) == "InvalidPartOrder"
    with pytest.raises(ClientError) as e:
        complete([{"PartNumber": 2, "ETag": e2}, {"PartNumber": 3, "ETag": e3}])
    assert error_code(e) == "EntityTooSmall"
    done = complete([{"PartNumber": 1, "ETag": e1}, {"PartNumber": 3, "ETag": e3}])
    assert done["ETag"].endswith('-2"')
    got = s3.get_object(Bucket=b, Key="m")
    assert got["Body"].read() == part + b"2345"
    assert got["ContentType"] == "text/x-mp" and got["Metadata"] == {"a": "1"}
    with pytest.raises(ClientError) as e:
        complete([{"PartNumber": 1, "ETag": e1}])
    assert error_code(e) == "NoSuchUpload"

    up2 = s3.create_multipart_upload(Bucket=b, Key="gone")["UploadId"]
    s3.upload_part(Bucket=b, Key="gone", UploadId=up2, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket=b, Key="gone", UploadId=up2)
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=b, Key="gone", UploadId=up2)
    assert error_code(e) == "NoSuchUpload"
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=b)


def test_presigned_urls_without_keys(s3, request):
    b = f"ps-{request.node.callspec.id}"
    s3.create_bucket(Bucket=b)
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": b, "Key": "p"}, ExpiresIn=60)
    assert requests.put(put_url, data=b"presigned", timeout=10).status_code == 200
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "p"}, ExpiresIn=60)
    assert requests.get(get_url, timeout=10).content == b"presigned"


def test_malformed_xml_and_unsupported(cluster3):
    proxy, _ = cluster3
    s3 = client(proxy.url + "/s3")
    s3.create_bucket(Bucket="xml")
    r = requests.post(f"{proxy.url}/s3/xml?delete", data=b"<Delete><Object>", timeout=10)
    assert r.status_code == 400 and "<Code>MalformedXML</Code>" in r.text and "<RequestId>" in r.text
    r = requests.get(f"{proxy.url}/s3/xml?policy", timeout=10)
    assert r.status_code == 501 and "<Code>NotImplemented</Code>" in r.text


def test_aws_chunked_body_with_trailer(cluster3):
    """What SDKs send over HTTPS by default: aws-chunked with a CRC32 trailer, unsigned payload."""
    proxy, _ = cluster3
    s3 = client(proxy.url + "/s3")
    s3.create_bucket(Bucket="chunked")
    import zlib, base64

    data = os.urandom(70_000)
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    body = b"%x\r\n" % 65536 + data[:65536] + b"\r\n" + b"%x\r\n" % (len(data) - 65536) + data[65536:] + b"\r\n"
    ok = body + b"0\r\nx-amz-checksum-crc32:" + crc.encode() + b"\r\n\r\n"
    headers = {
        "Content-Encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-trailer": "x-amz-checksum-crc32",
        "x-amz-decoded-content-length": str(len(data)),
    }
    r = requests.put(f"{proxy.url}/s3/chunked/ok", data=ok, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket="chunked", Key="ok")["Body"].read() == data
    head = s3.head_object(Bucket="chunked", Key="ok", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == crc
    bad = body + b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"
    r = requests.put(f"{proxy.url}/s3/chunked/bad", data=bad, headers=headers, timeout=10)
    assert r.status_code == 400 and "<Code>BadDigest</Code>" in r.text
    r = requests.put(f"{proxy.url}/s3/chunked/cut", data=body, headers=headers, timeout=10)
    assert r.status_code == 400
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="chunked")["Contents"]] == ["ok"]


def test_s3_and_native_api_see_the_same_objects(cluster3):
    from aistore.sdk import Client

    from nodes import fail_fast

    proxy, _ = cluster3
    s3 = client(proxy.url + "/s3")
    s3.create_bucket(Bucket="both")
    data = os.urandom(300_000)
    s3.put_object(Bucket="both", Key="from-s3", Body=data, Metadata={"m": "v"})
    sdk = Client(proxy.url, retry_config=fail_fast(), timeout=30)
    obj = sdk.bucket("both").object("from-s3")
    assert obj.get_reader().read_all() == data
    assert obj.head().custom_metadata == {"m": "v"}
    native = os.urandom(200_000)
    sdk.bucket("both").object("from-sdk").get_writer().put_content(native)
    assert s3.get_object(Bucket="both", Key="from-sdk")["Body"].read() == native
    names = [o["Key"] for o in s3.list_objects_v2(Bucket="both")["Contents"]]
    assert names == ["from-s3", "from-sdk"]


def test_lone_target_serves_bucket_operations(tmp_path):
    node = start_target(tmp_path, n_mountpaths=2)
    try:
        s3 = client(node.url + "/s3")
        s3.create_bucket(Bucket="lone")
        s3.put_object(Bucket="lone", Key="a/b", Body=b"x")
        assert [p["Prefix"] for p in s3.list_objects_v2(Bucket="lone", Delimiter="/")["CommonPrefixes"]] == ["a/"]
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["lone"]
    finally:
        node.proc.kill()
        node.proc.wait()


def test_redirect_on_request(cluster3):
    """A client that follows redirects may ask for a 307 to the owner (AIStore's default for S3)."""
    proxy, targets = cluster3
    s3 = client(proxy.url + "/s3")
    s3.create_bucket(Bucket="redir")
    s3.put_object(Bucket="redir", Key="k", Body=b"via redirect")
    r = requests.get(f"{proxy.url}/s3/redir/k", headers={"Ais-S3-Redirect": "true"}, allow_redirects=False, timeout=10)
    assert r.status_code == 307 and "<Code>TemporaryRedirect</Code>" in r.text
    assert any(r.headers["Location"].startswith(t.url + "/s3/redir/k") for t in targets)
    assert requests.get(r.headers["Location"], timeout=10).content == b"via redirect"
    r = requests.get(f"{proxy.url}/s3/redir/k", timeout=10)
    assert r.status_code == 200 and r.content == b"via redirect"


def test_uploads_survive_restart_and_expire(tmp_path):
    """Parts are not swept at start-up; uploads older than s3_upload_max_age_secs are removed."""
    import time

    cfg = tmp_path / "target.toml"
    cfg.write_text("s3_upload_max_age_secs = 3\n")
    node = start_target(tmp_path, n_mountpaths=2, extra=["--config", str(cfg)])
    try:
        s3 = client(node.url + "/s3")
        s3.create_bucket(Bucket="exp")
        up = s3.create_multipart_upload(Bucket="exp", Key="k")["UploadId"]
        s3.upload_part(Bucket="exp", Key="k", UploadId=up, PartNumber=1, Body=b"part")
        node.stop()
        node = start_target(tmp_path, n_mountpaths=2, extra=["--config", str(cfg)])
        s3 = client(node.url + "/s3")
        assert [p["Size"] for p in s3.list_parts(Bucket="exp", Key="k", UploadId=up)["Parts"]] == [4]
        deadline = time.time() + 15
        while "Uploads" in s3.list_multipart_uploads(Bucket="exp"):
            assert time.time() < deadline, "the abandoned upload was never removed"
            time.sleep(0.5)
        with pytest.raises(ClientError) as e:
            s3.list_parts(Bucket="exp", Key="k", UploadId=up)
        assert error_code(e) == "NoSuchUpload"
    finally:
        node.proc.kill()
        node.proc.wait()
