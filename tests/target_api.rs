//! The native API of a real target process with 4 mountpaths, over real HTTP,
//! once per I/O engine.

mod common;

use common::{data, raw_req, start, Target};
use std::io::Read;

fn target(engine: &str) -> (tempfile::TempDir, Target) {
    let dir = tempfile::tempdir().unwrap();
    let mps = common::mountpaths(dir.path(), 4);
    let t = start(engine, &mps, &[]);
    (dir, t)
}

fn buckets(engine: &str) {
    let (_d, t) = target(engine);
    let (code, _) = t.status(ureq::head(&t.u("/v1/buckets/b1")), None);
    assert_eq!(code, 404);
    t.create_bucket("b1");
    let (code, body) = t.status(
        ureq::post(&t.u("/v1/buckets/b1")),
        Some(br#"{"action":"create-bck"}"#),
    );
    assert_eq!(code, 409);
    assert!(body.contains("ais://b1"), "{body}");
    let head = ureq::head(&t.u("/v1/buckets/b1")).call().unwrap();
    let props: serde_json::Value =
        serde_json::from_str(head.header("Ais-Bucket-Props").unwrap()).unwrap();
    assert_eq!(props["provider"], "ais");
    t.create_bucket("b2");
    let list: serde_json::Value = ureq::get(&t.u("/v1/buckets"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["b1", "b2"]);
    t.put("b1", "x", b"hello");
    let (code, _) = t.status(
        ureq::delete(&t.u("/v1/buckets/b1")),
        Some(br#"{"action":"destroy-bck"}"#),
    );
    assert_eq!(code, 200);
    let (code, body) = t.status(ureq::get(&t.u("/v1/objects/b1/x")), None);
    assert_eq!(code, 404);
    assert!(body.contains("ais://b1"), "{body}");
    let (code, _) = t.status(
        ureq::delete(&t.u("/v1/buckets/b1")),
        Some(br#"{"action":"destroy-bck"}"#),
    );
    assert_eq!(code, 404);
    // Destroyed data is gone from disk, not just hidden: moved to the trash at once,
    // then removed from there.
    assert!(t
        .object_files()
        .iter()
        .all(|p| !p.to_string_lossy().contains("/b1/")));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !t.trash_files().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "trash not emptied: {:?}",
            t.trash_files()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        t.object_files().iter().all(|p| !p.ends_with("x")),
        "the destroyed object's file is gone everywhere"
    );
}
both_engines!(buckets);

fn put_get_head_delete(engine: &str) {
    let (_d, t) = target(engine);
    t.create_bucket("b");
    for (i, size) in [0usize, 1, 4095, 1 << 20, (3 << 20) + 17]
        .into_iter()
        .enumerate()
    {
        let body = data(size, i as u64);
        let name = format!("dir/sub/obj-{size}");
        let resp = t.put("b", &name, &body);
        assert_eq!(resp.header("Ais-Checksum-Type"), Some("xxhash"));
        let want = format!("{:016x}", xxhash_rust::xxh64::xxh64(&body, 0));
        assert_eq!(resp.header("Ais-Checksum-Value"), Some(want.as_str()));
        assert_eq!(resp.header("Ais-Version"), Some("1"));
        let get = ureq::get(&t.u(&format!("/v1/objects/b/{name}")))
            .call()
            .unwrap();
        assert_eq!(
            get.header("Content-Length"),
            Some(size.to_string().as_str())
        );
        assert_eq!(get.header("Ais-Checksum-Value"), Some(want.as_str()));
        assert!(get.header("Ais-Atime").unwrap().parse::<i64>().unwrap() > 0);
        let mut got = Vec::new();
        get.into_reader().read_to_end(&mut got).unwrap();
        assert!(got == body, "content of {name}");
        let head = ureq::head(&t.u(&format!("/v1/objects/b/{name}")))
            .call()
            .unwrap();
        assert_eq!(
            head.header("Content-Length"),
            Some(size.to_string().as_str())
        );
        assert_eq!(head.header("Ais-Present"), Some("true"));
        assert!(head
            .header("Ais-Location")
            .unwrap()
            .starts_with(&format!("t[{}]:", t.id)));
    }
    // Version grows with every PUT; custom metadata is kept.
    t.put("b", "v", b"1");
    let r = ureq::put(&t.u("/v1/objects/b/v"))
        .set("Ais-Custom-Md", "color=blue, shape=round")
        .send_bytes(b"22")
        .unwrap();
    assert_eq!(r.header("Ais-Version"), Some("2"));
    let head = ureq::head(&t.u("/v1/objects/b/v")).call().unwrap();
    let md: Vec<String> = head
        .all("Ais-Custom-Md")
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(md, ["color=blue", "shape=round"]);
    assert_eq!(t.get("b", "v"), b"22");
    // DELETE, then 404 everywhere.
    assert_eq!(t.status(ureq::delete(&t.u("/v1/objects/b/v")), None).0, 200);
    let (code, body) = t.status(ureq::delete(&t.u("/v1/objects/b/v")), None);
    assert_eq!(code, 404);
    assert!(body.contains("ais://b/v"), "{body}");
    let (code, _) = t.status(ureq::get(&t.u("/v1/objects/b/v")), None);
    assert_eq!(code, 404);
    let err = ureq::head(&t.u("/v1/objects/b/v")).call().unwrap_err();
    match err {
        ureq::Error::Status(404, r) => {
            assert!(r.header("Hdr-Error").unwrap().contains("ais://b/v"))
        }
        other => panic!("{other}"),
    }
    let (code, body) = t.status(ureq::get(&t.u("/v1/objects/nobucket/x")), None);
    assert_eq!(code, 404);
    assert!(body.contains("ais://nobucket"), "{body}");
    // Objects spread over all four mountpaths.
    for i in 0..64 {
        t.put("b", &format!("spread-{i}"), b"x");
    }
    for mp in &t.mountpaths {
        assert!(
            t.object_files().iter().any(|p| p.starts_with(mp)),
            "nothing on {}",
            mp.display()
        );
    }
}
both_engines!(put_get_head_delete);

fn ranges(engine: &str) {
    let (_d, t) = target(engine);
    t.create_bucket("b");
    let body = data(1000, 7);
    t.put("b", "r", &body);
    for (range, from, to) in [
        ("bytes=10-19", 10, 20),
        ("bytes=990-", 990, 1000),
        ("bytes=-5", 995, 1000),
        ("bytes=900-5000", 900, 1000),
    ] {
        let r = ureq::get(&t.u("/v1/objects/b/r"))
            .set("Range", range)
            .call()
            .unwrap();
        assert_eq!(r.status(), 206, "{range}");
        let cr = format!("bytes {}-{}/1000", from, to - 1);
        assert_eq!(r.header("Content-Range"), Some(cr.as_str()));
        let mut got = Vec::new();
        r.into_reader().read_to_end(&mut got).unwrap();
        assert!(got == body[from..to], "{range}");
    }
    for bad in [
        "bytes=1000-",
        "bytes=5-1",
        "bytes=0-1,5-6",
        "bytes=-0",
        "lines=1-2",
        "bytes=x-",
    ] {
        let err = ureq::get(&t.u("/v1/objects/b/r"))
            .set("Range", bad)
            .call()
            .unwrap_err();
        match err {
            ureq::Error::Status(416, r) => {
                assert_eq!(r.header("Content-Range"), Some("bytes */1000"), "{bad}")
            }
            other => panic!("{bad}: {other}"),
        }
    }
}
both_engines!(ranges);

fn client_checksum(engine: &str) {
    let (_d, t) = target(engine);
    t.create_bucket("b");
    let body = data(100_000, 3);
    let good = format!("{:016x}", xxhash_rust::xxh64::xxh64(&body, 0));
    let r = ureq::put(&t.u("/v1/objects/b/ok"))
        .set("Ais-Checksum-Type", "xxhash")
        .set("Ais-Checksum-Value", &good)
        .send_bytes(&body)
        .unwrap();
    assert_eq!(r.status(), 200);
    let md5 = {
        use md5::Digest;
        hex::encode(md5::Md5::digest(&body))
    };
    let r = ureq::put(&t.u("/v1/objects/b/ok-md5"))
        .set("Ais-Checksum-Type", "md5")
        .set("Ais-Checksum-Value", &md5)
        .send_bytes(&body)
        .unwrap();
    assert_eq!(r.status(), 200);
    let req = ureq::put(&t.u("/v1/objects/b/bad"))
        .set("Ais-Checksum-Type", "xxhash")
        .set("Ais-Checksum-Value", "0000000000000000");
    let (code, msg) = t.status(req, Some(&body));
    assert_eq!(code, 400);
    assert!(msg.contains("checksum mismatch"), "{msg}");
    assert_eq!(t.status(ureq::get(&t.u("/v1/objects/b/bad")), None).0, 404);
    assert!(t.work_files().is_empty());
    let req = ureq::put(&t.u("/v1/objects/b/bad"))
        .set("Ais-Checksum-Type", "sha7")
        .set("Ais-Checksum-Value", "00");
    assert_eq!(t.status(req, Some(&body)).0, 400);
}
both_engines!(client_checksum);

fn list_objects_json_paging(engine: &str) {
    let (_d, t) = target(engine);
    t.create_bucket("b");
    let mut names: Vec<String> = (0..25).map(|i| format!("p/{:02}", i)).collect();
    names.extend((0..5).map(|i| format!("q{i}")));
    for n in &names {
        t.put("b", n, n.as_bytes());
    }
    let mut seen = Vec::new();
    let (mut uuid, mut token) = (String::new(), String::new());
    loop {
        let msg = serde_json::json!({"action":"list","value":{"prefix":"p/","pagesize":4,"uuid":uuid,"continuation_token":token,"props":"name,size,version","flags":"0"}});
        let page: serde_json::Value = ureq::get(&t.u("/v1/buckets/b"))
            .send_json(msg)
            .unwrap()
            .into_json()
            .unwrap();
        let entries = page["entries"].as_array().unwrap();
        assert!(entries.len() <= 4);
        for e in entries {
            assert_eq!(e["size"], "4");
            assert_eq!(e["version"], "1");
            seen.push(e["name"].as_str().unwrap().to_string());
        }
        uuid = page["uuid"].as_str().unwrap().to_string();
        assert!(!uuid.is_empty());
        token = page["continuation_token"].as_str().unwrap().to_string();
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(seen, names[..25]);
    // msgpack when asked for.
    let r = ureq::get(&t.u("/v1/buckets/b"))
        .set("Accept", "application/msgpack")
        .send_json(serde_json::json!({"action":"list","value":{"pagesize":2}}))
        .unwrap();
    assert_eq!(r.header("Content-Type"), Some("application/msgpack"));
    let mut raw = Vec::new();
    r.into_reader().read_to_end(&mut raw).unwrap();
    let page: serde_json::Value = rmp_serde::from_slice(&raw).unwrap();
    assert_eq!(page["Entries"].as_array().unwrap().len(), 2);
    assert_eq!(page["ContinuationToken"], "p/01");
    assert!(!page["UUID"].as_str().unwrap().is_empty());
    assert_eq!(page["Entries"][0]["n"], "p/00");
}
both_engines!(list_objects_json_paging);

fn daemon_health_metrics(engine: &str) {
    let (_d, t) = target(engine);
    let mps: serde_json::Value = ureq::get(&t.u("/v1/daemon?what=mountpaths"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(mps["available"].as_array().unwrap().len(), 4);
    let want = if engine == "uring" {
        "io_uring"
    } else {
        "psync"
    };
    for (_, e) in mps["io_engines"].as_object().unwrap() {
        assert_eq!(e, want);
    }
    let snode: serde_json::Value = ureq::get(&t.u("/v1/daemon?what=snode"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(snode["daemon_id"], t.id.as_str());
    assert_eq!(snode["daemon_type"], "target");
    assert_eq!(snode["public_net"]["direct_url"], t.url.as_str());
    let cfg: serde_json::Value = ureq::get(&t.u("/v1/daemon?what=config"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(cfg["chunk_size"], 256 << 10);
    assert_eq!(
        t.status(ureq::get(&t.u("/v1/daemon?what=bogus")), None).0,
        400
    );
    assert_eq!(t.status(ureq::get(&t.u("/v1/health")), None).0, 200);
    assert_eq!(
        t.status(ureq::get(&t.u("/v1/health?readiness=true")), None)
            .0,
        200
    );
    t.create_bucket("b");
    t.put("b", "m", &[1u8; 1000]);
    t.get("b", "m");
    t.get("b", "m");
    let _ = t.status(ureq::get(&t.u("/v1/objects/b/missing")), None);
    let value = |name: &str| t.metric(name);
    let text = ureq::get(&t.u("/metrics"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert_eq!(value("ais_target_put_count"), 1.0);
    assert_eq!(value("ais_target_get_count"), 2.0);
    assert_eq!(value("ais_target_get_bytes"), 2000.0);
    assert_eq!(value("ais_target_put_bytes"), 1000.0);
    assert_eq!(value("ais_target_err_get_count"), 1.0);
    assert_eq!(value("ais_target_disk_write_bytes"), 1000.0);
    assert!(text.contains(&format!("node_id=\"{}\"", t.id)));
}
both_engines!(daemon_health_metrics);

fn bad_input(engine: &str) {
    let (_d, t) = target(engine);
    t.create_bucket("b");
    let long = "x".repeat(1025);
    let long_component = format!("a/{}", "y".repeat(256));
    for path in [
        "/v1/objects/b/..".to_string(),
        "/v1/objects/b/%2e%2e".to_string(),
        "/v1/objects/b/a/../../etc".to_string(),
        "/v1/objects/b/a%2F..%2F..%2Fetc".to_string(),
        "/v1/objects/b/./x".to_string(),
        "/v1/objects/b/a//b".to_string(),
        "/v1/objects/b/".to_string(),
        "/v1/objects/b/%2Fabs".to_string(),
        "/v1/objects/b/nul%00byte".to_string(),
        "/v1/objects/b/bad%ffutf8".to_string(),
        "/v1/objects/b/trailing/".to_string(),
        format!("/v1/objects/b/{long}"),
        format!("/v1/objects/b/{long_component}"),
        "/v1/objects/bad%20bucket/x".to_string(),
        "/v1/objects/..%2Fb/x".to_string(),
    ] {
        let (code, _, body) = raw_req(&t.addr, "PUT", &path, "", b"data");
        assert_eq!(code, 400, "{path}: {}", String::from_utf8_lossy(&body));
        let msg: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(msg["status"], 400);
        let (code, _, _) = raw_req(&t.addr, "GET", &path, "", b"");
        assert!(code == 400, "GET {path}: {code}");
    }
    // Decoded exactly once: %252e%252e is the literal name "%2e%2e", a valid object.
    let (code, _, _) = raw_req(&t.addr, "PUT", "/v1/objects/b/%252e%252e", "", b"lit");
    assert_eq!(code, 200);
    assert_eq!(t.get("b", "%252e%252e"), b"lit");
    // Nothing escaped the bucket directory.
    for f in t.object_files() {
        assert!(
            f.to_string_lossy().contains("/@ais/b/%ob/"),
            "{}",
            f.display()
        );
    }
    // Malformed JSON, unknown actions, wrong provider.
    let (code, body) = t.status(ureq::post(&t.u("/v1/buckets/c")), Some(b"{not json"));
    assert_eq!(code, 400, "{body}");
    assert_eq!(
        t.status(
            ureq::post(&t.u("/v1/buckets/c")),
            Some(br#"{"action":"frobnicate"}"#)
        )
        .0,
        400
    );
    assert_eq!(
        t.status(
            ureq::get(&t.u("/v1/buckets/b")),
            Some(br#"{"action":"list","value":{"pagesize":"x"}}"#)
        )
        .0,
        400
    );
    assert_eq!(
        t.status(ureq::get(&t.u("/v1/objects/b/x?provider=aws")), None)
            .0,
        400
    );
    assert_eq!(
        t.status(
            ureq::post(&t.u("/v1/buckets/a%20b")),
            Some(br#"{"action":"create-bck"}"#)
        )
        .0,
        400
    );
    assert_eq!(t.status(ureq::get(&t.u("/v1/nothing")), None).0, 404);
    // Object where a directory of objects stands, and the other way round: a conflict
    // only when HRW puts both names on one mountpath; never a loss either way.
    t.put("b", "d/e", b"1");
    for (name, body) in [("d", b"2"), ("d/e/f", b"3")] {
        let (code, _) = t.status(
            ureq::put(&t.u(&format!("/v1/objects/b/{name}"))),
            Some(body),
        );
        assert!(code == 409 || code == 200, "{name}: {code}");
        if code == 200 {
            assert_eq!(t.get("b", name), body);
        }
    }
    assert_eq!(t.get("b", "d/e"), b"1");
    assert!(t.work_files().is_empty(), "{:?}", t.work_files());
}
both_engines!(bad_input);

fn size_limit(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mps = common::mountpaths(dir.path(), 2);
    let cfg = dir.path().join("ais.toml");
    std::fs::write(&cfg, "max_object_size = 1000\n").unwrap();
    let t = start(engine, &mps, &["--config", cfg.to_str().unwrap()]);
    t.create_bucket("b");
    assert_eq!(
        t.status(ureq::put(&t.u("/v1/objects/b/big")), Some(&[0u8; 1001]))
            .0,
        413
    );
    // Chunked body with no length announced.
    let mut req = b"PUT /v1/objects/b/chunked HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..3 {
        req.extend_from_slice(b"200\r\n");
        req.extend_from_slice(&[b'z'; 512]);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let (code, _, _) = common::raw(&t.addr, &req);
    assert_eq!(code, 413);
    assert_eq!(
        t.status(ureq::put(&t.u("/v1/objects/b/ok")), Some(&[0u8; 1000]))
            .0,
        200
    );
    assert_eq!(
        t.status(ureq::get(&t.u("/v1/objects/b/chunked")), None).0,
        404
    );
    assert!(t.work_files().is_empty());
}
both_engines!(size_limit);

fn direct_io_roundtrip(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mps = common::mountpaths(dir.path(), 2);
    let t = start(engine, &mps, &["--direct-io"]);
    t.create_bucket("d");
    for (i, size) in [0usize, 1, 4095, 4096, 1 << 20, (3 << 20) + 17]
        .into_iter()
        .enumerate()
    {
        let body = data(size, 100 + i as u64);
        let name = format!("obj-{size}");
        t.put("d", &name, &body);
        assert!(t.get("d", &name) == body, "content of {name}");
        // The padded O_DIRECT tail is truncated away on disk.
        let on_disk = t
            .object_files()
            .into_iter()
            .find(|p| p.ends_with(&name))
            .unwrap();
        assert_eq!(std::fs::metadata(on_disk).unwrap().len(), size as u64);
        if size > 5000 {
            for (range, from, to) in [
                ("bytes=5000-5009", 5000, 5010),
                ("bytes=-7", size - 7, size),
                ("bytes=4095-4097", 4095, 4098),
            ] {
                let r = ureq::get(&t.u(&format!("/v1/objects/d/{name}")))
                    .set("Range", range)
                    .call()
                    .unwrap();
                let mut got = Vec::new();
                r.into_reader().read_to_end(&mut got).unwrap();
                assert!(got == body[from..to], "{name} {range}");
            }
        }
    }
    let cfg: serde_json::Value = ureq::get(&t.u("/v1/daemon?what=config"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(cfg["direct_io"], true);
}
both_engines!(direct_io_roundtrip);

/// Drops an object file's pages from the page cache (written back first, so they go).
#[allow(unsafe_code)]
fn evict(path: &std::path::Path) {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(path).unwrap();
    f.sync_all().unwrap();
    // SAFETY: a valid descriptor; fadvise only changes cache state.
    let rc = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    assert_eq!(rc, 0);
}

/// GETs of hot objects are served from the page cache on the request's thread; evicted
/// ones go through the disk threads; both give the same bytes. With the fast path off,
/// everything goes through the disk threads.
fn cache_and_disk_reads(engine: &str) {
    let sizes = [4096usize, 100_000, (1 << 20) + 17];
    let total = sizes.iter().sum::<usize>() as f64;
    for fast in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let mps = common::mountpaths(dir.path(), 4);
        let cfg = dir.path().join("cfg.toml");
        std::fs::write(&cfg, format!("inline_cache_hits = {fast}\n")).unwrap();
        let t = start(engine, &mps, &["--config", cfg.to_str().unwrap()]);
        t.create_bucket("b");
        let bodies: Vec<Vec<u8>> = sizes.iter().map(|&n| data(n, n as u64)).collect();
        for (i, body) in bodies.iter().enumerate() {
            t.put("b", &format!("o{i}"), body);
        }
        let read_all = || {
            for (i, body) in bodies.iter().enumerate() {
                assert!(t.get("b", &format!("o{i}")) == *body, "content of o{i}");
            }
        };
        read_all();
        let (cache, disk) = (
            t.metric("ais_target_cache_read_bytes"),
            t.metric("ais_target_disk_read_bytes"),
        );
        if fast {
            assert_eq!(
                (cache, disk),
                (total, 0.0),
                "hot objects come from the cache"
            );
        } else {
            assert_eq!(
                (cache, disk),
                (0.0, total),
                "fast path off: all via disk threads"
            );
        }
        for f in t.object_files() {
            evict(&f);
        }
        read_all();
        let disk_after = t.metric("ais_target_disk_read_bytes");
        assert!(
            disk_after - disk >= sizes[2] as f64,
            "an evicted 1 MiB object is read by the disk thread ({disk} -> {disk_after})"
        );
        // Overwrites of the same size, read at once and then again (the second and later
        // reads of a hot small object are served from the content kept in memory): the
        // metadata and content kept for the old file are never served with the new one.
        for v in 2..6u64 {
            let body = data(sizes[0], 1000 + v);
            t.put("b", "o0", &body);
            for read in 0..3 {
                let get = ureq::get(&t.u("/v1/objects/b/o0")).call().unwrap();
                assert_eq!(get.header("Ais-Version"), Some(v.to_string().as_str()));
                let want = format!("{:016x}", xxhash_rust::xxh64::xxh64(&body, 0));
                assert_eq!(get.header("Ais-Checksum-Value"), Some(want.as_str()));
                let mut got = Vec::new();
                get.into_reader().read_to_end(&mut got).unwrap();
                assert!(got == body, "version {v}, read {read}");
            }
        }
        // A file replaced behind the target's back (here: o1's file moved over o2's) is
        // noticed by the next check of the kept descriptor (at most a second later: the
        // replaced inode has no links left): GET o2 then serves what is on disk, never the
        // file or metadata kept open for the old o2.
        t.get("b", "o2");
        let files = t.object_files();
        let file_of = |name: &str| files.iter().find(|p| p.ends_with(name)).unwrap().clone();
        std::fs::rename(file_of("o1"), file_of("o2")).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let get = ureq::get(&t.u("/v1/objects/b/o2")).call().unwrap();
        assert_eq!(
            get.header("Content-Length"),
            Some(sizes[1].to_string().as_str())
        );
        let mut got = Vec::new();
        get.into_reader().read_to_end(&mut got).unwrap();
        assert!(got == bodies[1], "o2 now holds o1's file");
    }
}
both_engines!(cache_and_disk_reads);
