//! The node's configuration file (TOML), with `CDG_NODE__...` environment overrides.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use cdg_shared::cdg::Cdg;
use cdg_shared::settings::{self, SettingsError};
use cdg_shared::tls::TlsFiles;
use serde::{Deserialize, Serialize};

/// Prefix of the environment variables that override the file, e.g. `CDG_NODE__LISTEN`.
pub const ENV_PREFIX: &str = "CDG_NODE";

/// The project's floor: no node may release a cell with fewer distinct agents than this.
pub const FLOOR_MIN_AGENTS: u32 = 11;
/// The project's floor for cells of employer datasets.
pub const FLOOR_MIN_EMPLOYERS: u32 = 3;
/// The most dimensions a query may group by or filter on.
pub const CEILING_MAX_GROUP_BY: u32 = 4;

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
    #[serde(default)]
    pub policy: PolicyConfig,
    /// The secret of the record keys (cell key method): 32 random bytes in hex, created at the
    /// first start. Defaults to `<database>.record-key`. Back it up with the database: another
    /// key gives other noise, so answers would change.
    #[serde(default)]
    pub record_key: Option<PathBuf>,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub import: ImportConfig,
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

/// The disclosure thresholds the operator sets (never below the project's floors).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    pub min_agents_per_cell: u32,
    pub min_employers_per_cell: u32,
    pub max_group_by: u32,
    /// p% rule on magnitude cells: a sum or mean is kept secret when the cell's total minus its
    /// two largest contributions is under this share of the largest.
    pub dominance_p: f64,
    /// Released cells an analyst may receive per day from this node.
    pub max_cells_per_analyst_per_day: u32,
    pub perturbation: PerturbationConfig,
    pub convention: ConventionConfig,
}

/// The convention's validity (Art. 6): nothing is released outside it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ConventionConfig {
    /// First day of validity, AAAA-MM-JJ.
    pub start: String,
    /// Last day of validity, AAAA-MM-JJ.
    pub end: String,
    /// Avenants extending the convention, each with its new last day and its reference.
    pub avenants: Vec<Avenant>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Avenant {
    pub end: String,
    pub reference: String,
}

impl Default for ConventionConfig {
    fn default() -> Self {
        ConventionConfig {
            start: "2023-01-01".into(),
            end: "2026-12-31".into(),
            avenants: Vec::new(),
        }
    }
}

fn date(s: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

impl ConventionConfig {
    /// The first and last day of validity, avenants included (checked at load).
    pub fn validity(&self) -> (chrono::NaiveDate, chrono::NaiveDate) {
        let start = date(&self.start).unwrap_or(chrono::NaiveDate::MAX);
        let end = self
            .avenants
            .iter()
            .filter_map(|a| date(&a.end))
            .chain(date(&self.end))
            .max()
            .unwrap_or(chrono::NaiveDate::MIN);
        (start, end)
    }
}

/// Floor of the p% rule.
pub const FLOOR_DOMINANCE_P: f64 = 0.10;

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            min_agents_per_cell: FLOOR_MIN_AGENTS,
            min_employers_per_cell: FLOOR_MIN_EMPLOYERS,
            max_group_by: CEILING_MAX_GROUP_BY,
            dominance_p: FLOOR_DOMINANCE_P,
            max_cells_per_analyst_per_day: 20_000,
            perturbation: PerturbationConfig::default(),
            convention: ConventionConfig::default(),
        }
    }
}

/// The cell key method's parameters (see `perturb.rs`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PerturbationConfig {
    /// Largest noise added to a count (D).
    pub max_noise: u32,
    /// Variance of the count noise (V).
    pub variance: f64,
    /// A sum moves by up to this share of the cell's largest contribution.
    pub magnitude_noise: f64,
}

/// Floors of the perturbation: a node may add more noise, never less.
pub const FLOOR_MAX_NOISE: u32 = 2;
pub const FLOOR_VARIANCE: f64 = 1.0;
pub const FLOOR_MAGNITUDE_NOISE: f64 = 0.1;

impl Default for PerturbationConfig {
    fn default() -> Self {
        PerturbationConfig {
            max_noise: 4,
            variance: 2.0,
            magnitude_noise: 0.5,
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
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 16 * 1024 * 1024,
            max_filter_values: 64,
        }
    }
}

