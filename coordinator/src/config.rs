//! The coordinator's configuration file (TOML), with `CDG_COORDINATOR__...` overrides.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use cdg_shared::cdg::Cdg;
use cdg_shared::federation::Federation;
use cdg_shared::settings::{self, SettingsError};
use cdg_shared::tls::TlsFiles;
use serde::{Deserialize, Serialize};

pub const ENV_PREFIX: &str = "CDG_COORDINATOR";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoordinatorConfig {
    /// Address the gRPC server listens on, e.g. "127.0.0.1:7400".
    pub listen: SocketAddr,
    /// Folder for the audit log, studies and results.
    pub state_dir: PathBuf,
    pub tls: TlsFiles,
    /// Deadline for one node to answer one query, seconds.
    #[serde(default = "default_node_timeout")]
    pub node_timeout_secs: u64,
    /// Sum the regional cells that at least two départements withhold by secure aggregation
    /// (a second round of each run; node/DISCLOSURE.md). On by default.
    #[serde(default = "default_true")]
    pub secure_aggregation: bool,
    /// Deadline for a whole study run (every node, every query), seconds.
    #[serde(default = "default_study_timeout")]
    pub study_timeout_secs: u64,
    /// Extra attempts at a query when a node is unreachable (a transient error), with a
    /// doubling pause from `retry_backoff_ms`. Refusals and timeouts are never retried.
    #[serde(default = "default_retries")]
    pub retries: u32,
    #[serde(default = "default_retry_backoff")]
    pub retry_backoff_ms: u64,
    /// Largest message exchanged with nodes and clients, bytes.
    #[serde(default = "default_max_message")]
    pub max_message_bytes: usize,
    /// The federation's nodes.
    pub nodes: Vec<NodeEntry>,
    /// The member CDGs and the coordinator's own identity (`[federation]`; defaults: the five
    /// CDGs of Hauts-de-France and `urn:cdg-hdf:coordinator:59`). Regional studies are
    /// submitted and run by the chargé.e de mission of the coordinator's CDG only.
    #[serde(default)]
    pub federation: Federation,
    /// Address of the Prometheus endpoint (plain HTTP, `GET /metrics`), e.g. "127.0.0.1:9464".
    /// Absent: no endpoint.
    #[serde(default)]
    pub metrics_listen: Option<SocketAddr>,
    /// Certificates refused although they chain to the federation CA, as `serial:<hex>` or
    /// `sha256:<hex>`: clients, nodes' server certificates and directors' signed decisions.
    #[serde(default)]
    pub revoked_certificates: Vec<String>,
    /// Directors' votes that settle a question (Art. 4: an arbitrage du comité technique): by
    /// default a majority of the five. At least 2, so that the questioner never settles it
    /// alone, and at most the number of members.
    #[serde(default = "default_arbitration_votes")]
    pub arbitration_votes: usize,
    /// Mail to the directors (`[mail]`, Art. 4): a new study, a question, a vote, an external
    /// study's announcement, a run's results. Absent: nothing is mailed; the directors read the
    /// studies with `cdg console` or `cdg study list`.
    #[serde(default)]
    pub mail: Option<crate::notices::MailConfig>,
}

fn default_arbitration_votes() -> usize {
    3
}

/// One node: its CDG (its certificate must carry `urn:cdg-hdf:node:<cdg>`) and its address.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeEntry {
    pub cdg: Cdg,
    /// e.g. "https://127.0.0.1:7402"
    pub address: String,
}

fn default_true() -> bool {
    true
}

fn default_node_timeout() -> u64 {
    30
}

fn default_study_timeout() -> u64 {
    600
}

fn default_retries() -> u32 {
    2
}

fn default_retry_backoff() -> u64 {
    250
}

fn default_max_message() -> usize {
    16 * 1024 * 1024
}

/// Errors name the file and the key.
pub type ConfigError = SettingsError;

impl CoordinatorConfig {
    pub fn load(path: &Path) -> Result<CoordinatorConfig, ConfigError> {
        let mut config: CoordinatorConfig = settings::load(path, ENV_PREFIX)?;
        let base = settings::base_dir(path);
        config.state_dir = base.join(&config.state_dir);
        config.tls = config.tls.resolved(&base);
        config.validate(path)?;
        Ok(config)
    }

