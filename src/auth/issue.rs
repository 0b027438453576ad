//! `aisnode token`: issuing a token as AuthN would, for tests and small deployments.

use super::*;

/// `aisnode token issue` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct IssueArgs {
    /// HS256 key (the cluster's AuthN key).
    #[arg(long, env = "AIS_AUTHN_SECRET_KEY", hide_env_values = true)]
    pub secret: Option<String>,
    /// File holding the key.
    #[arg(long, env = "AIS_AUTHN_SECRET_FILE", value_name = "FILE")]
    pub secret_file: Option<std::path::PathBuf>,
    /// User name.
    #[arg(long)]
    pub user: String,
    /// Lifetime: seconds, or a number with s, m, h or d.
    #[arg(long, default_value = "24h", value_parser = parse_lifetime)]
    pub expires_in: u64,
    /// Full access to everything.
    #[arg(long)]
    pub admin: bool,
    /// Permission on a cluster: UUID=PERM (PERM: ro, rw, admin or a number); repeat.
    #[arg(long = "cluster", value_name = "UUID=PERM", value_parser = parse_grant)]
    pub clusters: Vec<(String, u64)>,
    /// Permission on a bucket: NAME=PERM; repeat.
    #[arg(long = "bucket", value_name = "NAME=PERM", value_parser = parse_grant)]
    pub buckets: Vec<(String, u64)>,
}

/// `30`, `30s`, `15m`, `24h`, `7d` to seconds.
pub fn parse_lifetime(s: &str) -> Result<u64, String> {
    let (num, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 's'),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expecting e.g. 3600, 30m, 24h or 7d"))?;
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(format!("{s:?}: unit must be s, m, h or d")),
    };
    Ok(n.saturating_mul(mult))
}

/// `NAME=ro|rw|admin|<number>`.
pub fn parse_grant(s: &str) -> Result<(String, u64), String> {
    let (name, perm) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expecting NAME=PERM"))?;
    let perm = match perm {
        "ro" => ace::RO,
        "rw" => ace::RW,
        "admin" => ace::ADMIN,
        n => n
            .parse()
            .map_err(|_| format!("{perm:?}: expecting ro, rw, admin or a number"))?,
    };
    Ok((name.to_string(), perm))
}

impl IssueArgs {
    /// The signed token.
    pub fn issue(&self) -> Result<String, String> {
        let secret = match (&self.secret, &self.secret_file) {
            (Some(s), None) => s.as_bytes().to_vec(),
            (None, Some(f)) => std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?,
            _ => {
                return Err(
                    "give the key with --secret (AIS_AUTHN_SECRET_KEY) or --secret-file".into(),
                )
            }
        };
        let key = TokenKey::new(&secret).ok_or("the key is empty")?;
        let claims = Claims {
            username: self.user.clone(),
            exp: Some(crate::cluster::intra_auth::now_secs() + self.expires_in),
            admin: self.admin,
            clusters: self
                .clusters
                .iter()
                .map(|(id, perm)| ClusterAcl {
                    id: id.clone(),
                    perm: *perm,
                })
                .collect(),
            buckets: self
                .buckets
                .iter()
                .map(|(name, perm)| BucketAcl {
                    bck: BckRef {
                        name: name.clone(),
                        provider: "ais".into(),
                    },
                    perm: *perm,
                })
                .collect(),
            ..Claims::default()
        };
        Ok(key.issue(&claims))
    }
}
