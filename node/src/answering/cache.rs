//! Answers already released, kept to give again when the same query comes back.
//!
//! An answer is a function of the query, the policy and the data: disclosure control is
//! deterministic (cell-key perturbation, fixed thresholds), so computing it again gives the same
//! bytes. The policy is fixed for the life of the process, and so are the data: imports and
//! rollbacks need the database file to themselves, with the node stopped. A repeated query can
//! therefore take the answer computed before, and nothing else is shortcut: the approvals, the
//! daily budget, the overlap watch and the audit log see every request as before.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use cdg_shared::proto::v1::{DataVersion, MeasureRange, SecretBound};

use crate::disclosure::release::Released;
use crate::store::RawCell;

/// Everything of an answer that does not depend on who asks, or when.
#[derive(Clone)]
pub struct Answer {
    pub released: Released,
    /// The cells before disclosure control, in the order of the released rows: a secure
    /// aggregation reads the withheld ones (`disclosure/secure_sum.rs`).
    pub cells: Vec<RawCell>,
    pub versions: Vec<DataVersion>,
    pub secret_bounds: Vec<SecretBound>,
    pub measure_ranges: Vec<MeasureRange>,
}

/// The last `capacity` answers, by digest of the query as asked; the oldest goes first.
pub struct AnswerCache {
    capacity: usize,
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    answers: HashMap<String, Arc<Answer>>,
    order: VecDeque<String>,
}

impl AnswerCache {
    /// A cache of `capacity` answers; 0 keeps none.
    pub fn new(capacity: usize) -> AnswerCache {
        AnswerCache {
            capacity,
            inner: Mutex::default(),
        }
    }

    /// The answer given before to the query of digest `query`.
    pub fn get(&self, query: &str) -> Option<Arc<Answer>> {
        let entries = self.inner.lock().ok()?;
        entries.answers.get(query).cloned()
    }

    /// Keeps `answer` for the query of digest `query`.
    pub fn put(&self, query: &str, answer: Arc<Answer>) {
        if self.capacity == 0 {
            return;
        }
        let Ok(mut entries) = self.inner.lock() else {
            return;
        };
        if entries.answers.insert(query.to_string(), answer).is_none() {
            entries.order.push_back(query.to_string());
        }
        while entries.order.len() > self.capacity {
            if let Some(oldest) = entries.order.pop_front() {
                entries.answers.remove(&oldest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::RecordBatch;
    use arrow::datatypes::Schema;

    fn answer(released: u32) -> Arc<Answer> {
        let schema = Arc::new(Schema::empty());
        Arc::new(Answer {
            released: Released {
                batch: RecordBatch::new_empty(schema.clone()),
                schema,
                released,
                suppressed: 0,
                small_groups: Vec::new(),
                statuses: Vec::new(),
            },
            cells: Vec::new(),
            versions: Vec::new(),
            secret_bounds: Vec::new(),
            measure_ranges: Vec::new(),
        })
    }

    #[test]
    fn keeps_the_last_answers_up_to_its_capacity() {
        let cache = AnswerCache::new(2);
        cache.put("a", answer(1));
        cache.put("b", answer(2));
        cache.put("a", answer(1));
        cache.put("c", answer(3));
        assert!(cache.get("a").is_none(), "the oldest went first");
        assert_eq!(cache.get("b").unwrap().released.released, 2);
        assert_eq!(cache.get("c").unwrap().released.released, 3);

        let none = AnswerCache::new(0);
        none.put("a", answer(1));
        assert!(none.get("a").is_none());
    }
}
