//! Data safety of a real target process: aborted uploads, concurrent writers, restarts,
//! shutdown and mountpath ownership, once per I/O engine.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{data, start, try_start};

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn disconnect_mid_put(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let t = start(engine, &common::mountpaths(dir.path(), 4), &[]);
    t.create_bucket("b");
    t.put("b", "keep", b"old version");
    for name in ["fresh", "keep"] {
        let mut s = TcpStream::connect(&t.addr).unwrap();
        write!(
            s,
            "PUT /v1/objects/b/{name} HTTP/1.1\r\nHost: x\r\nContent-Length: 10485760\r\n\r\n"
        )
        .unwrap();
        s.write_all(&data(3 << 20, 1)).unwrap();
        s.flush().unwrap();
        // The work file exists while the upload is under way...
        wait_until("work file to appear", || !t.work_files().is_empty());
        drop(s);
        // ...and is gone once the client is.
        wait_until("work file removal", || t.work_files().is_empty());
    }
    assert_eq!(
        t.status(ureq::get(&t.u("/v1/objects/b/fresh")), None).0,
        404
    );
    assert_eq!(t.get("b", "keep"), b"old version");
}
both_engines!(disconnect_mid_put);

fn stalled_body_times_out(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.json");
    std::fs::write(&cfg, r#"{"body_idle_timeout_secs": 1}"#).unwrap();
    let t = start(
        engine,
        &common::mountpaths(dir.path(), 2),
        &["--config", cfg.to_str().unwrap()],
    );
    t.create_bucket("b");
    let mut s = TcpStream::connect(&t.addr).unwrap();
    write!(
        s,
        "PUT /v1/objects/b/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc"
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 512];
    let n = std::io::Read::read(&mut s, &mut buf).unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    wait_until("work file removal", || t.work_files().is_empty());
    assert_eq!(t.status(ureq::get(&t.u("/v1/objects/b/slow")), None).0, 404);
}
both_engines!(stalled_body_times_out);

/// Writers replace one name with whole versions while readers check that every read is
/// exactly one whole version (each version's bytes are all the same value and its size
/// is derived from that value).
fn concurrent_puts_same_object(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let t = start(engine, &common::mountpaths(dir.path(), 4), &[]);
    t.create_bucket("b");
    let url = t.u("/v1/objects/b/hot");
    let version = |v: u8| vec![v; 50_000 + usize::from(v) * 997];
    ureq::put(&url).send_bytes(&version(0)).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut handles = Vec::new();
    for w in 0..4u8 {
        let url = url.clone();
        handles.push(std::thread::spawn(move || {
            for i in 0..25u8 {
                let v = w * 25 + i + 1;
                ureq::put(&url)
                    .send_bytes(&vec![v; 50_000 + usize::from(v) * 997])
                    .unwrap();
            }
        }));
    }
    let mut readers = Vec::new();
    for _ in 0..3 {
        let (url, stop) = (url.clone(), stop.clone());
        readers.push(std::thread::spawn(move || {
            let mut reads = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut body = Vec::new();
                std::io::Read::read_to_end(
                    &mut ureq::get(&url).call().unwrap().into_reader(),
                    &mut body,
                )
                .unwrap();
                let v = body[0];
                assert_eq!(body.len(), 50_000 + usize::from(v) * 997, "torn read");
                assert!(body.iter().all(|&b| b == v), "mixed versions");
                reads += 1;
            }
            reads
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let reads: usize = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(reads > 0);
    let head = ureq::head(&url).call().unwrap();
    assert_eq!(
        head.header("Ais-Version"),
        Some("101"),
        "every PUT bumps the version once"
    );
    let last = t.get("b", "hot");
    assert_eq!(last, version(last[0]));
    assert!(t.work_files().is_empty());
}
both_engines!(concurrent_puts_same_object);

fn restart_keeps_objects_and_id(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mps = common::mountpaths(dir.path(), 4);
    let t = start(engine, &mps, &[]);
    let id = t.id.clone();
    t.create_bucket("b");
    for i in 0..50 {
        t.put("b", &format!("o{i}"), &data(1000 + i, i as u64));
    }
    // A work file left by a crash must not survive the next start.
    let stale = mps[0].join("@ais/b/%wk/put.deadbeef.1.99999");
    std::fs::write(&stale, b"partial").unwrap();
    assert!(t.stop().success(), "clean exit on SIGTERM");
    let t = start(engine, &mps, &[]);
    assert_eq!(t.id, id, "node ID persists on the mountpaths");
    assert!(!stale.exists(), "stale work file removed at start-up");
    for i in 0..50 {
        assert_eq!(t.get("b", &format!("o{i}")), data(1000 + i, i as u64));
    }
    let v = ureq::put(&t.u("/v1/objects/b/o1"))
        .send_bytes(b"new")
        .unwrap();
    assert_eq!(v.header("Ais-Version"), Some("2"));
}
both_engines!(restart_keeps_objects_and_id);

fn refuses_foreign_and_shared_mountpaths(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mps = common::mountpaths(dir.path(), 2);
    let t = start(engine, &mps, &["--id", "first"]);
    drop(t);
    // Another ID on the same disks: refused.
    let log = try_start(engine, &mps, &["--id", "second"])
        .err()
        .expect("must refuse");
    assert!(log.contains("belongs to target \"first\""), "{log}");
    // Two mountpaths on one filesystem without --allow-shared-fs: refused.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aisnode"))
        .args(["target", "--port", "0", "--io-engine", engine])
        .arg("--mountpath")
        .arg(&mps[0])
        .arg("--mountpath")
        .arg(&mps[1])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("share one filesystem"), "{err}");
    // Nested mountpaths: refused.
    let nested = mps[0].join("inner");
    std::fs::create_dir(&nested).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aisnode"))
        .args([
            "target",
            "--port",
            "0",
            "--allow-shared-fs",
            "--io-engine",
            engine,
        ])
        .arg("--mountpath")
        .arg(&mps[0])
        .arg("--mountpath")
        .arg(&nested)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nested"));
}
both_engines!(refuses_foreign_and_shared_mountpaths);

/// A second process on the same mountpaths is refused before it touches them: the
/// first one's in-flight upload survives and completes.
fn second_process_on_same_mountpaths_is_refused(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mps = common::mountpaths(dir.path(), 2);
    let t = start(engine, &mps, &[]);
    t.create_bucket("b");
    let mut s = half_sent_upload(&t);
    let log = match common::try_start(engine, &mps, &[]) {
        Ok(second) => panic!(
            "a second target started on the same mountpaths: {}",
            second.id
        ),
        Err(log) => log,
    };
    assert!(log.contains("in use by another aisnode process"), "{log}");
    assert!(
        !t.work_files().is_empty(),
        "the first target's work file was swept"
    );
    s.write_all(&[7u8; 50_000]).unwrap();
    let mut reply = [0u8; 64];
    let n = std::io::Read::read(&mut s, &mut reply).unwrap();
    assert!(String::from_utf8_lossy(&reply[..n]).starts_with("HTTP/1.1 200"));
    assert_eq!(t.get("b", "inflight"), vec![7u8; 100_000]);
}
both_engines!(second_process_on_same_mountpaths_is_refused);

fn shutdown_turns_unready_and_cleans(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let t = start(engine, &common::mountpaths(dir.path(), 2), &[]);
    t.create_bucket("b");
    // An upload stalls mid-body while the target is told to stop.
    let mut s = half_sent_upload(&t);
    let mps = t.mountpaths.clone();
    let health = t.u("/v1/health?readiness=true");
    let (code, _) = t.status(ureq::get(&health), None);
    assert_eq!(code, 200, "ready before the stop");
    let pid_status = std::thread::spawn(move || t.stop());
    // Readiness turns 503 while the node still answers (the shutdown grace).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match ureq::get(&health).call() {
            Err(ureq::Error::Status(503, _)) => break,
            Ok(_) => {}
            Err(e) => panic!("readiness never answered 503 before the node stopped: {e}"),
        }
        assert!(std::time::Instant::now() < deadline, "readiness stayed 200");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The client keeps sending while the target drains.
    s.write_all(&[7u8; 50_000]).unwrap();
    let status = pid_status.join().unwrap();
    assert!(status.success());
    let mut all = Vec::new();
    for mp in &mps {
        for e in walkdir(mp) {
            all.push(e);
        }
    }
    assert!(
        all.iter().all(|p| !p.to_string_lossy().contains("%wk/")),
        "{all:?}"
    );
    // The in-flight upload was allowed to finish during the drain.
    assert!(all.iter().any(|p| p.ends_with("inflight")), "{all:?}");
}
both_engines!(shutdown_turns_unready_and_cleans);

/// A PUT of 100,000 bytes of which half has arrived (its work file exists).
fn half_sent_upload(t: &common::Target) -> TcpStream {
    let mut s = TcpStream::connect(&t.addr).unwrap();
    write!(
        s,
        "PUT /v1/objects/b/inflight HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
    )
    .unwrap();
    s.write_all(&[7u8; 50_000]).unwrap();
    wait_until("work file", || !t.work_files().is_empty());
    s
}

fn walkdir(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walkdir(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// With a budget of only four chunk buffers, 24 clients PUTting and GETting 1.5 MiB
/// objects at once all finish with the right bytes: requests wait for buffers, never
/// deadlock (a PUT never waits for a second buffer while holding one).
fn tiny_buffer_budget_no_deadlock(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("cfg.toml");
    std::fs::write(&cfg, "buffer_budget_mib = 1\nchunk_size = 262144\n").unwrap();
    let mps = common::mountpaths(dir.path(), 2);
    let t = start(engine, &mps, &["--config", cfg.to_str().unwrap()]);
    t.create_bucket("b");
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build();
    let workers: Vec<_> = (0..24u64)
        .map(|w| {
            let (agent, base) = (agent.clone(), t.u("/v1/objects/b"));
            std::thread::spawn(move || {
                for round in 0..3u64 {
                    let body = data((3 << 19) + w as usize, w * 10 + round);
                    let url = format!("{base}/w{w}");
                    agent.put(&url).send_bytes(&body).unwrap();
                    let mut got = Vec::new();
                    std::io::Read::read_to_end(
                        &mut agent.get(&url).call().unwrap().into_reader(),
                        &mut got,
                    )
                    .unwrap();
                    assert!(got == body, "w{w} round {round}");
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
}
both_engines!(tiny_buffer_budget_no_deadlock);
