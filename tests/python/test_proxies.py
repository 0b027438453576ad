"""Several proxies: three proxies replicate the cluster map and bucket list through Raft,
any of them serves the whole API, and the loss of the primary costs no acknowledged
write and no bucket. Eight clients (native PUT/GET through each proxy in turn, S3
PUT/GET through the non-primaries) while the primary is killed with kill -9: a request
that fails (a refused connection to the dead proxy, or a 503 during the election) is
retried once after 1 s through the next proxy, and none may fail twice. Then the old
primary restarts on its state directory and rejoins as a follower. Bucket changes go
through each proxy in turn and through one proxy while the primary moves on request
(`setprimary`): each is made everywhere or nowhere."""

import itertools
import os
import secrets
import signal
import socket
import threading
import time

import requests

import s3_helpers
from nodes import BIN, Node, start_node, start_target


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_proxy(tmp, name, env, port, intra, join=None, extra=()):
    state = tmp / name
    state.mkdir(exist_ok=True)
    args = [str(BIN), "proxy", "--host", "127.0.0.1", "--port", str(port), "--intra-port", str(intra),
            "--state-dir", str(state)]
    if join:
        args += ["--primary-url", join]
    args += list(extra)
    proc, url, node_id = start_node(args, tmp / f"{name}.log", env)
    node = Node(proc, url, node_id, [])
    node.port, node.intra, node.name = port, intra, name
    return node


def smap(proxy):
    return requests.get(f"{proxy.url}/v1/daemon?what=smap", timeout=5).json()


def bucket_names(url):
    return sorted(b["name"] for b in requests.get(f"{url}/v1/buckets", timeout=5).json())


def wait(what, cond, limit=30, state=None):
    deadline = time.time() + limit
    while True:
        try:
            if cond():
                return
        except requests.RequestException:
            pass
        if time.time() >= deadline:
            seen = state() if state else ""
            raise AssertionError(f"timed out waiting for {what}{seen}")
        time.sleep(0.05)


def start_all(tmp):
    env = {"AIS_CLUSTER_SECRET": secrets.token_hex(16)}
    ports = [(free_port(), free_port()) for _ in range(3)]
    first = start_proxy(tmp, "p1", env, *ports[0])
    proxies = [first] + [start_proxy(tmp, f"p{i + 1}", env, *ports[i], join=first.url) for i in (1, 2)]
    targets = [start_target(tmp / f"t{i}", n_mountpaths=2, env=env, extra=["--proxy", first.url])
               for i in range(3)]

    def settled():
        maps = [smap(p) for p in proxies]
        return (all(len(m["tmap"]) == 3 and len(m["pmap"]) == 3 for m in maps)
                and len({m["version"] for m in maps}) == 1
                and all(requests.get(f"{p.url}/v1/health?readiness=true", timeout=5).ok for p in proxies))
    def seen():
        out = []
        for p in proxies:
            try:
                m = smap(p)
                ready = requests.get(f"{p.url}/v1/health?readiness=true", timeout=5)
                out.append(f"{p.name}: v{m['version']} pmap={sorted(m['pmap'])} tmap={sorted(m['tmap'])} "
                           f"ready={ready.status_code} {ready.text[:200]}")
            except requests.RequestException as e:
                out.append(f"{p.name}: {e}")
        return "\n" + "\n".join(out)
    wait("3 proxies and 3 targets in every proxy's map", settled, state=seen)
    return env, proxies, targets


def stop(nodes):
    for n in nodes:
        if n.proc.poll() is None:
            n.proc.kill()
            n.proc.wait()


def primary_of(proxies):
    return smap(proxies[0])["proxy_si"]["daemon_id"]


