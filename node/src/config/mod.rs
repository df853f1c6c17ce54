//! The node's configuration file (TOML), with `CDG_NODE__...` environment overrides.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use cdg_shared::cdg::Cdg;
use cdg_shared::federation::Federation;
use cdg_shared::settings::{self, SettingsError};
use cdg_shared::tls::TlsFiles;
use serde::{Deserialize, Serialize};

mod policy;

pub use policy::*;

/// Prefix of the environment variables that override the file, e.g. `CDG_NODE__LISTEN`.
pub const ENV_PREFIX: &str = "CDG_NODE";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Département code of this node's CDG: "02", "59", "60", "62" or "80".
    pub cdg: Cdg,
    /// Address the gRPC server listens on, e.g. "127.0.0.1:7443".
    pub listen: SocketAddr,
    /// The node's DuckDB file.
    pub database: PathBuf,
    pub tls: TlsFiles,
    /// The member CDGs and the coordinator this node obeys (`[federation]`; defaults: the five
    /// CDGs of Hauts-de-France and `urn:cdg-hdf:coordinator:59`).
    #[serde(default)]
    pub federation: Federation,
    #[serde(default)]
    pub policy: PolicyConfig,
    /// The secret of the record keys (cell key method): 32 random bytes in hex, created at the
    /// first start. Defaults to `<database>.record-key`. Back it up with the database: another
    /// key gives other noise, so answers would change.
    #[serde(default)]
    pub record_key: Option<PathBuf>,
    /// The node's audit log of every request (hash-chained; checkpoints beside it). Defaults
    /// to `<database>.audit.log`.
    #[serde(default)]
    pub audit_log: Option<PathBuf>,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub import: ImportConfig,
    /// Address of the Prometheus endpoint (plain HTTP, `GET /metrics`), e.g. "127.0.0.1:9464".
    /// Absent: no endpoint.
    #[serde(default)]
    pub metrics_listen: Option<SocketAddr>,
    /// Certificates refused although they chain to the federation CA, as `serial:<hex>` or
    /// `sha256:<hex>` (fingerprint): clients, and directors' signed approvals.
    #[serde(default)]
    pub revoked_certificates: Vec<String>,
}

/// How imports treat invalid rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImportConfig {
    /// Largest share of invalid rows (0 to 1) an import may quarantine and still load the rest.
    pub max_reject_ratio: f64,
}

impl Default for ImportConfig {
    fn default() -> Self {
        ImportConfig {
            max_reject_ratio: crate::ingest::ImportOptions::default().max_reject_ratio,
        }
    }
}

/// Resource limits of the gRPC server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request or response message, bytes.
    pub max_message_bytes: usize,
    /// Most values in one IN filter.
    pub max_filter_values: usize,
    /// Answers kept to give again when the same query comes back (0: none). The approvals,
    /// budget, overlap watch and audit log still see every request.
    pub answer_cache_entries: usize,
    /// DuckDB worker threads per statement (default: one per core). Lower it when the node
    /// shares its server: several DuckDB processes each using every core slow one another.
    pub duckdb_threads: Option<usize>,
    /// DuckDB connections answers share (default: one per core). Each computes one answer at a
    /// time; DuckDB plans a statement on its caller's thread, so one connection per core keeps
    /// every core busy under concurrent studies.
    pub duckdb_connections: Option<usize>,
    /// Answers from a copy of the loaded data kept in memory, in columns (about 100 bytes a
    /// row), instead of one to four DuckDB statements each: 5 to 10 times faster. `false`
    /// answers with SQL alone, for a node whose data would not fit in its memory; the
    /// answers are the same.
    pub in_memory_copy: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 16 * 1024 * 1024,
            max_filter_values: 64,
            answer_cache_entries: 256,
            duckdb_threads: None,
            duckdb_connections: None,
            in_memory_copy: true,
        }
    }
}

/// Errors name the file and the key.
pub type ConfigError = SettingsError;

impl Limits {
    /// The DuckDB connections to open: `duckdb_connections`, or one per core.
    pub fn connections(&self) -> usize {
        self.duckdb_connections
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(8)))
    }
}

impl NodeConfig {
    /// The deny list of `revoked_certificates` (checked when the configuration loads).
    pub fn revocation(&self) -> anyhow::Result<cdg_shared::revocation::Revocation> {
        cdg_shared::revocation::Revocation::parse(&self.revoked_certificates)
            .map_err(anyhow::Error::msg)
    }

    /// The record-key secret's file: the configured one, or the default beside the database.
    pub fn record_key_path(&self) -> PathBuf {
        self.record_key
            .clone()
            .unwrap_or_else(|| crate::store::record_key::default_path(&self.database))
    }

    /// The audit log's file: the configured one, or the default beside the database.
    pub fn audit_log_path(&self) -> PathBuf {
        self.audit_log.clone().unwrap_or_else(|| {
            let mut name = self.database.as_os_str().to_owned();
            name.push(".audit.log");
            name.into()
        })
    }

