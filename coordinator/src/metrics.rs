//! The coordinator's own metrics, beside the request counters: each node's reachability as the
//! last study run saw it, and the outcomes of every node asked.

use cdg_shared::metrics::{Gauge, Metrics};
use cdg_shared::proto::v1::node_outcome::Status as OutcomeStatus;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NodeLabels {
    pub cdg: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub cdg: String,
    pub status: String,
}

#[derive(Clone, Default)]
pub struct CoordinatorMetrics {
    reachable: Family<NodeLabels, Gauge>,
    outcomes: Family<OutcomeLabels, Counter>,
}

impl CoordinatorMetrics {
    pub fn register(&self, m: &mut Metrics) {
        let r = m.registry();
        r.register(
            "node_reachable",
            "1 if the node answered or refused at its last study run, 0 if unreachable or timed out",
            self.reachable.clone(),
        );
        r.register(
            "node_outcomes",
            "Study runs' outcomes per node: answered, refused, unreachable, timed_out, ...",
            self.outcomes.clone(),
        );
    }

    /// Records what node `cdg` did in a run.
    pub fn outcome(&self, cdg: &str, status: OutcomeStatus) {
        let name = status
            .as_str_name()
            .trim_start_matches("STATUS_")
            .to_lowercase();
        self.outcomes
            .get_or_create(&OutcomeLabels {
                cdg: cdg.to_string(),
                status: name,
            })
            .inc();
        let reached = matches!(status, OutcomeStatus::Answered | OutcomeStatus::Refused);
        self.reachable
            .get_or_create(&NodeLabels {
                cdg: cdg.to_string(),
            })
            .set(i64::from(reached));
    }
}
