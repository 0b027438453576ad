"""S3 with keys configured: signatures checked on the proxy and on targets (SigV4 header and presigned
URLs, V2 presigned URLs), wrong keys and unsigned requests refused; S3 at the proxy's root and in
virtual-hosted style."""

import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from nodes import start_cluster
from s3_helpers import KEY, SECRET, client, error_code, status

KEYS = ["--s3-access-key", KEY, "--s3-secret-key", SECRET]


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    proxy, targets = start_cluster(
        tmp_path_factory.mktemp("auth"),
        proxy_extra=KEYS + ["--s3-at-root", "--s3-domain", "s3.test"],
        target_extra=KEYS,
    )
    yield proxy, targets
    for n in [proxy] + targets:
        n.proc.kill()
        n.proc.wait()


@pytest.mark.parametrize("where", ["proxy", "target"])
def test_right_keys_work_and_wrong_ones_do_not(secured, where):
    proxy, targets = secured
    url = (proxy.url if where == "proxy" else targets[0].url) + "/s3"
    s3 = client(url)
    b = f"sec-{where}"
    s3.create_bucket(Bucket=b)
    for i in range(10):  # spread over every target
        s3.put_object(Bucket=b, Key=f"k{i}", Body=b"secret %d" % i)
        assert s3.get_object(Bucket=b, Key=f"k{i}")["Body"].read() == b"secret %d" % i
    up = s3.create_multipart_upload(Bucket=b, Key="mp")["UploadId"]
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=b)["Uploads"]] == [up]

    bad_secret = client(url, secret="wrong")
    for call in (lambda: bad_secret.list_buckets(), lambda: bad_secret.get_object(Bucket=b, Key="k1")):
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e) == "SignatureDoesNotMatch" and status(e) == 403
    with pytest.raises(ClientError) as e:
        bad_secret.put_object(Bucket=b, Key="intruder", Body=b"x")
    assert error_code(e) == "SignatureDoesNotMatch"
    bad_key = client(url, key="nobody")
    with pytest.raises(ClientError) as e:
        bad_key.get_object(Bucket=b, Key="k1")
    assert error_code(e) == "InvalidAccessKeyId"
    for r in (requests.get(f"{url}/{b}/k1", timeout=10), requests.get(f"{url}/{b}", timeout=10)):
        assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=b)["Contents"]] == [f"k{i}" for i in range(10)]


@pytest.mark.parametrize("version", ["s3v4", "s3"])
def test_presigned_urls(secured, version):
    proxy, _ = secured
    s3 = client(proxy.url + "/s3", signature_version=version)
    b = f"pre-{version.replace('3', 'x')}"
    client(proxy.url + "/s3").create_bucket(Bucket=b)
    put = s3.generate_presigned_url("put_object", Params={"Bucket": b, "Key": "p"}, ExpiresIn=60)
    assert requests.put(put, data=b"signed body", timeout=10).status_code == 200
    get = s3.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "p"}, ExpiresIn=60)
    assert requests.get(get, timeout=10).content == b"signed body"
    tampered = get.replace("/p?", "/q?")
    assert requests.get(tampered, timeout=10).status_code == 403
    expired = s3.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "p"}, ExpiresIn=-10)
    r = requests.get(expired, timeout=10)
    assert r.status_code == 403 and "expired" in r.text


def test_root_and_virtual_hosted_styles(secured):
    proxy, _ = secured
    root = client(proxy.url)  # s3_at_root: the endpoint is the proxy itself
    root.create_bucket(Bucket="rooted")
    root.put_object(Bucket="rooted", Key="dir/k", Body=b"at root")
    assert root.get_object(Bucket="rooted", Key="dir/k")["Body"].read() == b"at root"
    assert client(proxy.url + "/s3").get_object(Bucket="rooted", Key="dir/k")["Body"].read() == b"at root"
    # The native API still answers beside it, to requests signed with the S3 keys.
    assert requests.get(f"{proxy.url}/v1/daemon?what=smap", timeout=10).status_code == 401
    assert requests.get(f"{proxy.url}/v1/daemon?what=smap", auth=proxy.auth, timeout=10).status_code == 200

    # Virtual-hosted style: Host names the bucket. The client resolves the name itself.
    vhost = client("http://s3.test:%s" % proxy.url.rsplit(":", 1)[1], s3={"addressing_style": "virtual"})
    sent = []

    def to_loopback(request, **_):
        # What DNS would do: connect to loopback, keep the Host header the client signed.
        sent.append(request.url)
        host = request.url.split("/")[2]
        request.headers["Host"] = host
        request.url = request.url.replace("rooted.s3.test", "127.0.0.1")

    vhost.meta.events.register_first("before-send.s3", to_loopback)
    assert vhost.get_object(Bucket="rooted", Key="dir/k")["Body"].read() == b"at root"
    vhost.put_object(Bucket="rooted", Key="v", Body=b"virtual")
    assert [o["Key"] for o in vhost.list_objects_v2(Bucket="rooted")["Contents"]] == ["dir/k", "v"]
    assert sent and all("//rooted.s3.test:" in u for u in sent)
