//! A node's jobs (AIStore's "xactions") as its API shows them: every action that answers
//! a job ID (bucket copy, multi-object copy and delete, rename, summary) leaves a record
//! here, which `GET /v1/cluster?what=status` (one job's end, error, abort) and
//! `?what=qryxstats` (per-node snapshots with counts) report, and `stop` aborts.
//! Finished records are kept for a while so a poller that comes late still finds them.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::Rng;
use serde::Serialize;
use serde_json::{json, Value};

/// Finished jobs are kept this long for their poller.
const KEEP_DONE: Duration = Duration::from_secs(600);
/// At most this many jobs are remembered (the oldest finished ones go first).
const MAX_JOBS: usize = 256;
/// How Go shows a zero time (a job that has not ended).
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// What one node did for a job (AIStore's `loc-*`, `in-*`, `out-*` counters).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    #[serde(rename = "loc-objs")]
    pub objects: u64,
    #[serde(rename = "loc-bytes")]
    pub bytes: u64,
    #[serde(rename = "out-objs")]
    pub out_objects: u64,
    #[serde(rename = "out-bytes")]
    pub out_bytes: u64,
    #[serde(rename = "in-objs")]
    pub in_objects: u64,
    #[serde(rename = "in-bytes")]
    pub in_bytes: u64,
}

impl Counts {
    pub fn add(&mut self, other: &Counts) {
        self.objects += other.objects;
        self.bytes += other.bytes;
        self.out_objects += other.out_objects;
        self.out_bytes += other.out_bytes;
        self.in_objects += other.in_objects;
        self.in_bytes += other.in_bytes;
    }
}

struct Job {
    kind: String,
    bucket: String,
    to_bucket: Option<String>,
    started: SystemTime,
    /// When it started or ended, for expiry.
    since: Instant,
    ended: Option<SystemTime>,
    /// The job's answer (for jobs that have one, such as a summary), or why it failed.
    outcome: Option<Result<Value, String>>,
    counts: BTreeMap<String, Counts>,
    abort: Arc<AtomicBool>,
}

/// A node's jobs.
#[derive(Default, Clone)]
pub struct Jobs {
    jobs: Arc<Mutex<HashMap<String, Job>>>,
}

/// What a running job gets: where to add its counts, and whether it was told to stop.
#[derive(Clone)]
pub struct Progress {
    jobs: Jobs,
    id: String,
    abort: Arc<AtomicBool>,
}

impl Progress {
    /// Adds what `node` did.
    pub fn add(&self, node: &str, counts: Counts) {
        let mut jobs = self.jobs.lock();
        if let Some(j) = jobs.get_mut(&self.id) {
            j.counts.entry(node.to_string()).or_default().add(&counts);
        }
    }

    /// The job's ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Ends the job with `outcome` (a job begun with [`Jobs::begin`]).
    pub fn end(&self, outcome: Result<Value, String>) {
        self.jobs.finish(&self.id, outcome);
    }

    /// Whether the job was aborted (`stop`); a job checks between steps.
    pub fn aborted(&self) -> bool {
        self.abort.load(Ordering::Acquire)
    }
}

/// Where a job is.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    Running,
    Done(Result<Value, String>),
}

