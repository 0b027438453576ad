"""AIStore's native multipart upload through the SDK (`Object.multipart_upload()`),
through the proxy over three targets and on a lone target: parts uploaded concurrently
and out of order, joined in the listed order, the chunk count on HEAD, a normal PUT
overwriting the result, and the errors of empty, missing, duplicate and out-of-order
part lists, of completing twice and after an abort."""

import os
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from aistore.sdk.errors import AISError


def test_parts_by_eight_threads_read_back_exact(client):
    bck = client.bucket("mpt")
    bck.create()
    part_size = 200 * 1024 * 1024 // 16  # 200 MiB in 16 parts
    parts = [os.urandom(1024) * (part_size // 1024) for _ in range(16)]
    obj = bck.object("big/model.bin")
    mpu = obj.multipart_upload().create()
    assert mpu.upload_id and '"' not in mpu.upload_id
    writers = {n: mpu.add_part(n) for n in range(16, 0, -1)}  # added out of order

    def upload(n):
        writers[n].put_content(parts[n - 1])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(upload, range(1, 17)))
    mpu.parts.sort()
    assert mpu.complete().status_code == 200
    attrs = obj.head(props="chunked,size")
    assert attrs.size == 16 * part_size
    assert attrs.chunks is not None and attrs.chunks.chunk_count == 16
    assert attrs.chunks.max_chunk_size == part_size
    got = obj.get_reader().read_all()
    assert len(got) == 16 * part_size
    for i in range(16):
        assert got[i * part_size:(i + 1) * part_size] == parts[i], f"part {i + 1}"
    # A normal PUT replaces it with a monolithic object.
    obj.get_writer().put_content(b"small now")
    assert obj.get_reader().read_all() == b"small now"
    assert obj.head(props="chunked").chunks is None


def test_completion_errors(client):
    url = client.test_url
    bck = client.bucket("mpterr")
    bck.create()
    obj = bck.object("o")

    def fresh(numbers):
        m = obj.multipart_upload().create()
        for n in numbers:
            m.add_part(n).put_content(b"part %d;" % n)
        return m

    def complete(m, numbers):
        return requests.post(f"{url}/v1/objects/mpterr/o", params={"uploadId": m.upload_id},
                             json={"action": "mpt-complete",
                                   "value": [{"part-number": n, "etag": ""} for n in numbers]}, timeout=30)

    m = fresh([1, 2, 3])
    for numbers, why in (([], "no chunks"), ([1, 4], "part 4"), ([1, 1, 2], "partial completion")):
        r = complete(m, numbers)
        assert r.status_code == 400 and why in r.text, (numbers, r.status_code, r.text)
    # As AIStore's: parts listed in any order are joined by number, and may skip stored ones.
    assert complete(m, [3, 1]).status_code == 200
    assert obj.get_reader().read_all() == b"part 1;part 3;"
    r = complete(m, [1, 3])
    assert r.status_code == 404, ("completed twice", r.status_code, r.text)

    m = fresh([1])
    assert m.abort().status_code == 200
    assert complete(m, [1]).status_code == 404
    with pytest.raises(AISError) as e:
        m.add_part(2).put_content(b"late")
    assert e.value.status_code == 404
    assert obj.get_reader().read_all() == b"part 1;part 3;", "a failed upload changes nothing"
    r = requests.put(f"{url}/v1/objects/mpterr/o", params={"uploadId": "nosuch", "partNumber": "1"},
                     data=b"x", timeout=30)
    assert r.status_code == 404, r.text
    m = fresh([])
    r = requests.put(f"{url}/v1/objects/mpterr/o", params={"uploadId": m.upload_id, "partNumber": "0"},
                     data=b"x", timeout=30)
    assert r.status_code == 400, r.text
