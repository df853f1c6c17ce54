//! The rules on each cell of an answer, in the order they apply:
//!
//! 1. **Threshold**: at least the policy's number of distinct units (agents, or employers for
//!    employer datasets; more when the dataset asks), and a perturbed row count that reaches it
//!    too, so that no small count is published even after noise.
//! 2. **Employers**: a sum or mean over fewer distinct employers than the policy's minimum would
//!    let one employer subtract its own part and learn the others'.
//! 3. **Dominance (p% rule)**: the largest contribution could be estimated within p% by the
//!    second largest contributor, who knows their own value and subtracts it from the total.
//! 4. **Employer dominance ((1, k%) rule)**: one employer holds more than k of the cell's total.
//!
//! Counts only go through the threshold: the other rules protect magnitudes. The 100% rule,
//! which looks at a cell's neighbours, is in `whole_group.rs`.

use cdg_shared::query::{Aggregate, Diffusion};

use super::noise::Perturbation;
use crate::compile::CompiledQuery;
use crate::config::PolicyConfig;
use crate::store::{MeasureValue, RawCell};

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

/// Whether a cell may be released, or the first rule that keeps it secret. `key` is the cell
/// key in [0, 1) (`noise.rs`).
pub fn status(
    q: &CompiledQuery,
    cell: &RawCell,
    policy: &PolicyConfig,
    noise: &Perturbation,
    threshold: i64,
    key: f64,
) -> Diffusion {
    let rows = cell.values.first().map_or(0.0, |v| v.rows);
    if cell.units < threshold || noise.count(rows, key) < threshold as f64 {
        return Diffusion::Threshold;
    }
    let magnitudes: Vec<&MeasureValue> = q
        .measures
        .iter()
        .zip(&cell.values)
        .filter(|((agg, _), _)| *agg != Aggregate::Count)
        .map(|(_, v)| v)
        .collect();
    if magnitudes.is_empty() {
        return Diffusion::Released;
    }
    if cell
        .employers
        .is_some_and(|e| e < i64::from(policy.min_employers_per_cell))
    {
        return Diffusion::Employers;
    }
    if magnitudes.iter().any(|v| dominated(v, policy.dominance_p)) {
        return Diffusion::Dominance;
    }
    if magnitudes
        .iter()
        .any(|v| employer_dominated(v, policy.employer_dominance))
    {
        return Diffusion::EmployerDominance;
    }
    Diffusion::Released
}

/// The p% rule: the total less the two largest contributions is under p% of the largest.
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
    use crate::disclosure::release::release;

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
        let noise = crate::disclosure::noise::perturbation(&PerturbationConfig::default());
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
                Diffusion::Threshold.as_str(),
            ),
            (
                cell(30, 2, 900_000.0, 40_000.0, 35_000.0),
                Diffusion::Employers.as_str(),
            ),
            (
                cell(30, 5, 960_000.0, 900_000.0, 40_000.0),
                Diffusion::Dominance.as_str(),
            ),
            (
                cell(30, 5, 900_000.0, 40_000.0, 35_000.0),
                Diffusion::Released.as_str(),
            ),
        ] {
            assert_eq!(status_of(c), expected);
        }
        // No one agent dominates, but one employer holds 86% of the total.
        let mut c = cell(30, 5, 900_000.0, 40_000.0, 35_000.0);
        c.values[1].top_employer = Some(774_000.0);
        assert_eq!(status_of(c.clone()), Diffusion::EmployerDominance.as_str());
        c.values[1].top_employer = Some(765_000.0);
        assert_eq!(
            status_of(c),
            Diffusion::Released.as_str(),
            "85% exactly is allowed"
        );
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
