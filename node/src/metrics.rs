//! The node's own metrics, beside the request counters: refusals by rule and cells released or
//! withheld. Counts only: no query content, analyst or agent appears in a label.

use cdg_shared::metrics::Metrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleLabels {
    pub rule: String,
}

#[derive(Clone, Default)]
pub struct NodeMetrics {
    refusals: Family<RuleLabels, Counter>,
    released: Counter,
    suppressed: Counter,
    reused: Counter,
}

impl NodeMetrics {
    pub fn register(&self, m: &mut Metrics) {
        let r = m.registry();
        r.register(
            "refusals",
            "Execute requests refused, by rule (complement rule, overlap watch, not_approved, budget, ...)",
            self.refusals.clone(),
        );
        r.register(
            "cells_released",
            "Cells released in answers",
            self.released.clone(),
        );
        r.register(
            "cells_suppressed",
            "Cells withheld (secret) in answers",
            self.suppressed.clone(),
        );
        r.register(
            "answers_reused",
            "Answers given again from the answer cache (a repeated query; the budget, overlap \
             watch and audit log still see it)",
            self.reused.clone(),
        );
    }

    pub fn refused(&self, rule: &str) {
        self.refusals
            .get_or_create(&RuleLabels {
                rule: rule.to_string(),
            })
            .inc();
    }

    pub fn reused(&self) {
        self.reused.inc();
    }

    pub fn answered(&self, released: u32, suppressed: u32) {
        self.released.inc_by(u64::from(released));
        self.suppressed.inc_by(u64::from(suppressed));
    }
}
