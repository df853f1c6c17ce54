//! The convention's term (Art. 6) as the node lives it: nothing is released outside it
//! (`disclosure/convention.rs`), the days left are a metric (`cdg_convention_days_left`), a
//! warning is logged every day from 60 days before the end, and health says NOT_SERVING once
//! the term has passed, so that renewing the convention by avenant is visible long before and
//! is never a silent stop. The operator
//! records a signed avenant with `cdg-node avenant` ([`record_avenant`]).

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use chrono::NaiveDate;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::answering::Clock;
use crate::config::{ConventionConfig, NodeConfig};
pub use crate::disclosure::convention::Term;

/// Days before the end from which the node warns every day.
pub const WARN_DAYS: i64 = 60;

/// What the node shows of the term: the days-left gauge and the health status.
pub struct Watch {
    pub convention: ConventionConfig,
    pub clock: Clock,
    pub days_left: cdg_shared::metrics::Gauge,
    pub health: HealthReporter,
    /// The node's gRPC service name, whose health follows the term.
    pub service: &'static str,
    /// The management endpoint's `GET /health`.
    pub serving: cdg_shared::metrics::Serving,
}

impl Watch {
    /// Updates the gauge and the health status for today, and warns when the end is near or
    /// past. Returns where today stands.
    pub async fn check(&self) -> Term {
        let term = Term::of(&self.convention, (self.clock)());
        if let Some(days) = term.days_left() {
            self.days_left.set(days);
        }
        let status = if term.in_force() {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        for service in ["", self.service] {
            self.health.set_service_status(service, status).await;
        }
        match term {
            Term::Running { .. } => self.serving.set_serving(),
            Term::Ended { end, .. } => {
                self.serving
                    .set_not_serving(format!("the convention ended on {end} (Art. 6)"));
            }
            Term::NotStarted { start } => {
                self.serving
                    .set_not_serving(format!("the convention starts on {start} (Art. 6)"));
            }
        }
        let how = "once the avenant is signed, record it with `cdg-node avenant --config FILE \
                   --end AAAA-MM-JJ --reference \"...\"` and restart the node";
        match term {
            Term::Running { end, days_left } if days_left <= WARN_DAYS => tracing::warn!(
                %end, days_left,
                "the convention ends in {days_left} days: after {end} this node releases \
                 nothing; {how}"
            ),
            Term::Ended { end, .. } => tracing::warn!(
                %end,
                "the convention ended on {end}: this node releases nothing and reports \
                 NOT_SERVING; {how}"
            ),
            Term::NotStarted { start } => tracing::warn!(
                %start,
                "the convention starts on {start}: until then this node releases nothing"
            ),
            Term::Running { .. } => {}
        }
        term
    }

    /// Checks now, then every day at the same hour, until the process ends.
    pub async fn spawn(self) {
        self.check().await;
        tokio::spawn(async move {
            let mut every_day = tokio::time::interval(Duration::from_secs(24 * 3600));
            every_day.tick().await;
            loop {
                every_day.tick().await;
                self.check().await;
            }
        });
    }
}

/// Adds a signed avenant to the node's configuration file, keeping every comment and key as it
/// is, after checking that it extends the convention; the file is replaced atomically and
/// loaded again to be sure it is valid. Returns the new last day of validity.
pub fn record_avenant(config: &Path, end: NaiveDate, reference: &str) -> anyhow::Result<NaiveDate> {
    let reference = reference.trim();
    anyhow::ensure!(
        !reference.is_empty(),
        "--reference is empty: give the avenant's reference, e.g. \"avenant n°1, comité \
         technique du 2026-12-15\""
    );
    let loaded = NodeConfig::load(config)?;
    let (_, current) = loaded.policy.convention.validity();
    anyhow::ensure!(
        end > current,
        "the convention already runs until {current}: an avenant must end later than that"
    );
    let text =
        std::fs::read_to_string(config).with_context(|| format!("reading {}", config.display()))?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", config.display()))?;
    let mut avenant = toml_edit::InlineTable::new();
    avenant.insert("end", end.to_string().into());
    avenant.insert("reference", reference.into());
    let convention = doc
        .entry("policy")
        .or_insert(toml_edit::table())
        .as_table_like_mut()
        .context("[policy] is not a table")?
        .entry("convention")
        .or_insert(toml_edit::table())
        .as_table_like_mut()
        .context("[policy.convention] is not a table")?;
    let avenants = convention
        .entry("avenants")
        .or_insert(toml_edit::value(toml_edit::Array::new()))
        .as_array_mut()
        .context("policy.convention.avenants is not a list")?;
    avenants.push(avenant);
    let tmp = config.with_extension("toml.tmp");
    std::fs::write(&tmp, doc.to_string())
        .and_then(|()| std::fs::rename(&tmp, config))
        .with_context(|| format!("writing {}", config.display()))?;
    let (_, extended) = NodeConfig::load(config)?.policy.convention.validity();
    Ok(extended)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_term_counts_days_to_the_last_day_of_validity() {
        let c = ConventionConfig::default();
        assert_eq!(
            Term::of(&c, day("2026-12-02")),
            Term::Running {
                end: day("2026-12-31"),
                days_left: 29
            }
        );
        assert!(Term::of(&c, day("2026-12-31")).in_force());
        assert_eq!(Term::of(&c, day("2027-01-01")).days_left(), Some(-1));
        assert!(!Term::of(&c, day("2027-01-01")).in_force());
        assert!(matches!(
            Term::of(&c, day("2022-12-31")),
            Term::NotStarted { .. }
        ));
        let refusal = Term::check(&c, day("2027-01-01")).unwrap_err().to_string();
        assert!(refusal.contains("cdg-node avenant"), "{refusal}");
    }
}
