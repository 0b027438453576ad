"""Builds the aisnode image from the static release binary and runs the Compose cluster."""

import pytest

from compose_env import IMAGE, ROOT, compose, run, smap, wait


@pytest.fixture(scope="session")
def image():
    binary = ROOT / "target" / "x86_64-unknown-linux-musl" / "release" / "aisnode"
    assert binary.exists(), f"build the static binary first: {binary}"
    run("docker", "build", "--target", "prebuilt", "-t", IMAGE, str(ROOT))
    return IMAGE


@pytest.fixture(scope="session")
def cluster(image):
    compose("down", "-v", check=False)
    compose("up", "-d")
    try:
        wait("both targets in the map", lambda: len(smap()["tmap"]) == 2)
        yield
    finally:
        logs = compose("logs", "--no-color", check=False).stdout
        (ROOT / "target" / "compose-logs.txt").write_text(logs)
        compose("down", "-v", check=False)
