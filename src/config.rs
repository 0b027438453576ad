//! Target configuration: command-line flags (each also an `AIS_*` environment variable)
//! over an optional TOML or JSON file for the rest, validated once at start-up.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::disk::EngineChoice;

/// A configuration that cannot be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("config file {0}: {1}")]
    Read(PathBuf, std::io::Error),
    /// The file does not parse or has unknown keys.
    #[error("config file {0}: {1}")]
    Parse(PathBuf, String),
    /// A value is out of range.
    #[error("config: {0}")]
    Invalid(String),
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `aisnode target` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// TCP port of the public API; 0 picks a free port (printed at start-up).
    #[arg(long, env = "AIS_PORT", default_value_t = 8081)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, env = "AIS_HOST", default_value = "0.0.0.0")]
    pub host: IpAddr,
    /// A disk's directory; repeat once per disk (env: comma-separated).
    #[arg(
        long = "mountpath",
        env = "AIS_MOUNTPATHS",
        value_delimiter = ',',
        value_name = "DIR"
    )]
    pub mountpaths: Vec<PathBuf>,
    /// Node ID [default: the ID marked on the mountpaths, else a new random one].
    #[arg(long, env = "AIS_DAEMON_ID")]
    pub id: Option<String>,
    /// URL clients reach this target at, e.g. http://10.0.0.5:8081 [default: http://<host>:<port>].
    #[arg(long, env = "AIS_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Disk I/O engine: io_uring with fallback, io_uring only, or positional syscalls.
    #[arg(long, env = "AIS_IO_ENGINE", value_enum, default_value = "auto")]
    pub io_engine: EngineChoice,
    /// TOML or JSON file with the remaining settings (see README "Configuration").
    #[arg(long, env = "AIS_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Allow several mountpaths on one filesystem (testing, laptops).
    #[arg(long, env = "AIS_ALLOW_SHARED_FS")]
    pub allow_shared_fs: bool,
    /// Start even if a configured mountpath is missing (a remapped or failed disk): it is
    /// skipped and reported; without this flag a missing mountpath stops the start.
    #[arg(long, env = "AIS_START_WITH_LOST_MOUNTPATH")]
    pub start_with_lost_mountpath: bool,
    /// fsync each object and its directory before a PUT returns [default: off, or the file's `fsync`].
    #[arg(long, env = "AIS_FSYNC")]
    pub fsync: bool,
    /// Read and write objects with O_DIRECT, bypassing the page cache [default: off, or the file's `direct_io`].
    #[arg(long, env = "AIS_DIRECT_IO")]
    pub direct_io: bool,
    /// Log format.
    #[arg(long, env = "AIS_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Primary proxy to register with, e.g. http://10.0.0.1:8080 [default: run standalone].
    #[arg(long, env = "AIS_PRIMARY_EP", value_name = "URL")]
    pub proxy: Option<String>,
    #[command(flatten)]
    pub intra: IntraArgs,
    #[command(flatten)]
    pub s3: S3Args,
}

