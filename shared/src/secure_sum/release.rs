//! The release rules applied to a cell aggregated over several départements, and its noise,
//! as a node applies them to its own cells (`node/src/disclosure/cells.rs` and `release.rs`),
//! under the strictest of the participants' published policies:
//!
//! 1. **Threshold**: at least the threshold of distinct units, on the true sum and on the
//!    count perturbed with the regional cell key (the union's record keys, modulo 2³²: the same
//!    key at every run, like every other cell's).
//! 2. **Employers**: a magnitude over fewer distinct employers than the minimum stays secret.
//! 3. **Dominance (p% rule)** and 4. **employer dominance ((1, k%) rule)**, on upper bounds of
//!    the largest contributions (`layout`): a cell they pass passes the rules on the truth.
//!
//! A sum moves by up to `magnitude_noise` times the bound of its largest contribution (at least
//! the true largest, so at least the noise a single node would add).

use super::layout::CellSums;
use crate::catalogue::Dataset;
use crate::cellkey::{Perturbation, cell_key, column_salt};
use crate::proto::v1::DisclosurePolicy;
use crate::query::{Aggregate, Diffusion, Measure};

/// The rules an aggregated cell is released under.
#[derive(Debug, Clone)]
pub struct Rules {
    threshold: u64,
    min_employers: u64,
    dominance_p: f64,
    employer_dominance: f64,
    noise: Perturbation,
}

impl Rules {
    /// The strictest of `policies` (the participants' published ones) for a cell of `dataset`:
    /// the highest thresholds, noise and p, the lowest share one employer may hold.
    pub fn strictest(policies: &[DisclosurePolicy], dataset: &Dataset) -> Option<Rules> {
        policies.first()?;
        let most = |f: fn(&DisclosurePolicy) -> f64| {
            policies.iter().map(f).fold(f64::NEG_INFINITY, f64::max)
        };
        let most_u32 = |f: fn(&DisclosurePolicy) -> u32| policies.iter().map(f).max();
        let min_agents = most_u32(|p| p.min_agents_per_cell)?;
        let min_employers = most_u32(|p| p.min_employers_per_cell)?;
        let unit_minimum = if dataset.unit.is_person() {
            min_agents
        } else {
            min_employers
        };
        Some(Rules {
            threshold: u64::from(unit_minimum.max(dataset.min_units)),
            min_employers: u64::from(min_employers),
            dominance_p: most(|p| p.dominance_p),
            employer_dominance: policies
                .iter()
                .map(|p| p.employer_dominance)
                .fold(f64::INFINITY, f64::min),
            noise: Perturbation::new(
                most_u32(|p| p.max_noise)?,
                most(|p| p.noise_variance),
                most(|p| p.magnitude_noise),
            ),
        })
    }

    /// Distinct units an aggregated cell needs.
    pub fn threshold(&self) -> u64 {
        self.threshold
    }
}

/// The published measures of an aggregated cell, or the rule that keeps it secret. `employers`:
/// whether the dataset counts employers.
pub fn release(
    sums: &CellSums,
    measures: &[Measure],
    employers: bool,
    rules: &Rules,
) -> Result<Vec<Option<f64>>, Diffusion> {
    let key = cell_key((sums.record_keys % (1 << 32)) as i64);
    let threshold = rules.threshold as f64;
    let rows = sums.measures.first().map_or(0, |m| m.rows) as f64;
    if sums.units < rules.threshold || rules.noise.count(rows, key) < threshold {
        return Err(Diffusion::Threshold);
    }
    let magnitudes: Vec<_> = measures
        .iter()
        .zip(&sums.measures)
        .filter(|(m, _)| m.aggregate != Aggregate::Count)
        .map(|(_, s)| s)
        .collect();
    if !magnitudes.is_empty() {
        if employers && sums.employers < rules.min_employers {
            return Err(Diffusion::Employers);
        }
        if magnitudes.iter().any(|s| {
            s.largest > 0.0 && s.total.abs() - s.two_largest < rules.dominance_p * s.largest
        }) {
            return Err(Diffusion::Dominance);
        }
        if magnitudes.iter().any(|s| {
            s.employer_total > 0.0 && s.top_employer > rules.employer_dominance * s.employer_total
        }) {
            return Err(Diffusion::EmployerDominance);
        }
    }
    Ok(measures
        .iter()
        .zip(&sums.measures)
        .map(|(m, s)| {
            let salt = column_salt(&m.column);
            let sum = |total: f64| rules.noise.sum(total, s.largest, key, salt);
            match m.aggregate {
                Aggregate::Count => Some(rules.noise.count(s.total, key)),
                Aggregate::Sum => (s.rows > 0).then(|| sum(s.total)),
                Aggregate::Mean => {
                    let count = rules.noise.count(s.rows as f64, key);
                    (s.rows > 0 && count > 0.0).then(|| sum(s.total) / count)
                }
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secure_sum::layout::MeasureSums;

    fn policy() -> DisclosurePolicy {
        DisclosurePolicy {
            min_agents_per_cell: 11,
            min_employers_per_cell: 3,
            max_noise: 4,
            noise_variance: 2.0,
            magnitude_noise: 3.0,
            dominance_p: 0.1,
            employer_dominance: 0.85,
            ..Default::default()
        }
    }

    fn sums(units: u64, total: f64, largest: f64, two: f64) -> CellSums {
        let count = MeasureSums {
            total: units as f64,
            rows: units,
            largest: 0.0,
            two_largest: 0.0,
            top_employer: 0.0,
            employer_total: 0.0,
        };
        CellSums {
            units,
            employers: 5,
            record_keys: 123_456_789_012,
            measures: vec![
                count,
                MeasureSums {
                    total,
                    rows: units,
                    largest,
                    two_largest: two,
                    top_employer: largest,
                    employer_total: total,
                },
            ],
        }
    }

    #[test]
    fn the_aggregate_passes_the_rules_of_the_strictest_policy_with_bounded_noise() {
        let agents = crate::catalogue::dataset("agents").unwrap();
        let mut stricter = policy();
        stricter.min_agents_per_cell = 20;
        let rules = Rules::strictest(&[policy(), stricter], agents).unwrap();
        assert_eq!(rules.threshold(), 20);
        let measures = [Measure::count(), "sum(etpr)".parse().unwrap()];
        assert_eq!(
            release(&sums(15, 15.0, 1.0, 2.0), &measures, true, &rules),
            Err(Diffusion::Threshold)
        );
        // 30 agents, the largest two bounded by 10 and 19 of 40: dominated? 40 - 19 ≥ 1.
        let released = release(&sums(30, 40.0, 10.0, 19.0), &measures, true, &rules).unwrap();
        let count = released[0].unwrap();
        assert!(
            (count - 30.0).abs() <= 4.0 && count.fract() == 0.0,
            "{count}"
        );
        let sum = released[1].unwrap();
        assert!((sum - 40.0).abs() <= 30.0, "{sum}");
        assert_eq!(
            release(&sums(30, 40.0, 30.0, 38.0), &measures, true, &rules),
            Err(Diffusion::Dominance)
        );
        let mut few = sums(30, 40.0, 10.0, 19.0);
        few.employers = 2;
        assert_eq!(
            release(&few, &measures, true, &rules),
            Err(Diffusion::Employers)
        );
        // The same sums give the same noise: the regional cell key is its rows'.
        assert_eq!(
            release(&sums(30, 40.0, 10.0, 19.0), &measures, true, &rules).unwrap(),
            released
        );
    }
}
