//! Test harness: starts the real `aisnode` binary on loopback with temp mountpaths and
//! talks to it over real sockets.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Runs `body` once per I/O engine.
#[macro_export]
macro_rules! both_engines {
    ($name:ident) => {
        mod $name {
            #[test]
            fn uring() {
                super::$name("uring")
            }
            #[test]
            fn psync() {
                super::$name("psync")
            }
        }
    };
}

/// A running target process.
pub struct Target {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    /// `127.0.0.1:PORT`
    pub addr: String,
    /// Node ID it reported.
    pub id: String,
    /// Its mountpaths.
    pub mountpaths: Vec<PathBuf>,
    /// Where its log goes.
    pub log: PathBuf,
}

/// `n` fresh mountpath directories under `root`.
pub fn mountpaths(root: &Path, n: usize) -> Vec<PathBuf> {
    (1..=n)
        .map(|i| {
            let p = root.join(format!("mp{i}"));
            std::fs::create_dir_all(&p).unwrap();
            p
        })
        .collect()
}

/// Starts a target; panics with its log if it does not come up.
pub fn start(engine: &str, mps: &[PathBuf], extra: &[&str]) -> Target {
    try_start(engine, mps, extra).unwrap_or_else(|log| panic!("target did not start:\n{log}"))
}

/// Starts a target, or returns its log if it exits or stays silent.
pub fn try_start(engine: &str, mps: &[PathBuf], extra: &[&str]) -> Result<Target, String> {
    let log = mps[0]
        .parent()
        .unwrap()
        .join(format!("target-{}.log", rand_suffix()));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aisnode"));
    cmd.args([
        "target",
        "--port",
        "0",
        "--host",
        "127.0.0.1",
        "--allow-shared-fs",
        "--io-engine",
        engine,
    ]);
    for mp in mps {
        cmd.arg("--mountpath").arg(mp);
    }
    cmd.args(extra);
    spawn_node(cmd, log, mps.to_vec())
}

/// The cluster secret of nodes a test starts without one of its own.
pub const TEST_CLUSTER_SECRET: &str = "tests-cluster-secret";

/// Starts a proxy keeping its state in `state_dir`; panics with its log on failure.
pub fn start_proxy(state_dir: &Path, extra: &[&str]) -> Target {
    std::fs::create_dir_all(state_dir).unwrap();
    let log = state_dir.join(format!("proxy-{}.log", rand_suffix()));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aisnode"));
    cmd.args(["proxy", "--host", "127.0.0.1"])
        .arg("--state-dir")
        .arg(state_dir);
    if !extra.contains(&"--port") {
        cmd.args(["--port", "0"]);
    }
    cmd.args(extra);
    spawn_node(cmd, log, Vec::new()).unwrap_or_else(|log| panic!("proxy did not start:\n{log}"))
}

/// Spawns a node and waits for its "listening on URL" line.
fn spawn_node(mut cmd: Command, log: PathBuf, mps: Vec<PathBuf>) -> Result<Target, String> {
    cmd.env_remove("AIS_DAEMON_ID").env("AIS_LOG", "info");
    // Nodes join only with the cluster's secret: every node of the tests shares one.
    let has_secret = cmd.get_envs().any(|(k, _)| {
        k == "AIS_CLUSTER_SECRET" || k == "AIS_AUTHN_SECRET_KEY" || k == "AIS_NO_CLUSTER_SECRET"
    }) || cmd
        .get_args()
        .any(|a| a == "--cluster-secret-file" || a == "--no-cluster-secret");
    if !has_secret {
        cmd.env("AIS_CLUSTER_SECRET", TEST_CLUSTER_SECRET);
    }
    cmd.stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut child = cmd.spawn().expect("spawn aisnode");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        for _ in lines {}
    });
    let line = match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(l) => l,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::fs::read_to_string(&log).unwrap_or_default());
        }
    };
    // "aisnode target <ID> listening on http://127.0.0.1:PORT"
    let words: Vec<&str> = line.split_whitespace().collect();
    let url = words.last().unwrap().to_string();
    Ok(Target {
        child,
        addr: url.trim_start_matches("http://").to_string(),
        url,
        id: words[2].to_string(),
        mountpaths: mps,
        log,
    })
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

impl Target {
    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::forget(self);
    }

    /// The sum of every sample of metric `name` in this node's `/metrics`.
    pub fn metric(&self, name: &str) -> f64 {
        let text = ureq::get(&self.u("/metrics"))
            .call()
            .unwrap()
            .into_string()
            .unwrap();
        text.lines()
            .filter(|l| l.split(['{', ' ']).next() == Some(name))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum()
    }

    /// The cluster map this node serves.
    pub fn smap(&self) -> serde_json::Value {
        ureq::get(&self.u("/v1/daemon?what=smap"))
            .call()
            .unwrap()
            .into_json()
            .unwrap()
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = self.child.wait().unwrap();
        std::mem::forget(self);
        status
    }

    /// `url` + `path`.
    pub fn u(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    /// Creates bucket `b`.
    pub fn create_bucket(&self, b: &str) {
        ureq::post(&self.u(&format!("/v1/buckets/{b}")))
            .send_string(r#"{"action":"create-bck"}"#)
            .unwrap();
    }

    /// PUTs `data` as `b/o`.
    pub fn put(&self, b: &str, o: &str, data: &[u8]) -> ureq::Response {
        ureq::put(&self.u(&format!("/v1/objects/{b}/{o}")))
            .send_bytes(data)
            .unwrap()
    }

    /// GETs `b/o` (panics unless 200).
    pub fn get(&self, b: &str, o: &str) -> Vec<u8> {
        let mut out = Vec::new();
        ureq::get(&self.u(&format!("/v1/objects/{b}/{o}")))
            .call()
            .unwrap()
            .into_reader()
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    /// Status of a request, with its body (any status).
    pub fn status(&self, req: ureq::Request, body: Option<&[u8]>) -> (u16, String) {
        let res = match body {
            Some(b) => req.send_bytes(b),
            None => req.call(),
        };
        match res {
            Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
            Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
            Err(e) => panic!("transport error: {e}"),
        }
    }

    /// Every file under the mountpaths' work directories.
    pub fn work_files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for mp in &self.mountpaths {
            walk(mp, &mut |p| {
                if p.components().any(|c| c.as_os_str() == "%wk") {
                    out.push(p.to_path_buf());
                }
            });
        }
        out
    }

    /// Every object file under the mountpaths.
    pub fn object_files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for mp in &self.mountpaths {
            walk(mp, &mut |p| {
                if p.components().any(|c| c.as_os_str() == "%ob") {
                    out.push(p.to_path_buf());
                }
            });
        }
        out
    }
}

impl Target {
    /// Files in the mountpaths' trash (where destroyed buckets wait for removal).
    pub fn trash_files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for mp in &self.mountpaths {
            walk(&mp.join(".ais.trash"), &mut |p| out.push(p.to_path_buf()));
        }
        out
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, f);
        } else {
            f(&p);
        }
    }
}

/// A raw HTTP/1.1 exchange (for requests a URL library would normalise).
/// Returns status, lower-cased head, body.
pub fn raw(addr: &str, request: &[u8]) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(out.len(), |i| i + 4);
    let head = String::from_utf8_lossy(&out[..split]).to_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head, out[split..].to_vec())
}

/// A raw request with `Connection: close`.
pub fn raw_req(
    addr: &str,
    method: &str,
    path: &str,
    headers: &str,
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n{headers}\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    raw(addr, &req)
}

/// Deterministic pseudo-random bytes.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