def test_primary_killed_under_load_loses_nothing(tmp_path):
    env, proxies, targets = start_all(tmp_path)
    try:
        old = next(p for p in proxies if p.id == primary_of(proxies))
        others = [p for p in proxies if p is not old]
        # A bucket made through a proxy that is not the primary exists on all of them.
        assert requests.post(f"{others[0].url}/v1/buckets/load", json={"action": "create-bck"}, timeout=10).ok
        wait("bucket on every proxy", lambda: all("load" in bucket_names(p.url) for p in proxies))

        acked, failed, retried, lock = {}, [], [0], threading.Lock()
        stop_at = [None]
        order = itertools.count()

        def attempt(fn, via):
            """One request through the next proxy of `via` in turn, and one retry after 1 s
            through the one after it (as a Service moves on from an endpoint that failed)."""
            k = next(order)
            for i in range(2):
                p = via[(k + i) % len(via)]
                try:
                    return fn(p)
                except Exception as e:  # a refused connection, a 503, a wrong answer
                    if i == 1:
                        with lock:
                            failed.append(f"{p.name}: {e}")
                        return None
                    with lock:
                        retried[0] += 1
                    time.sleep(1)

        def native(worker):
            n = 0
            while stop_at[0] is None or time.time() < stop_at[0]:
                key, data = f"n{worker}-{n}", os.urandom(1000 + n % 5000)
                n += 1

                def put(p, key=key, data=data):
                    r = requests.put(f"{p.url}/v1/objects/load/{key}", data=data, timeout=10)
                    assert r.status_code == 200, f"PUT {r.status_code} {r.text[:200]}"
                    return True
                if not attempt(put, proxies):
                    continue
                with lock:
                    acked[key] = data

                def get(p, key=key, data=data):
                    r = requests.get(f"{p.url}/v1/objects/load/{key}", timeout=10)
                    assert r.status_code == 200 and r.content == data, f"GET {key}: {r.status_code}"
                attempt(get, proxies)

        def s3(worker):
            n = 0
            while stop_at[0] is None or time.time() < stop_at[0]:
                key, data = f"s{worker}-{n}", os.urandom(2000 + n % 3000)
                n += 1

                def put(p, key=key, data=data):
                    s3_helpers.client(f"{p.url}/s3").put_object(Bucket="load", Key=key, Body=data)
                    return True
                if not attempt(put, others):
                    continue
                with lock:
                    acked[key] = data

                def get(p, key=key, data=data):
                    got = s3_helpers.client(f"{p.url}/s3").get_object(Bucket="load", Key=key)["Body"].read()
                    assert got == data, f"S3 GET {key}: wrong bytes"
                attempt(get, others)

        versions = {p.name: [] for p in others}

        def watch():
            while stop_at[0] is None or time.time() < stop_at[0]:
                for p in others:
                    try:
                        versions[p.name].append(int(smap(p)["version"]))
                    except requests.RequestException:
                        pass
                time.sleep(0.05)

        threads = [threading.Thread(target=native, args=(w,)) for w in range(6)]
        threads += [threading.Thread(target=s3, args=(w,)) for w in range(2)]
        threads.append(threading.Thread(target=watch))
        for t in threads:
            t.start()
        time.sleep(2)
        killed_at = time.time()
        os.kill(old.proc.pid, signal.SIGKILL)
        old.proc.wait()
        # A bucket created while the proxies elect: made, or refused cleanly and made on retry.
        r = requests.post(f"{others[1].url}/v1/buckets/during", json={"action": "create-bck"}, timeout=15)
        if r.status_code == 503:
            time.sleep(1)
            r = requests.post(f"{others[1].url}/v1/buckets/during", json={"action": "create-bck"}, timeout=15)
        assert r.ok, r.text
        wait("a new primary", lambda: smap(others[0])["proxy_si"]["daemon_id"] != old.id
             and smap(others[0])["proxy_si"]["daemon_id"] in {p.id for p in others})
        print(f"new primary named in the map {time.time() - killed_at:.2f} s after the kill")
        stop_at[0] = time.time() + 6
        for t in threads:
            t.join()

        assert not failed, f"{len(failed)} requests failed twice: {failed[:5]}"
        print(f"{len(acked)} objects acknowledged, {retried[0]} requests retried once")
        for name, seen in versions.items():
            assert seen == sorted(seen), f"{name}: the map version went back: {seen}"
        new = smap(others[0])["proxy_si"]["daemon_id"]
        for p in others:
            assert bucket_names(p.url) == ["during", "load"]
            assert smap(p)["proxy_si"]["daemon_id"] == new
        for i, (key, data) in enumerate(sorted(acked.items())):
            r = requests.get(f"{others[i % 2].url}/v1/objects/load/{key}", timeout=10)
            assert r.status_code == 200 and r.content == data, f"acknowledged {key} lost: {r.status_code}"

        # The old primary comes back on its state and follows.
        back = start_proxy(tmp_path, old.name, env, old.port, old.intra)
        proxies = others + [back]
        assert back.id == old.id
        wait("the old primary caught up, as a follower",
             lambda: smap(back)["version"] == smap(others[0])["version"]
             and smap(back)["proxy_si"]["daemon_id"] == new
             and requests.get(f"{back.url}/v1/health?readiness=true", timeout=5).ok)
        assert bucket_names(back.url) == ["during", "load"]
        assert requests.post(f"{back.url}/v1/buckets/after", json={"action": "create-bck"}, timeout=10).ok
        wait("a bucket made through it everywhere", lambda: all("after" in bucket_names(p.url) for p in proxies))
    finally:
        stop(proxies + targets)


