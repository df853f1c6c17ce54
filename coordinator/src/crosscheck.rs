//! Reconciling the nodes' audit logs with the coordinator's (`cdg audit crosscheck`): every
//! answer a node logged has its outcome in the coordinator's log, and every answer the
//! coordinator recorded is in the node's log.
//!
//! The logs are read entry by entry as they are verified; what is kept is one key per
//! (study, CDG) the coordinator asked, and the studies one node answered while its log is
//! read: memory grows with the number of answers, not with the size of the logs.

use std::collections::{BTreeMap, BTreeSet};

use cdg_shared::audit::{AuditEntry, Kind};
use cdg_shared::cdg::Cdg;

/// What the coordinator's log says about each (study, CDG) it asked: answered or not.
#[derive(Debug, Default)]
pub struct Crosscheck {
    asked: BTreeMap<(String, Cdg), bool>,
}

/// The studies one node's log says it answered.
#[derive(Debug, Default)]
pub struct NodeAnswers(BTreeSet<String>);

impl NodeAnswers {
    /// Notes one entry of the node's log.
    pub fn see(&mut self, e: &AuditEntry) {
        if Kind::parse(&e.kind) == Some(Kind::ExecuteAnswered) && !self.0.contains(&e.study_id) {
            self.0.insert(e.study_id.clone());
        }
    }
}

impl Crosscheck {
    /// Notes one entry of the coordinator's log.
    pub fn see(&mut self, e: &AuditEntry) {
        if Kind::parse(&e.kind) != Some(Kind::NodeOutcome) {
            return;
        }
        let Some(cdg) = e
            .details
            .get("cdg")
            .and_then(|v| v.as_str())
            .and_then(|c| c.parse::<Cdg>().ok())
        else {
            return;
        };
        let answered = e.details.get("status").and_then(|v| v.as_str()) == Some("STATUS_ANSWERED");
        *self.asked.entry((e.study_id.clone(), cdg)).or_default() |= answered;
    }

    /// How many (study, CDG) pairs the coordinator asked.
    pub fn asked(&self) -> usize {
        self.asked.len()
    }

    /// The differences between the coordinator's log and the log of the node of `cdg`.
    /// Empty when they agree.
    pub fn differences(&self, cdg: Cdg, node: &NodeAnswers) -> Vec<String> {
        let mut differences = Vec::new();
        for ((study, _), _) in self
            .asked
            .iter()
            .filter(|((_, c), answered)| *c == cdg && **answered)
        {
            if !node.0.contains(study) {
                differences.push(format!(
                    "the coordinator records CDG {cdg} answering study {study}; the node's log has no answer to it"
                ));
            }
        }
        for study in &node.0 {
            if !self.asked.contains_key(&(study.clone(), cdg)) {
                differences.push(format!(
                    "the node of CDG {cdg} answered study {study}; the coordinator's log has no outcome for it"
                ));
            }
        }
        differences
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: &str, study: &str, details: serde_json::Value) -> AuditEntry {
        AuditEntry::unsealed(kind, study, details)
    }

    #[test]
    fn crosscheck_lists_answers_missing_on_either_side() {
        let answered = |study: &str, cdg: &str| {
            entry(
                "node.outcome",
                study,
                serde_json::json!({"cdg": cdg, "status": "STATUS_ANSWERED"}),
            )
        };
        let mut coordinator = Crosscheck::default();
        for e in [answered("S-a", "02"), answered("S-b", "02")] {
            coordinator.see(&e);
        }
        let node = |studies: &[&str]| {
            let mut n = NodeAnswers::default();
            for s in studies {
                n.see(&entry("execute.answered", s, serde_json::json!({})));
            }
            n
        };
        assert!(
            coordinator
                .differences(Cdg::Aisne, &node(&["S-a", "S-b"]))
                .is_empty()
        );
        let d = coordinator.differences(Cdg::Aisne, &node(&["S-a", "S-c"]));
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d[0].contains("S-b") && d[0].contains("no answer"), "{d:?}");
        assert!(d[1].contains("S-c") && d[1].contains("no outcome"), "{d:?}");
    }
}
