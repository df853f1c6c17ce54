//! The coordinator's domain logic: submit a study, run it across the nodes, keep the result,
//! and record each step in the audit log before acknowledging it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cdg_shared::arrow_ipc;
use cdg_shared::audit::{AuditLog, Kind, Snapshot, repair};
use cdg_shared::cdg::Cdg;
use cdg_shared::federation::Federation;
use cdg_shared::identity::Principal;
use cdg_shared::proto::v1::node_outcome::Status as OutcomeStatus;
use cdg_shared::proto::v1::{NodeOutcome, QueryResult, StudyResult};
use serde_json::json;

use cdg_shared::signing::TrustedSigners;
use cdg_shared::text::prefix;

use crate::config::CoordinatorConfig;
use crate::decisions::{approval, open_question};
use crate::error::{CoordinatorError, Result};
use crate::fanout::{self, Asking, NodeClient, StudyContext};
use crate::progress::Progress;
use crate::runs::{OpenRuns, Running};
use crate::state::{StateDir, StoredStudy};
use crate::study::{Study, StudyQuery};
use crate::{indicators, merge};

pub struct Coordinator {
    pub(crate) nodes: Vec<NodeClient>,
    pub(crate) node_timeout: Duration,
    study_timeout: Duration,
    retries: u32,
    retry_backoff: Duration,
    pub(crate) state: StateDir,
    /// A plain mutex, so that a cancelled run can still record its cancellation while being
    /// dropped; from async code appends run on tokio's blocking threads (they fsync and sign).
    audit: Arc<Mutex<AuditLog>>,
    /// Verifies directors' signed decisions against the federation CA.
    pub(crate) trusted: TrustedSigners,
    /// Studies being run now.
    pub(crate) running: std::sync::Mutex<std::collections::BTreeSet<String>>,
    /// Held while a stored study is read, changed and written back (a decision, a
    /// diffusion), so that two directors deciding at the same moment both keep their decision.
    pub(crate) updating: tokio::sync::Mutex<()>,
    /// Node reachability and outcomes, for the metrics endpoint.
    pub metrics: crate::metrics::CoordinatorMetrics,
    /// Who may do what: the members and the chef de file.
    pub(crate) federation: Federation,
    /// The mails to the directors (Art. 4), kept until sent.
    pub outbox: crate::notices::Outbox,
    /// `[mail]`, if the directors are written to.
    pub(crate) mail: Option<crate::notices::MailConfig>,
    /// Largest message exchanged (`max_message_bytes`): audit log pages stay well under it.
    pub(crate) max_message_bytes: usize,
    /// Directors' votes that settle a question.
    pub(crate) arbitration_votes: usize,
    /// Whether runs sum withheld regional cells securely (`secure`).
    pub(crate) secure_aggregation: bool,
    /// The secure sums published so far (`secure::guard`).
    pub(crate) secure_guard: Arc<crate::secure::guard::Guard>,
}

pub(crate) use crate::access::{DIRECTORS, REFERENTS};

