"""Promote (`Object.promote`): files on the targets' filesystem become objects. A shared
directory every target sees, recursive or not, overwrite or skip, delete the source;
refused outside `promote_roots` and when promote is off."""

import os

import pytest
from aistore.sdk import Client
from aistore.sdk.errors import AISError

from nodes import fail_fast, start_cluster, start_target


def promoted(client, job_id):
    """The job's counts summed over the targets (objects, bytes)."""
    assert client.job(job_id).wait(timeout=30).success
    snaps = client.job(job_id).get_details().list_snapshots()
    return sum(s.stats.objects for s in snaps), sum(s.stats.bytes for s in snaps)


def test_promote_a_shared_directory(tmp_path):
    share = tmp_path / "share"
    files = {f"d{i % 3}/f{i}.bin": os.urandom(100 + 37 * i) for i in range(30)}
    files["top.txt"] = b"top"
    for rel, data in files.items():
        (share / rel).parent.mkdir(parents=True, exist_ok=True)
        (share / rel).write_bytes(data)
    cfg = tmp_path / "target.toml"
    cfg.write_text(f'promote_roots = ["{share.resolve()}"]\n')
    proxy, targets = start_cluster(tmp_path / "c", n_targets=3, target_extra=["--config", str(cfg)])
    try:
        client = Client(proxy.url, retry_config=fail_fast(), timeout=30)
        bck = client.bucket("prom")
        bck.create()
        done = promoted(client, bck.object("imported").promote(str(share), recursive=True))
        assert done == (31, sum(map(len, files.values()))), done
        for rel, data in files.items():
            assert bck.object(f"imported/{rel}").get_reader().read_all() == data, rel
        # Each target stored what HRW gives it: the objects are spread.
        held = [sum(1 for _, _, fs in os.walk(os.path.join(mp, "@ais", "prom", "%ob")) for _ in fs)
                for t in targets for mp in t.mountpaths]
        assert sum(held) == 31 and sum(1 for h in held if h) >= 3, held

        again = promoted(client, bck.object("imported").promote(str(share), recursive=True))
        assert again == (0, 0), "every file was there already: skipped"
        over = promoted(client, bck.object("imported").promote(str(share), recursive=True, overwrite_dest=True))
        assert over[0] == 31, over

        flat = promoted(client, bck.object("flat").promote(str(share)))
        assert flat[0] == 1, "not recursive: the top-level file only"
        assert bck.object("flat/top.txt").get_reader().read_all() == b"top"

        one = share / "d0" / "f0.bin"
        promoted(client, bck.object("single").promote(str(one), delete_source=True))
        assert bck.object("single").get_reader().read_all() == files["d0/f0.bin"]
        assert not one.exists(), "delete_source removed the file"

        with pytest.raises(AISError) as e:
            bck.object("x").promote(str(tmp_path))  # outside promote_roots
        assert e.value.status_code == 403
        with pytest.raises(AISError) as e:
            client.bucket("nobucket").object("x").promote(str(share))
        assert e.value.status_code == 404
        with pytest.raises(AISError) as e:
            bck.object("x").promote(str(share / "no-such-file"))
        assert e.value.status_code == 404
        with pytest.raises(AISError) as e:
            bck.object("x").promote(str(share / ".." / "target.toml"))
        assert e.value.status_code == 403
    finally:
        for n in [proxy] + targets:
            n.proc.kill()
            n.proc.wait()


def test_promote_is_off_by_default(tmp_path):
    node = start_target(tmp_path, n_mountpaths=1)
    try:
        client = Client(node.url, retry_config=fail_fast(), timeout=30)
        client.bucket("p").create()
        with pytest.raises(AISError) as e:
            client.bucket("p").object("passwd").promote("/etc/passwd")
        assert e.value.status_code == 403 and "promote_roots" in str(e.value)
        assert client.bucket("p").list_all_objects() == []
    finally:
        node.proc.kill()
        node.proc.wait()
