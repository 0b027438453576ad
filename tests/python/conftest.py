"""Fixtures that start real aisnode processes on loopback for the SDK tests."""

import os
import pathlib
import signal
import subprocess

import pytest
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


class Node:
    def __init__(self, proc, url, node_id, mountpaths):
        self.proc, self.url, self.id, self.mountpaths = proc, url, node_id, mountpaths

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


def start_target(tmp: pathlib.Path, n_mountpaths=4, engine="auto"):
    assert BIN.exists(), f"build aisnode first: {BIN} is missing"
    mps = []
    for i in range(1, n_mountpaths + 1):
        mp = tmp / f"mp{i}"
        mp.mkdir(parents=True, exist_ok=True)
        mps.append(str(mp.resolve()))
    args = [str(BIN), "target", "--port", "0", "--host", "127.0.0.1", "--allow-shared-fs", "--io-engine", engine]
    for mp in mps:
        args += ["--mountpath", mp]
    log = open(tmp / "target.log", "wb")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log)
    line = proc.stdout.readline().decode()
    assert "listening on" in line, f"target did not start: {(tmp / 'target.log').read_text()}"
    words = line.split()
    return Node(proc, words[-1], words[2], mps)


@pytest.fixture(params=["uring", "psync"])
def target(request, tmp_path):
    node = start_target(tmp_path, engine=request.param)
    yield node
    node.proc.kill()
    node.proc.wait()


@pytest.fixture
def client(target):
    return Client(target.url, retry_config=fail_fast(), timeout=30)
