//! aisloader's flags, with AIStore's names where they exist; sizes and durations take units.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Splits `"1.5MiB"` into `(1.5, "MiB")`.
fn number_and_unit(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    num.parse().ok().map(|n| (n, unit))
}

/// Parses a size: a number with an optional unit (B, K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB;
/// binary multiples either way, as aisloader does).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let (n, unit) =
        number_and_unit(s).ok_or_else(|| format!("{s:?} is not a size (e.g. 64KiB, 8MiB, 1G)"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => return Err(format!("unknown size unit {other:?} in {s:?}")),
    };
    Ok((n * mult as f64).round() as u64)
}

/// Parses a duration: a number with unit ms, s, m or h (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (n, unit) = number_and_unit(s)
        .ok_or_else(|| format!("{s:?} is not a duration (e.g. 30s, 2m, 500ms)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        other => return Err(format!("unknown duration unit {other:?} in {s:?}")),
    };
    Ok(Duration::from_secs_f64(secs))
}

/// Which API the loader speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ApiKind {
    /// AIStore's native REST API (`/v1/objects/...`, redirects followed).
    Native,
    /// S3, path style, SigV4-signed (`--proxy` is the S3 endpoint, e.g. http://host:8080/s3).
    S3,
}

/// aisloader: load generator and benchmark for AIStore-compatible clusters (and plain HTTP servers).
#[derive(Debug, Clone, Parser)]
#[command(name = "aisloader", version, about, long_about = None)]
pub struct LoaderArgs {
    /// Proxy (or target) URL; requests follow its redirects.
    #[arg(long, env = "AIS_ENDPOINT", default_value = "http://127.0.0.1:8080")]
    pub proxy: String,
    /// Proxy IP (with --port; overrides --proxy).
    #[arg(long)]
    pub ip: Option<String>,
    /// Proxy port (with --ip).
    #[arg(long)]
    pub port: Option<u16>,
    /// Bucket to read and write (created if missing).
    #[arg(long, default_value = "aisloader")]
    pub bucket: String,
    /// How long to run, e.g. 30s, 2m (0 = until --maxputs/--totalputsize or, for GETs, one pass with --uniquegets).
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub duration: Duration,
    /// Concurrent workers (connections).
    #[arg(long, default_value_t = 8)]
    pub numworkers: usize,
    /// Percentage of PUTs; the rest are GETs (0..=100).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub pctput: u8,
    /// Smallest object size for PUTs, e.g. 64KiB.
    #[arg(long, value_parser = parse_size, default_value = "1MiB")]
    pub minsize: u64,
    /// Largest object size for PUTs, e.g. 8MiB.
    #[arg(long, value_parser = parse_size, default_value = "1MiB")]
    pub maxsize: u64,
    /// Stop after PUTting this many bytes in all (0 = no limit).
    #[arg(long, value_parser = parse_size, default_value = "0")]
    pub totalputsize: u64,
    /// Stop after this many PUTs (0 = no limit).
    #[arg(long, default_value_t = 0)]
    pub maxputs: u64,
    /// Delete the objects this run PUT when it ends.
    #[arg(long)]
    pub cleanup: bool,
    /// Range GETs: offset of the range.
    #[arg(long, value_parser = parse_size, default_value = "0")]
    pub readoff: u64,
    /// Range GETs: length of the range (0 = whole objects).
    #[arg(long, value_parser = parse_size, default_value = "0")]
    pub readlen: u64,
    /// Checksum type sent with PUTs (xxhash or none).
    #[arg(long = "cksum-type", default_value = "xxhash")]
    pub cksum_type: String,
    /// Verify every whole-object GET against its Ais-Checksum-Value (counts mismatches as errors).
    #[arg(long)]
    pub verifyhash: bool,
    /// Read each existing object once (then stop GETting), instead of random picks.
    #[arg(long)]
    pub uniquegets: bool,
    /// Random seed (0 = from the clock).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print a line per operation every interval, e.g. 10s (0 = only the final table).
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub statsinterval: Duration,
    /// Print the final results as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// API to use: native (AIStore) or s3 (any S3 endpoint, path style).
    #[arg(long, value_enum, default_value = "native")]
    pub api: ApiKind,
    /// S3 access key ID for --api s3.
    #[arg(long, env = "AWS_ACCESS_KEY_ID", default_value = "aisloader")]
    pub s3_access_key: String,
    /// S3 secret access key for --api s3.
    #[arg(
        long,
        env = "AWS_SECRET_ACCESS_KEY",
        default_value = "aisloader",
        hide_env_values = true
    )]
    pub s3_secret_key: String,
    /// Each GET is one GetBatch (`/v1/ml/moss`, AIStore's ML endpoint) of this many
    /// items, read as a streamed TAR (0 = single GETs).
    #[arg(long = "get-batchsize", default_value_t = 0)]
    pub get_batchsize: usize,
    /// Read the members of the bucket's archives (shards) instead of whole objects: single
    /// GETs with `?archpath=`, or as GetBatch items with --get-batchsize.
    #[arg(long = "arch.list")]
    pub arch_list: bool,
    /// Raw mode: GET the URLs in this file (one per line) from any HTTP server, e.g. nginx.
    #[arg(long = "get-urls", value_name = "FILE")]
    pub get_urls: Option<PathBuf>,
}

