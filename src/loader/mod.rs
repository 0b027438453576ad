//! aisloader: a load generator for AIStore's native API (through the proxy's redirects)
//! and for plain HTTP servers (`--get-urls`), with aisloader's flags and output.
//!
//! Workers are tokio tasks sharing one pooled client. Each picks PUT or GET by `--pctput`,
//! PUTs slices of one random buffer made at start (no per-request allocation), and GETs
//! random objects (or each once with `--uniquegets`). Latencies go into HDR histograms.

mod api;
pub mod args;
mod batch;
mod client;
pub mod stats;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;
use rand::{Rng, SeedableRng};

pub use args::LoaderArgs;
use client::LoadClient;
use stats::{Op, OpStats, Summary};

#[derive(Default)]
struct Totals {
    put: OpStats,
    get: OpStats,
}

struct Shared {
    args: LoaderArgs,
    api: api::Api,
    client: LoadClient,
    payload: Bytes,
    /// Objects available to GET (listed at start, plus this run's PUTs).
    objects: Mutex<Vec<String>>,
    /// Names this run PUT (for --cleanup).
    created: Mutex<Vec<String>>,
    next_unique: AtomicUsize,
    puts: AtomicU64,
    put_bytes: AtomicU64,
    stop: AtomicBool,
    interval: Mutex<Totals>,
    total: Mutex<Totals>,
}

/// The result of a run.
pub struct Report {
    /// One summary per operation that ran.
    pub summaries: Vec<Summary>,
    /// Total errors.
    pub errors: u64,
}