/// Intra-cluster control listener and secrets, shared by target and proxy.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct IntraArgs {
    /// Port of the intra-cluster control listener (map pushes, registration, keepalives,
    /// bucket create/destroy between nodes); 0 picks a free port [default: --port + 1000,
    /// or 0 when --port is 0].
    #[arg(long, env = "AIS_INTRA_PORT")]
    pub intra_port: Option<u16>,
    /// Address the intra-cluster listener binds [default: --host].
    #[arg(long, env = "AIS_INTRA_HOST")]
    pub intra_host: Option<IpAddr>,
    /// URL other nodes reach the intra-cluster listener at [default: http://<this host's
    /// IP>:<intra port>].
    #[arg(long, env = "AIS_INTRA_URL")]
    pub intra_url: Option<String>,
    /// Cluster secret: every intra-cluster request then carries a MAC made with it
    /// (prefer the environment variable or --cluster-secret-file: flags show in `ps`).
    #[arg(long, env = "AIS_CLUSTER_SECRET", hide_env_values = true)]
    pub cluster_secret: Option<String>,
    /// File holding the cluster secret (e.g. a mounted Kubernetes Secret).
    #[arg(long, env = "AIS_CLUSTER_SECRET_FILE", value_name = "FILE")]
    pub cluster_secret_file: Option<PathBuf>,
    /// Run without a cluster secret: the intra-cluster port then accepts any caller, and
    /// rebalance keeps every copy it sends (it cannot verify the receiver). For a private
    /// network you control; without a secret and without this flag, a proxy makes one in
    /// its state directory and a target joining a cluster refuses to start.
    #[arg(long, env = "AIS_NO_CLUSTER_SECRET")]
    pub no_cluster_secret: bool,
    /// Serve `/metrics` on the public port without credentials even when client
    /// credentials (AuthN key, S3 keys) are configured (for a Prometheus without a token).
    #[arg(long, env = "AIS_PUBLIC_METRICS")]
    pub public_metrics: bool,
    /// HS256 key of AuthN tokens: every native-API request then needs
    /// `Authorization: Bearer <JWT>` (see `aisnode token issue`).
    #[arg(long, env = "AIS_AUTHN_SECRET_KEY", hide_env_values = true)]
    pub auth_secret: Option<String>,
    /// File holding the AuthN token key.
    #[arg(long, env = "AIS_AUTHN_SECRET_FILE", value_name = "FILE")]
    pub auth_secret_file: Option<PathBuf>,
}

/// The intra-cluster listener and keys, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct IntraConfig {
    /// Bind address.
    pub host: IpAddr,
    /// Port (0 = any).
    pub port: u16,
    /// Advertised URL, if given.
    pub url: Option<String>,
    /// MAC key of intra-cluster requests and redirects (the cluster secret, else derived
    /// from the token key).
    #[serde(skip)]
    pub key: Option<crate::cluster::ClusterKey>,
    /// AuthN token key.
    #[serde(skip)]
    pub auth: Option<crate::auth::TokenKey>,
    /// Whether intra-cluster requests are signed (shown in `what=config`).
    pub signed: bool,
    /// Whether client tokens are required.
    pub authn: bool,
    /// Run without a cluster secret on purpose (`--no-cluster-secret`).
    pub open: bool,
    /// `/metrics` without client credentials (`--public-metrics`).
    pub public_metrics: bool,
}

impl IntraConfig {
    /// Says at start-up what protects the intra-cluster listener, when nothing does.
    pub fn warn_if_open(&self) {
        if self.key.is_none() {
            tracing::warn!("no cluster secret: the intra-cluster port (node administration) accepts any caller (keep it on a private network) and rebalance keeps the copies it sends");
        }
        if self.auth.is_none() {
            tracing::info!(
                "no AuthN key (AIS_AUTHN_SECRET_KEY): native-API requests need no token"
            );
        }
    }

    /// Signs and verifies with `key` from now on (a generated secret).
    pub fn set_key(&mut self, key: crate::cluster::ClusterKey) {
        self.key = Some(key);
        self.signed = true;
    }
}

impl IntraArgs {
    /// Resolves ports and reads the secrets.
    pub fn resolve(&self, host: IpAddr, public_port: u16) -> Result<IntraConfig, ConfigError> {
        let port = match self.intra_port {
            Some(p) => p,
            None if public_port == 0 => 0,
            None => public_port.checked_add(1000).ok_or_else(|| {
                ConfigError::Invalid(format!(
                    "--intra-port: the default (port + 1000) overflows for port {public_port}; set it"
                ))
            })?,
        };
        if port != 0 && port == public_port {
            return Err(ConfigError::Invalid(
                "--intra-port must differ from --port".into(),
            ));
        }
        let key = secret(
            &self.cluster_secret,
            &self.cluster_secret_file,
            "cluster secret",
        )?
        .and_then(|s| crate::cluster::ClusterKey::new(&s));
        let auth = secret(&self.auth_secret, &self.auth_secret_file, "AuthN secret")?
            .and_then(|s| crate::auth::TokenKey::new(&s));
        // With tokens but no cluster secret, nodes sign with a key derived from the token
        // key: the intra-cluster port must not be the way around the tokens.
        let key = key.or_else(|| auth.as_ref().map(|a| a.derived_cluster_key()));
        if key.is_some() && self.no_cluster_secret {
            return Err(ConfigError::Invalid(
                "--no-cluster-secret with a cluster secret (or an AuthN key): choose one".into(),
            ));
        }
        Ok(IntraConfig {
            open: self.no_cluster_secret,
            public_metrics: self.public_metrics,
            host: self.intra_host.unwrap_or(host),
            port,
            url: self.intra_url.clone(),
            signed: key.is_some(),
            authn: auth.is_some(),
            key,
            auth,
        })
    }
}

