"""Deployment files, checked offline: every kustomize overlay renders and validates
(kubernetes-validate --strict), the promises of each overlay hold in the rendered YAML, and
yamllint, hadolint and the generators agree with what is committed."""

import json
import pathlib
import re
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
BIN = pathlib.Path(sys.executable).parent
OVERLAYS = ["one-target-per-node", "multi-target-per-node", "external-lb"]


def tool(name):
    path = BIN / name
    assert path.exists(), f"{name} is missing from the venv (tests/python/requirements.txt)"
    return str(path)


def render(overlay):
    out = subprocess.run([tool("kubectl"), "kustomize", str(K8S / "overlays" / overlay)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def docs(overlay):
    return [d for d in yaml.safe_load_all(render(overlay)) if d]


def find(objs, kind, name):
    found = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert found, f"no {kind}/{name}"
    return found[0]


def pod_specs(objs):
    return [o["spec"]["template"]["spec"] for o in objs if o["kind"] in ("StatefulSet", "Deployment")]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_validates_strictly(overlay, tmp_path):
    f = tmp_path / f"{overlay}.yaml"
    f.write_text(render(overlay))
    out = subprocess.run([tool("kubernetes-validate"), "--strict", str(f)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "passed" in out.stdout + out.stderr


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_common_promises(overlay):
    objs = docs(overlay)
    for spec in pod_specs(objs):
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["fsGroup"] == 10001
        assert spec["terminationGracePeriodSeconds"] >= 45
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["capabilities"]["drop"] == ["ALL"]
            assert c["livenessProbe"]["httpGet"]["path"] == "/v1/health"
            assert c["readinessProbe"]["httpGet"]["path"] == "/v1/health?readiness=true"
            assert c["startupProbe"]["httpGet"]["path"] == "/v1/health?readiness=true"
            # $(VAR) expands only variables defined earlier in the list.
            defined = set()
            for e in c.get("env", []):
                for ref in re.findall(r"\$\((\w+)\)", e.get("value", "")):
                    assert ref in defined, f"{e['name']} uses $({ref}) before it is defined"
                defined.add(e["name"])
    target = find(objs, "StatefulSet", "ais-target")
    assert target["spec"]["podManagementPolicy"] == "Parallel"
    svc = find(objs, "Service", "ais-target")
    assert svc["spec"]["clusterIP"] == "None" and svc["spec"]["publishNotReadyAddresses"] is True
    spec = target["spec"]["template"]["spec"]
    assert spec["securityContext"]["seccompProfile"] == {"type": "Localhost", "localhostProfile": "profiles/aisnode-io-uring.json"}
    env = {e["name"]: e for e in spec["containers"][0]["env"]}
    assert env["MY_POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert env["MY_POD"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["MY_NODE"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    # The target's failure domain is the Kubernetes node (defined after MY_NODE, which it uses).
    names = [e["name"] for e in spec["containers"][0]["env"]]
    assert env["AIS_NODE_NAME"]["value"] == "$(MY_NODE)" and names.index("AIS_NODE_NAME") > names.index("MY_NODE")
    assert env["K8S_NS"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    mounts = {m["name"]: m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
    templates = [t["metadata"]["name"] for t in target["spec"]["volumeClaimTemplates"]]
    assert set(templates) == set(mounts), "one claim template per mountpath"
    assert set(env["AIS_MOUNTPATHS"]["value"].split(",")) == set(mounts.values())
    assert target["spec"]["template"]["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    # The intra-cluster listener on its own port, reached at the pod IP, and the cluster
    # secret (and AuthN key) from Secrets, for the proxy as for the targets.
    for name in ("ais-target", "ais-proxy"):
        c = find(objs, "StatefulSet", name)["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e for e in c["env"]}
        assert env["AIS_INTRA_PORT"]["value"] == "51082"
        # A target's at its pod IP; a proxy's at its stable name (its Raft peers keep it).
        want = "http://$(MY_POD_IP):51082" if name == "ais-target" else "http://$(MY_POD).ais-proxy-hl:51082"
        assert env["AIS_INTRA_URL"]["value"] == want
        ports = {p["name"]: p for p in c["ports"]}
        assert ports["intra"]["containerPort"] == 51082 and "hostPort" not in ports["intra"]
        for var, secret in (("AIS_CLUSTER_SECRET", "ais-cluster-secret"), ("AIS_AUTHN_SECRET_KEY", "ais-authn")):
            ref = env[var]["valueFrom"]["secretKeyRef"]
            assert ref["name"] == secret and ref["key"] == "secret"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_three_proxies_one_per_node_pod_0_starts_the_cluster(overlay):
    objs = docs(overlay)
    sts = find(objs, "StatefulSet", "ais-proxy")
    assert sts["spec"]["replicas"] == 3
    spec = sts["spec"]["template"]["spec"]
    term = spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"] == {"app.kubernetes.io/component": "proxy"}
    hl = find(objs, "Service", sts["spec"]["serviceName"])
    assert hl["spec"]["clusterIP"] == "None" and hl["spec"]["publishNotReadyAddresses"] is True
    env = {e["name"]: e["value"] for e in spec["containers"][0]["env"] if "value" in e}
    # Pod 0's own stable name on the headless Service: it starts the cluster, the rest join.
    assert env["AIS_PRIMARY_EP"] == f"http://{sts['metadata']['name']}-0.{hl['metadata']['name']}:51080"
    # One Service over every proxy is the cluster's endpoint.
    svc = find(objs, "Service", "ais-proxy")
    assert svc["spec"]["selector"] == {"app.kubernetes.io/component": "proxy"}


def test_one_target_per_node():
    objs = docs("one-target-per-node")
    spec = find(objs, "StatefulSet", "ais-target")["spec"]["template"]["spec"]
    term = spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert spec["containers"][0]["ports"][0]["hostPort"] == 51081


def test_multi_target_per_node_seed_scenario():
    text = render("multi-target-per-node")
    assert "hostPort" not in text
    objs = [d for d in yaml.safe_load_all(text) if d]
    sts = find(objs, "StatefulSet", "ais-target")
    spec = sts["spec"]["template"]["spec"]
    assert "affinity" not in spec, "anti-affinity must be off"
    sc = find(objs, "StorageClass", "ais-local-storage")
    assert sc["provisioner"] == "kubernetes.io/no-provisioner" and sc["volumeBindingMode"] == "WaitForFirstConsumer"
    # PVC names as Kubernetes makes them: <template>-<statefulset>-<ordinal>.
    pvcs = {
        f"{t['metadata']['name']}-{sts['metadata']['name']}-{i}"
        for t in sts["spec"]["volumeClaimTemplates"]
        for i in range(sts["spec"]["replicas"])
    }
    assert "ais-data-aistore-ais-target-3" in pvcs
    pvs = [o for o in objs if o["kind"] == "PersistentVolume"]
    assert {pv["spec"]["claimRef"]["name"] for pv in pvs} == pvcs
    nodes = {}
    for pv in pvs:
        assert pv["spec"]["claimRef"]["namespace"] == "ais"
        assert pv["spec"]["storageClassName"] == "ais-local-storage"
        assert pv["spec"]["capacity"]["storage"] == "5T"
        assert pv["spec"]["local"]["path"]
        expr = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]
        assert expr["key"] == "kubernetes.io/hostname"
        nodes.setdefault(expr["values"][0], []).append(pv["spec"]["claimRef"]["name"])
    assert all(len(v) == 2 for v in nodes.values()), f"two targets per node: {nodes}"
    tmpl = sts["spec"]["volumeClaimTemplates"][0]
    assert tmpl["spec"]["storageClassName"] == "ais-local-storage"
    assert spec["containers"][0]["volumeMounts"][0]["mountPath"] == "/data/aistore"


def test_external_lb():
    objs = docs("external-lb")
    lbs = [o for o in objs if o["kind"] == "Service" and o["spec"].get("type") == "LoadBalancer"]
    pods = {o["spec"]["selector"].get("statefulset.kubernetes.io/pod-name") for o in lbs}
    sts = find(objs, "StatefulSet", "ais-target")
    assert {f"ais-target-{i}" for i in range(sts["spec"]["replicas"])} <= pods
    assert any(o["spec"]["selector"].get("app.kubernetes.io/component") == "proxy" for o in lbs)
    env = {e["name"]: e.get("value") for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["AIS_PUBLIC_URL"] == "http://$(MY_POD).$(AIS_EXTERNAL_DOMAIN):51081"
    assert env["AIS_INTRA_URL"] == "http://$(MY_POD_IP):51082"


def test_pv_generator_matches_committed_sample():
    out = subprocess.run(
        [sys.executable, str(K8S / "gen-pvs.py"), "--nodes", "node-1,node-2", "--targets-per-node", "2",
         "--mount", "/data/aistore", "--size", "5T"],
        capture_output=True, text=True, check=True,
    )
    assert out.stdout == (K8S / "overlays" / "multi-target-per-node" / "pvs.yaml").read_text()
    # 3 nodes x 2 disks x 2 targets per node = 12 volumes, claims for ordinals 0..5.
    big = subprocess.run(
        [sys.executable, str(K8S / "gen-pvs.py"), "--nodes", "a,b,c", "--targets-per-node", "2",
         "--mount", "/ais/d1", "--mount", "/ais/d2"],
        capture_output=True, text=True, check=True,
    ).stdout
    pvs = [d for d in yaml.safe_load_all(big) if d]
    assert len(pvs) == 12
    claims = {p["spec"]["claimRef"]["name"] for p in pvs}
    assert claims == {f"ais-ais-d{d}-ais-target-{i}" for d in (1, 2) for i in range(6)}
    assert len({p["metadata"]["name"] for p in pvs}) == 12


def test_seccomp_profiles_match_generator(tmp_path):
    gen = ROOT / "deploy" / "seccomp" / "generate.py"
    copy = tmp_path / "generate.py"
    copy.write_text(gen.read_text())
    subprocess.run([sys.executable, str(copy)], check=True)
    for name in ["io-uring.json", "no-io-uring.json"]:
        assert (tmp_path / name).read_text() == (gen.parent / name).read_text(), f"{name} is stale"
    allow = lambda p: set(json.loads((gen.parent / p).read_text())["syscalls"][0]["names"])  # noqa: E731
    uring = {"io_uring_setup", "io_uring_enter", "io_uring_register"}
    assert uring <= allow("io-uring.json") and not uring & allow("no-io-uring.json")


def test_grafana_dashboard_uses_our_metrics():
    dash = json.loads((ROOT / "deploy" / "grafana" / "aisnode-dashboard.json").read_text())
    source = (ROOT / "src" / "metrics.rs").read_text()
    names = set()
    for panel in dash["panels"]:
        for t in panel["targets"]:
            names |= set(re.findall(r"ais_(?:target|proxy)_\w+", t["expr"]))
    assert names
    for n in names:
        short = n.split("_", 2)[2]
        assert f'"{short}"' in source, f"dashboard uses {n}, which aisnode does not export"


def test_yamllint_and_hadolint():
    out = subprocess.run([tool("yamllint"), "-c", str(ROOT / "deploy" / ".yamllint"), str(ROOT / "deploy")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    out = subprocess.run([tool("hadolint"), str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