/// Errors name the file and the key.
pub type ConfigError = SettingsError;

impl NodeConfig {
    /// The record-key secret's file: the configured one, or the default beside the database.
    pub fn record_key_path(&self) -> PathBuf {
        self.record_key
            .clone()
            .unwrap_or_else(|| crate::perturb::default_record_key_path(&self.database))
    }

    /// Loads, resolves relative paths against the file's folder, and validates.
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let mut config: NodeConfig = settings::load(path, ENV_PREFIX)?;
        let base = settings::base_dir(path);
        config.database = base.join(&config.database);
        config.tls = config.tls.resolved(&base);
        config.record_key = config.record_key.map(|key| base.join(key));
        config.validate(path)?;
        Ok(config)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |key, problem: String| SettingsError::key(path, key, problem);
        let p = &self.policy;
        if p.min_agents_per_cell < FLOOR_MIN_AGENTS {
            return Err(invalid(
                "policy.min_agents_per_cell",
                format!(
                    "is {}, below the project's floor of {FLOOR_MIN_AGENTS}: a node may tighten the threshold, never loosen it",
                    p.min_agents_per_cell
                ),
            ));
        }
        if p.min_employers_per_cell < FLOOR_MIN_EMPLOYERS {
            return Err(invalid(
                "policy.min_employers_per_cell",
                format!(
                    "is {}, below the project's floor of {FLOOR_MIN_EMPLOYERS}",
                    p.min_employers_per_cell
                ),
            ));
        }
        if p.max_group_by == 0 || p.max_group_by > CEILING_MAX_GROUP_BY {
            return Err(invalid(
                "policy.max_group_by",
                format!(
                    "is {}, expected 1 to {CEILING_MAX_GROUP_BY}",
                    p.max_group_by
                ),
            ));
        }
        if !(FLOOR_DOMINANCE_P..=1.0).contains(&p.dominance_p) {
            return Err(invalid(
                "policy.dominance_p",
                format!(
                    "is {}, expected between the floor {FLOOR_DOMINANCE_P} and 1",
                    p.dominance_p
                ),
            ));
        }
        if p.max_cells_per_analyst_per_day == 0 {
            return Err(invalid(
                "policy.max_cells_per_analyst_per_day",
                "must be at least 1".to_string(),
            ));
        }
        let c = &p.convention;
        for (key, value) in [
            ("policy.convention.start", &c.start),
            ("policy.convention.end", &c.end),
        ]
        .into_iter()
        .chain(
            c.avenants
                .iter()
                .map(|a| ("policy.convention.avenants.end", &a.end)),
        ) {
            if date(value).is_none() {
                return Err(invalid(key, format!("{value:?} is not a date AAAA-MM-JJ")));
            }
        }
        if let (Some(start), Some(end)) = (date(&c.start), date(&c.end))
            && end < start
        {
            return Err(invalid(
                "policy.convention.end",
                format!("{end} comes before the start {start}"),
            ));
        }
        let n = &p.perturbation;
        if n.max_noise < FLOOR_MAX_NOISE || n.max_noise >= p.min_agents_per_cell {
            return Err(invalid(
                "policy.perturbation.max_noise",
                format!(
                    "is {}, expected at least {FLOOR_MAX_NOISE} and below min_agents_per_cell",
                    n.max_noise
                ),
            ));
        }
        let d2 = f64::from(n.max_noise).powi(2);
        if !(FLOOR_VARIANCE..=d2 / 2.0).contains(&n.variance) {
            return Err(invalid(
                "policy.perturbation.variance",
                format!(
                    "is {}, expected between {FLOOR_VARIANCE} and max_noise²/2 = {}",
                    n.variance,
                    d2 / 2.0
                ),
            ));
        }
        if !(FLOOR_MAGNITUDE_NOISE..=1.0).contains(&n.magnitude_noise) {
            return Err(invalid(
                "policy.perturbation.magnitude_noise",
                format!(
                    "is {}, expected between {FLOOR_MAGNITUDE_NOISE} and 1",
                    n.magnitude_noise
                ),
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
        if self.limits.max_filter_values == 0 {
            return Err(invalid(
                "limits.max_filter_values",
                "must be at least 1".to_string(),
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
                "magnitude_noise = 0.5",
                "magnitude_noise = 0",
                "policy.perturbation.magnitude_noise",
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