/// Runs the load described by `args`, printing as it goes; returns the final numbers.
pub async fn run(args: LoaderArgs) -> Result<Report, String> {
    args.validate()?;
    let endpoint = args.endpoint();
    let api = match args.api {
        args::ApiKind::Native => api::Api::Native { endpoint },
        args::ApiKind::S3 => api::Api::S3 {
            endpoint,
            creds: crate::s3::auth::Credentials {
                access_key: args.s3_access_key.clone(),
                secret_key: args.s3_secret_key.clone(),
                users: Vec::new(),
            },
        },
    };
    let client = LoadClient::new(args.numworkers * 2);
    let seed = if args.seed == 0 {
        rand::random()
    } else {
        args.seed
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut buf = vec![0u8; args.maxsize as usize];
    rng.fill(&mut buf[..]);
    let payload = Bytes::from(buf);

    let objects = if let Some(file) = &args.get_urls {
        std::fs::read_to_string(file)
            .map_err(|e| format!("{}: {e}", file.display()))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    } else {
        api.ensure_bucket(&client, &args.bucket).await?;
        if args.pctput < 100 {
            api.list_bucket(&client, &args.bucket, args.arch_list)
                .await?
        } else {
            Vec::new()
        }
    };
    if args.pctput == 0 && objects.is_empty() {
        return Err(format!(
            "nothing to GET: bucket {} is empty (PUT some with --pctput)",
            args.bucket
        ));
    }
    let shared = Arc::new(Shared {
        api,
        client,
        payload,
        objects: Mutex::new(objects),
        created: Mutex::new(Vec::new()),
        next_unique: AtomicUsize::new(0),
        puts: AtomicU64::new(0),
        put_bytes: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        interval: Mutex::new(Totals::default()),
        total: Mutex::new(Totals::default()),
        args,
    });

    let start = Instant::now();
    let mut workers = Vec::new();
    for w in 0..shared.args.numworkers {
        let s = shared.clone();
        let wseed = seed.wrapping_add(w as u64 + 1);
        workers.push(tokio::spawn(async move { worker(s, wseed, start).await }));
    }
    let reporter = tokio::spawn(report_loop(shared.clone(), start));
    for w in workers {
        let _ = w.await;
    }
    reporter.abort();
    let elapsed = start.elapsed().as_secs_f64();
    let (summaries, errors) = {
        let total = lock(&shared.total);
        let mut summaries = Vec::new();
        if total.put.count + total.put.errors > 0 {
            summaries.push(total.put.summary(Op::Put, elapsed));
        }
        if total.get.count + total.get.errors > 0 {
            summaries.push(total.get.summary(Op::Get, elapsed));
        }
        (summaries, total.put.errors + total.get.errors)
    };
    if shared.args.cleanup {
        cleanup(&shared).await;
    }
    Ok(Report { summaries, errors })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn done(s: &Shared, start: Instant) -> bool {
    let a = &s.args;
    s.stop.load(Ordering::Relaxed)
        || (!a.duration.is_zero() && start.elapsed() >= a.duration)
        || (a.maxputs > 0 && s.puts.load(Ordering::Relaxed) >= a.maxputs)
        || (a.totalputsize > 0 && s.put_bytes.load(Ordering::Relaxed) >= a.totalputsize)
}

async fn worker(s: Arc<Shared>, seed: u64, start: Instant) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    while !done(&s, start) {
        let put = s.args.get_urls.is_none() && rng.gen_range(0..100u8) < s.args.pctput;
        if put {
            do_put(&s, &mut rng).await;
        } else if !do_get(&s, &mut rng).await {
            // --uniquegets ran out: GETs are finished; stop unless PUTs remain to do.
            if s.args.pctput == 0 {
                s.stop.store(true, Ordering::Relaxed);
            }
            break;
        }
    }
}

async fn do_put(s: &Shared, rng: &mut rand::rngs::StdRng) {
    let a = &s.args;
    let n = s.puts.fetch_add(1, Ordering::Relaxed);
    if a.maxputs > 0 && n >= a.maxputs {
        return;
    }
    let size = rng.gen_range(a.minsize..=a.maxsize) as usize;
    let body = s.payload.slice(0..size);
    s.put_bytes.fetch_add(size as u64, Ordering::Relaxed);
    let name = format!("{:016x}", rng.gen::<u64>());
    let url = s.api.object_url(&a.bucket, &name);
    let headers = s
        .api
        .headers(&Method::PUT, &url, Some(&body), a.cksum_type == "xxhash");
    let t = Instant::now();
    let res = s
        .client
        .send(Method::PUT, &url, body, &headers, false)
        .await;
    let lat = t.elapsed();
    let ok = matches!(&res, Ok(o) if o.status.is_success());
    record(s, Op::Put, ok, lat, size as u64, &res);
    if ok {
        lock(&s.objects).push(name.clone());
        lock(&s.created).push(name);
    }
}

/// Returns false when --uniquegets has read every object.
async fn do_get(s: &Shared, rng: &mut rand::rngs::StdRng) -> bool {
    let a = &s.args;
    if a.get_batchsize > 0 {
        return do_get_batch(s, rng).await;
    }
    let pick = {
        let objects = lock(&s.objects);
        if objects.is_empty() {
            None
        } else if a.uniquegets {
            let i = s.next_unique.fetch_add(1, Ordering::Relaxed);
            match objects.get(i) {
                Some(n) => Some(n.clone()),
                None => return false,
            }
        } else {
            Some(objects[rng.gen_range(0..objects.len())].clone())
        }
    };
    let Some(name) = pick else {
        // Nothing PUT yet in a mixed run: wait for the first objects.
        tokio::time::sleep(Duration::from_millis(10)).await;
        return true;
    };
    let url = if a.get_urls.is_some() {
        name
    } else {
        s.api.object_url(&a.bucket, &name)
    };
    let mut headers = if a.get_urls.is_some() {
        Vec::new()
    } else {
        s.api.headers(&Method::GET, &url, None, false)
    };
    let ranged = a.readlen > 0 || a.readoff > 0;
    if ranged {
        let end = if a.readlen > 0 {
            (a.readoff + a.readlen - 1).to_string()
        } else {
            String::new()
        };
        headers.push(("Range", format!("bytes={}-{end}", a.readoff)));
    }
    let verify = a.verifyhash && !ranged;
    let t = Instant::now();
    let res = s
        .client
        .send(Method::GET, &url, Bytes::new(), &headers, verify)
        .await;
    let lat = t.elapsed();
    let mut ok = matches!(&res, Ok(o) if o.status.is_success());
    if ok && verify {
        if let Ok(o) = &res {
            let want = o
                .headers
                .get("ais-checksum-value")
                .and_then(|v| v.to_str().ok());
            if want.is_some() && want != o.xxhash.as_deref() {
                eprintln!(
                    "checksum mismatch: {url}: header {want:?}, data {:?}",
                    o.xxhash
                );
                ok = false;
            }
        }
    }
    let bytes = res.as_ref().map_or(0, |o| o.received);
    record(s, Op::Get, ok, lat, bytes, &res);
    true
}

/// One GetBatch of `--get-batchsize` items (fewer at the end of --uniquegets); false
/// when --uniquegets has read every object.
async fn do_get_batch(s: &Shared, rng: &mut rand::rngs::StdRng) -> bool {
    let a = &s.args;
    let names: Vec<String> = {
        let objects = lock(&s.objects);
        if a.uniquegets {
            let from = s.next_unique.fetch_add(a.get_batchsize, Ordering::Relaxed);
            let to = (from + a.get_batchsize).min(objects.len());
            objects.get(from..to).unwrap_or_default().to_vec()
        } else if objects.is_empty() {
            Vec::new()
        } else {
            (0..a.get_batchsize)
                .map(|_| objects[rng.gen_range(0..objects.len())].clone())
                .collect()
        }
    };
    if names.is_empty() {
        if a.uniquegets {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        return true;
    }
    let url = format!(
        "{}{}/{}",
        a.endpoint(),
        crate::wire::moss::MOSS_PATH,
        a.bucket
    );
    let body = bytes::Bytes::from(batch::request_body(&a.bucket, &names));
    let headers = [("Content-Type", "application/json".to_string())];
    let mut count = batch::TarCount::default();
    let t = Instant::now();
    let res = s
        .client
        .send_into(Method::GET, &url, body, &headers, |d| count.feed(d))
        .await;
    let lat = t.elapsed();
    let mut ok = matches!(&res, Ok(o) if o.status.is_success());
    if ok && count.files != names.len() as u64 {
        eprintln!(
            "GetBatch of {} items held {} files",
            names.len(),
            count.files
        );
        ok = false;
    }
    let bytes = res.as_ref().map_or(0, |o| o.received);
    if ok {
        for totals in [&s.interval, &s.total] {
            lock(totals)
                .get
                .record_items(lat, bytes, names.len() as u64);
        }
    } else {
        record(s, Op::Get, false, lat, bytes, &res);
    }
    true
}

fn record(
    s: &Shared,
    op: Op,
    ok: bool,
    lat: Duration,
    bytes: u64,
    res: &Result<client::Outcome, String>,
) {
    if !ok {
        static REPORTED: AtomicU64 = AtomicU64::new(0);
        if REPORTED.fetch_add(1, Ordering::Relaxed) < 5 {
            match res {
                Ok(o) => eprintln!("{} failed: {} {}", op.name(), o.status, o.error_text.trim()),
                Err(e) => eprintln!("{} failed: {e}", op.name()),
            }
        }
    }
    for totals in [&s.interval, &s.total] {
        let mut t = lock(totals);
        let stats = match op {
            Op::Put => &mut t.put,
            Op::Get => &mut t.get,
        };
        if ok {
            stats.record(lat, bytes);
        } else {
            stats.error();
        }
    }
}

async fn report_loop(s: Arc<Shared>, start: Instant) {
    let every = s.args.statsinterval;
    let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let bar = (tty && !s.args.json && !s.args.duration.is_zero()).then(|| {
        let pb = indicatif::ProgressBar::new(s.args.duration.as_secs().max(1));
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {pos}/{len}s {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    });
    if !every.is_zero() && !s.args.json {
        println!("{}", stats::interval_header());
    }
    let tick = if every.is_zero() {
        Duration::from_secs(1)
    } else {
        every.min(Duration::from_secs(1))
    };
    let mut last = Instant::now();
    loop {
        tokio::time::sleep(tick).await;
        if let Some(pb) = &bar {
            pb.set_position(start.elapsed().as_secs());
        }
        if every.is_zero() || s.args.json || last.elapsed() < every {
            continue;
        }
        last = Instant::now();
        let interval = std::mem::take(&mut *lock(&s.interval));
        let total = lock(&s.total);
        let secs = start.elapsed().as_secs_f64();
        for (op, i, t) in [
            (Op::Put, &interval.put, &total.put),
            (Op::Get, &interval.get, &total.get),
        ] {
            if t.count + t.errors > 0 {
                let line = stats::interval_line(start.elapsed(), op, i, t, secs);
                match &bar {
                    Some(pb) => pb.println(line),
                    None => println!("{line}"),
                }
            }
        }
    }
}

async fn cleanup(s: &Arc<Shared>) {
    let names = std::mem::take(&mut *lock(&s.created));
    let chunks: Vec<Vec<String>> = names
        .chunks(names.len().div_ceil(s.args.numworkers).max(1))
        .map(|c| c.to_vec())
        .collect();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for name in chunk {
                let url = s.api.object_url(&s.args.bucket, &name);
                let headers = s.api.headers(&Method::DELETE, &url, None, false);
                let _ = s
                    .client
                    .send(Method::DELETE, &url, Bytes::new(), &headers, false)
                    .await;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}
