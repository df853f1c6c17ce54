//! What the published policy alone says of an answer's withheld cells and of its measures'
//! values. Every answer carries it, so the coordinator can bound a regional total that a
//! withheld département cell is part of, without learning anything the node kept secret: the
//! bounds depend on the policy, the query and the data dictionary, never on the data.

use cdg_shared::proto::v1::{DisclosurePolicy, MeasureRange, SecretBound};
use cdg_shared::query::{Aggregate, Diffusion};
use sha2::{Digest, Sha256};

use super::cells::threshold;
use crate::compile::CompiledQuery;
use crate::config::PolicyConfig;

/// The policy as `Describe` publishes it (never the record-key secret).
pub fn published_policy(p: &PolicyConfig) -> DisclosurePolicy {
    let convention = p.convention.validity();
    DisclosurePolicy {
        min_agents_per_cell: p.min_agents_per_cell,
        min_employers_per_cell: p.min_employers_per_cell,
        max_group_by: p.max_group_by,
        max_noise: p.perturbation.max_noise,
        noise_variance: p.perturbation.variance,
        magnitude_noise: p.perturbation.magnitude_noise,
        dominance_p: p.dominance_p,
        convention_start: convention.0.to_string(),
        convention_end: convention.1.to_string(),
        employer_dominance: p.employer_dominance,
        max_cells_per_analyst_per_day: p.max_cells_per_analyst_per_day,
        overlap_small_group: p.overlap.small_group,
        overlap_refuse_after: p.overlap.refuse_after,
    }
}

/// The policy's version: SHA-256 (hex) of its published protobuf encoding.
pub fn policy_version(p: &DisclosurePolicy) -> String {
    hex::encode(Sha256::digest(prost::Message::encode_to_vec(p)))
}

/// The rows a withheld cell of `q` can count, by status. `loaded_years` is the number of
/// years loaded for the query's dataset, used when the query neither groups nor filters by
/// year.
///
/// - `seuil`: fewer than T distinct units, or a perturbed row count below T (true count at
///   most T − 1 + D). When a unit has one row a year, a cell of fewer than T units over Y
///   years has at most (T − 1) × Y rows; otherwise nothing bounds the rows from above.
/// - every other status is decided after the threshold has passed: at least T units, so at
///   least T rows, and nothing bounds them from above.
pub fn secret_bounds(
    q: &CompiledQuery,
    policy: &PolicyConfig,
    loaded_years: usize,
) -> Vec<SecretBound> {
    let t = threshold(q, policy).max(1) as u64;
    let d = u64::from(policy.perturbation.max_noise);
    let years = q.years_per_cell.unwrap_or(loaded_years).max(1) as u64;
    let below_threshold_max = q
        .dataset
        .one_row_per_unit()
        .then(|| ((t - 1) * years).max(t - 1 + d));
    let mut bounds = vec![SecretBound {
        status: Diffusion::Threshold.as_str().to_string(),
        count_min: 0,
        count_max: below_threshold_max,
    }];
    bounds.extend(
        [
            Diffusion::Employers,
            Diffusion::Dominance,
            Diffusion::EmployerDominance,
            Diffusion::WholeGroup,
        ]
        .into_iter()
        .map(|status| SecretBound {
            status: status.as_str().to_string(),
            count_min: t,
            count_max: None,
        }),
    );
    bounds
}

/// The range of each summed or averaged measure of `q`, when the data dictionary bounds it.
pub fn measure_ranges(q: &CompiledQuery) -> Vec<MeasureRange> {
    let mut ranges: Vec<MeasureRange> = Vec::new();
    for m in &q.query.measures {
        if m.aggregate == Aggregate::Count || ranges.iter().any(|r| r.column == m.column) {
            continue;
        }
        if let Some((min, max)) = q.dataset.measure_range(&m.column) {
            ranges.push(MeasureRange {
                column: m.column.clone(),
                min,
                max,
            });
        }
    }
    ranges
}

#[cfg(test)]
mod tests {
    use cdg_shared::query::{AggregateQuery, Filter, Measure};

    use super::*;
    use crate::compile::compile;

    fn compiled(dataset: &str, group_by: &[&str], filters: Vec<Filter>) -> CompiledQuery {
        let q = AggregateQuery {
            dataset: dataset.into(),
            group_by: group_by.iter().map(|s| s.to_string()).collect(),
            measures: vec![Measure::count()],
            filters,
        };
        compile(&q, &PolicyConfig::default(), &Default::default()).unwrap()
    }

    fn seuil(bounds: &[SecretBound]) -> &SecretBound {
        bounds
            .iter()
            .find(|b| b.status == Diffusion::Threshold.as_str())
            .unwrap()
    }

    #[test]
    fn a_withheld_cell_is_bounded_by_the_policy_alone() {
        let policy = PolicyConfig::default();
        // Employers: one row a year each, threshold 3, noise 4.
        let by_year = compiled("employeurs", &["annee", "type_employeur"], vec![]);
        let b = secret_bounds(&by_year, &policy, 5);
        assert_eq!((seuil(&b).count_min, seuil(&b).count_max), (0, Some(2 + 4)));
        // Over all five loaded years: up to 2 employers × 5 years.
        let all_years = compiled("employeurs", &["type_employeur"], vec![]);
        assert_eq!(
            seuil(&secret_bounds(&all_years, &policy, 5)).count_max,
            Some(10)
        );
        // Agents may have several employers: no upper bound below the threshold.
        let agents = compiled("agents", &["sexe"], vec![]);
        let b = secret_bounds(&agents, &policy, 1);
        assert_eq!(seuil(&b).count_max, None);
        let dominance = b
            .iter()
            .find(|b| b.status == Diffusion::Dominance.as_str())
            .unwrap();
        assert_eq!((dominance.count_min, dominance.count_max), (11, None));
    }

    #[test]
    fn measure_ranges_come_from_the_dictionary() {
        let mut q = compiled("agents", &["sexe"], vec![]);
        q.query.measures = vec![
            "mean(etpr)".parse().unwrap(),
            "sum(femme)".parse().unwrap(),
            "sum(etpr)".parse().unwrap(),
        ];
        let ranges = measure_ranges(&q);
        let got: Vec<(&str, f64, f64)> = ranges
            .iter()
            .map(|r| (r.column.as_str(), r.min, r.max))
            .collect();
        assert_eq!(got, [("etpr", 0.0, 1.0), ("femme", 0.0, 1.0)]);
    }
}
