//! The two secure-aggregation calls (`answering/secure.rs` does the work): admitted exactly as
//! an Execute (the coordinator alone, the protocol version, the convention, the director's
//! approval of the study the query belongs to), and logged, contributed or refused, before the
//! reply leaves.

use cdg_shared::audit::Kind;
use cdg_shared::identity::Principal;
use cdg_shared::proto::check_protocol_version;
use cdg_shared::proto::v1::{
    MaskedCell, SecureSumContributeRequest, SecureSumContributeResponse, SecureSumOfferRequest,
    SecureSumOfferResponse, SecureSumScope,
};
use cdg_shared::query::AggregateQuery;
use cdg_shared::secure_sum::{Scope, parse_participants};
use serde_json::json;

use super::NodeServiceImpl;
use crate::answering::Admitted;
use crate::disclosure::bounds;
use crate::disclosure::secure_sum::Asked;
use crate::error::NodeError;

/// Participants of a round at most: every CDG of France.
const MAX_PARTICIPANTS: usize = 101;
/// Cells of one round at most.
const MAX_CELLS: usize = 100_000;

/// What the audit entry of a round says of its request.
struct Noted {
    caller: String,
    study_id: String,
    details: serde_json::Value,
}

impl Noted {
    fn of(caller: Principal, scope: Option<&SecureSumScope>) -> Noted {
        let (study_id, query_name, session, participants) =
            scope.map_or_else(Default::default, |s| {
                (
                    cdg_shared::fields::STUDY_ID
                        .bounded(&s.study_id)
                        .into_owned(),
                    cdg_shared::fields::QUERY_NAME
                        .bounded(&s.query_name)
                        .into_owned(),
                    hex::encode(&s.session[..s.session.len().min(32)]),
                    s.participants
                        .iter()
                        .take(MAX_PARTICIPANTS)
                        .map(|p| cdg_shared::text::bounded(p, 8).into_owned())
                        .collect::<Vec<_>>(),
                )
            });
        Noted {
            caller: caller.uri(),
            study_id,
            details: json!({"query_name": query_name, "session": session, "participants": participants}),
        }
    }
}

impl NodeServiceImpl {
    /// Admits a round's request: caller, protocol, query, study and approvals, then the round.
    fn admit_round(
        &self,
        caller: Principal,
        scope: Option<&SecureSumScope>,
    ) -> Result<(Admitted, Scope), NodeError> {
        self.require(caller, &[self.coordinator()], "a secure aggregation")?;
        let s = scope.ok_or_else(|| NodeError::InvalidQuery("missing field `scope`".into()))?;
        check_protocol_version(s.protocol_version)
            .map_err(|st| NodeError::Protocol(st.message().to_string()))?;
        if s.participants.len() > MAX_PARTICIPANTS {
            return Err(NodeError::SecureSum(format!(
                "{} participants: at most {MAX_PARTICIPANTS}",
                s.participants.len()
            )));
        }
        let query = s
            .query
            .clone()
            .ok_or_else(|| NodeError::InvalidQuery("missing field `query`".into()))
            .and_then(|q| {
                AggregateQuery::try_from(q).map_err(|e| NodeError::InvalidQuery(e.to_string()))
            })?;
        let admitted = self.answering.admit(&s.study, &query, &s.approvals)?;
        let scope = Scope::new(
            &s.session,
            &admitted.study_digest,
            &s.query_name,
            &s.participants,
        )
        .map_err(NodeError::SecureSum)?;
        Ok((admitted, scope))
    }

    /// Logs a round's step, done or refused; the reply leaves only once it is written.
    async fn log_round<T>(
        &self,
        noted: Noted,
        done: Kind,
        outcome: &Result<T, NodeError>,
        more: impl FnOnce(&T) -> serde_json::Value,
    ) -> Result<(), NodeError> {
        let mut details = noted.details;
        let kind = match outcome {
            Ok(t) => {
                details["contributed"] = more(t);
                done
            }
            Err(e) => {
                details["reason"] = json!(cdg_shared::text::cap_message(e.to_string()));
                Kind::SecureSumRefused
            }
        };
        self.audit
            .append(kind, noted.caller, noted.study_id, details)
            .await
    }

    pub(super) async fn offer(
        &self,
        caller: Principal,
        req: SecureSumOfferRequest,
    ) -> Result<SecureSumOfferResponse, NodeError> {
        let noted = Noted::of(caller, req.scope.as_ref());
        let outcome = self
            .admit_round(caller, req.scope.as_ref())
            .and_then(|(admitted, scope)| self.answering.secure_offer(&admitted, scope));
        self.log_round(
            noted,
            Kind::SecureSumOffered,
            &outcome,
            |offers| json!({"key_offers": offers.len()}),
        )
        .await?;
        if let Err(e) = &outcome {
            tracing::warn!(error = %e, "secure-aggregation offer refused");
        }
        Ok(SecureSumOfferResponse { offers: outcome? })
    }

    pub(super) async fn contribute(
        &self,
        caller: Principal,
        req: SecureSumContributeRequest,
    ) -> Result<SecureSumContributeResponse, NodeError> {
        let mut noted = Noted::of(caller, req.scope.as_ref());
        // The cells asked, as the log shows them: what this node was asked to add.
        noted.details["cells"] = json!(
            req.cells
                .iter()
                .take(1000)
                .map(|c| cdg_shared::text::bounded(&c.dimensions.join(" × "), 200).into_owned())
                .collect::<Vec<_>>()
        );
        let admitted = self.admit_round(caller, req.scope.as_ref());
        let outcome = match admitted {
            Err(e) => Err(e),
            Ok(_) if req.cells.len() > MAX_CELLS => Err(NodeError::SecureSum(format!(
                "{} cells: at most {MAX_CELLS} in one round",
                req.cells.len()
            ))),
            Ok((admitted, scope)) => {
                let asked = req
                    .cells
                    .into_iter()
                    .map(|c| {
                        Ok(Asked {
                            participants: parse_participants(&c.participants)
                                .map_err(NodeError::SecureSum)?,
                            dimensions: c.dimensions,
                        })
                    })
                    .collect::<Result<Vec<_>, NodeError>>();
                let offers = req.offers;
                match asked {
                    Err(e) => Err(e),
                    Ok(asked) => {
                        self.blocking(move |a| {
                            a.secure_contribute(&admitted, &scope, &asked, &offers)
                        })
                        .await
                    }
                }
            }
        };
        self.log_round(
            noted,
            Kind::SecureSumContributed,
            &outcome,
            |(cells, _)| json!({"cells": cells.len(), "masked": true}),
        )
        .await?;
        if let Err(e) = &outcome {
            tracing::warn!(error = %e, "secure-aggregation contribution refused");
        }
        let (cells, employers) = outcome?;
        Ok(SecureSumContributeResponse {
            cells: cells
                .into_iter()
                .map(|values| MaskedCell { values })
                .collect(),
            policy: Some(bounds::published_policy(&self.config.policy)),
            employers,
        })
    }
}
