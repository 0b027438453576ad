//! `aisnode target`: its flags and config-file settings, validated into a `TargetConfig`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::*;
use crate::fs::{Durability, GroupSync};

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
    /// When a PUT is acknowledged: `group` once the object, its metadata and its name are on
    /// stable storage, flushes shared among concurrent requests; `object` the same, each
    /// object flushed by itself; `none` once in the page cache (a power cut loses the last
    /// seconds of writes) [default: group, or the file's `durability`].
    #[arg(long, env = "AIS_DURABILITY", value_enum)]
    pub durability: Option<Durability>,
    /// Same as `--durability object` (kept for older scripts).
    #[arg(long, env = "AIS_FSYNC", hide = true)]
    pub fsync: bool,
    /// Read and write objects with O_DIRECT, bypassing the page cache [default: off, or the file's `direct_io`].
    #[arg(long, env = "AIS_DIRECT_IO")]
    pub direct_io: bool,
    /// Log format.
    #[arg(long, env = "AIS_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Directory for this node's log files (aisnode.INFO, aisnode.ERROR, rotated at 8 MiB),
    /// also written to stderr and served by `GET /v1/daemon?what=log` [default: stderr only].
    #[arg(long, env = "AIS_LOG_DIR", value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    /// The machine this target runs on, its failure domain: copies and slices of an object
    /// go to targets on distinct machines first (Kubernetes: `spec.nodeName` through the
    /// downward API) [default: the host name].
    #[arg(long, env = "AIS_NODE_NAME", value_name = "NAME")]
    pub node_name: Option<String>,
    /// Primary proxy to register with, e.g. http://10.0.0.1:8080 [default: run standalone].
    #[arg(long, env = "AIS_PRIMARY_EP", value_name = "URL")]
    pub proxy: Option<String>,
    #[command(flatten)]
    pub intra: IntraArgs,
    #[command(flatten)]
    pub s3: S3Args,
}

/// Settings read from the config file; every one has a default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileSettings {
    /// When a PUT is acknowledged: "group" (default), "object" or "none" (see `--durability`).
    pub durability: Durability,
    /// What a group flush flushes: "filesystem" (one shared `syncfs`, the default) or
    /// "files" (each object's data and directory, for a filesystem shared with others).
    pub group_sync: GroupSync,
    /// Same as `durability = "object"` (older config files).
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
            durability: Durability::Group,
            group_sync: GroupSync::Filesystem,
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
    /// The machine this target runs on (its failure domain).
    pub node_name: String,
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
        if let Some(d) = args.durability {
            settings.durability = d;
        }
        if settings.fsync || args.fsync {
            settings.durability = Durability::Object;
        }
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
            node_name: args.node_name.unwrap_or_else(host_name),
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
        if !crate::names::valid_node_name(&self.node_name) {
            return Err(ConfigError::Invalid(format!(
                "node name {:?}: use 1 to 253 of [A-Za-z0-9._-]",
                self.node_name
            )));
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
            stop_grace: Duration::from_millis(s.shutdown_grace_ms),
        }
    }
}

/// This machine's host name (`localhost` when it cannot be read).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| crate::names::valid_node_name(h))
        .unwrap_or_else(|| "localhost".into())
}

/// The serving threads `public_threads` asks for.
pub(super) fn public_threads(setting: i64) -> usize {
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

    #[test]
    fn durability_is_group_unless_asked_otherwise() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            target: TargetArgs,
        }
        let dir = tempfile::tempdir().unwrap();
        let mp = dir.path().display().to_string();
        let parse = |extra: &[&str]| {
            let mut argv = vec!["aisnode", "--mountpath", mp.as_str()];
            argv.extend_from_slice(extra);
            TargetConfig::from_args(Cli::parse_from(argv).target)
                .unwrap()
                .settings
        };
        assert_eq!(parse(&[]).durability, Durability::Group);
        assert_eq!(parse(&[]).group_sync, GroupSync::Filesystem);
        assert_eq!(
            parse(&["--durability", "none"]).durability,
            Durability::None
        );
        assert_eq!(parse(&["--fsync"]).durability, Durability::Object);
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "durability = \"none\"\ngroup_sync = \"filesystem\"\n",
        )
        .unwrap();
        let f = file.display().to_string();
        let s = parse(&["--config", f.as_str()]);
        assert_eq!(
            (s.durability, s.group_sync),
            (Durability::None, GroupSync::Filesystem)
        );
        assert_eq!(
            parse(&["--config", f.as_str(), "--durability", "group"]).durability,
            Durability::Group
        );
    }
}
