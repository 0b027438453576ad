//! `aisnode cluster`: a whole cluster on this machine (P proxies + N targets, each a
//! separate process of this binary) under one data folder, for trying things out.

use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::disk::EngineChoice;

/// `aisnode cluster` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterArgs {
    /// Folder for every node's mountpaths, the proxy's state and the logs.
    #[arg(long, env = "AIS_DATA_DIR", default_value = "./.aisdata")]
    pub data_dir: PathBuf,
    /// Number of targets.
    #[arg(long, default_value_t = 2)]
    pub targets: usize,
    /// Number of proxies (gateways); with 3 or more, any one may die and another becomes
    /// primary within seconds. The first listens on --base-port, proxy k (k >= 2) on
    /// base-port + targets + k - 1.
    #[arg(long, default_value_t = 1)]
    pub proxies: usize,
    /// Mountpaths per target (folders under --data-dir).
    #[arg(long, default_value_t = 2)]
    pub mountpaths: usize,
    /// Proxy port; target i listens on base-port + i (intra-cluster ports: each + 1000).
    #[arg(long, default_value_t = 8080)]
    pub base_port: u16,
    /// Address every node binds and advertises.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Simulated machines the targets are spread over (failure domains: copies and slices
    /// of an object go to distinct ones first) [default: one per target].
    #[arg(long)]
    pub nodes: Option<usize>,
    /// Disk I/O engine of the targets.
    #[arg(long, value_enum, default_value = "auto")]
    pub io_engine: EngineChoice,
    /// A target config file (TOML) every target starts with (e.g. `promote_roots`).
    #[arg(long)]
    pub target_config: Option<PathBuf>,
    /// Run the nodes without a cluster secret: intra-cluster requests are not signed and
    /// clients may read from targets directly, without the proxy's signed redirect (as
    /// AIStore's development clusters; its SDK suite's direct-access tests need it). Any
    /// process on the machine can then reach the nodes' intra-cluster ports.
    #[arg(long, env = "AIS_NO_CLUSTER_SECRET")]
    pub no_cluster_secret: bool,
}

struct Node {
    name: String,
    child: Child,
}

/// Starts the cluster, prints how to use it, and stops every node on Ctrl-C/SIGTERM or
/// when any node exits.
pub async fn run(
    args: ClusterArgs,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    if args.targets == 0 || args.mountpaths == 0 || args.proxies == 0 {
        bail!("--targets, --proxies and --mountpaths must be at least 1");
    }
    let machines = args.nodes.unwrap_or(args.targets);
    if machines == 0 || machines > args.targets {
        bail!("--nodes must be from 1 to the number of targets");
    }
    let exe = std::env::current_exe().context("cannot find the aisnode binary")?;
    let logs = args.data_dir.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("create {}", logs.display()))?;
    let host = args.host.to_string();
    let mut nodes = Vec::new();
    // A secret for this run: the nodes sign what they send each other, so nothing else on
    // the machine can push maps or change buckets through their intra-cluster ports.
    let secret: String = {
        use rand::Rng;
        let bytes: [u8; 16] = rand::thread_rng().gen();
        hex::encode(bytes)
    };
    let guard = |cmd: &mut Command| {
        if args.no_cluster_secret {
            cmd.env("AIS_NO_CLUSTER_SECRET", "true")
                .env_remove("AIS_CLUSTER_SECRET");
        } else {
            cmd.env("AIS_CLUSTER_SECRET", &secret);
        }
    };

    // The first proxy starts the cluster; the others join through it.
    let mut proxy_urls: Vec<String> = Vec::new();
    for k in 1..=args.proxies {
        let port = match k {
            1 => args.base_port as usize,
            _ => args.base_port as usize + args.targets + k - 1,
        };
        let name = if k == 1 {
            "proxy".to_string()
        } else {
            format!("proxy{k}")
        };
        let mut cmd = Command::new(&exe);
        guard(&mut cmd);
        cmd.args(["proxy", "--host", &host, "--port", &port.to_string()])
            .arg("--state-dir")
            .arg(args.data_dir.join(&name));
        cmd.arg("--log-dir").arg(logs.join(&name));
        if let Some(first) = proxy_urls.first() {
            cmd.args(["--primary-url", first]);
        }
        match spawn(cmd, &logs.join(format!("{name}.log"))) {
            Ok((child, url)) => {
                nodes.push(Node { name, child });
                proxy_urls.push(url);
            }
            Err(e) => {
                stop_all(&mut nodes);
                return Err(e);
            }
        }
    }
    let proxy_url = proxy_urls[0].clone();

    for i in 1..=args.targets {
        let port = (args.base_port as usize + i).to_string();
        let mut cmd = Command::new(&exe);
        guard(&mut cmd);
        cmd.args([
            "target",
            "--host",
            &host,
            "--port",
            &port,
            "--allow-shared-fs",
            "--proxy",
            &proxy_url,
        ]);
        cmd.args(["--io-engine", engine_name(args.io_engine)]);
        cmd.arg("--log-dir").arg(logs.join(format!("target{i}")));
        if let Some(cfg) = &args.target_config {
            cmd.arg("--config").arg(cfg);
        }
        // Targets in contiguous groups: 6 over 3 nodes puts targets 1-2 on node1.
        cmd.args([
            "--node-name",
            &format!("node{}", (i - 1) * machines / args.targets + 1),
        ]);
        for j in 1..=args.mountpaths {
            let mp = args.data_dir.join(format!("t{i}")).join(format!("mp{j}"));
            std::fs::create_dir_all(&mp).with_context(|| format!("create {}", mp.display()))?;
            cmd.arg("--mountpath").arg(&mp);
        }
        match spawn(cmd, &logs.join(format!("target{i}.log"))) {
            Ok((child, _)) => nodes.push(Node {
                name: format!("target{i}"),
                child,
            }),
            Err(e) => {
                stop_all(&mut nodes);
                return Err(e);
            }
        }
    }
    if let Err(e) = wait_for_nodes(&proxy_url, args.targets, args.proxies).await {
        stop_all(&mut nodes);
        return Err(e);
    }
    print_usage(&proxy_urls, &args.data_dir);

    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(Duration::from_millis(500)) => {
                // A node that dies is reported; the others keep serving (try a failover).
                let mut exited = Vec::new();
                nodes.retain_mut(|n| match n.child.try_wait() {
                    Ok(Some(status)) => {
                        exited.push(format!("{} exited ({status})", n.name));
                        false
                    }
                    _ => true,
                });
                for e in exited {
                    eprintln!("{e}; the other nodes keep running (see {})", logs.display());
                }
                if nodes.is_empty() {
                    eprintln!("every node has exited");
                    break;
                }
            }
        }
    }
    stop_all(&mut nodes);
    Ok(())
}

