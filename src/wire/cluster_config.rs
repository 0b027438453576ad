//! `GET /v1/cluster?what=cluster_config`: the part of AIStore's cluster configuration
//! that clients decide on, in its shape. AIStore's SDK suite reads `auth` to know whether
//! a client may read from targets directly (no client tokens, unsigned intra-cluster
//! requests). Both spellings are sent: AIStore's current fields (`client_auth_required`,
//! `intra_cluster.request_auth`) and the `enabled` flags its SDK tests read.

use serde::Serialize;

/// The answer.
#[derive(Debug, Serialize)]
pub struct ClusterConfig {
    pub auth: AuthConf,
}

/// `auth`.
#[derive(Debug, Serialize)]
pub struct AuthConf {
    pub enabled: bool,
    pub client_auth_required: bool,
    pub intra_cluster: IntraClusterConf,
}

/// `auth.intra_cluster`.
#[derive(Debug, Serialize)]
pub struct IntraClusterConf {
    pub enabled: bool,
    pub request_auth: bool,
}

/// The configuration of a cluster that requires client tokens (`tokens`) and signs its
/// intra-cluster requests and redirects (`signed`).
pub fn cluster_config(tokens: bool, signed: bool) -> ClusterConfig {
    ClusterConfig {
        auth: AuthConf {
            enabled: tokens,
            client_auth_required: tokens,
            intra_cluster: IntraClusterConf {
                enabled: signed,
                request_auth: signed,
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_what_guards_the_cluster_in_both_spellings() {
        for (tokens, signed) in [(false, false), (false, true), (true, true)] {
            let v = serde_json::to_value(cluster_config(tokens, signed)).unwrap();
            let auth = &v["auth"];
            assert_eq!(auth["enabled"], tokens);
            assert_eq!(auth["client_auth_required"], tokens);
            assert_eq!(auth["intra_cluster"]["enabled"], signed);
            assert_eq!(auth["intra_cluster"]["request_auth"], signed);
        }
    }
}
