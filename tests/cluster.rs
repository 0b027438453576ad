//! A real cluster on loopback: one proxy and three targets (two mountpaths each) as
//! separate processes, exercised through the proxy with real HTTP.

mod common;

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{data, start_proxy, Target};

const TARGET_CFG: &str = "keepalive_interval_ms = 200\n";
const PROXY_CFG: &str =
    "node_timeout_ms = 1500\ncheck_interval_ms = 200\ncontrol_timeout_ms = 2000\n";

struct Cluster {
    dir: tempfile::TempDir,
    proxy: Target,
    targets: Vec<Target>,
}

fn no_redirects() -> ureq::Agent {
    ureq::AgentBuilder::new().redirects(0).build()
}

fn start_target(dir: &Path, i: usize, proxy: &str, engine: &str) -> Target {
    start_target_with(dir, i, proxy, engine, &[])
}

fn start_target_with(dir: &Path, i: usize, proxy: &str, engine: &str, extra: &[&str]) -> Target {
    let root = dir.join(format!("t{i}"));
    let mps = common::mountpaths(&root, 2);
    let cfg = dir.join("target.toml");
    std::fs::write(&cfg, TARGET_CFG).unwrap();
    let mut args = vec!["--proxy", proxy, "--config", cfg.to_str().unwrap()];
    args.extend_from_slice(extra);
    common::start(engine, &mps, &args)
}

fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    start.elapsed()
}

fn cluster(engine: &str) -> Cluster {
    cluster_with(engine, &[])
}

/// A proxy and three targets, each node started with `extra` too.
fn cluster_with(engine: &str, extra: &[&str]) -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("proxy.toml");
    std::fs::write(&cfg, PROXY_CFG).unwrap();
    let mut args = vec!["--config", cfg.to_str().unwrap()];
    args.extend_from_slice(extra);
    let proxy = start_proxy(&dir.path().join("proxy"), &args);
    let targets: Vec<Target> = (1..=3)
        .map(|i| start_target_with(dir.path(), i, &proxy.url, engine, extra))
        .collect();
    wait_for("3 targets in the map", Duration::from_secs(10), || {
        proxy.smap()["tmap"].as_object().unwrap().len() == 3
    });
    // Every target has the newest map before the test starts.
    let version = proxy.smap()["version"].as_str().unwrap().to_string();
    wait_for("targets to get the map", Duration::from_secs(10), || {
        targets.iter().all(|t| {
            ureq::get(&t.u("/v1/daemon?what=smap"))
                .call()
                .ok()
                .and_then(|r| r.into_json::<serde_json::Value>().ok())
                .is_some_and(|s| s["version"] == version.as_str())
        })
    });
    Cluster {
        dir,
        proxy,
        targets,
    }
}

impl Cluster {
    fn create_bucket(&self, b: &str) {
        ureq::post(&self.proxy.u(&format!("/v1/buckets/{b}")))
            .send_string(r#"{"action":"create-bck"}"#)
            .unwrap();
    }

    /// PUT through the proxy following the 307 by hand; returns the target URL it went to.
    fn put(&self, b: &str, o: &str, body: &[u8]) -> String {
        let resp = no_redirects()
            .put(&self.proxy.u(&format!("/v1/objects/{b}/{o}")))
            .send_bytes(body)
            .unwrap();
        assert_eq!(resp.status(), 307);
        let loc = resp.header("Location").unwrap().to_string();
        assert!(loc.contains("pid=") && loc.contains("utm="), "{loc}");
        let put = ureq::put(&loc).send_bytes(body).unwrap();
        assert_eq!(put.status(), 200);
        loc.split("/v1/").next().unwrap().to_string()
    }

    /// GET through the proxy (the client follows the redirect).
    fn get(&self, b: &str, o: &str) -> Vec<u8> {
        self.proxy.get(b, o)
    }

    fn target_by_url(&self, url: &str) -> &Target {
        self.targets
            .iter()
            .find(|t| t.url == url)
            .unwrap_or_else(|| panic!("no target at {url}"))
    }
}

fn files_under(mps: &[PathBuf], bucket: &str) -> Vec<String> {
    let mut out = Vec::new();
    for mp in mps {
        let root = mp.join("@ais").join(bucket).join("%ob");
        collect(&root, &root, &mut out);
    }
    out
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(root, &p, out);
        } else {
            out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
        }
    }
}

