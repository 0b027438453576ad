//! aisloader against a real cluster (a proxy and two targets) and in raw-URL mode.

mod common;

use std::process::Command;
use std::time::Duration;

fn loader(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_aisloader"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs aisloader, which must succeed, and parses its `--json` report.
fn loader_json(args: &[&str]) -> serde_json::Value {
    let (code, out, err) = loader(args);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// How many objects the bucket holds, listed through `node`.
fn count_objects(node: &common::Target, bucket: &str) -> usize {
    let list: serde_json::Value = ureq::get(&node.u(&format!("/v1/buckets/{bucket}")))
        .send_json(serde_json::json!({"action":"list","value":{"pagesize":1000}}))
        .unwrap()
        .into_json()
        .unwrap();
    list["entries"].as_array().unwrap().len()
}

/// How many objects of `bucket` sit on the target's disks (for a target that refuses an
/// unsigned native listing: it has S3 keys).
fn count_on_disk(node: &common::Target, bucket: &str) -> usize {
    fn files(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir).map_or(0, |entries| {
            entries
                .flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => files(&e.path()),
                    Ok(t) if t.is_file() => 1,
                    _ => 0,
                })
                .sum()
        })
    }
    node.mountpaths
        .iter()
        .map(|mp| files(&mp.join("@ais").join(bucket).join("%ob")))
        .sum()
}

fn op<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["op"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report}"))
}

#[test]
fn puts_gets_verifies_and_cleans_up_through_the_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let proxy = common::start_proxy(&dir.path().join("proxy"), &[]);
    let targets: Vec<_> = (1..=2)
        .map(|i| {
            common::start(
                "uring",
                &common::mountpaths(&dir.path().join(format!("t{i}")), 2),
                &["--proxy", &proxy.url],
            )
        })
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while proxy.smap()["tmap"].as_object().unwrap().len() < 2 {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(50));
    }
    // Exactly 200 PUTs of 1-64 KiB.
    let report = loader_json(&[
        "--proxy",
        &proxy.url,
        "--bucket",
        "lb",
        "--pctput",
        "100",
        "--maxputs",
        "200",
        "--duration",
        "0",
        "--minsize",
        "1KiB",
        "--maxsize",
        "64KiB",
        "--numworkers",
        "8",
        "--json",
        "--seed",
        "42",
    ]);
    let put = op(&report, "put");
    assert_eq!(put["count"], 200);
    assert_eq!(put["errors"], 0);
    let bytes = put["bytes"].as_u64().unwrap();
    assert!((200 * 1024..=200 * 65536).contains(&bytes));
    // The cluster holds what the loader says it PUT.
    let stored: f64 = targets
        .iter()
        .map(|t| t.metric("ais_target_put_bytes"))
        .sum();
    assert_eq!(stored, bytes as f64);
    // Read each once, verifying checksums; then delete them.
    let report = loader_json(&[
        "--proxy",
        &proxy.url,
        "--bucket",
        "lb",
        "--duration",
        "0",
        "--uniquegets",
        "--verifyhash",
        "--json",
        "--numworkers",
        "4",
        "--cleanup",
    ]);
    let get = op(&report, "get");
    assert_eq!(get["count"], 200);
    assert_eq!(get["bytes"].as_u64().unwrap(), bytes);
    assert!(
        get["latency_us"]["p50"].as_u64().unwrap() <= get["latency_us"]["p99"].as_u64().unwrap()
    );
    // --cleanup deletes only what this run PUT (nothing here): the objects remain.
    assert_eq!(count_objects(&proxy, "lb"), 200);
    // A mixed run with cleanup leaves the bucket as it found it, and range reads work.
    let report = loader_json(&[
        "--proxy",
        &proxy.url,
        "--bucket",
        "lb",
        "--pctput",
        "50",
        "--duration",
        "2s",
        "--minsize",
        "4KiB",
        "--maxsize",
        "4KiB",
        "--readoff",
        "100",
        "--readlen",
        "10",
        "--cleanup",
        "--json",
        "--statsinterval",
        "0",
    ]);
    let get = op(&report, "get");
    assert_eq!(
        get["bytes"].as_u64().unwrap(),
        10 * get["count"].as_u64().unwrap()
    );
    assert_eq!(count_objects(&proxy, "lb"), 200);
}