impl Jobs {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Job>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn register(&self, kind: &str, bucket: &str, to_bucket: Option<&str>) -> Progress {
        let id = job_id();
        let abort = Arc::new(AtomicBool::new(false));
        let mut jobs = self.lock();
        jobs.retain(|_, j| j.ended.is_none() || j.since.elapsed() < KEEP_DONE);
        while jobs.len() >= MAX_JOBS {
            let oldest = jobs
                .iter()
                .filter(|(_, j)| j.ended.is_some())
                .min_by_key(|(_, j)| j.since)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => jobs.remove(&k),
                None => break,
            };
        }
        jobs.insert(
            id.clone(),
            Job {
                kind: kind.to_string(),
                bucket: bucket.to_string(),
                to_bucket: to_bucket.map(str::to_string),
                started: SystemTime::now(),
                since: Instant::now(),
                ended: None,
                outcome: None,
                counts: BTreeMap::new(),
                abort: abort.clone(),
            },
        );
        Progress {
            jobs: self.clone(),
            id,
            abort,
        }
    }

    fn finish(&self, id: &str, outcome: Result<Value, String>) {
        let mut jobs = self.lock();
        // A job ends once: a late "stopped" does not overwrite how it really ended.
        if let Some(j) = jobs.get_mut(id).filter(|j| j.outcome.is_none()) {
            j.ended = Some(SystemTime::now());
            j.since = Instant::now();
            j.outcome = Some(outcome);
        }
    }

    /// Starts `work` in the background and returns the job's ID at once.
    pub fn start<F, Fut>(
        &self,
        kind: &str,
        bucket: &str,
        to_bucket: Option<&str>,
        work: F,
    ) -> String
    where
        F: FnOnce(Progress) -> Fut,
        Fut: Future<Output = Result<Value, String>> + Send + 'static,
    {
        let progress = self.register(kind, bucket, to_bucket);
        let (jobs, id) = (self.clone(), progress.id.clone());
        let fut = work(progress);
        let key = id.clone();
        tokio::spawn(async move {
            let outcome = fut.await;
            if let Err(e) = &outcome {
                tracing::warn!(job = %key, error = %e, "job failed");
            }
            jobs.finish(&key, outcome);
        });
        id
    }

    /// Registers a job its caller runs and ends itself (see [`Progress::end`]).
    pub fn begin(&self, kind: &str, bucket: &str) -> Progress {
        self.register(kind, bucket, None)
    }

    /// Records a job already done by the caller (its counts by node) and returns its ID.
    pub fn record_done(
        &self,
        kind: &str,
        bucket: &str,
        to_bucket: Option<&str>,
        counts: &[(String, Counts)],
    ) -> String {
        let progress = self.register(kind, bucket, to_bucket);
        for (node, c) in counts {
            progress.add(node, *c);
        }
        self.finish(&progress.id, Ok(Value::Null));
        progress.id
    }

    /// Where job `id` is, if it is known.
    pub fn state(&self, id: &str) -> Option<State> {
        let jobs = self.lock();
        jobs.get(id).map(|j| match &j.outcome {
            None => State::Running,
            Some(o) => State::Done(o.clone()),
        })
    }

    /// Tells job `id` (or every running job of `kind` when `id` is empty) to stop;
    /// whether any was found.
    pub fn abort(&self, id: &str, kind: &str) -> bool {
        let jobs = self.lock();
        let mut found = false;
        for (k, j) in jobs.iter() {
            let hit = if id.is_empty() {
                j.kind == kind && j.ended.is_none()
            } else {
                k == id
            };
            if hit {
                j.abort.store(true, Ordering::Release);
                found = true;
            }
        }
        found
    }

    /// AIStore's `nl.Status` of job `id`: `uuid`, `err`, `end_time` (unix ns, 0 while it
    /// runs), `aborted`.
    pub fn status(&self, id: &str) -> Option<Value> {
        let jobs = self.lock();
        jobs.get(id).map(|j| status_of(id, j))
    }

    /// The status of every job (of `kind` when not empty; running ones only if asked),
    /// oldest first: AIStore's `what=status_all`.
    pub fn statuses(&self, kind: &str, running_only: bool) -> Vec<Value> {
        let jobs = self.lock();
        let mut hits: Vec<_> = jobs
            .iter()
            .filter(|(_, j)| {
                (kind.is_empty() || j.kind == kind) && !(running_only && j.ended.is_some())
            })
            .collect();
        hits.sort_by_key(|(_, j)| j.started);
        hits.into_iter().map(|(id, j)| status_of(id, j)).collect()
    }

    /// `kind[id]` of every running job (of `kind` when not empty): `what=running_all`.
    pub fn running(&self, kind: &str) -> Vec<String> {
        let jobs = self.lock();
        let mut hits: Vec<_> = jobs
            .iter()
            .filter(|(_, j)| j.ended.is_none() && (kind.is_empty() || j.kind == kind))
            .map(|(id, j)| (j.started, format!("{}[{id}]", j.kind)))
            .collect();
        hits.sort();
        hits.into_iter().map(|(_, s)| s).collect()
    }

    /// Snapshots by node (AIStore's `qryxstats`): of job `id`, or of every job of `kind`
    /// when `id` is empty. A job with no per-node counts shows under `me`.
    pub fn snapshots(&self, id: &str, kind: &str, me: &str) -> BTreeMap<String, Vec<Value>> {
        let jobs = self.lock();
        let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for (k, j) in jobs.iter() {
            let hit = if id.is_empty() {
                kind.is_empty() || j.kind == kind
            } else {
                k == id
            };
            if !hit {
                continue;
            }
            let mut per_node: Vec<(String, Counts)> =
                j.counts.iter().map(|(n, c)| (n.clone(), *c)).collect();
            if per_node.is_empty() {
                per_node.push((me.to_string(), Counts::default()));
            }
            for (node, counts) in per_node {
                out.entry(node).or_default().push(snapshot(k, j, &counts));
            }
        }
        out
    }
}

