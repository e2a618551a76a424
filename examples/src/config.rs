//! What the `tandem` daemons' configurations share: one TOML file, `TANDEM_*` environment overrides, and the
//! errors loading them can give.

use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("invalid configuration: {0}")]
    Toml(#[from] toml::de::Error),
    /// An environment override does not parse.
    #[error("invalid {name}: {value}")]
    Env {
        /// The variable.
        name: String,
        /// Its value.
        value: String,
    },
    /// The values parse but do not make a working service.
    #[error("invalid configuration: {0}")]
    Invalid(&'static str),
}

/// Parse the TOML file at `path`, or give the defaults when `None`.
pub(crate) fn read_toml<T: DeserializeOwned + Default>(
    path: Option<&Path>,
) -> Result<T, ConfigError> {
    match path {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            Ok(toml::from_str(&text)?)
        }
        None => Ok(T::default()),
    }
}

/// Parse the value of environment variable `name`.
pub(crate) fn parse<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, ConfigError> {
    value.trim().parse().map_err(|_| ConfigError::Env {
        name: name.into(),
        value: value.into(),
    })
}

/// Parse the value of environment variable `name`; empty means "off" (`None`).
pub(crate) fn parse_optional<T: std::str::FromStr>(
    name: &str,
    value: &str,
) -> Result<Option<T>, ConfigError> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    parse(name, value).map(Some)
}
