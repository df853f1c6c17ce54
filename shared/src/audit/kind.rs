//! What an audit entry records: every kind of the coordinator's and the nodes' logs. Code
//! speaks of this enum; the log holds its text ([`Kind::as_str`]), read back with
//! [`Kind::parse`]. A log written by a later version may hold a kind this one does not know:
//! it is kept and shown as its text.

use crate::signing::Decision;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Coordinator: a study was submitted.
    StudySubmitted,
    /// Coordinator: a director's signed decision on a study.
    StudyDecided(Decision),
    /// Coordinator: enough arbitration votes settled a question.
    StudyArbitrated,
    /// Coordinator: every director was reached about an external study.
    StudyAnnounced,
    /// Coordinator: a run's results reached the directors.
    StudyRestituted,
    /// Coordinator: the diffusion of a study's results was recorded.
    StudyDiffused,
    /// Coordinator: someone read a study's results.
    ResultRead,
    RunStarted,
    /// Coordinator: one node's answer (or failure) within a run.
    NodeOutcome,
    RunCompleted,
    RunFailed,
    /// Coordinator: a run the coordinator's stop cut short, found at its next start.
    RunInterrupted,
    /// Coordinator: a run its caller stopped waiting for.
    RunCancelled,
    /// Node: a query answered.
    ExecuteAnswered,
    /// Node: a query refused.
    ExecuteRefused,
    /// Node: a query its caller abandoned.
    ExecuteCancelled,
    /// Node: its signed key offers for a secure aggregation (second round of a run).
    SecureSumOffered,
    /// Node: the withheld cells it contributed to a secure aggregation, masked.
    SecureSumContributed,
    /// Node: a secure-aggregation request refused.
    SecureSumRefused,
    /// Coordinator: the regional sums a secure aggregation gave, and what it published.
    SecureSumReleased,
    /// Coordinator: a secure aggregation a node left or refused: no sum of it is published.
    SecureSumIncomplete,
    /// Either: a torn last line (a crash while writing) was set aside when the log opened.
    TornRecord,
}

impl Kind {
    pub const ALL: [Kind; 25] = [
        Kind::StudySubmitted,
        Kind::StudyDecided(Decision::Approve),
        Kind::StudyDecided(Decision::Reject),
        Kind::StudyDecided(Decision::Question),
        Kind::StudyDecided(Decision::Arbitrate),
        Kind::StudyArbitrated,
        Kind::StudyAnnounced,
        Kind::StudyRestituted,
        Kind::StudyDiffused,
        Kind::ResultRead,
        Kind::RunStarted,
        Kind::NodeOutcome,
        Kind::RunCompleted,
        Kind::RunFailed,
        Kind::RunInterrupted,
        Kind::RunCancelled,
        Kind::ExecuteAnswered,
        Kind::ExecuteRefused,
        Kind::ExecuteCancelled,
        Kind::SecureSumOffered,
        Kind::SecureSumContributed,
        Kind::SecureSumRefused,
        Kind::SecureSumReleased,
        Kind::SecureSumIncomplete,
        Kind::TornRecord,
    ];

    /// The text the log holds.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::StudySubmitted => "study.submitted",
            Kind::StudyDecided(Decision::Approve) => "study.approve",
            Kind::StudyDecided(Decision::Reject) => "study.reject",
            Kind::StudyDecided(Decision::Question) => "study.question",
            Kind::StudyDecided(Decision::Arbitrate) => "study.arbitrate",
            Kind::StudyArbitrated => "study.arbitrated",
            Kind::StudyAnnounced => "study.announced",
            Kind::StudyRestituted => "study.restituted",
            Kind::StudyDiffused => "study.diffused",
            Kind::ResultRead => "study.result.read",
            Kind::RunStarted => "study.run.started",
            Kind::NodeOutcome => "node.outcome",
            Kind::RunCompleted => "study.run.completed",
            Kind::RunFailed => "study.run.failed",
            Kind::RunInterrupted => "study.run.interrupted",
            Kind::RunCancelled => "study.run.cancelled",
            Kind::ExecuteAnswered => "execute.answered",
            Kind::ExecuteRefused => "execute.refused",
            Kind::ExecuteCancelled => "execute.cancelled",
            Kind::SecureSumOffered => "secure_sum.offered",
            Kind::SecureSumContributed => "secure_sum.contributed",
            Kind::SecureSumRefused => "secure_sum.refused",
            Kind::SecureSumReleased => "secure_sum.released",
            Kind::SecureSumIncomplete => "secure_sum.incomplete",
            Kind::TornRecord => "audit.torn_record",
        }
    }

    /// The kind a log's text names, if this version knows it.
    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// How the directors' console names it, in French.
    pub fn label(self) -> &'static str {
        match self {
            Kind::StudySubmitted => "étude soumise",
            Kind::StudyDecided(Decision::Approve) => "approbation signée",
            Kind::StudyDecided(Decision::Reject) => "refus signé",
            Kind::StudyDecided(Decision::Question) => "mise en question",
            Kind::StudyDecided(Decision::Arbitrate) => "vote d'arbitrage",
            Kind::StudyArbitrated => "question arbitrée",
            Kind::StudyAnnounced => "comité informé (étude externe)",
            Kind::StudyRestituted => "résultats restitués",
            Kind::StudyDiffused => "diffusion enregistrée",
            Kind::ResultRead => "résultats lus",
            Kind::RunStarted => "exécution lancée",
            Kind::NodeOutcome => "réponse d'un nœud",
            Kind::RunCompleted => "exécution terminée",
            Kind::RunFailed => "exécution échouée",
            Kind::RunInterrupted => "exécution interrompue",
            Kind::RunCancelled => "exécution abandonnée",
            Kind::ExecuteAnswered => "réponse envoyée",
            Kind::ExecuteRefused => "requête refusée",
            Kind::ExecuteCancelled => "requête abandonnée",
            Kind::SecureSumOffered => "clés d'agrégation sécurisée envoyées",
            Kind::SecureSumContributed => "cellules en secret envoyées masquées",
            Kind::SecureSumRefused => "agrégation sécurisée refusée",
            Kind::SecureSumReleased => "totaux régionaux par agrégation sécurisée",
            Kind::SecureSumIncomplete => "agrégation sécurisée incomplète",
            Kind::TornRecord => "ligne incomplète mise de côté",
        }
    }

    /// Whether it ends a run that [`Kind::RunStarted`] began.
    pub fn ends_run(self) -> bool {
        matches!(
            self,
            Kind::RunCompleted | Kind::RunInterrupted | Kind::RunFailed | Kind::RunCancelled
        )
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_as_itself() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        }
        let texts: std::collections::HashSet<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(texts.len(), Kind::ALL.len(), "each kind has its own text");
        assert_eq!(Kind::parse("study.unknown"), None);
    }
}