fn thousand_objects_through_the_proxy(engine: &str) {
    let c = cluster(engine);
    c.create_bucket("b");
    let mut placed: HashMap<String, Vec<String>> = HashMap::new();
    for i in 0..1000 {
        let name = format!("obj/{i:04}");
        let target = c.put("b", &name, &data(100 + i % 300, i as u64));
        placed.entry(target).or_default().push(name);
    }
    // Each object is stored on the target the redirect named, and only there.
    for (url, names) in &placed {
        let t = c.target_by_url(url);
        let mut on_disk = files_under(&t.mountpaths, "b");
        on_disk.sort();
        let mut want = names.clone();
        want.sort();
        assert_eq!(on_disk, want, "objects on {url}");
    }
    // Even spread: 1000 over 3 targets.
    assert_eq!(placed.len(), 3);
    for (url, names) in &placed {
        assert!(
            (250..=420).contains(&names.len()),
            "{url} holds {}",
            names.len()
        );
    }
    // GET and HEAD through the proxy (the client follows the redirect).
    for i in (0..1000).step_by(7) {
        let name = format!("obj/{i:04}");
        assert_eq!(c.get("b", &name), data(100 + i % 300, i as u64));
        let head = ureq::head(&c.proxy.u(&format!("/v1/objects/b/{name}")))
            .call()
            .unwrap();
        assert_eq!(
            head.header("Content-Length").unwrap(),
            (100 + i % 300).to_string()
        );
    }
    // List through the proxy: every name once, sorted, across pages.
    let mut seen = Vec::new();
    let (mut uuid, mut token) = (String::new(), String::new());
    let mut pages = 0;
    loop {
        let msg = serde_json::json!({"action":"list","value":{"pagesize":128,"uuid":uuid,"continuation_token":token,"props":"name,size"}});
        let page: serde_json::Value = ureq::get(&c.proxy.u("/v1/buckets/b"))
            .send_json(msg)
            .unwrap()
            .into_json()
            .unwrap();
        pages += 1;
        for e in page["entries"].as_array().unwrap() {
            seen.push(e["name"].as_str().unwrap().to_string());
        }
        uuid = page["uuid"].as_str().unwrap().to_string();
        token = page["continuation_token"].as_str().unwrap().to_string();
        if token.is_empty() {
            break;
        }
    }
    let want: Vec<String> = (0..1000).map(|i| format!("obj/{i:04}")).collect();
    assert_eq!(seen, want);
    assert_eq!(pages, 8);
    // DELETE half through the proxy; they are gone, the rest stay.
    for i in (0..1000).step_by(2) {
        let resp = no_redirects()
            .delete(&c.proxy.u(&format!("/v1/objects/b/obj/{i:04}")))
            .call()
            .unwrap();
        assert_eq!(resp.status(), 307);
        ureq::delete(resp.header("Location").unwrap())
            .call()
            .unwrap();
    }
    // A deleted name is 404 (not any error: a 500 or a 503 would be a bug here).
    match ureq::get(&c.proxy.u("/v1/objects/b/obj/0000")).call() {
        Err(ureq::Error::Status(code, _)) => assert_eq!(code, 404),
        other => panic!("expected 404 for a deleted object, got {other:?}"),
    }
    assert_eq!(c.get("b", "obj/0001"), data(101, 1));
    // Counters match what was sent: 1000 PUTs redirected, and the targets stored 1000.
    assert_eq!(c.proxy.metric("ais_proxy_put_count"), 1000.0);
    assert_eq!(c.proxy.metric("ais_proxy_del_count"), 500.0);
    let stored: f64 = c
        .targets
        .iter()
        .map(|t| t.metric("ais_target_put_count"))
        .sum();
    assert_eq!(stored, 1000.0);
    let deleted: f64 = c
        .targets
        .iter()
        .map(|t| t.metric("ais_target_del_count"))
        .sum();
    assert_eq!(deleted, 500.0);
    drop(c.dir);
}
both_engines!(thousand_objects_through_the_proxy);