fn status_of(id: &str, j: &Job) -> Value {
    let err = match &j.outcome {
        Some(Err(e)) => e.clone(),
        _ => String::new(),
    };
    json!({
        "uuid": id,
        "kind": j.kind,
        "err": err,
        "end_time": j.ended.map_or(0, unix_ns),
        "aborted": j.abort.load(Ordering::Acquire),
    })
}

/// The store cleanup job's kind (AIStore's `cleanup-store`, shown as "cleanup").
pub const CLEANUP_STORE: &str = "cleanup-store";

/// A job kind as AIStore names it: its display names ("cleanup") taken too.
pub fn kind_name(kind: &str) -> &str {
    match kind {
        "cleanup" => CLEANUP_STORE,
        other => other,
    }
}

/// One AIStore `core.Snap`.
fn snapshot(id: &str, j: &Job, counts: &Counts) -> Value {
    let bck = |name: &str| json!({"name": name, "provider": "ais", "namespace": {"uuid": "", "name": ""}});
    let aborted = j.abort.load(Ordering::Acquire);
    let abort_err = match (&j.outcome, aborted) {
        (_, true) => "aborted".to_string(),
        (Some(Err(e)), _) => e.clone(),
        _ => String::new(),
    };
    let mut s = json!({
        "id": id,
        "kind": j.kind,
        "bck": bck(&j.bucket),
        "start-time": rfc3339(j.started),
        "end-time": j.ended.map_or_else(|| GO_ZERO_TIME.to_string(), rfc3339),
        "stats": counts,
        "aborted": aborted,
        "abort-err": abort_err,
        // A job that has ended has nothing left to do.
        "is_idle": j.ended.is_some(),
    });
    if let Some(to) = &j.to_bucket {
        s["src-bck"] = bck(&j.bucket);
        s["dst-bck"] = bck(to);
    }
    s
}

fn unix_ns(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_micros(t).to_string()
}

/// A job ID in the shape of AIStore's (letters and digits).
pub fn job_id() -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    (0..10)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

/// The `ID` and `Kind` of the SDK's job query body (`JobArgs`; lower-case keys taken too).
pub fn query_args(body: &[u8]) -> (String, String) {
    let v: Value = serde_json::from_slice(body).unwrap_or_default();
    (field(&v, "ID", "id").to_string(), kind_of(&v))
}

/// The job kind a `JobArgs` value names (`Kind`, or `kind` from older callers).
pub fn kind_of(v: &Value) -> String {
    kind_name(field(v, "Kind", "kind")).to_string()
}