def test_bucket_changes_through_each_proxy_and_a_primary_moved_on_request(tmp_path):
    env, proxies, targets = start_all(tmp_path)
    try:
        # Create, set props and destroy through each proxy in turn: seen by every node.
        for i, p in enumerate(proxies):
            name = f"b{i}"
            assert requests.post(f"{p.url}/v1/buckets/{name}", json={"action": "create-bck"}, timeout=10).ok
            props = {"action": "set-bprops", "value": {"mirror": {"enabled": True, "copies": 2}}}
            assert requests.patch(f"{proxies[(i + 1) % 3].url}/v1/buckets/{name}", json=props, timeout=10).ok
            for q in proxies:
                assert name in bucket_names(q.url), f"{name} missing on {q.name}"
                head = requests.head(f"{q.url}/v1/buckets/{name}", timeout=10)
                assert head.ok and '"copies":2' in head.headers.get("Ais-Bucket-Props", "").replace(" ", ""), q.name
            for t in targets:
                wait(f"{name} on target {t.id}", lambda t=t: name in bucket_names(t.url))
        assert requests.delete(f"{proxies[2].url}/v1/buckets/b0", json={"action": "destroy-bck"}, timeout=10).ok
        for q in proxies:
            assert "b0" not in bucket_names(q.url)
        # A second create of the same name through another proxy is refused.
        r = requests.post(f"{proxies[0].url}/v1/buckets/b1", json={"action": "create-bck"}, timeout=10)
        assert r.status_code == 409, r.text

        # Move the primary on request while buckets are created through another proxy.
        old = primary_of(proxies)
        to = next(p for p in proxies if p.id != old)
        via = next(p for p in proxies if p.id not in (old, to.id))
        made, refused, done = [], [], threading.Event()

        def create():
            n = 0
            while not done.is_set():
                r = requests.post(f"{via.url}/v1/buckets/m{n}", json={"action": "create-bck"}, timeout=15)
                (made if r.ok else refused).append((f"m{n}", r.status_code, r.text[:200]))
                n += 1
        t = threading.Thread(target=create)
        t.start()
        time.sleep(0.5)
        r = requests.put(f"{via.url}/v1/cluster/proxy/{to.id}", timeout=30)
        assert r.ok, r.text
        time.sleep(1)
        done.set()
        t.join()
        for p in proxies:
            wait(f"{to.name} primary on {p.name}", lambda p=p: smap(p)["proxy_si"]["daemon_id"] == to.id)
        assert all(code == 503 for _, code, _ in refused), refused
        wait("one bucket list everywhere", lambda: len({tuple(bucket_names(p.url)) for p in proxies}) == 1)
        have = set(bucket_names(proxies[0].url))
        assert {m for m, _, _ in made} <= have
        assert not {m for m, _, _ in refused} & have, "a refused create left its bucket behind"
        assert len(made) > 0
        print(f"{len(made)} buckets made and {len(refused)} refused while the primary moved")

        # A non-electable proxy joins as a Raft learner: it serves, it is never primary,
        # and a decommission takes it out of the membership and stops it.
        p4 = start_proxy(tmp_path, "p4", env, free_port(), free_port(), join=proxies[0].url,
                         extra=["--non-electable"])
        proxies.append(p4)
        wait("p4 in every map", lambda: all(p4.id in smap(p)["pmap"] for p in proxies))
        assert smap(p4)["pmap"][p4.id]["flags"] & 1 == 1
        assert bucket_names(p4.url) == bucket_names(proxies[0].url)
        r = requests.put(f"{p4.url}/v1/cluster/proxy/{p4.id}", timeout=10)
        assert r.status_code == 400 and "non-electable" in r.text, r.text
        r = requests.put(f"{proxies[0].url}/v1/cluster", timeout=30,
                         json={"action": "decommission-node", "value": {"sid": p4.id}})
        assert r.ok, r.text
        assert p4.proc.wait(timeout=30) == 0
        for p in proxies[:3]:
            assert p4.id not in smap(p)["pmap"]
        assert requests.post(f"{proxies[1].url}/v1/buckets/last", json={"action": "create-bck"}, timeout=10).ok
    finally:
        stop(proxies + targets)
