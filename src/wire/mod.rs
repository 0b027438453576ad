//! AIStore's shapes on the wire, shared by the proxy, the target and the loader: control
//! messages and the `Ais-*` header names. Data only: no handler, no HTTP response.

pub mod headers;

use serde::Deserialize;

/// An AIStore control message (`ActMsg`).
#[derive(Debug, Default, Deserialize, serde::Serialize)]
pub struct ActMsg {
    /// Action name, e.g. `create-bck`.
    #[serde(default)]
    pub action: String,
    /// Optional name argument.
    #[serde(default)]
    pub name: String,
    /// Action-specific value.
    #[serde(default)]
    pub value: serde_json::Value,
}