    /// The deny list of `revoked_certificates` (checked when the configuration loads).
    pub fn revocation(&self) -> anyhow::Result<cdg_shared::revocation::Revocation> {
        cdg_shared::revocation::Revocation::parse(&self.revoked_certificates)
            .map_err(anyhow::Error::msg)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |key, problem: String| SettingsError::key(path, key, problem);
        if let Err(e) = cdg_shared::revocation::Revocation::parse(&self.revoked_certificates) {
            return Err(invalid("revoked_certificates", e));
        }
        if self.nodes.is_empty() {
            return Err(invalid(
                "nodes",
                "is empty: list at least one [[nodes]] with cdg and address".into(),
            ));
        }
        self.federation
            .validate()
            .map_err(|(key, problem)| invalid(key, problem))?;
        let members = self.federation.members.len();
        if !(2..=members.max(2)).contains(&self.arbitration_votes) {
            return Err(invalid(
                "arbitration_votes",
                format!(
                    "is {}: expected 2 to {members} (the questioner never settles a question \
                     alone; there are {members} directors)",
                    self.arbitration_votes
                ),
            ));
        }
        if let Some(mail) = &self.mail {
            mail.check(&self.federation.members)
                .map_err(|(key, problem)| invalid(key, problem))?;
        }
        let mut seen = Vec::new();
        for n in &self.nodes {
            if seen.contains(&n.cdg) {
                return Err(invalid("nodes", format!("lists CDG {} twice", n.cdg)));
            }
            if !self.federation.is_member(n.cdg) {
                return Err(invalid(
                    "nodes",
                    format!(
                        "lists CDG {}, which is not in federation.members: add it there first",
                        n.cdg
                    ),
                ));
            }
            seen.push(n.cdg);
            if !n.address.starts_with("https://") {
                return Err(invalid(
                    "nodes.address",
                    format!(
                        "{:?} must start with https:// (nodes only speak mutual TLS)",
                        n.address
                    ),
                ));
            }
        }
        if self.node_timeout_secs == 0 || self.node_timeout_secs > 3600 {
            return Err(invalid(
                "node_timeout_secs",
                "must be between 1 and 3600".into(),
            ));
        }
        if self.study_timeout_secs < self.node_timeout_secs || self.study_timeout_secs > 86_400 {
            return Err(invalid(
                "study_timeout_secs",
                format!(
                    "must be between node_timeout_secs ({}) and 86400",
                    self.node_timeout_secs
                ),
            ));
        }
        if self.retries > 10 || self.retry_backoff_ms > 60_000 {
            return Err(invalid(
                "retries",
                "retries must be at most 10 and retry_backoff_ms at most 60000".into(),
            ));
        }
        if self.max_message_bytes < 64 * 1024 {
            return Err(invalid(
                "max_message_bytes",
                "must be at least 65536".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_config_loads_and_bad_addresses_are_named() {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples/coordinator.toml");
        let config = CoordinatorConfig::load(&path).unwrap();
        assert_eq!(config.nodes.len(), 5);
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("c.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &bad,
            text.replace(
                "https://observatoire.cdg62.fr",
                "http://observatoire.cdg62.fr",
            ),
        )
        .unwrap();
        let err = CoordinatorConfig::load(&bad).unwrap_err().to_string();
        assert!(
            err.contains("nodes.address") && err.contains("https://"),
            "{err}"
        );
        assert_eq!(config.arbitration_votes, 3);
        std::fs::write(
            &bad,
            text.replace("arbitration_votes = 3", "arbitration_votes = 1"),
        )
        .unwrap();
        let err = CoordinatorConfig::load(&bad).unwrap_err().to_string();
        assert!(
            err.contains("arbitration_votes") && err.contains("never settles a question alone"),
            "{err}"
        );
        let mail = config
            .mail
            .as_ref()
            .expect("the example mails the directors");
        assert_eq!(mail.directors.len(), 5);
        for (from, to, says) in [
            (
                "\"direction@cdg60.fr\"",
                "\"direction at cdg60\"",
                "mail.directors",
            ),
            (
                "smtp://smtp.cdg59.fr",
                "gopher://smtp.cdg59.fr",
                "mail.smtp_url",
            ),
            (
                "\"80\" = \"direction@cdg80.fr\"\n",
                "",
                "no address for CDG 80",
            ),
        ] {
            std::fs::write(&bad, text.replace(from, to)).unwrap();
            let err = CoordinatorConfig::load(&bad).unwrap_err().to_string();
            assert!(err.contains(says), "{err}");
        }
    }
}
