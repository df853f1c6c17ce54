//! The convention's term (Art. 6, avenants included): a node releases nothing before its first
//! day or after its last. The days left, the warnings and the health status that make a renewal
//! visible long before are in `crate::convention`.

use chrono::NaiveDate;

use crate::config::ConventionConfig;
use crate::error::NodeError;

/// Where today stands in the convention's term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Term {
    NotStarted { start: NaiveDate },
    Running { end: NaiveDate, days_left: i64 },
    Ended { end: NaiveDate, days_left: i64 },
}

impl Term {
    pub fn of(convention: &ConventionConfig, today: NaiveDate) -> Term {
        let (start, end) = convention.validity();
        let days_left = (end - today).num_days();
        if today < start {
            Term::NotStarted { start }
        } else if today > end {
            Term::Ended { end, days_left }
        } else {
            Term::Running { end, days_left }
        }
    }

    /// Days from today to the last day of validity (negative once it has passed).
    pub fn days_left(self) -> Option<i64> {
        match self {
            Term::NotStarted { .. } => None,
            Term::Running { days_left, .. } | Term::Ended { days_left, .. } => Some(days_left),
        }
    }

    /// Whether the node releases anything today.
    pub fn in_force(self) -> bool {
        matches!(self, Term::Running { .. })
    }

    /// The refusal of a query outside the term.
    pub fn check(convention: &ConventionConfig, today: NaiveDate) -> Result<(), NodeError> {
        if Term::of(convention, today).in_force() {
            return Ok(());
        }
        let (start, end) = convention.validity();
        Err(NodeError::OutsideConvention(format!(
            "the convention is valid from {start} to {end} and today is {today}: this node \
             releases nothing outside it. Once an avenant is signed, its operator records it \
             with `cdg-node avenant --config FILE --end AAAA-MM-JJ --reference \"...\"` and \
             restarts the node"
        )))
    }
}