/// A secret from a value or a file (not both).
fn secret(
    value: &Option<String>,
    file: &Option<PathBuf>,
    what: &str,
) -> Result<Option<Vec<u8>>, ConfigError> {
    match (value, file) {
        (Some(_), Some(_)) => Err(ConfigError::Invalid(format!(
            "give the {what} as a value or as a file, not both"
        ))),
        (Some(v), None) => Ok(Some(v.as_bytes().to_vec())),
        (None, Some(f)) => std::fs::read(f)
            .map(Some)
            .map_err(|e| ConfigError::Read(f.clone(), e)),
        (None, None) => Ok(None),
    }
}

/// S3 front-end flags, shared by target and proxy.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct S3Args {
    /// S3 access key ID; with --s3-secret-key, every S3 request must be signed (SigV4, or
    /// V2 presigned) with this pair [default: accept any signature].
    #[arg(long, env = "AIS_S3_ACCESS_KEY", value_name = "KEY")]
    pub s3_access_key: Option<String>,
    /// S3 secret access key (see --s3-access-key).
    #[arg(
        long,
        env = "AIS_S3_SECRET_KEY",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub s3_secret_key: Option<String>,
    /// TOML file of S3 users, each a key pair with permissions (`[[user]]` with `name`,
    /// `access_key`, `secret_key`, and any of `admin`, `cluster` = ro|rw|admin, `buckets`
    /// = { NAME = ro|rw|admin }); needs --s3-access-key/--s3-secret-key too (the cluster's
    /// own pair).
    #[arg(long, env = "AIS_S3_USERS_FILE", value_name = "FILE")]
    pub s3_users: Option<PathBuf>,
}

/// One `[[user]]` of the S3 users file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct S3UserEntry {
    name: String,
    access_key: String,
    secret_key: String,
    #[serde(default)]
    admin: bool,
    #[serde(default)]
    cluster: Option<String>,
    #[serde(default)]
    buckets: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct S3UsersFile {
    #[serde(default)]
    user: Vec<S3UserEntry>,
}

/// Reads the S3 users file into users with their permissions.
fn load_s3_users(path: &Path) -> Result<Vec<crate::s3::auth::S3User>, ConfigError> {
    use crate::auth::{parse_grant, BckRef, BucketAcl, Claims, ClusterAcl, ANY_CLUSTER};
    let file: S3UsersFile = load_file(path)?;
    let bad = |what: String| ConfigError::Invalid(format!("{}: {what}", path.display()));
    let perm = |p: &str| parse_grant(&format!("x={p}")).map(|(_, v)| v).map_err(bad);
    let mut seen = std::collections::BTreeSet::new();
    let mut users = Vec::new();
    for u in file.user {
        if u.access_key.is_empty() || u.secret_key.is_empty() || u.name.is_empty() {
            return Err(bad(
                "every user needs a name, an access_key and a secret_key".into(),
            ));
        }
        if !seen.insert(u.access_key.clone()) {
            return Err(bad(format!("access key {:?} is given twice", u.access_key)));
        }
        let mut claims = Claims {
            sub: u.name.clone(),
            admin: u.admin,
            ..Claims::default()
        };
        if let Some(c) = &u.cluster {
            claims.clusters.push(ClusterAcl {
                id: ANY_CLUSTER.into(),
                perm: perm(c)?,
            });
        }
        for (bucket, p) in &u.buckets {
            claims.buckets.push(BucketAcl {
                bck: BckRef {
                    name: bucket.clone(),
                    provider: "ais".into(),
                },
                perm: perm(p)?,
            });
        }
        users.push(crate::s3::auth::S3User {
            access_key: u.access_key,
            secret_key: u.secret_key,
            claims: std::sync::Arc::new(claims),
        });
    }
    Ok(users)
}

