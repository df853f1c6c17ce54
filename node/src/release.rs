//! Disclosure control on an aggregate answer, and its Arrow encoding.
//!
//! A cell is released only if it holds at least the policy's number of distinct units (persons,
//! or employers for employer datasets), and its perturbed row count does too. Released counts
//! and sums carry the cell key method's noise (`perturb.rs`); means are perturbed sum over
//! perturbed count. A suppressed cell keeps its row, with every measure null and the reason in
//! the `diffusion` column, so nobody mistakes it for a zero.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Builder, Int64Builder, RecordBatch, StringBuilder};
use arrow::datatypes::SchemaRef;
use cdg_shared::query::{Aggregate, RELEASED};

use crate::compile::CompiledQuery;
use crate::config::PolicyConfig;
use crate::error::{NodeError, Result};
use crate::perturb::{self, Perturbation};
use crate::store::{MeasureValue, RawCell, Store};

/// `diffusion` value of a cell below the frequency threshold.
pub const SUPPRESSED_THRESHOLD: &str = "secret: seuil";
/// `diffusion` value of a magnitude cell with too few distinct employers.
pub const SUPPRESSED_EMPLOYERS: &str = "secret: employeurs";
/// `diffusion` value of a magnitude cell one or two contributions dominate (p% rule).
pub const SUPPRESSED_DOMINANCE: &str = "secret: dominance";
/// `diffusion` value of the only cell of a group in a sensitive dimension: releasing it would
/// say that every unit of the group has that value.
pub const SUPPRESSED_WHOLE_GROUP: &str = "secret: cellule 100%";
/// `diffusion` value of a magnitude cell one employer dominates ((1, k%) rule).
pub const SUPPRESSED_EMPLOYER_DOMINANCE: &str = "secret: dominance employeur";

#[derive(Debug, Clone)]
pub struct Released {
    pub schema: SchemaRef,
    pub batch: RecordBatch,
    pub released: u32,
    pub suppressed: u32,
    /// Cell keys of the released cells with fewer units than the overlap watch's small group.
    pub small_groups: Vec<i64>,
}

/// The whole answer to a compiled query: the complement rule, the cells, disclosure control.
pub fn answer(
    store: &Store,
    q: &CompiledQuery,
    policy: &PolicyConfig,
    perturbation: &Perturbation,
) -> Result<Released> {
    check_complements(q, policy, store)?;
    let mut cells = store.aggregate(q, threshold(q, policy))?;
    for check in &q.whole_groups {
        let left_out = store.counts_by_cell(&check.sql, &check.params, q.dimensions.len())?;
        for cell in &mut cells {
            cell.whole_group |= left_out.get(&cell.dimensions) == Some(&0);
        }
        // A group the filter empties would be missing from the answer, which tells that all
        // of it has the values filtered out: it gets a withheld row like any small cell.
        let present: std::collections::HashSet<Vec<String>> =
            cells.iter().map(|c| c.dimensions.clone()).collect();
        let mut missing: Vec<&Vec<String>> = left_out
            .keys()
            .filter(|group| !present.contains(*group))
            .collect();
        if !missing.is_empty() {
            missing.sort();
            cells.extend(
                missing
                    .into_iter()
                    .map(|group| RawCell::empty(group.clone(), q)),
            );
            cells.sort_by(|a, b| a.dimensions.cmp(&b.dimensions));
        }
    }
    release(q, &cells, policy, perturbation)
}

