//! Node configuration: command-line flags (each also an `AIS_*` environment variable)
//! over an optional TOML or JSON file for the rest, validated once at start-up.

mod intra;
mod proxy;
mod s3;
mod target;

pub use intra::{IntraArgs, IntraConfig};
pub use proxy::{ProxyArgs, ProxyConfig, ProxySettings};
pub use s3::S3Args;
pub use target::{FileSettings, TargetArgs, TargetConfig};

use std::path::{Path, PathBuf};

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

/// Reads a `.json` file as JSON and anything else as TOML.
pub(super) fn load_file<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.into(), e))?;
    if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| ConfigError::Parse(path.into(), e.to_string()))
    } else {
        toml::from_str(&text).map_err(|e| ConfigError::Parse(path.into(), e.to_string()))
    }
}

/// Node IDs: 1 to 64 of `[A-Za-z0-9_-]`.
pub(super) fn validate_id(id: &str) -> Result<(), ConfigError> {
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