impl S3Args {
    /// The configured key pair: flags over the file's; both or neither.
    pub fn credentials(
        &self,
        file_key: &Option<String>,
        file_secret: &Option<String>,
    ) -> Result<Option<crate::s3::auth::Credentials>, ConfigError> {
        let key = self.s3_access_key.clone().or_else(|| file_key.clone());
        let secret = self.s3_secret_key.clone().or_else(|| file_secret.clone());
        match (key, secret) {
            (Some(access_key), Some(secret_key))
                if !access_key.is_empty() && !secret_key.is_empty() =>
            {
                let users = match &self.s3_users {
                    Some(f) => load_s3_users(f)?,
                    None => Vec::new(),
                };
                Ok(Some(crate::s3::auth::Credentials {
                    access_key,
                    secret_key,
                    users,
                }))
            }
            (None, None) if self.s3_users.is_some() => Err(ConfigError::Invalid(
                "--s3-users needs the cluster's own S3 key pair too (--s3-access-key, --s3-secret-key)"
                    .into(),
            )),
            (None, None) => Ok(None),
            _ => Err(ConfigError::Invalid(
                "set both the S3 access key and the S3 secret key, or neither".into(),
            )),
        }
    }
}

/// Settings read from the config file; every one has a default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileSettings {
    /// fsync each object and its directory before a PUT returns.
    pub fsync: bool,
    /// Recompute an object's checksum before serving a GET; a mismatch is an error.
    pub validate_checksum_on_get: bool,
    /// Check an object read whole from the disk (not the page cache) against its stored
    /// checksum while it streams (AIStore's `checksum.validate_cold_get`).
    pub validate_cold_get: bool,
    /// Size of each disk read and write, bytes; with direct I/O, objects of 4 MiB and more
    /// use max(this, 1 MiB) chunks.
    pub chunk_size: usize,
    /// Largest object a PUT may store, bytes.
    pub max_object_size: u64,
    /// Disk operations queued or in flight per mountpath (and io_uring ring size).
    pub disk_queue_depth: u32,
    /// Seconds a client may take to send request headers.
    pub header_read_timeout_secs: u64,
    /// Seconds a request body may stall before the request is dropped.
    pub body_idle_timeout_secs: u64,
    /// Least average rate of an upload, bytes per second, measured over windows of
    /// `body_idle_timeout_secs`; a slower upload is dropped (0 = no minimum).
    pub min_body_rate: u64,
    /// Seconds a response may make no progress (client not reading) before the
    /// connection is dropped and its buffers return.
    pub send_timeout_secs: u64,
    /// Most connections open at once per listener; beyond it new ones get 503.
    pub max_connections: usize,
    /// Threads serving the public port, each with its own single-threaded runtime (no
    /// hand-offs between threads); -1: one per CPU, 0: the node's shared runtime.
    pub public_threads: i64,
    /// Milliseconds an upload (or a checksum validation) waits for an I/O buffer before
    /// it is answered 503 with `Retry-After`: only a target wedged by something else ever
    /// waits this long, since no request holds a buffer while it waits for its client.
    pub buffer_wait_ms: u64,
    /// Seconds in-flight requests get to finish after SIGTERM.
    pub shutdown_timeout_secs: u64,
    /// Milliseconds between SIGTERM turning readiness to 503 and the node closing its
    /// listeners, so load balancers stop sending before connections are refused.
    pub shutdown_grace_ms: u64,
    /// Largest list-objects page, entries.
    pub max_page_size: usize,
    /// How often a registered target sends a keepalive to the proxy (milliseconds).
    pub keepalive_interval_ms: u64,
    /// Read and write objects with O_DIRECT (bypassing the page cache).
    pub direct_io: bool,
    /// Serve opens, metadata and reads that the kernel's caches can answer at once on the
    /// request's thread (non-blocking syscalls); everything else goes to the disk threads.
    pub inline_cache_hits: bool,
    /// MiB of chunk buffers all requests together may hold; beyond it they wait for one to
    /// be returned. Bounds the target's memory under any number of large requests.
    /// 0 (the default): 32 MiB per mountpath, at most a sixteenth of the memory.
    pub buffer_budget_mib: u64,
    /// MiB of sorted directory listings kept between list requests (so a page costs
    /// what it holds, not what the bucket holds); 0 turns the cache off.
    pub list_cache_mib: u64,
    /// MiB of small objects' content (64 KiB and less) kept in memory once they are hot, so
    /// serving them again reads nothing (without direct I/O); 0 turns it off.
    pub hot_content_mib: u64,
    /// S3 access key ID (flag and env win; see `--s3-access-key`).
    #[serde(skip_serializing)]
    pub s3_access_key: Option<String>,
    /// S3 secret access key.
    #[serde(skip_serializing)]
    pub s3_secret_key: Option<String>,
    /// Multipart uploads with no part stored, and appends never flushed, for this long
    /// are removed (seconds).
    pub s3_upload_max_age_secs: u64,
    /// How long a clustered target remembers a DELETE (so a copy held by a target that
    /// was away cannot bring the object back), seconds.
    pub tombstone_ttl_secs: u64,
    /// Directories `promote` may read files from (none: promote is off).
    pub promote_roots: Vec<std::path::PathBuf>,
}

