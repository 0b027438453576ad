"""The container image and the Compose cluster, as a user runs them (needs Docker)."""

import pathlib
import subprocess

import requests
from aistore.sdk import Client

from compose_env import (
    PROJECT, PROXY, ROOT, TARGETS, compose, container, engines, inspect, run, smap, target_ids, wait,
)


def sdk():
    from urllib3.util.retry import Retry
    from tenacity import Retrying, stop_after_attempt
    from aistore.sdk.retry_config import RetryConfig

    retry = RetryConfig(
        http_retry=Retry(total=0, connect=0, read=0, status_forcelist=[]),
        network_retry=Retrying(stop=stop_after_attempt(1), reraise=True),
    )
    return Client(PROXY, retry_config=retry, timeout=30)


def test_image_runs_as_non_root_and_turns_healthy(cluster):
    for service in ["proxy", "target1", "target2"]:
        assert inspect(container(service), "{{.Config.User}}") == "10001:10001"
        wait(f"{service} healthy", lambda s=service: inspect(container(s), "{{.State.Health.Status}}") == "healthy", 60)
    # The process inside really is uid 10001: what it writes on its volume says so.
    sdk().bucket("owner").create(exist_ok=True)
    mount = pathlib.Path(run("docker", "volume", "inspect", "-f", "{{.Mountpoint}}", f"{PROJECT}_t1-mp1").stdout.strip())
    bucket_dir = mount / "@ais" / "owner"
    wait("bucket dir on the volume", bucket_dir.exists, 10)
    assert bucket_dir.stat().st_uid == 10001


def test_our_seccomp_profile_allows_io_uring(cluster):
    for url in TARGETS.values():
        assert engines(url) == {"io_uring"}


def test_objects_spread_over_two_targets_on_one_port(cluster):
    for name in TARGETS:
        node = smap()["tmap"][target_ids()[name]]
        assert node["public_net"]["daemon_port"] == TARGETS[name].rsplit(":", 1)[1]
        assert node["intra_control_net"]["direct_url"] == f"http://{name}:9081"
    assert smap()["proxy_si"]["intra_control_net"]["direct_url"] == "http://proxy:9080"
    # The nodes sign their intra-cluster requests: none warns of an open control plane,
    # and a control request on a public port is refused.
    logs = compose("logs", "--no-color", check=False).stdout
    assert "no cluster secret" not in logs, logs[-2000:]
    r = requests.put(f"{TARGETS['target1']}/v1/metasync", json={}, timeout=5)
    assert r.status_code == 403, r.text
    client = sdk()
    bck = client.bucket("spread")
    bck.create(exist_ok=True)
    for i in range(60):
        bck.object(f"o{i}").get_writer().put_content(b"x%d" % i)
    counts = {}
    for name, url in TARGETS.items():
        page = requests.get(f"{url}/v1/buckets/spread", json={"action": "list", "value": {}}, timeout=10).json()
        counts[name] = len(page["entries"])
    assert sum(counts.values()) == 60
    assert all(n > 0 for n in counts.values()), counts
    assert [e.name for e in bck.list_all_objects(page_size=7)] == sorted(f"o{i}" for i in range(60))


def _owned_by(bucket, target_url):
    page = requests.get(f"{target_url}/v1/buckets/{bucket}", json={"action": "list", "value": {}}, timeout=10).json()
    return [e["name"] for e in page["entries"]]


def test_killed_target_leaves_map_and_returns_with_data(cluster):
    client = sdk()
    bck = client.bucket("kill")
    bck.create(exist_ok=True)
    for i in range(30):
        bck.object(f"k{i}").get_writer().put_content(b"k%d" % i)
    ids = target_ids()
    mine = _owned_by("kill", TARGETS["target2"])
    assert mine
    run("docker", "kill", container("target2"))
    took = wait("target2 removed", lambda: ids["target2"] not in smap()["tmap"], 30)
    assert took < 20
    run("docker", "start", container("target2"))
    wait("target2 back", lambda: ids["target2"] in smap()["tmap"], 30)
    wait("target2 has the map", lambda: requests.get(f"{TARGETS['target2']}/v1/daemon?what=smap", timeout=5).json()["version"] == smap()["version"], 30)
    assert target_ids()["target2"] == ids["target2"], "same node ID after restart"
    for name in mine:
        assert bck.object(name).get_reader().read_all() == b"k" + name[1:].encode()


def test_network_partition_is_noticed_and_healed(cluster):
    ids = target_ids()
    network = f"{PROJECT}_ais"
    run("docker", "network", "disconnect", network, container("target1"))
    try:
        wait("target1 removed after the partition", lambda: ids["target1"] not in smap()["tmap"], 30)
    finally:
        run("docker", "network", "connect", "--alias", "target1", network, container("target1"))
    wait("target1 rejoined", lambda: ids["target1"] in smap()["tmap"], 30)
    client = sdk()
    bck = client.bucket("heal")
    bck.create(exist_ok=True)
    for i in range(20):
        bck.object(f"h{i}").get_writer().put_content(b"h")
    assert len(_owned_by("heal", TARGETS["target1"])) > 0


def test_fallback_to_psync_when_seccomp_blocks_io_uring(image, tmp_path):
    """Docker 25+ and containerd block io_uring by default; no-io-uring.json does the same."""
    name = "aisci-fallback"
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    run(
        "docker", "run", "-d", "--name", name,
        "--security-opt", f"seccomp={ROOT / 'deploy' / 'seccomp' / 'no-io-uring.json'}",
        "-e", "AIS_MOUNTPATHS=/var/lib/ais/mp1", "-p", "127.0.0.1:18089:8081", image, "target",
    )
    try:
        wait("fallback target up", lambda: requests.get("http://127.0.0.1:18089/v1/health", timeout=2).ok, 30)
        assert engines("http://127.0.0.1:18089") == {"psync"}
        logs = run("docker", "logs", name).stderr
        assert "falling back to positional read/write" in logs
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def test_uring_only_engine_refuses_to_start_without_io_uring(image):
    """--io-engine uring makes a missing io_uring a start-up error, not a silent fallback."""
    out = subprocess.run(
        [
            "docker", "run", "--rm",
            "--security-opt", f"seccomp={ROOT / 'deploy' / 'seccomp' / 'no-io-uring.json'}",
            "-e", "AIS_MOUNTPATHS=/var/lib/ais/mp1", image, "target", "--io-engine", "uring",
        ],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode != 0
    assert "io_uring unavailable" in out.stderr, out.stderr
