//! The node's error type and its one mapping to gRPC status codes.

use cdg_shared::federation::Refusal;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The query is malformed or names something the catalogue does not know.
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// A field of the request is larger than the wire contract allows.
    #[error("invalid request: {0}")]
    Field(#[from] cdg_shared::fields::TooLarge),
    /// The query is well-formed but the node's disclosure policy forbids it.
    #[error("refused by this node's policy: {0}")]
    Policy(String),
    /// The caller's identity may not do this (wrong role, or not the configured one).
    #[error("{0}")]
    Forbidden(#[from] Refusal),
    #[error("database error: {0}")]
    Database(#[from] duckdb::Error),
    #[error("{0}")]
    Import(String),
    /// The query does not belong to a study this node's director approved.
    #[error("not approved: {0}")]
    NotApproved(String),
    /// The analyst's daily budget of released cells is spent.
    #[error("{0}")]
    Budget(String),
    /// The request speaks another protocol version.
    #[error("{0}")]
    Protocol(String),
    /// A secure-aggregation request this node will not take part in (`disclosure/secure_sum.rs`).
    #[error("refused by this node's secure aggregation: {0}")]
    SecureSum(String),
    /// Today is outside the convention's validity.
    #[error("{0}")]
    OutsideConvention(String),
    /// The answer would be larger than the node's message limit.
    #[error("{0}")]
    TooLarge(String),
    /// The caller went away (cancelled or past its deadline): the work was stopped.
    #[error("cancelled: {0}")]
    Cancelled(String),
    #[error("encoding the result failed: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("internal error: {0}")]
    Internal(String),
    /// Another process holds the node's state (see `store::lock`).
    #[error("{0}")]
    Locked(#[from] cdg_shared::lock::LockError),
}

pub type Result<T, E = NodeError> = std::result::Result<T, E>;

impl NodeError {
    /// The rule a refusal is counted under in the metrics: the policy rule's name (the text
    /// before the first colon of its message, e.g. "complement rule"), or the kind of refusal.
    pub fn rule(&self) -> String {
        match self {
            NodeError::Policy(m) => match m.split_once(':') {
                Some((rule, _)) if rule.len() <= 40 => rule.to_string(),
                _ => "policy".into(),
            },
            NodeError::InvalidQuery(_) => "invalid_query".into(),
            NodeError::Field(_) => "too_large_field".into(),
            NodeError::Forbidden(_) => "forbidden".into(),
            NodeError::NotApproved(_) => "not_approved".into(),
            NodeError::SecureSum(_) => "secure_sum".into(),
            NodeError::Budget(_) => "budget".into(),
            NodeError::Protocol(_) => cdg_shared::proto::REFUSAL_PROTOCOL.into(),
            NodeError::OutsideConvention(_) => "outside_convention".into(),
            NodeError::TooLarge(_) => "too_large".into(),
            NodeError::Cancelled(_) => "cancelled".into(),
            NodeError::Database(_)
            | NodeError::Import(_)
            | NodeError::Arrow(_)
            | NodeError::Internal(_)
            | NodeError::Locked(_) => "error".into(),
        }
    }
}

impl From<NodeError> for tonic::Status {
    fn from(e: NodeError) -> Self {
        // Whatever a message quotes, it travels in a header that clients bound.
        let message = cdg_shared::text::cap_message(e.to_string());
        let rule = e.rule();
        let status = match e {
            NodeError::InvalidQuery(_) | NodeError::Field(_) => {
                tonic::Status::invalid_argument(message)
            }
            NodeError::Policy(_)
            | NodeError::Forbidden(_)
            | NodeError::NotApproved(_)
            | NodeError::SecureSum(_) => tonic::Status::permission_denied(message),
            NodeError::Budget(_) | NodeError::TooLarge(_) => {
                tonic::Status::resource_exhausted(message)
            }
            NodeError::Cancelled(_) => tonic::Status::cancelled(message),
            NodeError::Import(_) | NodeError::OutsideConvention(_) | NodeError::Protocol(_) => {
                tonic::Status::failed_precondition(message)
            }
            NodeError::Database(_)
            | NodeError::Arrow(_)
            | NodeError::Internal(_)
            | NodeError::Locked(_) => {
                tracing::error!(error = %message, "request failed");
                tonic::Status::internal("the node failed to answer; see its logs")
            }
        };
        // The kind of refusal, for clients to classify it without reading the message.
        cdg_shared::proto::with_refusal(status, &rule)
    }
}

impl From<cdg_read::ReadError> for NodeError {
    fn from(e: cdg_read::ReadError) -> Self {
        NodeError::Import(e.0)
    }
}