impl LoaderArgs {
    /// The endpoint URL after --ip/--port.
    pub fn endpoint(&self) -> String {
        match (&self.ip, self.port) {
            (Some(ip), Some(port)) => format!("http://{ip}:{port}"),
            (Some(ip), None) => format!("http://{ip}:8080"),
            _ => self.proxy.trim_end_matches('/').to_string(),
        }
    }

    /// Checks combinations clap cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.numworkers == 0 {
            return Err("--numworkers must be at least 1".into());
        }
        if self.minsize > self.maxsize {
            return Err(format!(
                "--minsize {} is larger than --maxsize {}",
                self.minsize, self.maxsize
            ));
        }
        if self.pctput > 0 && self.maxsize == 0 {
            return Err("--maxsize must be positive when PUTting".into());
        }
        if !matches!(self.cksum_type.as_str(), "xxhash" | "none") {
            return Err(format!(
                "--cksum-type {:?}: expecting xxhash or none",
                self.cksum_type
            ));
        }
        if self.api == ApiKind::S3 && self.verifyhash {
            return Err("--verifyhash checks Ais-Checksum-Value: native API only".into());
        }
        if self.get_batchsize > crate::wire::moss::MAX_ITEMS {
            return Err(format!(
                "--get-batchsize {}: at most {} items in one GetBatch",
                self.get_batchsize,
                crate::wire::moss::MAX_ITEMS
            ));
        }
        let reads_items = self.get_batchsize > 0 || self.arch_list;
        if reads_items && (self.api == ApiKind::S3 || self.get_urls.is_some()) {
            return Err("--get-batchsize and --arch.list need AIStore's native API (not --api s3 or --get-urls)".into());
        }
        if self.get_batchsize > 0 && (self.verifyhash || self.readoff > 0 || self.readlen > 0) {
            return Err(
                "--get-batchsize reads whole items: no --verifyhash, --readoff or --readlen".into(),
            );
        }
        let unbounded = self.duration.is_zero()
            && self.maxputs == 0
            && self.totalputsize == 0
            && !self.uniquegets;
        if unbounded {
            return Err("nothing bounds the run: give --duration, --maxputs, --totalputsize or --uniquegets".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("8MiB"), Ok(8 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("1.5k"), Ok(1536));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("12parsecs").is_err());
        assert!(parse_size("KiB").is_err());
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert!(parse_duration("5 fortnights").is_err());
    }

    #[test]
    fn flags_parse_with_aisloader_names() {
        let a = LoaderArgs::try_parse_from([
            "aisloader",
            "--ip",
            "10.0.0.1",
            "--port",
            "51080",
            "--bucket",
            "b",
            "--duration",
            "30s",
            "--numworkers",
            "16",
            "--pctput",
            "100",
            "--minsize",
            "64KiB",
            "--maxsize",
            "8MiB",
            "--cleanup",
            "--json",
            "--verifyhash",
            "--seed",
            "7",
        ])
        .unwrap();
        assert_eq!(a.endpoint(), "http://10.0.0.1:51080");
        assert_eq!(
            (a.minsize, a.maxsize, a.numworkers, a.pctput),
            (65536, 8 << 20, 16, 100)
        );
        assert!(a.cleanup && a.json && a.verifyhash);
        assert_eq!(a.validate(), Ok(()));
        // Boolean flags take no value.
        assert!(LoaderArgs::try_parse_from(["aisloader", "--cleanup", "true"]).is_err());
        assert!(LoaderArgs::try_parse_from(["aisloader", "--pctput", "101"]).is_err());
        let bad =
            LoaderArgs::try_parse_from(["aisloader", "--minsize", "2MiB", "--maxsize", "1MiB"])
                .unwrap();
        assert!(bad.validate().is_err());
    }
}