fn field<'a>(v: &'a Value, upper: &str, lower: &str) -> &'a str {
    v.get(upper)
        .or_else(|| v.get(lower))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The SDK's `JobQuery` body of `status_all` and `running_all`: kind, running only.
pub fn list_args(body: &[u8]) -> (String, bool) {
    let v: Value = serde_json::from_slice(body).unwrap_or_default();
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
    let active = v
        .get("show_active")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    (kind_name(kind).to_string(), active)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_started_job_runs_then_reports_its_end_and_counts() {
        let jobs = Jobs::default();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let id = jobs.start("copy-bck", "src", Some("dst"), |p| async move {
            p.add(
                "t1",
                Counts {
                    objects: 2,
                    bytes: 10,
                    ..Default::default()
                },
            );
            let _ = rx.await;
            Ok(Value::Null)
        });
        tokio::task::yield_now().await;
        assert_eq!(jobs.state(&id), Some(State::Running));
        assert_eq!(jobs.status(&id).unwrap()["end_time"], 0);
        let snaps = jobs.snapshots(&id, "", "me");
        assert_eq!(snaps["t1"][0]["end-time"], GO_ZERO_TIME);
        assert_eq!(snaps["t1"][0]["is_idle"], false);
        tx.send(()).unwrap();
        for _ in 0..100 {
            if jobs.state(&id) != Some(State::Running) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let st = jobs.status(&id).unwrap();
        assert!(st["end_time"].as_u64().unwrap() > 0);
        assert_eq!(st["err"], "");
        let snaps = jobs.snapshots("", "copy-bck", "me");
        assert_eq!(snaps["t1"][0]["stats"]["loc-objs"], 2);
        assert_eq!(snaps["t1"][0]["dst-bck"]["name"], "dst");
        assert_eq!(snaps["t1"][0]["is_idle"], true);
        assert!(jobs.status("nope").is_none());
    }

    #[test]
    fn a_recorded_job_is_done_and_can_be_found_by_kind() {
        let jobs = Jobs::default();
        let id = jobs.record_done("delete-listrange", "b", None, &[]);
        assert!(matches!(jobs.state(&id), Some(State::Done(Ok(_)))));
        let snaps = jobs.snapshots("", "delete-listrange", "me");
        assert_eq!(snaps["me"].len(), 1);
        assert!(jobs.snapshots("", "copy-bck", "me").is_empty());
        assert!(jobs.abort(&id, ""));
        assert_eq!(jobs.status(&id).unwrap()["aborted"], true);
    }

    #[test]
    fn jobs_are_listed_by_kind_and_running_state() {
        let jobs = Jobs::default();
        let done = jobs.record_done("lru", "", None, &[]);
        let running = jobs.begin("cleanup-store", "");
        let ids = |v: Vec<Value>| {
            v.iter()
                .map(|s| s["uuid"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ids(jobs.statuses("", false)),
            vec![done.clone(), running.id().to_string()]
        );
        assert_eq!(ids(jobs.statuses("lru", false)), vec![done]);
        assert_eq!(ids(jobs.statuses("", true)), vec![running.id().to_string()]);
        assert_eq!(
            jobs.running(""),
            vec![format!("cleanup-store[{}]", running.id())]
        );
        assert!(jobs.running("lru").is_empty());
        assert_eq!(
            list_args(br#"{"kind":"cleanup","node":"","show_active":true}"#),
            ("cleanup-store".into(), true)
        );
        assert_eq!(query_args(br#"{"Kind":"cleanup"}"#).1, "cleanup-store");
    }

    #[test]
    fn query_args_take_either_spelling() {
        assert_eq!(
            query_args(br#"{"ID":"a","Kind":"k"}"#),
            ("a".into(), "k".into())
        );
        assert_eq!(query_args(br#"{"id":"a"}"#), ("a".into(), "".into()));
        assert_eq!(query_args(b"not json"), ("".into(), "".into()));
    }
}