#[test]
fn raw_url_mode_and_error_counting() {
    let dir = tempfile::tempdir().unwrap();
    let t = common::start("psync", &common::mountpaths(dir.path(), 2), &[]);
    t.create_bucket("raw");
    for i in 0..4 {
        t.put("raw", &format!("o{i}"), &vec![7u8; 1000]);
    }
    let urls = dir.path().join("urls.txt");
    std::fs::write(
        &urls,
        (0..4)
            .map(|i| t.u(&format!("/v1/objects/raw/o{i}\n")))
            .collect::<String>(),
    )
    .unwrap();
    let report = loader_json(&[
        "--get-urls",
        urls.to_str().unwrap(),
        "--duration",
        "1s",
        "--json",
        "--numworkers",
        "2",
    ]);
    let get = op(&report, "get");
    assert!(get["count"].as_u64().unwrap() > 10);
    assert_eq!(
        get["bytes"].as_u64().unwrap(),
        1000 * get["count"].as_u64().unwrap()
    );
    // Missing objects count as errors and make the exit status 2; the table says so.
    std::fs::write(&urls, t.u("/v1/objects/raw/missing\n")).unwrap();
    let (code, out, _) = loader(&[
        "--get-urls",
        urls.to_str().unwrap(),
        "--duration",
        "1s",
        "--numworkers",
        "1",
        "--statsinterval",
        "0",
    ]);
    assert_eq!(code, 2);
    let row = out.lines().find(|l| l.starts_with("GET")).unwrap();
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[1], "0", "{row}");
    assert!(cols[2].parse::<u64>().unwrap() > 0, "{row}");
    // Bad flags are refused with a clear message.
    let (code, _, err) = loader(&["--minsize", "2MiB", "--maxsize", "1MiB"]);
    assert_eq!(code, 1);
    assert!(err.contains("--minsize"), "{err}");
}

/// `--api s3` against a target with S3 keys: signed PUTs and GETs, the objects readable
/// through the native API; a wrong secret makes every request fail.
#[test]
fn s3_api_signs_requests() {
    let dir = tempfile::tempdir().unwrap();
    let target = common::start(
        "auto",
        &common::mountpaths(dir.path(), 2),
        &["--s3-access-key", "ldkey", "--s3-secret-key", "ldsecret"],
    );
    let s3 = format!("{}/s3", target.url);
    let common_args = |secret: &'static str| {
        vec![
            "--api".to_string(),
            "s3".into(),
            "--proxy".into(),
            s3.clone(),
            "--bucket".into(),
            "s3b".into(),
            "--s3-access-key".into(),
            "ldkey".into(),
            "--s3-secret-key".into(),
            secret.into(),
            "--json".into(),
            "--statsinterval".into(),
            "0".into(),
        ]
    };
    let mut put = common_args("ldsecret");
    put.extend(
        [
            "--pctput",
            "100",
            "--maxputs",
            "60",
            "--duration",
            "0",
            "--maxsize",
            "32KiB",
            "--minsize",
            "1KiB",
        ]
        .map(String::from),
    );
    let put: Vec<&str> = put.iter().map(String::as_str).collect();
    let report = loader_json(&put);
    assert_eq!(op(&report, "put")["count"], 60, "{report}");
    assert_eq!(count_on_disk(&target, "s3b"), 60);
    let mut get = common_args("ldsecret");
    get.extend(["--uniquegets", "--duration", "0"].map(String::from));
    let get: Vec<&str> = get.iter().map(String::as_str).collect();
    let report = loader_json(&get);
    assert_eq!(op(&report, "get")["count"], 60, "{report}");
    assert_eq!(op(&report, "get")["errors"], 0, "{report}");

    let mut bad = common_args("wrong");
    bad.extend(["--pctput", "100", "--maxputs", "5", "--duration", "0"].map(String::from));
    let bad: Vec<&str> = bad.iter().map(String::as_str).collect();
    let (code, _, err) = loader(&bad);
    assert_ne!(code, 0);
    assert!(err.contains("SignatureDoesNotMatch"), "{err}");
}
