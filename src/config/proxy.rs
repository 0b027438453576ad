//! `aisnode proxy`: its flags and settings, validated into a `ProxyConfig`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::target::public_threads;
use super::*;

/// `aisnode proxy` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ProxyArgs {
    /// TCP port of the public API; 0 picks a free port (printed at start-up).
    #[arg(long, env = "AIS_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, env = "AIS_HOST", default_value = "0.0.0.0")]
    pub host: IpAddr,
    /// Node ID [default: the one saved in --state-dir, else a new random one].
    #[arg(long, env = "AIS_DAEMON_ID")]
    pub id: Option<String>,
    /// URL clients reach this proxy at [default: http://<host>:<port>].
    #[arg(long, env = "AIS_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Directory where the cluster map, bucket list and proxy ID survive restarts.
    #[arg(long, env = "AIS_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// TOML or JSON file with the remaining settings (see README "Configuration").
    #[arg(long, env = "AIS_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log format.
    #[arg(long, env = "AIS_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Directory for this node's log files (aisnode.INFO, aisnode.ERROR, rotated at 8 MiB),
    /// also written to stderr and served by `GET /v1/daemon?what=log` [default: stderr only].
    #[arg(long, env = "AIS_LOG_DIR", value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    #[command(flatten)]
    pub s3: S3Args,
    /// Also serve the S3 API at the root path (`/<bucket>/<key>`), beside `/s3`.
    #[arg(long, env = "AIS_S3_AT_ROOT")]
    pub s3_at_root: bool,
    /// Domain for virtual-hosted-style S3 requests (`Host: <bucket>.<domain>`).
    #[arg(long, env = "AIS_S3_DOMAIN", value_name = "DOMAIN")]
    pub s3_domain: Option<String>,
    #[command(flatten)]
    pub intra: IntraArgs,
    /// A proxy of the cluster to join through (public or intra-cluster URL). Without it,
    /// or when it is this proxy's own URL, a proxy with no saved state starts a new
    /// cluster; a proxy restarted on its state directory ignores it (it rejoins as a
    /// follower of whoever leads).
    #[arg(long, env = "AIS_PRIMARY_EP", value_name = "URL")]
    pub primary_url: Option<String>,
    /// Never become the primary (a Raft learner: it serves requests and follows the
    /// log, but neither votes nor counts towards the majority).
    #[arg(long, env = "AIS_NON_ELECTABLE")]
    pub non_electable: bool,
}

/// Proxy settings read from the config file; every one has a default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxySettings {
    /// A target with no keepalive for this long is health-checked and, if it does not
    /// answer, removed from the cluster map (milliseconds).
    pub node_timeout_ms: u64,
    /// How often the proxy looks for silent targets (milliseconds).
    pub check_interval_ms: u64,
    /// Timeout of one control request to a target (milliseconds).
    pub control_timeout_ms: u64,
    /// Seconds a client may take to send request headers.
    pub header_read_timeout_secs: u64,
    /// Seconds a response may make no progress before the connection is dropped.
    pub send_timeout_secs: u64,
    /// Most connections open at once per listener; beyond it new ones get 503.
    pub max_connections: usize,
    /// Threads serving the public port, each with its own single-threaded runtime (no
    /// hand-offs between threads); -1: one per CPU, 0: the node's shared runtime.
    pub public_threads: i64,
    /// Largest reply read from a target (list pages, maps), bytes.
    pub max_node_reply: usize,
    /// Seconds in-flight requests get to finish after SIGTERM.
    pub shutdown_timeout_secs: u64,
    /// Milliseconds between SIGTERM turning readiness to 503 and the listeners closing.
    pub shutdown_grace_ms: u64,
    /// Largest list-objects page, entries.
    pub max_page_size: usize,
    /// S3 access key ID (flag and env win).
    #[serde(skip_serializing)]
    pub s3_access_key: Option<String>,
    /// S3 secret access key.
    #[serde(skip_serializing)]
    pub s3_secret_key: Option<String>,
    /// Serve S3 at `/` as well as `/s3`.
    pub s3_at_root: bool,
    /// Domain for virtual-hosted-style S3 requests.
    pub s3_domain: Option<String>,
    /// How often the primary tells the other proxies it is alive (milliseconds).
    pub raft_heartbeat_ms: u64,
    /// A proxy that hears nothing from the primary for a random time between this and
    /// twice this asks for votes; the new primary comes about this long after the old one
    /// stops (milliseconds).
    pub election_timeout_ms: u64,
}