    /// The sums this node contributed to (cells and participants, never values), beside the
    /// database: the node's differencing guard (`cdg_shared::secure_sum::guard`).
    pub fn secure_sums_path(&self) -> PathBuf {
        let mut name = self.database.as_os_str().to_owned();
        name.push(".secure-sums.jsonl");
        name.into()
    }

    /// Loads, resolves relative paths against the file's folder, and validates.
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let mut config: NodeConfig = settings::load(path, ENV_PREFIX)?;
        let base = settings::base_dir(path);
        config.database = base.join(&config.database);
        config.tls = config.tls.resolved(&base);
        config.record_key = config.record_key.map(|key| base.join(key));
        config.audit_log = config.audit_log.map(|log| base.join(log));
        config.validate(path)?;
        Ok(config)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |key: &'static str, problem: String| SettingsError::key(path, key, problem);
        self.policy.validate(&invalid)?;
        self.federation
            .validate()
            .map_err(|(key, problem)| invalid(key, problem))?;
        if !self.federation.is_member(self.cdg) {
            return Err(invalid(
                "federation.members",
                format!("does not list this node's own CDG {}", self.cdg),
            ));
        }
        if self.limits.max_message_bytes < 64 * 1024 {
            return Err(invalid(
                "limits.max_message_bytes",
                "must be at least 65536".to_string(),
            ));
        }
        let ratio = self.import.max_reject_ratio;
        if !(0.0..=1.0).contains(&ratio) {
            return Err(invalid(
                "import.max_reject_ratio",
                format!("is {ratio}, expected a share between 0 and 1 (e.g. 0.05)"),
            ));
        }
        cdg_shared::revocation::Revocation::parse(&self.revoked_certificates)
            .map_err(|e| invalid("revoked_certificates", e))?;
        if self.limits.max_filter_values == 0 {
            return Err(invalid(
                "limits.max_filter_values",
                "must be at least 1".to_string(),
            ));
        }
        if !matches!(self.limits.duckdb_connections, None | Some(1..=64)) {
            return Err(invalid(
                "limits.duckdb_connections",
                "must be between 1 and 64 (leave it out for one per core)".to_string(),
            ));
        }
        if self.limits.duckdb_threads == Some(0) {
            return Err(invalid(
                "limits.duckdb_threads",
                "must be at least 1 (leave it out for one per core)".to_string(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples")
    }

    #[test]
    fn every_example_config_loads() {
        for cdg in Cdg::ALL {
            let path = examples().join(format!("node-{}.toml", cdg.code()));
            let config =
                NodeConfig::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(config.cdg, cdg);
            assert_eq!(config.policy.min_agents_per_cell, FLOOR_MIN_AGENTS);
        }
    }

    #[test]
    fn a_threshold_below_the_floor_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let text = std::fs::read_to_string(examples().join("node-62.toml")).unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(
            &path,
            text.replace("min_agents_per_cell = 11", "min_agents_per_cell = 5"),
        )
        .unwrap();
        let err = NodeConfig::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("policy.min_agents_per_cell") && err.contains("11"),
            "{err}"
        );
        std::fs::write(&path, text.replace("listen =", "listen_on =")).unwrap();
        let err = NodeConfig::load(&path).unwrap_err().to_string();
        assert!(err.contains("listen_on"), "{err}");
        for (from, to, key) in [
            (
                "max_noise = 4",
                "max_noise = 1",
                "policy.perturbation.max_noise",
            ),
            (
                "max_noise = 4",
                "max_noise = 12",
                "policy.perturbation.max_noise",
            ),
            (
                "variance = 2.0",
                "variance = 0.2",
                "policy.perturbation.variance",
            ),
            (
                "variance = 2.0",
                "variance = 9.0",
                "policy.perturbation.variance",
            ),
            (
                "magnitude_noise = 3.0",
                "magnitude_noise = 1.0",
                "policy.perturbation.magnitude_noise",
            ),
            (
                "employer_dominance = 0.85",
                "employer_dominance = 0.9",
                "policy.employer_dominance",
            ),
            (
                "refuse_after = 25",
                "refuse_after = 26",
                "policy.overlap.refuse_after",
            ),
            (
                "# [policy.datasets.agents]\n# dimensions = [",
                "[policy.datasets.agents]\ndimensions = [\"commune\", ",
                "policy.datasets.<dataset>.dimensions",
            ),
            (
                "# duckdb_threads = 2",
                "duckdb_threads = 0",
                "limits.duckdb_threads",
            ),
            (
                "# duckdb_connections = 2",
                "duckdb_connections = 0",
                "limits.duckdb_connections",
            ),
        ] {
            std::fs::write(&path, text.replace(from, to)).unwrap();
            let err = NodeConfig::load(&path).unwrap_err().to_string();
            assert!(err.contains(key), "{to}: {err}");
        }
        std::fs::write(&path, &text).unwrap();
        let config = NodeConfig::load(&path).unwrap();
        assert_eq!(
            config.record_key_path(),
            PathBuf::from("/var/lib/cdg-node/node-62.duckdb.record-key"),
            "the record key defaults to sit beside the database"
        );
    }
}