/// The complement rule: refuses the query when a filter leaves 1 to threshold − 1 units of the
/// population the other filters select outside its answer.
pub fn check_complements(q: &CompiledQuery, policy: &PolicyConfig, store: &Store) -> Result<()> {
    let threshold = threshold(q, policy);
    let mut bounds = vec![(0, 0); q.complements.len()];
    if let Some(b) = &q.complement_bounds {
        let counts = store.counts(&b.sql, &b.params)?;
        for (k, &i) in b.checks.iter().enumerate() {
            bounds[i] = (counts[2 * k], counts[2 * k + 1]);
        }
    }
    for (check, &sql_bounds) in q.complements.iter().zip(&bounds) {
        let (low, high) = match &check.years_kept {
            // The other years' units: at least the largest year's, at most their rows.
            Some(kept) => store
                .year_totals(q.dataset)?
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
        let left_out = store.counts(&check.exact_sql, &check.params)?[0];
        if (1..threshold).contains(&left_out) {
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

/// Distinct units a cell of `q` needs: the policy's minimum of agents (persons) or employers,
/// or the dataset's own when it asks for more (the surveys' respondents).
pub fn threshold(q: &CompiledQuery, policy: &PolicyConfig) -> i64 {
    let policy = if q.dataset.unit.is_person() {
        policy.min_agents_per_cell
    } else {
        policy.min_employers_per_cell
    };
    i64::from(policy.max(q.dataset.min_units))
}

/// Applies the threshold and the perturbation to each cell and builds the Arrow batch.
pub fn release(
    q: &CompiledQuery,
    cells: &[RawCell],
    policy: &PolicyConfig,
    perturbation: &Perturbation,
) -> Result<Released> {
    let threshold = threshold(q, policy);
    let schema = q.query.result_schema();
    let mut dims: Vec<StringBuilder> = q.dimensions.iter().map(|_| StringBuilder::new()).collect();
    let mut diffusion = StringBuilder::new();
    enum Col {
        Int(Int64Builder),
        Float(Float64Builder),
    }
    let mut measures: Vec<Col> = q
        .measures
        .iter()
        .map(|(agg, _)| match agg {
            Aggregate::Count => Col::Int(Int64Builder::new()),
            _ => Col::Float(Float64Builder::new()),
        })
        .collect();
    // A sum's draw follows its column, wherever it sits in the query.
    let salts: Vec<(&cdg_shared::query::Measure, u64)> = q
        .query
        .measures
        .iter()
        .map(|m| (m, perturb::column_salt(&m.column)))
        .collect();
    let (mut released, mut suppressed) = (0u32, 0u32);
    let mut small_groups = Vec::new();
    let whole_group = whole_groups(q, cells);
    for (cell, whole_group) in cells.iter().zip(whole_group) {
        for (b, v) in dims.iter_mut().zip(&cell.dimensions) {
            b.append_value(v);
        }
        let key = perturb::cell_key(cell.cell_key);
        let status = match status(q, cell, policy, perturbation, threshold, key) {
            RELEASED if whole_group => SUPPRESSED_WHOLE_GROUP,
            status => status,
        };
        let ok = status == RELEASED;
        if ok {
            released += 1;
            if cell.units < i64::from(policy.overlap.small_group) {
                small_groups.push(cell.cell_key);
            }
        } else {
            suppressed += 1;
        }
        diffusion.append_value(status);
        for ((b, v), (m, salt)) in measures.iter_mut().zip(&cell.values).zip(&salts) {
            let published = if ok {
                published(m.aggregate, v, key, *salt, perturbation)
            } else {
                None
            };
            match b {
                Col::Int(b) => b.append_option(published.map(|x| x.round() as i64)),
                Col::Float(b) => b.append_option(published),
            }
        }
    }
    let mut columns: Vec<ArrayRef> = dims
        .iter_mut()
        .map(|b| Arc::new(b.finish()) as ArrayRef)
        .collect();
    columns.push(Arc::new(diffusion.finish()));
    for b in &mut measures {
        columns.push(match b {
            Col::Int(b) => Arc::new(b.finish()),
            Col::Float(b) => Arc::new(b.finish()),
        });
    }
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    Ok(Released {
        schema,
        batch,
        released,
        suppressed,
        small_groups,
    })
}

/// For each cell, whether it is the only cell of its group (the same values of the other
/// dimensions) in a sensitive dimension the query groups by, or holds its whole group with a
/// filter on a sensitive dimension (`RawCell::whole_group`).
fn whole_groups(q: &CompiledQuery, cells: &[RawCell]) -> Vec<bool> {
    let sensitive: Vec<usize> = q
        .dimensions
        .iter()
        .enumerate()
        .filter(|(_, d)| q.dataset.dimension(d).is_some_and(|d| d.sensitive))
        .map(|(i, _)| i)
        .collect();
    let mut whole = vec![false; cells.len()];
    for s in sensitive {
        let group = |c: &RawCell| {
            let mut g = c.dimensions.clone();
            g.remove(s);
            g
        };
        let mut sizes: std::collections::HashMap<Vec<String>, usize> = Default::default();
        for c in cells {
            *sizes.entry(group(c)).or_default() += 1;
        }
        for (w, c) in whole.iter_mut().zip(cells) {
            *w |= sizes[&group(c)] == 1;
        }
    }
    for (w, c) in whole.iter_mut().zip(cells) {
        *w |= c.whole_group;
    }
    whole
}

/// A released measure: the perturbed count, sum, or sum over count.
fn published(
    aggregate: Aggregate,
    v: &MeasureValue,
    key: f64,
    salt: u64,
    perturbation: &Perturbation,
) -> Option<f64> {
    let sum = |total: f64| perturbation.sum(total, v.largest.unwrap_or(0.0), key, salt);
    match aggregate {
        Aggregate::Count => v.total.map(|n| perturbation.count(n, key)),
        Aggregate::Sum => v.total.map(sum),
        Aggregate::Mean => {
            let count = perturbation.count(v.rows, key);
            match v.total {
                Some(total) if count > 0.0 => Some(sum(total) / count),
                _ => None,
            }
        }
    }
}

/// Whether a cell may be released, or the rule that keeps it secret.
fn status(
    q: &CompiledQuery,
    cell: &RawCell,
    policy: &PolicyConfig,
    perturbation: &Perturbation,
    threshold: i64,
    key: f64,
) -> &'static str {
    let rows = cell.values.first().map_or(0.0, |v| v.rows);
    if cell.units < threshold || perturbation.count(rows, key) < threshold as f64 {
        return SUPPRESSED_THRESHOLD;
    }
    let magnitudes: Vec<&MeasureValue> = q
        .measures
        .iter()
        .zip(&cell.values)
        .filter(|((agg, _), _)| *agg != Aggregate::Count)
        .map(|(_, v)| v)
        .collect();
    if magnitudes.is_empty() {
        return RELEASED;
    }
    if cell
        .employers
        .is_some_and(|e| e < i64::from(policy.min_employers_per_cell))
    {
        return SUPPRESSED_EMPLOYERS;
    }
    if magnitudes.iter().any(|v| dominated(v, policy.dominance_p)) {
        return SUPPRESSED_DOMINANCE;
    }
    if magnitudes
        .iter()
        .any(|v| employer_dominated(v, policy.employer_dominance))
    {
        return SUPPRESSED_EMPLOYER_DOMINANCE;
    }
    RELEASED
}

/// The p% rule: the largest contribution could be estimated within p% by the second largest
/// contributor, who knows their own value and subtracts it from the total.
fn dominated(v: &MeasureValue, p: f64) -> bool {
    match (v.total, v.largest) {
        (Some(total), Some(x1)) if x1 > 0.0 => {
            let x2 = v.second.unwrap_or(0.0);
            total.abs() - x1 - x2 < p * x1
        }
        _ => false,
    }
}

/// The (1, k%) rule on employers: one employer holds more than `k` of the cell's total.
fn employer_dominated(v: &MeasureValue, k: f64) -> bool {
    match (v.top_employer, v.employer_total) {
        (Some(top), Some(total)) if total > 0.0 => top > k * total,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use cdg_shared::query::{AggregateQuery, Measure};

    use super::*;
    use crate::compile::compile;
    use crate::config::PerturbationConfig;

    fn cell(units: i64, employers: i64, total: f64, largest: f64, second: f64) -> RawCell {
        let count = MeasureValue {
            total: Some(units as f64),
            largest: None,
            second: None,
            rows: units as f64,
            top_employer: None,
            employer_total: None,
        };
        // The largest employer holds the largest contribution and a third of the rest.
        let sum = MeasureValue {
            total: Some(total),
            largest: Some(largest),
            second: Some(second),
            rows: units as f64,
            top_employer: Some(largest + (total - largest) / 3.0),
            employer_total: Some(total),
        };
        RawCell {
            dimensions: vec![],
            units,
            cell_key: 0,
            employers: Some(employers),
            whole_group: false,
            values: vec![count, sum],
        }
    }

    #[test]
    fn each_rule_names_itself_and_a_safe_cell_is_released_with_noise() {
        let q = AggregateQuery {
            dataset: "agents".into(),
            group_by: vec![],
            measures: vec![
                Measure::count(),
                "sum(remuneration_brute_annuelle)".parse().unwrap(),
            ],
            filters: vec![],
        };
        let policy = PolicyConfig::default();
        let q = compile(&q, &policy, &Default::default()).unwrap();
        let noise = Perturbation::new(&PerturbationConfig::default());
        let status_of = |c: RawCell| {
            let r = release(&q, &[c], &policy, &noise).unwrap();
            let col = r.batch.column_by_name("diffusion").unwrap();
            arrow::array::AsArray::as_string::<i32>(col)
                .value(0)
                .to_string()
        };
        // 900k of 960k: the rest (20k after the second largest) is under 10% of 900k.
        for (c, expected) in [
            (
                cell(10, 5, 300_000.0, 40_000.0, 35_000.0),
                SUPPRESSED_THRESHOLD,
            ),
            (
                cell(30, 2, 900_000.0, 40_000.0, 35_000.0),
                SUPPRESSED_EMPLOYERS,
            ),
            (
                cell(30, 5, 960_000.0, 900_000.0, 40_000.0),
                SUPPRESSED_DOMINANCE,
            ),
            (cell(30, 5, 900_000.0, 40_000.0, 35_000.0), RELEASED),
        ] {
            assert_eq!(status_of(c), expected);
        }
        // No one agent dominates, but one employer holds 86% of the total.
        let mut c = cell(30, 5, 900_000.0, 40_000.0, 35_000.0);
        c.values[1].top_employer = Some(774_000.0);
        assert_eq!(status_of(c.clone()), SUPPRESSED_EMPLOYER_DOMINANCE);
        c.values[1].top_employer = Some(765_000.0);
        assert_eq!(status_of(c), RELEASED, "85% exactly is allowed");
        let r = release(
            &q,
            &[cell(30, 5, 900_000.0, 40_000.0, 35_000.0)],
            &policy,
            &noise,
        )
        .unwrap();
        let column = |name: &str| r.batch.column_by_name(name).unwrap().clone();
        let count = column("nombre");
        let count =
            arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(&count).value(0);
        let sum = column("somme_remuneration_brute_annuelle");
        let sum =
            arrow::array::AsArray::as_primitive::<arrow::datatypes::Float64Type>(&sum).value(0);
        // Cell key 0 draws the lowest noise, -4; the sum moves by at most 3 times 40k.
        assert_eq!(count, 26);
        assert!(
            sum != 900_000.0 && (sum - 900_000.0).abs() <= 120_000.0,
            "{sum}"
        );
    }
}