fn wrong_target_redirects_to_owner(engine: &str) {
    // Direct access to a target's public port (refused with a cluster secret).
    let c = cluster_with(engine, &["--no-cluster-secret"]);
    c.create_bucket("b");
    let owner = c.put("b", "x", b"owned");
    let wrong = c.targets.iter().find(|t| t.url != owner).unwrap();
    // GET and PUT sent straight to a target that does not own the name still work.
    let mut got = Vec::new();
    ureq::get(&wrong.u("/v1/objects/b/x"))
        .call()
        .unwrap()
        .into_reader()
        .read_to_end(&mut got)
        .unwrap();
    assert_eq!(got, b"owned");
    let resp = no_redirects()
        .put(&wrong.u("/v1/objects/b/x"))
        .send_bytes(b"again")
        .unwrap();
    assert_eq!(resp.status(), 307);
    let loc = resp.header("Location").unwrap();
    assert!(loc.starts_with(&owner), "{loc} should go to {owner}");
    ureq::put(loc).send_bytes(b"again").unwrap();
    assert_eq!(c.get("b", "x"), b"again");
    assert!(files_under(&wrong.mountpaths, "b").is_empty());
}
both_engines!(wrong_target_redirects_to_owner);

fn killed_target_leaves_and_rejoins_with_data(engine: &str) {
    let mut c = cluster(engine);
    c.create_bucket("b");
    let mut by_target: HashMap<String, Vec<usize>> = HashMap::new();
    for i in 0..60 {
        by_target
            .entry(c.put("b", &format!("k{i}"), &data(500, i as u64)))
            .or_default()
            .push(i);
    }
    let victim = c.targets.remove(0);
    let (victim_id, victim_mps, victim_url) = (
        victim.id.clone(),
        victim.mountpaths.clone(),
        victim.url.clone(),
    );
    let held = by_target.get(&victim_url).map_or(0, Vec::len);
    assert!(
        held > 0,
        "the target to kill holds none of the 60 objects: the test would prove nothing"
    );
    victim.kill();
    let took = wait_for(
        "victim removed from the map",
        Duration::from_secs(10),
        || {
            !c.proxy.smap()["tmap"]
                .as_object()
                .unwrap()
                .contains_key(&victim_id)
        },
    );
    // node_timeout 1.5 s + health-check timeout; far under the 10 s bound.
    assert!(took < Duration::from_secs(6), "removal took {took:?}");
    // Restart on the same disks: same ID, new port, data back.
    let cfg = c.dir.path().join("target.toml");
    let back = common::start(
        engine,
        &victim_mps,
        &["--proxy", &c.proxy.url, "--config", cfg.to_str().unwrap()],
    );
    assert_eq!(back.id, victim_id);
    wait_for("victim back in the map", Duration::from_secs(10), || {
        c.proxy.smap()["tmap"][&victim_id]["public_net"]["direct_url"] == back.url.as_str()
    });
    for i in by_target.get(&victim_url).cloned().unwrap_or_default() {
        assert_eq!(
            c.get("b", &format!("k{i}")),
            data(500, i as u64),
            "object k{i}"
        );
    }
    c.targets.push(back);
}
both_engines!(killed_target_leaves_and_rejoins_with_data);

