//! S3 client credentials of a node: one key pair, or a file of users with their rights.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::*;

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
