//! `aisnode`: the AIStore-compatible storage node.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use clap::{Parser, Subcommand};

use aisnode::config::{LogFormat, ProxyArgs, ProxyConfig, TargetArgs, TargetConfig};
use aisnode::local_cluster::ClusterArgs;

// Many small, short-lived allocations per request (headers, buffers) from several
// threads: mimalloc's per-thread heaps beat glibc's arenas and musl's allocator here.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// AIStore-compatible object storage node.
#[derive(Parser)]
#[command(name = "aisnode", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    role: Role,
}

#[derive(Subcommand)]
enum Role {
    /// Run a storage target: stores objects on its mountpaths (one per disk).
    Target(TargetArgs),
    /// Run the proxy (gateway): keeps the cluster map and redirects each request to its target.
    Proxy(ProxyArgs),
    /// Run a whole local cluster (P proxies + N targets) under one data folder.
    Cluster(ClusterArgs),
    /// AuthN tokens for clusters started with an AuthN key.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Probe a node's health endpoint; exit status 0 when it answers 200 (for container health checks).
    Health {
        /// The node's URL [default: http://127.0.0.1:$AIS_PORT, else port 8081].
        #[arg(long, env = "AIS_HEALTH_URL")]
        url: Option<String>,
        /// Ask for readiness instead of liveness.
        #[arg(long)]
        readiness: bool,
    },
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Print a signed token (HS256 JWT) for `Authorization: Bearer`, e.g.
    /// `aisnode token issue --user alice --cluster <UUID>=ro --bucket data=rw`.
    Issue(aisnode::auth::IssueArgs),
}

/// Logs to stderr and, with a log directory, to its rotating files too (warnings and
/// errors to a second file, as AIStore keeps them).
fn init_logging(format: LogFormat, log_dir: Option<&std::path::Path>) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{filter::LevelFilter, fmt, Layer};
    let filter = tracing_subscriber::EnvFilter::try_from_env("AIS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let stderr = match format {
        LogFormat::Text => fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(ansi)
            .boxed(),
        LogFormat::Json => fmt::layer().json().with_writer(std::io::stderr).boxed(),
    };
    let mut problem = None;
    let files = log_dir.and_then(|dir| match aisnode::node_log::open(dir) {
        Ok((info, error)) => Some(
            fmt::layer()
                .with_ansi(false)
                .with_writer(std::sync::Arc::new(info))
                .and_then(
                    fmt::layer()
                        .with_ansi(false)
                        .with_writer(std::sync::Arc::new(error))
                        .with_filter(LevelFilter::WARN),
                ),
        ),
        Err(e) => {
            problem = Some(format!("cannot keep log files in {}: {e}", dir.display()));
            None
        }
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .with(files)
        .init();
    if let Some(p) = problem {
        tracing::warn!("{p}; logging to stderr only");
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
}

/// A dependency-free HTTP/1.0 GET, so the probe runs in a `FROM scratch` image.
fn probe(url: &str, readiness: bool) -> anyhow::Result<u16> {
    let authority = url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(authority)?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    let path = if readiness {
        "/v1/health?readiness=true"
    } else {
        "/v1/health"
    };
    write!(s, "GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n")?;
    let mut head = [0u8; 64];
    let n = s.read(&mut head)?;
    let text = String::from_utf8_lossy(&head[..n]);
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok(code)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Role::Token(TokenCmd::Issue(args)) = &cli.role {
        match args.issue() {
            Ok(token) => {
                println!("{token}");
                return Ok(());
            }
            Err(e) => anyhow::bail!("token issue: {e}"),
        }
    }
    if let Role::Health { url, readiness } = &cli.role {
        let url = url.clone().unwrap_or_else(|| {
            let port = std::env::var("AIS_PORT").unwrap_or_else(|_| "8081".into());
            format!("http://127.0.0.1:{port}")
        });
        let code = probe(&url, *readiness).unwrap_or(0);
        std::process::exit(if code == 200 { 0 } else { 1 });
    }
    // No transparent huge pages: the allocator asks for them, and each 2 MiB page that a
    // few live buffers touch then counts whole in RSS (measured: 164 of 198 MiB). Storage
    // and database servers commonly turn them off for the same reason and for latency.
    if let Err(e) = nix::sys::prctl::set_thp_disable(true) {
        eprintln!("aisnode: could not disable transparent huge pages: {e}");
    }
    // Servers keep many sockets and (for hot objects) files open: use the whole allowance.
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.role {
        Role::Target(args) => {
            init_logging(args.log_format, args.log_dir.as_deref());
            let cfg = TargetConfig::from_args(args)?;
            runtime.block_on(aisnode::target_node::run(cfg, shutdown_signal()))?;
        }
        Role::Proxy(args) => {
            init_logging(args.log_format, args.log_dir.as_deref());
            let cfg = ProxyConfig::from_args(args)?;
            runtime.block_on(aisnode::proxy::run(cfg, shutdown_signal()))?;
        }
        Role::Cluster(args) => {
            init_logging(LogFormat::Text, None);
            runtime.block_on(aisnode::local_cluster::run(args, shutdown_signal()))?;
        }
        Role::Health { .. } | Role::Token(_) => {}
    }
    Ok(())
}
