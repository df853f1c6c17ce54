//! The complement rule: a query is refused when one of its filters leaves 1 to T − 1 units of
//! the population its other filters select outside the answer (T the threshold), or comparing
//! it with the same query without that filter would reveal them.
//!
//! Counting the units left out exactly takes a scan per filter, so the rule first looks at
//! bounds that usually settle it: for a filter on the year alone, the other years' totals
//! (known without a scan); otherwise one statement for every filter giving the largest
//! per-year count of first rows (a lower bound) and the rows (an upper bound). Only a filter
//! whose bounds straddle the threshold is counted exactly.

use std::ops::Range;

use crate::compile::{CompiledQuery, ComplementCheck};
use crate::error::{NodeError, Result};
use crate::store::YearTotals;

/// What the rule reads of the data, each read only when needed.
pub trait Population {
    /// Per complement check of `q`, the (lower, upper) bounds of the units it leaves out, from
    /// `q.complement_bounds` ((0, 0) for a check it does not cover).
    fn bounds(&self, q: &CompiledQuery) -> Result<Vec<(i64, i64)>>;
    /// Per loaded year of the query's dataset, its distinct units and rows.
    fn year_totals(&self, q: &CompiledQuery) -> Result<YearTotals>;
    /// The exact number of distinct units `check` leaves out.
    fn left_out(&self, check: &ComplementCheck) -> Result<i64>;
}

/// Refuses `q` when a filter leaves out between 1 and `threshold` − 1 units.
pub fn check(q: &CompiledQuery, threshold: i64, data: &impl Population) -> Result<()> {
    if q.complements.is_empty() {
        return Ok(());
    }
    let bounds = data.bounds(q)?;
    let small: Range<i64> = 1..threshold;
    for (check, &sql_bounds) in q.complements.iter().zip(&bounds) {
        let (low, high) = match &check.years_kept {
            // The other years' units: at least the largest year's, at most their rows.
            Some(kept) => data
                .year_totals(q)?
                .iter()
                .filter(|(year, _)| !kept.contains(year))
                .fold((0, 0), |(low, high), (_, &(units, rows))| {
                    (low.max(units), high + rows)
                }),
            None => sql_bounds,
        };
        if high == 0 || low >= threshold {
            continue; // nobody left out, or surely enough
        }
        // Bounds that meet are the count itself (the in-memory copy counts exactly at once).
        let left_out = if low == high {
            low
        } else {
            data.left_out(check)?
        };
        if small.contains(&left_out) {
            return Err(NodeError::Policy(format!(
                "complement rule: the filter on {:?} leaves fewer than {threshold} {}s of the \
                 population outside the answer, so comparing it with the same query without \
                 that filter would reveal them; widen or drop the filter",
                check.dimension,
                q.dataset.unit.as_str()
            )));
        }
    }
    Ok(())
}
