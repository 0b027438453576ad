"""Fixtures for the SDK tests: a lone target per engine, and a proxy with three targets."""

import pytest
from aistore.sdk import Client

from nodes import fail_fast, start_cluster, start_target


@pytest.fixture(params=["uring", "psync"])
def target(request, tmp_path):
    node = start_target(tmp_path, engine=request.param)
    yield node
    node.proc.kill()
    node.proc.wait()


@pytest.fixture
def cluster(tmp_path):
    proxy, targets = start_cluster(tmp_path)
    yield proxy, targets
    for node in [proxy] + targets:
        node.proc.kill()
        node.proc.wait()


@pytest.fixture(params=["target-uring", "target-psync", "cluster"])
def client(request, tmp_path):
    """The same SDK tests against a lone target (each engine) and through a proxy."""
    if request.param == "cluster":
        nodes = list(start_cluster(tmp_path))
        url = nodes[0].url
        nodes = [nodes[0]] + nodes[1]
    else:
        node = start_target(tmp_path, engine=request.param.split("-")[1])
        url, nodes = node.url, [node]
    c = Client(url, retry_config=fail_fast(), timeout=60)
    c.test_url = url  # for the tests that also speak raw HTTP
    yield c
    for node in nodes:
        node.proc.kill()
        node.proc.wait()
