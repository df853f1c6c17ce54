//! The node's own check that a query belongs to a study its director approved.
//!
//! The coordinator sends, with every query, the study's canonical encoding and the approvals it
//! holds. The node trusts none of it: it recomputes the study's digest, finds the query among the
//! study's, and looks for an approval of that digest signed by a director of its own CDG whose
//! certificate chains to the federation CA and is valid today. A compromised or mistaken
//! coordinator cannot make a node answer a study its director did not approve.

use cdg_shared::cdg::Cdg;
use cdg_shared::identity::Principal;
use cdg_shared::proto::v1::SignedDecision;
use cdg_shared::query::AggregateQuery;
use cdg_shared::signing::{Decision, TrustedSigners};
use cdg_shared::study::Study;
use cdg_shared::text;

use crate::error::NodeError;

/// What a request proved: the study and who approved it.
#[derive(Debug, Clone)]
pub struct Approved {
    pub study_id: String,
    pub digest: String,
    pub director: Principal,
    /// The départements the study asks.
    pub departements: Vec<Cdg>,
}

pub struct ApprovalCheck {
    trusted: TrustedSigners,
    cdg: Cdg,
}

fn refuse(reason: String) -> NodeError {
    NodeError::NotApproved(reason)
}

impl ApprovalCheck {
    pub fn new(trusted: TrustedSigners, cdg: Cdg) -> ApprovalCheck {
        ApprovalCheck { trusted, cdg }
    }

    /// The certificates this node trusts (the federation CA, less the revoked ones).
    pub fn trusted(&self) -> &TrustedSigners {
        &self.trusted
    }

    /// This node's CDG.
    pub fn cdg(&self) -> Cdg {
        self.cdg
    }

    /// Checks that `query` is one of the queries of the study `study` encodes, that the study
    /// asks this node's CDG, and that one of `approvals` is this CDG's director's approval of it.
    pub fn check(
        &self,
        study: &[u8],
        query: &AggregateQuery,
        approvals: &[SignedDecision],
    ) -> Result<Approved, NodeError> {
        if study.is_empty() {
            return Err(refuse(
                "the request carries no study: this node answers only the queries of a study its \
                 director approved"
                    .into(),
            ));
        }
        let parsed: Study = serde_json::from_slice(study).map_err(|e| {
            // serde quotes what it could not read, which may be long.
            let e = text::bounded(&e.to_string(), 256).into_owned();
            refuse(format!("the study sent is not a study: {e}"))
        })?;
        if parsed.canonical() != study {
            return Err(refuse(
                "the study sent is not in its canonical encoding, so its digest cannot be the one \
                 approved"
                    .into(),
            ));
        }
        let digest = parsed.digest();
        if !parsed.departements.contains(&self.cdg) {
            return Err(refuse(format!(
                "study {} does not ask CDG {}",
                parsed.id(),
                self.cdg
            )));
        }
        let belongs = parsed
            .queries
            .iter()
            .any(|q| q.query == *query || q.effective().query == *query);
        if !belongs {
            return Err(refuse(format!(
                "the query is not one of the queries of study {} (edited after approval?)",
                parsed.id()
            )));
        }
        let mut reasons = Vec::new();
        for (i, approval) in approvals.iter().enumerate() {
            match self.approval_of(approval, &digest) {
                Ok(director) => {
                    return Ok(Approved {
                        study_id: parsed.id(),
                        digest,
                        director,
                        departements: parsed.departements.clone(),
                    });
                }
                Err(reason) => reasons.push(format!("approval {}: {reason}", i + 1)),
            }
        }
        if reasons.is_empty() {
            reasons.push("no approval was sent".into());
        }
        Err(refuse(format!(
            "study {} has no valid approval from the director of CDG {}: {}",
            parsed.id(),
            self.cdg,
            reasons.join("; ")
        )))
    }

    fn approval_of(&self, d: &SignedDecision, digest: &str) -> Result<Principal, String> {
        let (director, decision) = self.trusted.verify_decision(d).map_err(|e| e.to_string())?;
        if decision != Decision::Approve {
            return Err(format!(
                "a decision to {}, not an approval",
                decision.as_str()
            ));
        }
        if d.study_digest != digest {
            // The digest is whatever was signed: any text, cut on a character boundary.
            let shown = text::prefix(&d.study_digest, 12);
            return Err(format!("signed for another study (digest {shown:?}…)"));
        }
        if director.cdg != self.cdg {
            return Err(format!(
                "signed by {}, the director of another CDG",
                director.uri()
            ));
        }
        Ok(director)
    }
}
