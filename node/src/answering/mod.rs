//! The node's answering core: everything an answer depends on (the store, the policy, the
//! noise, the approvals, the ledger, the answer cache and the clock) in one place, and the two
//! steps of every answer:
//!
//! 1. [`Answering::admit`]: the convention is in force, the node's director approved the
//!    study the query belongs to, and the query compiles under the node's policy;
//! 2. [`Answering::answer`]: the answer computed (or given again from the cache, the same
//!    bytes), then the analyst's budget and the overlap watch checked and recorded, durably.
//!
//! The gRPC service (`service.rs`) only identifies the caller, converts the request, hands
//! the blocking step to a worker thread, and keeps the audit log and the metrics. The
//! benchmark (`bench.rs`) calls the same `answer`.

use std::sync::{Arc, Mutex};

use cdg_shared::cdg::Cdg;
use cdg_shared::identity::Principal;
use cdg_shared::proto::v1::SignedDecision;
use cdg_shared::query::AggregateQuery;
use chrono::NaiveDate;

use crate::approval::ApprovalCheck;
use crate::columns::Columns;
use crate::compile::{self, CompiledQuery};
use crate::config::{Limits, PolicyConfig};
use crate::disclosure::ledger::{self, Ledger, Release};
use crate::disclosure::noise::Perturbation;
use crate::error::{NodeError, Result};
use crate::store::Store;

pub mod cache;
mod pass;
pub mod secure;

pub use cache::{Answer, AnswerCache};
pub use pass::{aggregate, compute};

/// Today's date, as the node sees it (injectable for tests).
pub type Clock = Arc<dyn Fn() -> NaiveDate + Send + Sync>;

/// The system clock (UTC).
pub fn system_clock() -> Clock {
    Arc::new(|| chrono::Utc::now().date_naive())
}

pub struct Answering {
    store: Arc<Store>,
    policy: PolicyConfig,
    limits: Limits,
    noise: Perturbation,
    approvals: ApprovalCheck,
    /// The budget and overlap watch, apart from the store's connections: recording an answer
    /// does not wait for queries.
    ledger: Mutex<Ledger>,
    cache: AnswerCache,
    /// The in-memory copy answers are computed from (None: from SQL).
    columns: Option<Columns>,
    clock: Clock,
    /// Secure-aggregation rounds in progress (None: the node takes no part).
    rounds: Option<secure::Rounds>,
}

/// A query this node may answer: the convention in force, approved by its director, compiled.
pub struct Admitted {
    pub compiled: CompiledQuery,
    /// The query's digest: its name in the overlap watch and the answer cache.
    pub digest: String,
    /// The director whose approval admitted it (None for the benchmark's own queries).
    pub director: Option<Principal>,
    /// The approved study's digest and the départements it asks (empty for the benchmark's).
    pub study_digest: String,
    pub departements: Vec<Cdg>,
}

impl Answering {
    /// The core over an open store; opens the ledger journal beside its database.
    pub fn new(
        store: Arc<Store>,
        policy: PolicyConfig,
        limits: Limits,
        approvals: ApprovalCheck,
        clock: Clock,
    ) -> Result<Answering> {
        let journal = ledger::journal_path(store.path());
        let ledger = Ledger::open(&journal, || store.old_ledger())?;
        Ok(Answering {
            noise: crate::disclosure::noise::perturbation(&policy.perturbation),
            cache: AnswerCache::new(limits.answer_cache_entries),
            ledger: Mutex::new(ledger),
            columns: limits.in_memory_copy.then(Columns::default),
            store,
            policy,
            limits,
            approvals,
            clock,
            rounds: None,
        })
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn policy(&self) -> &PolicyConfig {
        &self.policy
    }

    /// Reads the in-memory copy of every dataset, if answers use one. Blocking.
    pub fn warm(&self) -> Result<()> {
        match &self.columns {
            Some(columns) => columns.warm(&self.store),
            None => Ok(()),
        }
    }

    /// Checks that `query` may be answered today, as part of the study `study` (its JSON) with
    /// the directors' signed `approvals`, and compiles it.
    pub fn admit(
        &self,
        study: &[u8],
        query: &AggregateQuery,
        approvals: &[SignedDecision],
    ) -> Result<Admitted> {
        crate::disclosure::convention::Term::check(&self.policy.convention, (self.clock)())?;
        let approved = self.approvals.check(study, query, approvals)?;
        let mut admitted = self.compile(query)?;
        admitted.director = Some(approved.director);
        admitted.study_digest = approved.digest;
        admitted.departements = approved.departements;
        Ok(admitted)
    }

    /// Compiles `query` without any approval, for the benchmark of the disclosure-control
    /// path: a request always goes through [`Answering::admit`].
    pub fn admit_for_benchmark(&self, query: &AggregateQuery) -> Result<Admitted> {
        self.compile(query)
    }

    fn compile(&self, query: &AggregateQuery) -> Result<Admitted> {
        Ok(Admitted {
            compiled: compile::compile(query, &self.policy, &self.limits)?,
            digest: query_digest(query)?,
            director: None,
            study_digest: String::new(),
            departements: Vec::new(),
        })
    }

    /// The answer to an admitted query as computed (or from the cache: then true), with
    /// nothing recorded: for a secure aggregation, which releases none of this node's cells.
    /// Blocking.
    pub fn computed(&self, admitted: &Admitted) -> Result<(Arc<Answer>, bool)> {
        if let Some(answer) = self.cache.get(&admitted.digest) {
            return Ok((answer, true));
        }
        let answer = Arc::new(pass::compute(
            &self.store,
            self.columns.as_ref(),
            &admitted.compiled,
            &self.policy,
            &self.noise,
        )?);
        self.cache.put(&admitted.digest, answer.clone());
        Ok((answer, false))
    }

    /// The check of directors' and nodes' certificates.
    pub fn approvals(&self) -> &ApprovalCheck {
        &self.approvals
    }

    /// Answers an admitted query for `analyst`: computed, or given again from the cache, then
    /// recorded in the ledger (a refusal by the budget or the overlap watch records nothing).
    /// Returns the answer and whether it came from the cache. Blocking: run it off the async
    /// runtime's threads.
    pub fn answer(&self, admitted: &Admitted, analyst: &str) -> Result<(Arc<Answer>, bool)> {
        let (answer, reused) = self.computed(admitted)?;
        let computed = std::time::Instant::now();
        let today = (self.clock)().to_string();
        self.ledger
            .lock()
            .map_err(|_| NodeError::Internal("ledger lock poisoned".into()))?
            .record(
                &Release {
                    analyst,
                    day: &today,
                    dataset: admitted.compiled.dataset.name,
                    query: &admitted.digest,
                    cells: answer.released.released,
                    small_groups: &answer.released.small_groups,
                },
                &self.policy,
            )?;
        tracing::debug!(
            ledger_ms = computed.elapsed().as_secs_f64() * 1000.0,
            reused,
            "answer recorded in the ledger"
        );
        Ok((answer, reused))
    }
}

/// The overlap watch's name for a query (and its answer's in the cache): a digest of it as
/// asked. An encoding failure must not give every query the same name.
fn query_digest(query: &AggregateQuery) -> Result<String> {
    use sha2::Digest;
    let text = serde_json::to_vec(query)
        .map_err(|e| NodeError::Internal(format!("encoding the query: {e}")))?;
    Ok(hex::encode(sha2::Sha256::digest(&text)))
}
