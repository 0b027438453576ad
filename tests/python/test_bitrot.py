"""Bitrot: a byte flipped in an object's file on disk is never served as good."""

import os

import pytest
import requests

from nodes import start_target


@pytest.fixture(params=["uring", "psync"])
def direct_target(request, tmp_path):
    """A lone target reading with O_DIRECT: every read comes from the disk, so the test
    does not depend on evicting pages from the page cache (which the kernel may refuse)."""
    node = start_target(tmp_path, n_mountpaths=1, engine=request.param, extra=["--direct-io"])
    yield node
    node.proc.kill()
    node.proc.wait()


def test_flipped_byte_in_a_small_object_is_not_served(direct_target):
    target = direct_target
    u = target.url
    requests.post(f"{u}/v1/buckets/b", json={"action": "create-bck"}, timeout=5).raise_for_status()
    data = os.urandom(10_000)
    requests.put(f"{u}/v1/objects/b/o", data=data, timeout=5).raise_for_status()
    assert requests.get(f"{u}/v1/objects/b/o", timeout=5).content == data
    path = next(p for p in (os.path.join(mp, "@ais", "b", "%ob", "o") for mp in target.mountpaths) if os.path.exists(p))
    fd = os.open(path, os.O_RDWR)
    try:
        os.pwrite(fd, bytes([data[5000] ^ 0x01]), 5000)
        os.fsync(fd)
    finally:
        os.close(fd)
    # Refused before the headers (500) or cut before the body completes: never the
    # whole body with a 200.
    try:
        r = requests.get(f"{u}/v1/objects/b/o", timeout=5)
        served = (r.status_code, len(r.content), r.content == data)
    except requests.RequestException as e:
        served = repr(e)
    assert not (isinstance(served, tuple) and served[0] == 200 and served[1] == len(data)), served
    if isinstance(served, tuple):
        assert served[0] == 500, served
