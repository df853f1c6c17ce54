//! The node's own audit log: every Execute request it receives, answered or refused, chained
//! and checkpointed like the coordinator's (`cdg_shared::audit`), written and fsynced before
//! the answer leaves. Directors read it (`GetAuditLog`) and reconcile it with the coordinator's
//! (`cdg audit crosscheck`).

use std::path::Path;

use cdg_shared::audit::{AuditLog, Kind, Snapshot, repair};
use cdg_shared::fields;
use cdg_shared::identity::Principal;
use cdg_shared::proto::v1::{ExecuteRequest, ExecuteResponse};
use cdg_shared::text;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};

use crate::error::NodeError;

/// Appends fsync the file and sign checkpoints: they run on tokio's blocking threads, never on
/// the threads that serve requests, so a slow disk delays the answer it records and no other.
pub struct NodeAudit {
    log: Arc<Mutex<AuditLog>>,
}

/// What a request claimed, noted before it is checked.
pub struct Seen {
    caller: String,
    study_id: String,
    query_name: String,
    study_digest: String,
    /// Who the approvals sent say they are signed by (verified or not).
    approvals: Vec<String>,
}

impl Seen {
    /// Noted before any check, so bounded here: a request's fields may be of any size, and a
    /// refused one is logged too.
    pub fn of(caller: Principal, req: &ExecuteRequest) -> Seen {
        let mut approvals: Vec<String> = req
            .approvals
            .iter()
            .take(fields::APPROVALS.max)
            .map(|a| {
                Principal::from_certificate_der(&a.certificate)
                    .map(|p| p.uri())
                    .unwrap_or_else(|_| "(unreadable certificate)".into())
            })
            .collect();
        if req.approvals.len() > fields::APPROVALS.max {
            approvals.push(format!("… ({} approvals in all)", req.approvals.len()));
        }
        Seen {
            caller: caller.uri(),
            study_id: fields::STUDY_ID.bounded(&req.study_id).into_owned(),
            query_name: fields::QUERY_NAME.bounded(&req.query_name).into_owned(),
            study_digest: if req.study.is_empty() {
                String::new()
            } else {
                hex::encode(Sha256::digest(&req.study))
            },
            approvals,
        }
    }
}

impl NodeAudit {
    /// Opens the log at `path`, signing checkpoints with the node's key.
    /// A broken log is refused, with how to repair it.
    pub fn open(path: &Path, signer: cdg_shared::signing::Signer) -> anyhow::Result<NodeAudit> {
        let log = AuditLog::open_signed(path, signer, |_| {}).map_err(|e| {
            repair::refusal(e, "cdg-node audit repair --config <this configuration>")
        })?;
        Ok(NodeAudit {
            log: Arc::new(Mutex::new(log)),
        })
    }

    /// Records the decision on a request; the answer is only sent once this returns.
    pub async fn record(
        &self,
        seen: &Seen,
        outcome: &Result<ExecuteResponse, NodeError>,
    ) -> Result<(), NodeError> {
        let mut details = json!({
            "query_name": seen.query_name,
            "study_digest": seen.study_digest,
            "approvals": seen.approvals,
        });
        let kind = match outcome {
            Ok(r) => {
                details["cells_released"] = json!(r.cells_released);
                details["cells_suppressed"] = json!(r.cells_suppressed);
                Kind::ExecuteAnswered
            }
            Err(e) => {
                details["reason"] = json!(text::cap_message(e.to_string()));
                if matches!(e, NodeError::Cancelled(_)) {
                    Kind::ExecuteCancelled
                } else {
                    Kind::ExecuteRefused
                }
            }
        };
        self.append(kind, seen.caller.clone(), seen.study_id.clone(), details)
            .await
    }

    /// Appends one entry of `kind`; the reply leaves once it is written. Not cancelled with
    /// the request: once begun, the entry is written.
    pub async fn append(
        &self,
        kind: Kind,
        caller: String,
        study_id: String,
        details: serde_json::Value,
    ) -> Result<(), NodeError> {
        let log = self.log.clone();
        tokio::task::spawn_blocking(move || {
            log.lock()
                .map_err(|_| NodeError::Internal("the audit log's lock is poisoned".into()))?
                .append(kind.as_str(), &caller, &study_id, details)
                .map(|_| ())
                .map_err(|e| NodeError::Internal(format!("audit log: {e}")))
        })
        .await
        .map_err(|e| NodeError::Internal(format!("audit log: {e}")))?
    }

    /// The log and its checkpoints as they are between two appends, to be read in pages.
    pub async fn snapshot(&self) -> Result<Snapshot, NodeError> {
        let log = self.log.clone();
        tokio::task::spawn_blocking(move || {
            log.lock()
                .map_err(|_| NodeError::Internal("the audit log's lock is poisoned".into()))?
                .snapshot()
                .map_err(|e| NodeError::Internal(e.to_string()))
        })
        .await
        .map_err(|e| NodeError::Internal(format!("audit log: {e}")))?
    }
}
