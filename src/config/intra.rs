//! The intra-cluster listener and what guards it: the cluster secret, the AuthN key.

use std::net::IpAddr;
use std::path::PathBuf;

use serde::Serialize;

use super::*;

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
