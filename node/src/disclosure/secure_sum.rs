//! Secure aggregation, this node's part: which of its cells it adds to a regional sum, and what
//! of them. The protocol (keys, masks, the rules on the sum) is `cdg_shared::secure_sum`; the
//! coordinator only ever receives a cell masked (`answering/secure.rs`).
//!
//! A node contributes a cell only if all of these hold, whatever the coordinator asks:
//!
//! - the cell is one of its own answer's, and **withheld** there: a released cell in the sum
//!   would let the regional value minus the published départements give back a hidden one;
//! - it was not withheld by the 100% rule, whose protection depends on the neighbouring cells;
//! - the cell's participants are at least two départements of the round, this one among them,
//!   each named once (a "sum" of one would be its own value).
//!
//! What it contributes: distinct units and employers, the record keys' sum (so the regional
//! cell gets its own, consistent key), and for each measure its total, rows, and its largest
//! contributions for the dominance rules (`cdg_shared::secure_sum::layout`).

use std::collections::HashMap;

use cdg_shared::cdg::Cdg;
use cdg_shared::query::Diffusion;
use cdg_shared::secure_sum::layout::{CellSums, MeasureSums};

use crate::answering::Answer;
use crate::error::{NodeError, Result};
use crate::store::RawCell;

/// One cell the coordinator asks for: its group-by values and its participants.
pub struct Asked {
    pub dimensions: Vec<String>,
    pub participants: Vec<Cdg>,
}

/// This node's figures for each asked cell, in order; refused whole if any cell may not be
/// contributed.
pub fn contributions(
    answer: &Answer,
    asked: &[Asked],
    me: Cdg,
    round: &[Cdg],
) -> Result<Vec<CellSums>> {
    let refuse = |m: String| Err(NodeError::SecureSum(m));
    let index: HashMap<&[String], usize> = answer
        .cells
        .iter()
        .enumerate()
        .map(|(i, c)| (c.dimensions.as_slice(), i))
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut sums = Vec::with_capacity(asked.len());
    for cell in asked {
        let name = cell.dimensions.join(" × ");
        if !seen.insert(cell.dimensions.as_slice()) {
            return refuse(format!("the cell {name} is asked twice"));
        }
        if cell.participants.len() < 2
            || !cell.participants.contains(&me)
            || cell.participants.iter().any(|p| !round.contains(p))
            || cell.participants.windows(2).any(|w| w[0] >= w[1])
        {
            return refuse(format!(
                "the cell {name} must be summed over at least two départements of the round, \
                 this one among them, each named once in order"
            ));
        }
        let Some(&i) = index.get(cell.dimensions.as_slice()) else {
            return refuse(format!("this node's answer has no cell {name}"));
        };
        match answer.released.statuses.get(i) {
            Some(Diffusion::Released) => {
                return refuse(format!(
                    "the cell {name} is released by this node: only withheld cells enter a \
                     secure sum"
                ));
            }
            Some(Diffusion::WholeGroup) => {
                return refuse(format!(
                    "the cell {name} is withheld by the 100% rule, which a sum does not lift"
                ));
            }
            Some(_) => {}
            None => return refuse(format!("this node's answer has no status for {name}")),
        }
        sums.push(figures(&answer.cells[i]));
    }
    Ok(sums)
}

/// A cell's figures as the layout carries them.
fn figures(cell: &RawCell) -> CellSums {
    CellSums {
        units: cell.units.max(0) as u64,
        employers: cell.employers.unwrap_or(0).max(0) as u64,
        record_keys: cell.cell_key.rem_euclid(1 << 32) as u64,
        measures: cell
            .values
            .iter()
            .map(|v| {
                let largest = v.largest.unwrap_or(0.0).abs();
                MeasureSums {
                    total: v.total.unwrap_or(0.0),
                    rows: v.rows.max(0.0).round() as u64,
                    largest,
                    two_largest: largest + v.second.unwrap_or(0.0).abs(),
                    top_employer: v.top_employer.unwrap_or(0.0),
                    employer_total: v.employer_total.unwrap_or(0.0),
                }
            })
            .collect(),
    }
}