impl Default for ProxySettings {
    fn default() -> Self {
        ProxySettings {
            node_timeout_ms: 6_000,
            check_interval_ms: 1_000,
            control_timeout_ms: 5_000,
            header_read_timeout_secs: 30,
            send_timeout_secs: 30,
            max_connections: 4096,
            public_threads: -1,
            max_node_reply: 64 << 20,
            shutdown_timeout_secs: 30,
            shutdown_grace_ms: 1_000,
            max_page_size: 10_000,
            s3_access_key: None,
            s3_secret_key: None,
            s3_at_root: false,
            s3_domain: None,
            raft_heartbeat_ms: 150,
            election_timeout_ms: 750,
        }
    }
}

/// Everything a proxy runs with.
#[derive(Debug, Clone, Serialize)]
pub struct ProxyConfig {
    /// Bind address.
    pub host: IpAddr,
    /// Public port (0 = any).
    pub port: u16,
    /// Requested node ID.
    pub id: Option<String>,
    /// Advertised URL, if given.
    pub public_url: Option<String>,
    /// Where state persists.
    pub state_dir: Option<PathBuf>,
    /// A proxy to join through, when not starting a new cluster.
    pub primary_url: Option<String>,
    /// Never the primary.
    pub non_electable: bool,
    /// Log format.
    pub log_format: LogFormat,
    /// S3 key pair, when S3 requests must be signed.
    #[serde(skip)]
    pub s3_credentials: Option<crate::s3::auth::Credentials>,
    /// Intra-cluster listener and keys.
    pub intra: IntraConfig,
    /// File settings.
    #[serde(flatten)]
    pub settings: ProxySettings,
}

impl ProxyConfig {
    /// What a connection is allowed.
    pub fn serve_config(&self) -> crate::http::ServeConfig {
        let s = &self.settings;
        crate::http::ServeConfig {
            header_read_timeout: Duration::from_secs(s.header_read_timeout_secs.max(1)),
            drain_timeout: Duration::from_secs(s.shutdown_timeout_secs),
            send_timeout: Duration::from_secs(s.send_timeout_secs.max(1)),
            max_connections: s.max_connections,
            public_threads: public_threads(s.public_threads),
            stop_grace: Duration::from_millis(s.shutdown_grace_ms),
        }
    }
}

impl ProxyConfig {
    /// Merges flags over the config file and validates the result.
    pub fn from_args(args: ProxyArgs) -> Result<ProxyConfig, ConfigError> {
        let mut settings: ProxySettings = match &args.config {
            Some(path) => load_file(path)?,
            None => ProxySettings::default(),
        };
        if settings.check_interval_ms == 0
            || settings.node_timeout_ms == 0
            || settings.max_page_size == 0
            || settings.max_connections == 0
            || settings.raft_heartbeat_ms == 0
            || settings.election_timeout_ms < 2 * settings.raft_heartbeat_ms
        {
            return Err(ConfigError::Invalid(
                "node_timeout_ms, check_interval_ms, max_page_size, max_connections and raft_heartbeat_ms must be positive, election_timeout_ms at least twice raft_heartbeat_ms".into(),
            ));
        }
        if let Some(id) = &args.id {
            validate_id(id)?;
        }
        settings.s3_at_root |= args.s3_at_root;
        if args.s3_domain.is_some() {
            settings.s3_domain = args.s3_domain.clone();
        }
        Ok(ProxyConfig {
            s3_credentials: args
                .s3
                .credentials(&settings.s3_access_key, &settings.s3_secret_key)?,
            intra: args.intra.resolve(args.host, args.port)?,
            host: args.host,
            port: args.port,
            id: args.id,
            public_url: args.public_url,
            state_dir: args.state_dir,
            primary_url: args
                .primary_url
                .map(|u| u.trim_end_matches('/').to_string()),
            non_electable: args.non_electable,
            log_format: args.log_format,
            settings,
        })
    }
}
