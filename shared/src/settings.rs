//! Layered configuration: a TOML file, then environment variables, then validation.
//!
//! Environment variables override file keys as `<PREFIX>__<SECTION>__<KEY>`, for instance
//! `CDG_NODE__LISTEN=0.0.0.0:7443` or `CDG_NODE__TLS__CERT=/etc/cdg/node.pem`.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "configuration file {path} not found: create it (examples are in deploy/) or pass --config"
    )]
    NotFound { path: PathBuf },
    #[error("configuration {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("configuration {path}: key `{key}` {problem}")]
    Key {
        path: PathBuf,
        key: &'static str,
        problem: String,
    },
}

impl SettingsError {
    /// A key whose value is not acceptable, and why.
    pub fn key(path: &Path, key: &'static str, problem: impl Into<String>) -> SettingsError {
        SettingsError::Key {
            path: path.to_path_buf(),
            key,
            problem: problem.into(),
        }
    }
}

/// Reads `path` (TOML) with environment overrides under `env_prefix`, into `T`.
pub fn load<T: DeserializeOwned>(path: &Path, env_prefix: &str) -> Result<T, SettingsError> {
    if !path.is_file() {
        return Err(SettingsError::NotFound {
            path: path.to_path_buf(),
        });
    }
    let invalid = |message: String| SettingsError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    config::Config::builder()
        .add_source(config::File::from(path).format(config::FileFormat::Toml))
        .add_source(
            config::Environment::with_prefix(env_prefix)
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true),
        )
        .build()
        .map_err(|e| invalid(e.to_string()))?
        .try_deserialize()
        .map_err(|e| invalid(e.to_string()))
}

/// The folder relative paths of a configuration file are resolved against.
pub fn base_dir(config_path: &Path) -> PathBuf {
    config_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        listen: String,
        #[serde(default)]
        workers: u32,
    }

    impl Sample {
        fn workers(&self) -> u32 {
            self.workers
        }
    }

    #[test]
    fn names_missing_and_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "workers = 2\n").unwrap();
        let err = load::<Sample>(&path, "CDG_SETTINGS_TEST_A").unwrap_err();
        assert!(err.to_string().contains("listen"), "{err}");
        std::fs::write(&path, "listen = \"x\"\nlisten_port = 3\n").unwrap();
        let err = load::<Sample>(&path, "CDG_SETTINGS_TEST_B").unwrap_err();
        assert!(err.to_string().contains("listen_port"), "{err}");
        let err = load::<Sample>(&dir.path().join("nope.toml"), "X").unwrap_err();
        assert!(matches!(err, SettingsError::NotFound { .. }));
        std::fs::write(&path, "listen = \"a\"\n").unwrap();
        let ok = load::<Sample>(&path, "CDG_SETTINGS_TEST_C").unwrap();
        assert_eq!((ok.listen.as_str(), ok.workers()), ("a", 0));
    }
}
