//! The 100% rule: a cell must not tell that every unit of a group has one value of a sensitive
//! dimension (a handicap category, an absence motive...). A cell is withheld when
//!
//! - it is the only cell of its group (the same values of the other dimensions) in a sensitive
//!   dimension the query groups by; or
//! - a filter on a sensitive dimension leaves none of its group out (the statement of
//!   `compile/checks.rs` counts, per group, the rows the filter leaves out). A group that the
//!   filter empties entirely would be missing from the answer, which tells as much: it gets a
//!   withheld row of its own ([`add_left_out`]).

use std::collections::{HashMap, HashSet};

use crate::compile::CompiledQuery;
use crate::store::RawCell;

/// Marks the cells whose whole group a filter on a sensitive dimension keeps, given per group
/// the rows that filter leaves out, and adds an empty cell for each group the filter empties.
/// The cells stay sorted by their dimensions.
pub fn add_left_out(
    q: &CompiledQuery,
    cells: &mut Vec<RawCell>,
    left_out: &HashMap<Vec<String>, i64>,
) {
    for cell in cells.iter_mut() {
        cell.whole_group |= left_out.get(&cell.dimensions) == Some(&0);
    }
    let present: HashSet<&Vec<String>> = cells.iter().map(|c| &c.dimensions).collect();
    let mut missing: Vec<Vec<String>> = left_out
        .keys()
        .filter(|group| !present.contains(*group))
        .cloned()
        .collect();
    if missing.is_empty() {
        return;
    }
    missing.sort();
    let measures = q.measures.len();
    cells.extend(
        missing
            .into_iter()
            .map(|group| RawCell::empty(group, measures)),
    );
    cells.sort_by(|a, b| a.dimensions.cmp(&b.dimensions));
}

/// For each cell, whether the 100% rule withholds it: the only cell of its group in a
/// sensitive dimension the query groups by, or marked by [`add_left_out`].
pub fn whole_groups(q: &CompiledQuery, cells: &[RawCell]) -> Vec<bool> {
    let sensitive: Vec<usize> = q
        .dimensions
        .iter()
        .enumerate()
        .filter(|(_, d)| q.dataset.dimension(d).is_some_and(|d| d.sensitive))
        .map(|(i, _)| i)
        .collect();
    let mut whole: Vec<bool> = cells.iter().map(|c| c.whole_group).collect();
    for s in sensitive {
        let group = |c: &RawCell| {
            let mut g = c.dimensions.clone();
            g.remove(s);
            g
        };
        let mut sizes: HashMap<Vec<String>, usize> = HashMap::new();
        for c in cells {
            *sizes.entry(group(c)).or_default() += 1;
        }
        for (w, c) in whole.iter_mut().zip(cells) {
            *w |= sizes[&group(c)] == 1;
        }
    }
    whole
}
