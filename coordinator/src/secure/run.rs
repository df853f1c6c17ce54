//! The second round as a run does it: the cells picked, the round, its sums and its
//! drop-outs in the coordinator's audit log, each node's part in its outcome.

use cdg_shared::audit::Kind;
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::Principal;
use cdg_shared::proto::v1::NodeOutcome;
use serde_json::json;

use crate::coordinator::Coordinator;
use crate::error::Result;
use crate::fanout::StudyContext;
use crate::merge;
use crate::study::StudyQuery;

impl Coordinator {
    /// The secure aggregation of one query's regional cells withheld by at least two
    /// départements (`secure`): its sums logged as published, a node that left logged and
    /// named in its outcome.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn second_round(
        &self,
        caller: Principal,
        id: &str,
        context: &StudyContext<'_>,
        query: &StudyQuery,
        answers: &[merge::Answer<'_>],
        outcomes: &mut [NodeOutcome],
        regional: bool,
    ) -> Result<super::Secured> {
        let candidates = super::candidates(&query.query, answers);
        if !regional || !self.secure_aggregation || candidates.is_empty() {
            return Ok(super::Secured::default());
        }
        let round = super::Round {
            nodes: &self.nodes,
            study: context,
            query,
            deadline: self.node_timeout,
        };
        let secured = super::aggregate(&round, &candidates).await;
        if !secured.left.is_empty() {
            let left: Vec<_> = secured
                .left
                .iter()
                .map(|(cdg, why)| json!({"cdg": cdg.code(), "reason": why}))
                .collect();
            self.audit(
                Kind::SecureSumIncomplete,
                caller,
                id,
                json!({"query": query.name, "left": left}),
            )
            .await?;
        }
        if !secured.cells.is_empty() {
            self.audit(
                Kind::SecureSumReleased,
                caller,
                id,
                json!({"query": query.name, "cells": secured.log()}),
            )
            .await?;
        }
        for o in outcomes.iter_mut() {
            if let Some(note) = o.cdg.parse().ok().and_then(|c: Cdg| secured.notes.get(&c)) {
                if !o.secure_aggregation.is_empty() {
                    o.secure_aggregation.push_str("; ");
                }
                o.secure_aggregation.push_str(note);
            }
        }
        Ok(secured)
    }
}