fn engine_name(e: EngineChoice) -> &'static str {
    match e {
        EngineChoice::Auto => "auto",
        EngineChoice::Uring => "uring",
        EngineChoice::Psync => "psync",
    }
}

/// Starts one node with its log in `log` and waits for its "listening on URL" line.
fn spawn(mut cmd: Command, log: &Path) -> anyhow::Result<(Child, String)> {
    let file = std::fs::File::create(log).with_context(|| format!("create {}", log.display()))?;
    cmd.stdout(Stdio::piped()).stderr(file).stdin(Stdio::null());
    let mut child = cmd.spawn().context("cannot start node")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .context("reading node output")?;
    match line.split_whitespace().last() {
        Some(url) if line.contains("listening on") => Ok((child, url.to_string())),
        _ => {
            let _ = child.wait();
            let text = std::fs::read_to_string(log).unwrap_or_default();
            bail!("node did not start:\n{text}")
        }
    }
}

async fn wait_for_nodes(proxy: &str, n: usize, proxies: usize) -> anyhow::Result<()> {
    let client = crate::http::ControlClient::new(Duration::from_secs(2));
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = client
            .send(
                http::Method::GET,
                &format!("{proxy}/v1/cluster?what=smap"),
                None,
            )
            .await
        {
            if let Ok(smap) = serde_json::from_slice::<crate::cluster::Smap>(&r.body) {
                if smap.tmap.len() >= n && smap.pmap.len() >= proxies {
                    return Ok(());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("targets and proxies did not all join within 30 s")
}

fn stop_all(nodes: &mut [Node]) {
    // Targets first, then the proxy, each with SIGTERM so they drain and clean up.
    for n in nodes.iter_mut().rev() {
        let pid = nix::unistd::Pid::from_raw(n.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = n.child.wait();
    }
}

fn print_usage(proxies: &[String], data: &Path) {
    let proxy = &proxies[0];
    println!(
        "AIStore-compatible cluster is up: {proxy}  (data and logs under {})",
        data.display()
    );
    if proxies.len() > 1 {
        println!("Every proxy serves the whole API: {}", proxies.join(" "));
        println!(
            "Kill one (even the primary) and use another: a new primary is elected in seconds."
        );
    }
    println!();
    println!("  curl -X POST {proxy}/v1/buckets/demo -d '{{\"action\":\"create-bck\"}}'");
    println!("  curl -L -X PUT -T README.md {proxy}/v1/objects/demo/readme");
    println!("  curl -L {proxy}/v1/objects/demo/readme");
    println!();
    println!("  python3 -c 'from aistore.sdk import Client; c = Client(\"{proxy}\"); print(c.cluster().get_info().tmap.keys())'");
    println!();
    println!("Ctrl-C stops every node.");
}