/// The answer to a submission.
pub struct Submitted {
    pub id: String,
    pub digest: String,
    pub title: String,
    pub created: bool,
}

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Coordinator {
    pub fn new(config: &CoordinatorConfig) -> anyhow::Result<Coordinator> {
        cdg_shared::catalogue::check_built_in().map_err(anyhow::Error::msg)?;
        let state = StateDir::open(&config.state_dir)?;
        let outbox = crate::notices::Outbox::open(state.notices_path(), config.mail.as_ref())?;
        let signer = cdg_shared::signing::Signer::from_files(&config.tls)?;
        let mut runs = OpenRuns::default();
        let mut audit = AuditLog::open_signed(&state.audit_log_path(), signer, |e| runs.see(e))
            .map_err(|e| {
                repair::refusal(
                    e,
                    "cdg-coordinator audit repair --config <this configuration>",
                )
            })?;
        runs.mark_interrupted(&mut audit)?;
        Ok(Coordinator {
            nodes: NodeClient::all(config, &config.tls)?,
            node_timeout: Duration::from_secs(config.node_timeout_secs),
            study_timeout: Duration::from_secs(config.study_timeout_secs),
            retries: config.retries,
            secure_aggregation: config.secure_aggregation,
            secure_guard: Arc::new(crate::secure::guard::Guard::open(
                &config.state_dir.join("secure-sums.jsonl"),
            )?),
            retry_backoff: Duration::from_millis(config.retry_backoff_ms),
            state,
            audit: Arc::new(Mutex::new(audit)),
            trusted: TrustedSigners::from_ca_file(&config.tls.ca)?
                .revoking(Arc::new(config.revocation()?)),
            running: Default::default(),
            updating: Default::default(),
            metrics: Default::default(),
            federation: config.federation.clone(),
            max_message_bytes: config.max_message_bytes,
            arbitration_votes: config.arbitration_votes,
            outbox,
            mail: config.mail.clone(),
        })
    }

    /// Study `id` as stored, or a clear "submit it first".
    pub(crate) fn stored_study(&self, id: &str) -> Result<StoredStudy> {
        self.state
            .load_study(id)?
            .ok_or_else(|| CoordinatorError::UnknownStudy(id.to_string()))
    }

    pub(crate) async fn audit(
        &self,
        kind: Kind,
        actor: Principal,
        study_id: &str,
        details: serde_json::Value,
    ) -> Result<()> {
        self.audit_all(kind, actor, study_id, vec![details]).await
    }

    /// Appends one entry per `details`, with one sync for all (a run's node outcomes).
    pub(crate) async fn audit_all(
        &self,
        kind: Kind,
        actor: Principal,
        study_id: &str,
        details: Vec<serde_json::Value>,
    ) -> Result<()> {
        let entries = details.into_iter().map(|d| (kind, d)).collect();
        self.audit_entries(actor, study_id, entries).await
    }

    /// Appends entries of several kinds, with one fsync. Nothing to append: nothing written.
    pub(crate) async fn audit_entries(
        &self,
        actor: Principal,
        study_id: &str,
        entries: Vec<(Kind, serde_json::Value)>,
    ) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let (log, study_id) = (self.audit.clone(), study_id.to_string());
        // Off the runtime's threads, and not cancelled with the caller: once begun, written.
        tokio::task::spawn_blocking(move || {
            let actor = actor.uri();
            let entries = entries
                .into_iter()
                .map(|(k, d)| (k.as_str(), actor.as_str(), study_id.as_str(), d))
                .collect();
            lock_log(&log)?.append_all(entries)?;
            Ok(())
        })
        .await
        .map_err(|e| CoordinatorError::Internal(format!("audit log: {e}")))?
    }

    /// Appends from code that is not async (a run dropped, a director's reading recorded).
    pub(crate) fn append(
        &self,
        kind: Kind,
        actor: &str,
        study_id: &str,
        details: serde_json::Value,
    ) -> Result<()> {
        append_to(&self.audit, kind, actor, study_id, details)
    }

    pub async fn submit(&self, caller: Principal, toml: &str) -> Result<Submitted> {
        self.require(caller, &[self.analyst(), REFERENTS], "submitting a study")?;
        let study =
            Study::from_toml(toml).map_err(|e| CoordinatorError::InvalidStudy(e.to_string()))?;
        self.require_author(caller, &study, "submitting a study")?;
        let (id, digest) = (study.id(), study.digest());
        if let Some(existing) = self.state.load_study(&id)? {
            return Ok(Submitted {
                id,
                digest,
                title: existing.study.title,
                created: false,
            });
        }
        let stored = StoredStudy {
            id: id.clone(),
            digest: digest.clone(),
            submitted_by: caller.uri(),
            submitted_at: now(),
            study,
            decisions: Vec::new(),
            diffused: None,
            announcement: Default::default(),
            restitution: Default::default(),
        };
        self.state.save_study(&stored)?;
        let details = json!({
            "digest": digest,
            "title": stored.study.title,
            "diffusion": stored.study.diffusion,
            // Diffusion beyond the five CDGs: flagged for the comité technique.
            "external": stored.study.diffusion == crate::study::Diffusion::Externe,
            "diffusion_terms": stored.study.diffusion_terms,
            "departements": stored.study.departements,
            "queries": stored.study.queries.len(),
        });
        self.audit(Kind::StudySubmitted, caller, &id, details)
            .await?;
        self.announce_submitted(&stored);
        Ok(Submitted {
            id,
            digest,
            title: stored.study.title,
            created: true,
        })
    }

    /// Runs study `id` on its départements' nodes and merges the answers. Dropping the future
    /// cancels the run: the nodes' calls are abandoned and the log records the cancellation.
    pub async fn run(
        &self,
        caller: Principal,
        id: &str,
        progress: &Progress,
    ) -> Result<StudyResult> {
        self.require(caller, &[self.analyst(), REFERENTS], "running a study")?;
        self.require_author(caller, &self.stored_study(id)?.study, "running a study")?;
        let mut running = Running::start(self, id, caller)?;
        let stored = self.stored_study(id)?;
        if let Some((q, votes)) = open_question(&stored, self.arbitration_votes) {
            return Err(CoordinatorError::NotRunnable(format!(
                "study {id} was put in question by {} on {} ({}): it cannot run until the comité \
                 technique arbitrates, {} directors voting to settle it (cdg study arbitrate \
                 {id}); {} so far",
                q.director,
                q.signed_at,
                q.note,
                self.arbitration_votes,
                votes.len()
            )));
        }
        self.require_announced(&stored)?;
        let study = &stored.study;
        let context = StudyContext {
            id,
            analyst: caller.uri(),
            canonical: study.canonical(),
            stored: &stored,
        };
        let started_at = now();
        self.audit(
            Kind::RunStarted,
            caller,
            id,
            json!({"digest": stored.digest, "departements": study.departements}),
        )
        .await?;
        running.logged_start = true;
        let queries: Vec<StudyQuery> = study.queries.iter().map(StudyQuery::effective).collect();
        let asking = Asking {
            per_query: self.node_timeout,
            study_deadline: Instant::now() + self.study_timeout,
            retries: self.retries,
            backoff: self.retry_backoff,
        };

        let results = fanout::fan_out(
            &self.nodes,
            &context,
            &study.departements,
            &queries,
            asking,
            progress,
        )
        .await;

        let mut outcomes: Vec<NodeOutcome> = Vec::new();
        let mut logged = Vec::new();
        for (cdg, result) in &results {
            let outcome = fanout::outcome(*cdg, result);
            let status =
                OutcomeStatus::try_from(outcome.status).unwrap_or(OutcomeStatus::Unspecified);
            self.metrics.outcome(cdg.code(), status);
            logged.push(json!({
                    "cdg": cdg.code(),
                    "status": status.as_str_name(),
                    "message": outcome.message,
                    "cells_released": outcome.cells_released,
                    "cells_suppressed": outcome.cells_suppressed,
                    "data_versions": outcome.data_versions.iter().map(|v| format!("{}/{}:{}", v.dataset, v.year, prefix(&v.digest, 12))).collect::<Vec<_>>(),
                    "policy_version": outcome.policy_version,
                    "attempts": outcome.attempts,
            }));
            outcomes.push(outcome);
        }
        self.audit_all(Kind::NodeOutcome, caller, id, logged)
            .await?;

        if let Err(message) = check_quorum(study, &outcomes) {
            running.ended = true;
            self.audit(Kind::RunFailed, caller, id, json!({"reason": message}))
                .await?;
            return Err(CoordinatorError::NotRunnable(message));
        }
        let missing: Vec<Cdg> = results
            .iter()
            .filter(|(_, r)| r.is_err())
            .map(|(cdg, _)| *cdg)
            .collect();
        let mut query_results = Vec::new();
        let mut tables = indicators::Tables::new();
        let answers_by_query: Vec<Vec<merge::Answer>> = (0..queries.len())
            .map(|i| {
                results
                    .iter()
                    .filter_map(|(cdg, r)| {
                        r.as_ref().ok().map(|a| merge::Answer {
                            cdg: *cdg,
                            batch: &a[i].batch,
                            published: &a[i].published,
                        })
                    })
                    .collect()
            })
            .collect();
        let regional = study.departements.len() > 1;
        let secured = self
            .second_rounds(
                caller,
                id,
                &context,
                &queries,
                &answers_by_query,
                &mut outcomes,
                regional,
            )
            .await?;
        for (i, q) in queries.iter().enumerate() {
            let answers = &answers_by_query[i];
            let batch = merge::merge(&q.query, answers, &missing, regional, &secured[i].cells)
                .map_err(|e| CoordinatorError::Internal(e.to_string()))?;
            if study
                .indicators
                .iter()
                .any(|ind| ind.inputs().iter().any(|r| r.query == q.name))
            {
                let noise: indicators::NoiseByDepartement = answers
                    .iter()
                    .map(|a| {
                        let noise = indicators::NodeNoise::of(a.published);
                        (a.cdg.code().to_string(), noise)
                    })
                    .collect();
                let table = indicators::Table::read(&q.query, &batch, &noise)
                    .map_err(CoordinatorError::Internal)?;
                tables.insert(q.name.clone(), table);
            }
            let bytes = arrow_ipc::encode(&batch.schema(), std::slice::from_ref(&batch))
                .map_err(|e| CoordinatorError::Internal(e.to_string()))?;
            query_results.push(QueryResult {
                name: q.name.clone(),
                title: q.title.clone(),
                arrow_ipc: bytes,
            });
        }
        let indicator_results = study
            .indicators
            .iter()
            .map(|ind| {
                let batch = indicators::compute(ind, &tables).map_err(|e| {
                    CoordinatorError::Internal(format!("indicator {}: {e}", ind.name))
                })?;
                let bytes = arrow_ipc::encode(&batch.schema(), std::slice::from_ref(&batch))
                    .map_err(|e| CoordinatorError::Internal(e.to_string()))?;
                Ok(QueryResult {
                    name: ind.name.clone(),
                    title: ind.title.clone(),
                    arrow_ipc: bytes,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let result = StudyResult {
            indicators: indicator_results,
            study_id: id.to_string(),
            digest: stored.digest.clone(),
            title: study.title.clone(),
            started_at,
            finished_at: now(),
            outcomes,
            queries: query_results,
            approvals: study
                .departements
                .iter()
                .filter_map(|cdg| approval(&stored, *cdg).map(|a| a.to_proto()))
                .collect(),
        };
        // The new results are restituted anew: the record is reset before they are kept.
        self.reset_restitution(id, &result.finished_at).await?;
        self.state.save_result(&result)?;
        running.ended = true;
        let answered: Vec<&str> = result
            .outcomes
            .iter()
            .filter(|o| o.status == OutcomeStatus::Answered as i32)
            .map(|o| o.cdg.as_str())
            .collect();
        self.audit(
            Kind::RunCompleted,
            caller,
            id,
            json!({"answered": answered, "queries": result.queries.len(), "indicators": result.indicators.len()}),
        )
        .await?;
        self.restitute(id, &answered, &result.finished_at)?;
        Ok(result)
    }

    /// The audit log and its checkpoints as they are between two appends, to be read in
    /// pages. Directors.
    pub async fn audit_log(&self, caller: Principal) -> Result<Snapshot> {
        self.require(caller, &[DIRECTORS], "reading the audit log")?;
        let log = self
            .audit
            .lock()
            .map_err(|_| CoordinatorError::Internal("the audit log's lock is poisoned".into()))?;
        Ok(log.snapshot()?)
    }

    pub async fn result(&self, caller: Principal, id: &str) -> Result<StudyResult> {
        self.require(
            caller,
            &[self.analyst(), REFERENTS, DIRECTORS],
            "reading a study result",
        )?;
        let stored = self.stored_study(id)?;
        self.require_reader(caller, &stored.study, "reading a study result")?;
        let result = self
            .state
            .load_result(id)?
            .ok_or_else(|| CoordinatorError::NoResult(id.to_string()))?;
        // Who took the results out, and when.
        self.audit(
            Kind::ResultRead,
            caller,
            id,
            json!({"digest": result.digest, "finished_at": result.finished_at}),
        )
        .await?;
        self.read_by(caller, &stored, crate::informing::About::Restitution)
            .await?;
        Ok(result)
    }
}

/// The study's quorum against the outcomes: a message naming what is missing when too few
/// départements answered.
fn check_quorum(study: &Study, outcomes: &[NodeOutcome]) -> std::result::Result<(), String> {
    let Some(quorum) = study.quorum else {
        return Ok(());
    };
    let answered = outcomes
        .iter()
        .filter(|o| o.status == OutcomeStatus::Answered as i32)
        .count();
    if answered >= quorum {
        return Ok(());
    }
    let missing: Vec<String> = outcomes
        .iter()
        .filter(|o| o.status != OutcomeStatus::Answered as i32)
        .map(|o| format!("CDG {} ({})", o.cdg, o.message))
        .collect();
    Err(format!(
        "quorum not reached: {answered} of {} départements answered, the study needs {quorum}; \
         missing: {}",
        outcomes.len(),
        missing.join("; ")
    ))
}

/// Shared handle used by the gRPC service.
pub type SharedCoordinator = Arc<Coordinator>;

fn append_to(
    log: &Mutex<AuditLog>,
    kind: Kind,
    actor: &str,
    study_id: &str,
    details: serde_json::Value,
) -> Result<()> {
    lock_log(log)?.append(kind.as_str(), actor, study_id, details)?;
    Ok(())
}

fn lock_log(log: &Mutex<AuditLog>) -> Result<std::sync::MutexGuard<'_, AuditLog>> {
    log.lock()
        .map_err(|_| CoordinatorError::Internal("the audit log's lock is poisoned".into()))
}