impl Default for FileSettings {
    fn default() -> Self {
        FileSettings {
            fsync: false,
            validate_checksum_on_get: false,
            validate_cold_get: true,
            chunk_size: 256 << 10,
            max_object_size: 5 << 40,
            disk_queue_depth: 64,
            header_read_timeout_secs: 30,
            body_idle_timeout_secs: 60,
            min_body_rate: 1024,
            send_timeout_secs: 30,
            max_connections: 4096,
            public_threads: -1,
            buffer_wait_ms: 30_000,
            shutdown_timeout_secs: 30,
            shutdown_grace_ms: 1_000,
            max_page_size: 10_000,
            keepalive_interval_ms: 2_000,
            direct_io: false,
            inline_cache_hits: true,
            buffer_budget_mib: 0,
            list_cache_mib: 64,
            hot_content_mib: 64,
            s3_access_key: None,
            s3_secret_key: None,
            s3_upload_max_age_secs: 7 * 24 * 3600,
            tombstone_ttl_secs: 7 * 24 * 3600,
            promote_roots: Vec::new(),
        }
    }
}

impl FileSettings {
    /// Reads a `.json` file as JSON and anything else as TOML.
    pub fn load(path: &Path) -> Result<FileSettings, ConfigError> {
        load_file(path)
    }
}

/// Everything a target runs with, after merging flags over the file.
#[derive(Debug, Clone, Serialize)]
pub struct TargetConfig {
    /// Bind address.
    pub host: IpAddr,
    /// Public port (0 = any).
    pub port: u16,
    /// Configured mountpaths.
    pub mountpaths: Vec<PathBuf>,
    /// Requested node ID.
    pub id: Option<String>,
    /// Advertised URL, if given.
    pub public_url: Option<String>,
    /// Engine asked for.
    pub io_engine: EngineChoice,
    /// Whether mountpaths may share a filesystem.
    pub allow_shared_fs: bool,
    /// Whether a missing mountpath is skipped at start instead of stopping it.
    pub start_with_lost_mountpath: bool,
    /// Log format.
    pub log_format: LogFormat,
    /// Primary proxy URL, if any.
    pub proxy: Option<String>,
    /// Intra-cluster listener and keys.
    pub intra: IntraConfig,
    /// S3 key pair, when S3 requests must be signed.
    #[serde(skip)]
    pub s3_credentials: Option<crate::s3::auth::Credentials>,
    /// File settings, with flag overrides applied.
    #[serde(flatten)]
    pub settings: FileSettings,
}

