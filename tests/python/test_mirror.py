"""N-way mirror: `make-n-copies` on a bucket with objects gives each a second copy on the
target's other mountpath; a PUT after that is answered with both copies written; with
readers running, main copies are corrupted on disk or deleted: no read fails, every byte
is checked, and the lost copies are made again. The target reads with O_DIRECT, so every
read meets the disk (and its damage)."""

import os
import threading
import time

import requests

from nodes import start_cluster

N = 100


def content(i):
    return (b"mirrored-%05d|" % i) * (300 + 290 * (i % 15))  # 4 to 62 KiB


def paths(target, name):
    return [os.path.join(mp, "@ais", "m", "%ob", name) for mp in target.mountpaths]


def copies(target, name):
    """Files of the object that hold exactly its bytes."""
    good = 0
    for p in paths(target, name):
        if os.path.isfile(p):
            with open(p, "rb") as f:
                good += f.read() == content(int(name[1:]))
    return good


def wait_for(what, check, limit=60):
    t0 = time.time()
    while not check():
        assert time.time() - t0 < limit, f"not within {limit} s: {what}"
        time.sleep(0.2)


def test_copies_made_served_when_the_main_copy_is_damaged_and_made_again(tmp_path):
    proxy, (target,) = start_cluster(tmp_path, n_targets=1, target_extra=["--direct-io"])
    try:
        s, url = requests.Session(), proxy.url
        assert s.post(f"{url}/v1/buckets/m", json={"action": "create-bck"}, timeout=10).ok
        for i in range(N):
            assert s.put(f"{url}/v1/objects/m/o{i}", data=content(i), timeout=10).status_code == 200
        assert sum(copies(target, f"o{i}") for i in range(N)) == N, "one copy each before the mirror"

        # AIStore's action: mirror.copies=2, and a make-n-copies job on the target.
        r = s.post(f"{url}/v1/buckets/m", json={"action": "make-n-copies", "value": 2}, timeout=10)
        assert r.status_code == 200, r.text
        props = s.head(f"{url}/v1/buckets/m", timeout=10).headers["Ais-Bucket-Props"]
        assert '"copies":2' in props.replace(" ", ""), props
        wait_for("two copies of every object", lambda: all(copies(target, f"o{i}") == 2 for i in range(N)))
        # New objects: both copies written before the PUT is answered.
        for i in range(N, 2 * N):
            assert s.put(f"{url}/v1/objects/m/o{i}", data=content(i), timeout=10).status_code == 200
            assert copies(target, f"o{i}") == 2, f"o{i}: PUT answered before its copies"
        h = s.head(f"{url}/v1/objects/m/o1", timeout=10, allow_redirects=True)
        assert h.headers["Ais-Mirror-Copies"] == "2", h.headers
        assert sorted(h.headers["Ais-Mirror-Paths"].split(",")) == sorted(target.mountpaths), h.headers

        stop, failures, reads = threading.Event(), [], [0]

        def reader(k):
            sess, i = requests.Session(), k
            while not stop.is_set():
                i = (i + 7) % (2 * N)
                r = sess.get(f"{url}/v1/objects/m/o{i}", timeout=30)
                reads[0] += 1
                if r.status_code != 200 or r.content != content(i):
                    failures.append((i, r.status_code, r.content[:100]))

        threads = [threading.Thread(target=reader, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        time.sleep(1)
        # The copy each read opens first (HEAD names it), damaged: one byte flipped in
        # half of them, the file deleted in the other half.
        damaged = []
        for i in range(0, 2 * N, 2):
            where = s.head(f"{url}/v1/objects/m/o{i}", timeout=10, allow_redirects=True).headers["Ais-Location"].split(":", 1)[1]
            path = os.path.join(where, "@ais", "m", "%ob", f"o{i}")
            if i % 4 == 0:
                fd = os.open(path, os.O_RDWR)
                os.pwrite(fd, bytes([content(i)[100] ^ 0xFF]), 100)
                os.fsync(fd)
                os.close(fd)
            else:
                os.remove(path)
            damaged.append(i)
        time.sleep(3)
        stop.set()
        for t in threads:
            t.join()
        assert not failures, f"{len(failures)} of {reads[0]} reads failed: {failures[:3]}"
        # Every damaged object read once more, then its two copies are back.
        for i in damaged:
            r = s.get(f"{url}/v1/objects/m/o{i}", timeout=10)
            assert r.status_code == 200 and r.content == content(i), (i, r.status_code)
        wait_for("damaged copies made again", lambda: all(copies(target, f"o{i}") == 2 for i in damaged))
        print(f"{reads[0]} reads under damage, 0 failed; {len(damaged)} damaged copies made again")
        # Down to one copy on request.
        assert s.post(f"{url}/v1/buckets/m", json={"action": "make-n-copies", "value": 1}, timeout=10).ok
        wait_for("one copy each", lambda: all(copies(target, f"o{i}") == 1 for i in range(2 * N)))
    finally:
        for n in (proxy, target):
            n.proc.kill()
            n.proc.wait()
