"""Helpers for the container tests: docker and docker-compose calls, waiting, the cluster map."""

import json
import os
import pathlib
import subprocess
import time

import requests

ROOT = pathlib.Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose" / "docker-compose.yml"
PROJECT = "aisci"
IMAGE = "aisnode:ci"
PROXY = "http://127.0.0.1:18080"
TARGETS = {"target1": "http://127.0.0.1:18081", "target2": "http://127.0.0.1:18082"}
# Every Compose call passes the same cluster secret, so a recreated node signs alike.
SECRET = os.urandom(16).hex()


def run(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, **kw)


def compose(*args, check=True, env=None):
    e = dict(os.environ, AISNODE_IMAGE=IMAGE, AIS_CLUSTER_SECRET=SECRET, **(env or {}))
    # The seccomp path in the file is relative to the working directory.
    return run("docker-compose", "-p", PROJECT, "-f", str(COMPOSE), *args, check=check, env=e, cwd=COMPOSE.parent)


def container(service):
    return f"{PROJECT}_{service}_1"


def smap():
    return requests.get(f"{PROXY}/v1/daemon?what=smap", timeout=5).json()


def wait(what, cond, limit=30.0):
    start = time.time()
    while True:
        try:
            if cond():
                return time.time() - start
        except (requests.RequestException, ValueError, KeyError):
            pass
        assert time.time() - start < limit, f"timed out waiting for {what}"
        time.sleep(0.1)


def target_ids():
    return {name: requests.get(f"{url}/v1/daemon?what=snode", timeout=5).json()["daemon_id"] for name, url in TARGETS.items()}


def inspect(name, fmt):
    return run("docker", "inspect", "-f", fmt, name).stdout.strip()


def engines(url):
    return set(requests.get(f"{url}/v1/daemon?what=mountpaths", timeout=5).json()["io_engines"].values())


def json_of(text):
    return json.loads(text)
