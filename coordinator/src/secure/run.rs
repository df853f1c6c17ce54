//! The second round as a run does it: every query's round at once, then the differencing
//! guard over all their sums, the coordinator's log (one append), and each node's part in its
//! outcome.

use cdg_shared::audit::Kind;
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::Principal;
use cdg_shared::proto::v1::NodeOutcome;
use futures::future::join_all;
use serde_json::json;

use super::{Aggregated, Round, Secured, aggregate, candidates, guard};
use crate::coordinator::Coordinator;
use crate::error::{CoordinatorError, Result};
use crate::fanout::StudyContext;
use crate::merge;
use crate::study::StudyQuery;

impl Coordinator {
    /// One query's round. A cell one département away from a sum published before is not
    /// even asked (the nodes' own guards would refuse it): it is withheld at once.
    async fn query_round(
        &self,
        context: &StudyContext<'_>,
        query: &StudyQuery,
        answers: &[merge::Answer<'_>],
        regional: bool,
    ) -> Secured {
        let mut candidates = candidates(&query.query, answers);
        if !regional || !self.secure_aggregation {
            return Secured::default();
        }
        let mut refused = Vec::new();
        candidates.retain(|dims, cdgs| {
            let name = guard::cell_name(&query.query, dims);
            let allowed = self.secure_guard.allows(&name, cdgs, &[]);
            if !allowed {
                refused.push((dims.clone(), cdgs.clone()));
            }
            allowed
        });
        let mut secured = if candidates.is_empty() {
            Secured::default()
        } else {
            let round = Round {
                nodes: &self.nodes,
                study: context,
                query,
                deadline: self.node_timeout,
            };
            aggregate(&round, &candidates).await
        };
        for (dims, participants) in refused {
            let outcome = Err(guard::DIFFERENCING);
            secured.cells.insert(
                dims,
                Aggregated {
                    participants,
                    outcome,
                },
            );
        }
        secured
    }

    /// The secure aggregation of each query's regional cells withheld by at least two
    /// départements (`secure`), `answers` by query. Sums one département away from another
    /// published one are withheld; the others are recorded by the guard, then logged.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn second_rounds(
        &self,
        caller: Principal,
        id: &str,
        context: &StudyContext<'_>,
        queries: &[StudyQuery],
        answers: &[Vec<merge::Answer<'_>>],
        outcomes: &mut [NodeOutcome],
        regional: bool,
    ) -> Result<Vec<Secured>> {
        let rounds = queries
            .iter()
            .zip(answers)
            .map(|(query, answers)| self.query_round(context, query, answers, regional));
        let mut secured: Vec<Secured> = join_all(rounds).await;

        // No two sums, of this run or before, one département apart.
        let mut publish: Vec<(String, Vec<Cdg>)> = Vec::new();
        for (query, s) in queries.iter().zip(&mut secured) {
            for (dims, cell) in s.cells.iter_mut() {
                if cell.outcome.is_err() {
                    continue;
                }
                let name = guard::cell_name(&query.query, dims);
                if self
                    .secure_guard
                    .allows(&name, &cell.participants, &publish)
                {
                    publish.push((name, cell.participants.clone()));
                } else {
                    cell.outcome = Err(guard::DIFFERENCING);
                }
            }
        }
        // Recorded before anything is published: a crash after this loses no publication.
        let guard = self.secure_guard.clone();
        tokio::task::spawn_blocking(move || guard.record(&publish))
            .await
            .map_err(|e| CoordinatorError::Internal(format!("secure-sum guard: {e}")))?
            .map_err(|e| CoordinatorError::Internal(format!("secure-sum guard: {e}")))?;

        let mut entries = Vec::new();
        for (query, s) in queries.iter().zip(&secured) {
            if !s.left.is_empty() {
                let left: Vec<_> = s
                    .left
                    .iter()
                    .map(|(cdg, why)| json!({"cdg": cdg.code(), "reason": why}))
                    .collect();
                entries.push((
                    Kind::SecureSumIncomplete,
                    json!({"query": query.name, "left": left}),
                ));
            }
            if !s.cells.is_empty() {
                entries.push((
                    Kind::SecureSumReleased,
                    json!({"query": query.name, "cells": s.log()}),
                ));
            }
            for o in outcomes.iter_mut() {
                if let Some(note) = o.cdg.parse().ok().and_then(|c: Cdg| s.notes.get(&c)) {
                    if !o.secure_aggregation.is_empty() {
                        o.secure_aggregation.push_str("; ");
                    }
                    o.secure_aggregation.push_str(note);
                }
            }
        }
        self.audit_entries(caller, id, entries).await?;
        Ok(secured)
    }
}
