//! The coordinator's error type and its one mapping to gRPC status codes.

use cdg_shared::federation::Refusal;

#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    #[error("{0}")]
    InvalidStudy(String),
    /// The caller's identity may not do this (wrong role, wrong CDG, not a member).
    #[error("{0}")]
    Forbidden(#[from] Refusal),
    #[error("no study {0}: submit it first (cdg study submit FILE)")]
    UnknownStudy(String),
    #[error("study {0} has not been run yet")]
    NoResult(String),
    /// A signed decision that does not verify or does not fit the study.
    #[error("decision refused: {0}")]
    BadDecision(String),
    /// The study cannot run now (in question).
    #[error("{0}")]
    NotRunnable(String),
    #[error("audit log: {0}")]
    Audit(#[from] cdg_shared::audit::AuditError),
    #[error("storage: {0}")]
    Io(#[from] std::io::Error),
    /// A request field larger than the wire contract allows.
    #[error("{0}")]
    TooLarge(#[from] cdg_shared::fields::TooLarge),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = CoordinatorError> = std::result::Result<T, E>;

impl From<CoordinatorError> for tonic::Status {
    fn from(e: CoordinatorError) -> Self {
        // Whatever a message quotes, it travels in a header that clients bound.
        let message = cdg_shared::text::cap_message(e.to_string());
        match e {
            CoordinatorError::InvalidStudy(_) | CoordinatorError::TooLarge(_) => {
                tonic::Status::invalid_argument(message)
            }
            CoordinatorError::Forbidden(_) | CoordinatorError::BadDecision(_) => {
                tonic::Status::permission_denied(message)
            }
            CoordinatorError::NotRunnable(_) => tonic::Status::failed_precondition(message),
            CoordinatorError::UnknownStudy(_) | CoordinatorError::NoResult(_) => {
                tonic::Status::not_found(message)
            }
            CoordinatorError::Audit(_)
            | CoordinatorError::Io(_)
            | CoordinatorError::Internal(_) => {
                tracing::error!(error = %message, "request failed");
                tonic::Status::internal(format!("the coordinator failed: {message}"))
            }
        }
    }
}