impl TargetConfig {
    /// Merges flags over the config file and validates the result.
    pub fn from_args(args: TargetArgs) -> Result<TargetConfig, ConfigError> {
        let mut settings = match &args.config {
            Some(path) => FileSettings::load(path)?,
            None => FileSettings::default(),
        };
        settings.fsync |= args.fsync;
        settings.direct_io |= args.direct_io;
        let cfg = TargetConfig {
            host: args.host,
            port: args.port,
            mountpaths: args.mountpaths,
            id: args.id,
            public_url: args.public_url,
            io_engine: args.io_engine,
            allow_shared_fs: args.allow_shared_fs,
            start_with_lost_mountpath: args.start_with_lost_mountpath,
            log_format: args.log_format,
            proxy: args.proxy.map(|u| u.trim_end_matches('/').to_string()),
            intra: args.intra.resolve(args.host, args.port)?,
            s3_credentials: args
                .s3
                .credentials(&settings.s3_access_key, &settings.s3_secret_key)?,
            settings,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let s = &self.settings;
        if !(4096..=64 << 20).contains(&s.chunk_size) || s.chunk_size % 4096 != 0 {
            return Err(ConfigError::Invalid(
                "chunk_size must be a multiple of 4 KiB from 4 KiB to 64 MiB".into(),
            ));
        }
        let budget = s.buffer_budget_mib << 20;
        if s.buffer_budget_mib != 0
            && (budget < 4 * s.chunk_size as u64 || s.buffer_budget_mib > 1 << 20)
        {
            return Err(ConfigError::Invalid(
                "buffer_budget_mib must be 0 (auto), or hold at least 4 chunks and be at most 1 TiB".into(),
            ));
        }
        if !(2..=4096).contains(&s.disk_queue_depth) {
            return Err(ConfigError::Invalid(
                "disk_queue_depth must be 2 to 4096".into(),
            ));
        }
        if s.max_page_size == 0 || s.max_connections == 0 {
            return Err(ConfigError::Invalid(
                "max_page_size and max_connections must be at least 1".into(),
            ));
        }
        if let Some(id) = &self.id {
            if id.is_empty()
                || id.len() > 64
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(ConfigError::Invalid(format!(
                    "node ID {id:?}: use 1 to 64 of [A-Za-z0-9_-]"
                )));
            }
        }
        Ok(())
    }

    /// Header read timeout.
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.settings.header_read_timeout_secs.max(1))
    }

    /// Body idle timeout.
    pub fn body_idle_timeout(&self) -> Duration {
        Duration::from_secs(self.settings.body_idle_timeout_secs.max(1))
    }

    /// What a connection is allowed.
    pub fn serve_config(&self) -> crate::http::ServeConfig {
        let s = &self.settings;
        crate::http::ServeConfig {
            header_read_timeout: self.header_read_timeout(),
            drain_timeout: Duration::from_secs(s.shutdown_timeout_secs),
            send_timeout: Duration::from_secs(s.send_timeout_secs.max(1)),
            max_connections: s.max_connections,
            public_threads: public_threads(s.public_threads),
        }
    }
}

/// The serving threads `public_threads` asks for.
fn public_threads(setting: i64) -> usize {
    match setting {
        n if n < 0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n as usize,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_settings_parse_and_reject_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let toml_path = dir.path().join("c.toml");
        std::fs::write(&toml_path, "fsync = true\nchunk_size = 65536\n").unwrap();
        let s = FileSettings::load(&toml_path).unwrap();
        assert!(s.fsync);
        assert_eq!(s.chunk_size, 65536);
        let json_path = dir.path().join("c.json");
        std::fs::write(&json_path, r#"{"no_such_key": 1}"#).unwrap();
        assert!(matches!(
            FileSettings::load(&json_path),
            Err(ConfigError::Parse(..))
        ));
    }
}

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
        {
            return Err(ConfigError::Invalid(
                "node_timeout_ms, check_interval_ms, max_page_size and max_connections must be positive".into(),
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
            log_format: args.log_format,
            settings,
        })
    }
}

/// Reads a `.json` file as JSON and anything else as TOML.
fn load_file<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.into(), e))?;
    if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| ConfigError::Parse(path.into(), e.to_string()))
    } else {
        toml::from_str(&text).map_err(|e| ConfigError::Parse(path.into(), e.to_string()))
    }
}

/// Node IDs: 1 to 64 of `[A-Za-z0-9_-]`.
fn validate_id(id: &str) -> Result<(), ConfigError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid(format!(
            "node ID {id:?}: use 1 to 64 of [A-Za-z0-9_-]"
        )))
    }
}
