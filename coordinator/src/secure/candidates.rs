//! Which regional cells go to a secure aggregation, from what is already public: each
//! département's `diffusion` column. A cell goes if at least two départements withheld it, by
//! any rule but the 100% rule; only those départements take part. Released cells never enter
//! the sum, so the regional value less the published départements is a sum of at least two
//! hidden cells, never one.

use std::collections::BTreeMap;

use arrow::array::{Array, StringArray};
use cdg_shared::cdg::Cdg;
use cdg_shared::query::{AggregateQuery, Diffusion};

use crate::merge;

/// The cells to aggregate: group-by values → the départements that withheld them (sorted).
pub type Candidates = BTreeMap<Vec<String>, Vec<Cdg>>;

/// The candidates of one query, from the départements' answers.
pub fn candidates(query: &AggregateQuery, answers: &[merge::Answer]) -> Candidates {
    let dims = query.group_by.len();
    let mut withheld: Candidates = BTreeMap::new();
    for answer in answers {
        let batch = answer.batch.batch();
        let text = |i: usize| batch.column(i).as_any().downcast_ref::<StringArray>();
        let (Some(diffusion), Some(columns)) = (
            text(dims),
            (0..dims).map(text).collect::<Option<Vec<&StringArray>>>(),
        ) else {
            continue;
        };
        for row in 0..batch.num_rows() {
            if diffusion.is_null(row) {
                continue;
            }
            match Diffusion::parse(diffusion.value(row)) {
                Some(Diffusion::Released) | Some(Diffusion::WholeGroup) | None => continue,
                Some(_) => {}
            }
            let key = columns.iter().map(|c| c.value(row).to_string()).collect();
            withheld.entry(key).or_default().push(answer.cdg);
        }
    }
    withheld.retain(|_, cdgs| {
        cdgs.sort();
        cdgs.dedup();
        cdgs.len() >= 2
    });
    withheld
}
