"""Helpers that start real aisnode processes on loopback for the SDK tests."""

import os
import pathlib
import secrets
import signal
import subprocess
import time

import requests
import requests.auth

from urllib3.util.retry import Retry
from tenacity import Retrying, stop_after_attempt

from aistore.sdk import Client
from aistore.sdk.retry_config import RetryConfig

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("AISNODE_BIN", ROOT / "target" / "debug" / "aisnode"))


def fail_fast():
    """No retries: a failure shows at once instead of after ~90 s of backoff."""
    return RetryConfig(
        http_retry=Retry(total=0, connect=0, read=0, status_forcelist=[]),
        network_retry=Retrying(stop=stop_after_attempt(1), reraise=True),
    )


class SigV4(requests.auth.AuthBase):
    """Signs a request with an S3 key pair (SigV4, botocore's own signer): how a native
    request proves itself to a cluster that has S3 keys and no AuthN."""

    def __init__(self, key, secret):
        from botocore.credentials import Credentials
        self.creds = Credentials(key, secret)

    def __call__(self, r):
        from botocore.auth import S3SigV4Auth
        from botocore.awsrequest import AWSRequest
        body = r.body if r.body is not None else b""
        aws = AWSRequest(method=r.method, url=r.url, data=body, headers={k: v for k, v in r.headers.items()})
        S3SigV4Auth(self.creds, "s3", "us-east-1").add_auth(aws)
        for k in ("Authorization", "X-Amz-Date", "X-Amz-Content-SHA256"):
            if k in aws.headers:
                r.headers[k] = aws.headers[k]
        return r


def s3_keys_auth(extra):
    """The SigV4 signer for a node started with --s3-access-key/--s3-secret-key in `extra`."""
    extra = list(extra)
    if "--s3-access-key" in extra and "--s3-secret-key" in extra:
        return SigV4(extra[extra.index("--s3-access-key") + 1], extra[extra.index("--s3-secret-key") + 1])
    return None


class Node:
    def __init__(self, proc, url, node_id, mountpaths):
        self.proc, self.url, self.id, self.mountpaths = proc, url, node_id, mountpaths

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


def start_node(args, log_path, env=None):
    log = open(log_path, "wb")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, env=None if env is None else {**os.environ, **env})
    line = proc.stdout.readline().decode()
    assert "listening on" in line, f"node did not start: {log_path.read_text()}"
    words = line.split()
    return proc, words[-1], words[2]


def start_target(tmp: pathlib.Path, n_mountpaths=4, engine="auto", extra=(), env=None):
    assert BIN.exists(), f"build aisnode first: {BIN} is missing"
    mps = []
    for i in range(1, n_mountpaths + 1):
        mp = tmp / f"mp{i}"
        mp.mkdir(parents=True, exist_ok=True)
        mps.append(str(mp.resolve()))
    args = [str(BIN), "target", "--port", "0", "--host", "127.0.0.1", "--allow-shared-fs", "--io-engine", engine]
    for mp in mps:
        args += ["--mountpath", mp]
    proc, url, node_id = start_node(args + list(extra), tmp / "target.log", env)
    return Node(proc, url, node_id, mps)


def start_cluster(tmp: pathlib.Path, n_targets=3, proxy_extra=(), target_extra=(), env=None, token=None,
                  node_names=None, log_dirs=False):
    """A proxy and n targets with 2 mountpaths each, as separate processes; `env` is
    added to every node's environment, `token` (when AuthN is on) is sent while waiting;
    `node_names[i]` is the machine target i says it runs on (default: this host); with
    `log_dirs` every node keeps its log files in a directory of its own."""
    state = tmp / "proxy"
    state.mkdir(parents=True)
    # Targets join only with the cluster's secret: one per cluster unless the test gives its own.
    env = dict(env or {})
    if not any(k in env for k in ("AIS_CLUSTER_SECRET", "AIS_AUTHN_SECRET_KEY", "AIS_NO_CLUSTER_SECRET")):
        env["AIS_CLUSTER_SECRET"] = secrets.token_hex(16)
    proc, url, node_id = start_node(
        [str(BIN), "proxy", "--port", "0", "--host", "127.0.0.1", "--state-dir", str(state), *proxy_extra,
         *(["--log-dir", str(tmp / "proxy-log")] if log_dirs else [])],
        tmp / "proxy.log",
        env,
    )
    proxy = Node(proc, url, node_id, [])
    proxy.env = env  # what a target started later needs to join (the cluster secret)
    targets = [
        start_target(tmp / f"t{i}", n_mountpaths=2, env=env,
                     extra=["--proxy", url, *target_extra,
                            *(["--log-dir", str(tmp / f"t{i}" / "log")] if log_dirs else []),
                            *(["--node-name", node_names[i]] if node_names else [])])
        for i in range(n_targets)
    ]
    for t, name in zip(targets, node_names or []):
        t.node_name = name
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    auth = None if token else s3_keys_auth(proxy_extra)
    proxy.auth = auth  # signs native requests when the cluster has S3 keys and no AuthN
    deadline = time.time() + 15
    while True:
        smap = requests.get(f"{url}/v1/daemon?what=smap", headers=headers, auth=auth, timeout=5).json()
        synced = all(
            requests.get(f"{t.url}/v1/daemon?what=smap", headers=headers, auth=auth, timeout=5).json().get("version")
            == smap["version"]
            for t in targets
        ) if len(smap["tmap"]) == n_targets else False
        if synced:
            break
        assert time.time() < deadline, "targets did not join"
        time.sleep(0.1)
    return proxy, targets


