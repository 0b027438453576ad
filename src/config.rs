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
    /// fsync each object and its directory before a PUT returns [default: off, or the file's `fsync`].
    #[arg(long, env = "AIS_FSYNC")]
    pub fsync: bool,
    /// Read and write objects with O_DIRECT, bypassing the page cache [default: off, or the file's `direct_io`].
    #[arg(long, env = "AIS_DIRECT_IO")]
    pub direct_io: bool,
    /// Log format.
    #[arg(long, env = "AIS_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// URL other nodes reach this target at, when clients use another (load balancer,
    /// published port) [default: http://<this host's IP>:<port>].
    #[arg(long, env = "AIS_INTRA_URL")]
    pub intra_url: Option<String>,
    /// Primary proxy to register with, e.g. http://10.0.0.1:8080 [default: run standalone].
    #[arg(long, env = "AIS_PRIMARY_EP", value_name = "URL")]
    pub proxy: Option<String>,
    #[command(flatten)]
    pub s3: S3Args,
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
                Ok(Some(crate::s3::auth::Credentials {
                    access_key,
                    secret_key,
                }))
            }
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
    /// Size of each disk read and write, bytes.
    pub chunk_size: usize,
    /// Largest object a PUT may store, bytes.
    pub max_object_size: u64,
    /// Disk operations queued or in flight per mountpath (and io_uring ring size).
    pub disk_queue_depth: u32,
    /// Seconds a client may take to send request headers.
    pub header_read_timeout_secs: u64,
    /// Seconds a request body may stall before the request is dropped.
    pub body_idle_timeout_secs: u64,
    /// Seconds in-flight requests get to finish after SIGTERM.
    pub shutdown_timeout_secs: u64,
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
    pub buffer_budget_mib: u64,
    /// S3 access key ID (flag and env win; see `--s3-access-key`).
    #[serde(skip_serializing)]
    pub s3_access_key: Option<String>,
    /// S3 secret access key.
    #[serde(skip_serializing)]
    pub s3_secret_key: Option<String>,
    /// Multipart uploads with no part stored for this long are removed (seconds).
    pub s3_upload_max_age_secs: u64,
}

impl Default for FileSettings {
    fn default() -> Self {
        FileSettings {
            fsync: false,
            validate_checksum_on_get: false,
            chunk_size: 256 << 10,
            max_object_size: 5 << 40,
            disk_queue_depth: 64,
            header_read_timeout_secs: 30,
            body_idle_timeout_secs: 60,
            shutdown_timeout_secs: 30,
            max_page_size: 10_000,
            keepalive_interval_ms: 2_000,
            direct_io: false,
            inline_cache_hits: true,
            buffer_budget_mib: 32,
            s3_access_key: None,
            s3_secret_key: None,
            s3_upload_max_age_secs: 7 * 24 * 3600,
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
    /// Log format.
    pub log_format: LogFormat,
    /// Primary proxy URL, if any.
    pub proxy: Option<String>,
    /// Intra-cluster URL, if given.
    pub intra_url: Option<String>,
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
            log_format: args.log_format,
            proxy: args.proxy.map(|u| u.trim_end_matches('/').to_string()),
            intra_url: args.intra_url,
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
        if s.buffer_budget_mib << 20 < 4 * s.chunk_size as u64 || s.buffer_budget_mib > 1 << 20 {
            return Err(ConfigError::Invalid(
                "buffer_budget_mib must hold at least 4 chunks and be at most 1 TiB".into(),
            ));
        }
        if !(2..=4096).contains(&s.disk_queue_depth) {
            return Err(ConfigError::Invalid(
                "disk_queue_depth must be 2 to 4096".into(),
            ));
        }
        if s.max_page_size == 0 {
            return Err(ConfigError::Invalid(
                "max_page_size must be at least 1".into(),
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
    /// Seconds in-flight requests get to finish after SIGTERM.
    pub shutdown_timeout_secs: u64,
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
            shutdown_timeout_secs: 30,
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
    /// File settings.
    #[serde(flatten)]
    pub settings: ProxySettings,
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
        {
            return Err(ConfigError::Invalid(
                "node_timeout_ms, check_interval_ms and max_page_size must be positive".into(),
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