fn proxy_restart_keeps_map_and_buckets(engine: &str) {
    let c = cluster(engine);
    c.create_bucket("b");
    c.put("b", "p", b"persist");
    let before = c.proxy.smap();
    let port = c.proxy.addr.rsplit(':').next().unwrap().to_string();
    let proxy_id = c.proxy.id.clone();
    assert!(c.proxy.stop().success());
    let cfg = c.dir.path().join("proxy.toml");
    let proxy = start_proxy(
        &c.dir.path().join("proxy"),
        &["--port", &port, "--config", cfg.to_str().unwrap()],
    );
    assert_eq!(proxy.id, proxy_id, "proxy ID persists");
    let after = proxy.smap();
    assert_eq!(after["tmap"].as_object().unwrap().len(), 3);
    assert_eq!(after["uuid"], before["uuid"]);
    let v = |s: &serde_json::Value| s["version"].as_str().unwrap().parse::<u64>().unwrap();
    // Replayed from the proxy's Raft log: the same map, never an older one.
    assert!(v(&after) >= v(&before));
    let buckets: serde_json::Value = ureq::get(&proxy.u("/v1/buckets"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(buckets[0]["name"], "b");
    let mut got = Vec::new();
    ureq::get(&proxy.u("/v1/objects/b/p"))
        .call()
        .unwrap()
        .into_reader()
        .read_to_end(&mut got)
        .unwrap();
    assert_eq!(got, b"persist");
    // Targets keep sending keepalives, so none is dropped after the timeout.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(proxy.smap()["tmap"].as_object().unwrap().len(), 3);
}
both_engines!(proxy_restart_keeps_map_and_buckets);

fn buckets_reach_late_targets_and_errors_are_ais_shaped(engine: &str) {
    let c = cluster(engine);
    c.create_bucket("early");
    let (code, body) = c.proxy.status(
        ureq::post(&c.proxy.u("/v1/buckets/early")),
        Some(br#"{"action":"create-bck"}"#),
    );
    assert_eq!(code, 409);
    assert!(
        body.contains("ais://early") && body.contains("\"node\":\"p["),
        "{body}"
    );
    let (code, body) = c
        .proxy
        .status(ureq::get(&c.proxy.u("/v1/objects/nosuch/x")), None);
    assert_eq!(code, 404);
    assert!(body.contains("ais://nosuch"), "{body}");
    let (code, _) = c.proxy.status(
        ureq::put(&c.proxy.u("/v1/objects/early/a%2F..%2Fb")),
        Some(b"x"),
    );
    assert_eq!(code, 400);
    // A fourth target joining later learns the bucket.
    let late = start_target(c.dir.path(), 4, &c.proxy.url, engine);
    wait_for(
        "late target has the bucket",
        Duration::from_secs(10),
        || ureq::head(&late.u("/v1/buckets/early")).call().is_ok(),
    );
    // Destroy reaches every target.
    let (code, _) = c.proxy.status(
        ureq::delete(&c.proxy.u("/v1/buckets/early")),
        Some(br#"{"action":"destroy-bck"}"#),
    );
    assert_eq!(code, 200);
    for t in c.targets.iter().chain([&late]) {
        let (code, _) = t.status(ureq::head(&t.u("/v1/buckets/early")), None);
        assert_eq!(code, 404, "bucket still on target {}", t.id);
    }
}
both_engines!(buckets_reach_late_targets_and_errors_are_ais_shaped);

/// `promtool check metrics` must find no syntax error (lint warnings about AIStore's
/// `_count` names are expected: exit status 3); a missing promtool fails the test.
#[test]
fn metrics_pass_promtool() {
    let c = cluster("uring");
    c.create_bucket("m");
    c.put("m", "o", b"x");
    for node in c.targets.iter().chain([&c.proxy]) {
        let text = ureq::get(&node.u("/metrics"))
            .call()
            .unwrap()
            .into_string()
            .unwrap();
        let mut child = std::process::Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("promtool is required (Debian package prometheus)");
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), text.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let report = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(0) | Some(3)),
            "promtool: {report}"
        );
        assert!(!report.contains("error"), "promtool: {report}");
    }
}
