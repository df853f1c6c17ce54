//! The employers of a CDG: how many of each type, and how big.

use rand::Rng;

use cdg_shared::cdg::Cdg;

use super::params::{NT, TYPE_AGENT_SHARE, TYPE_ZIPF, employer_counts, is_singleton};
use super::sampling::{SynthRng, apportion, chance, unit};

/// One employer, stable over the years.
#[derive(Debug, Clone, Copy)]
pub struct Employer {
    /// The 5-digit number of its id (`E` + CDG code + number).
    pub num: u32,
    /// Index in [`cdg_shared::codes::TYPES_EMPLOYEUR`].
    pub ty: u8,
    /// Index in [`cdg_shared::codes::AFFILIATIONS`] used when it has 350
    /// fonctionnaires or more (1 volontaire, 2 non affilié).
    pub large_affiliation: u8,
    /// Headcount it is created with.
    pub initial_size: u32,
}

/// Builds the employers of `cdg` for a population of `agents` at the given
/// scale, with their initial headcounts (each at least 1, summing to
/// `agents`). The counts of the numerous types (communes, CCAS, syndicats…)
/// shrink with the square root of the scale below 1, so that a small
/// population still has a realistic spread of sizes; they are also capped so
/// that employers average at least 3 agents.
pub fn build(cdg: Cdg, agents: u64, scale: f64, rng: &mut SynthRng) -> Vec<Employer> {
    let base = employer_counts(cdg);
    let numerous: f64 = (0..NT)
        .filter(|&t| !is_singleton(t as u8))
        .map(|t| f64::from(base[t]))
        .sum();
    let singletons: f64 = (0..NT)
        .filter(|&t| is_singleton(t as u8))
        .map(|t| f64::from(base[t]))
        .sum();
    let mut factor = scale.clamp(0.0, 1.0).sqrt();
    let room = (agents as f64 / 3.0 - singletons).max(0.0);
    if numerous * factor > room {
        factor = room / numerous;
    }
    let mut counts = [0u64; NT];
    for t in 0..NT {
        counts[t] = if is_singleton(t as u8) {
            u64::from(base[t])
        } else if base[t] == 0 {
            0
        } else {
            ((f64::from(base[t]) * factor).round() as u64).max(1)
        };
    }

    // Agents per type: singletons keep their share, the others share the rest.
    let fixed: f64 = (0..NT)
        .filter(|&t| is_singleton(t as u8) && counts[t] > 0)
        .map(|t| TYPE_AGENT_SHARE[t])
        .sum();
    let others: f64 = (0..NT)
        .filter(|&t| !is_singleton(t as u8) && counts[t] > 0)
        .map(|t| TYPE_AGENT_SHARE[t])
        .sum();
    let weights: Vec<f64> = (0..NT)
        .map(|t| {
            if counts[t] == 0 {
                0.0
            } else if is_singleton(t as u8) {
                TYPE_AGENT_SHARE[t]
            } else {
                TYPE_AGENT_SHARE[t] / others * (1.0 - fixed)
            }
        })
        .collect();
    let mut per_type = apportion(agents, &weights, 0);
    // Each employer needs one agent at least: take from the biggest type.
    for t in 0..NT {
        while per_type[t] < counts[t] {
            let big = (0..NT).max_by_key(|&u| (per_type[u], NT - u)).unwrap_or(t);
            if per_type[big] <= counts[big] {
                break;
            }
            per_type[big] -= 1;
            per_type[t] += 1;
        }
    }

    let mut employers = Vec::new();
    for t in 0..NT {
        let n = counts[t] as usize;
        if n == 0 {
            continue;
        }
        let w: Vec<f64> = (0..n)
            .map(|rank| (rank as f64 + 3.0).powf(-TYPE_ZIPF[t]) * (0.8 + 0.45 * unit(rng)))
            .collect();
        for size in apportion(per_type[t], &w, 1) {
            employers.push(Employer {
                num: 0,
                ty: t as u8,
                large_affiliation: if chance(rng, 0.3) { 1 } else { 2 },
                initial_size: size as u32,
            });
        }
    }
    // Pseudonymous numbers: a shuffled 1..=n, so the id tells nothing.
    let mut nums: Vec<u32> = (1..=employers.len() as u32).collect();
    for i in (1..nums.len()).rev() {
        let j = rng.random_range(0..=i);
        nums.swap(i, j);
    }
    for (e, num) in employers.iter_mut().zip(nums) {
        e.num = num;
    }
    employers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampling::rng_for;

    #[test]
    fn sizes_sum_and_are_skewed() {
        let mut rng = rng_for(7, Cdg::Nord);
        let emps = build(Cdg::Nord, 72_670, 1.0, &mut rng);
        let total: u64 = emps.iter().map(|e| u64::from(e.initial_size)).sum();
        assert_eq!(total, 72_670);
        assert!(emps.iter().all(|e| e.initial_size >= 1));
        let communes: Vec<u32> = emps
            .iter()
            .filter(|e| e.ty == 0)
            .map(|e| e.initial_size)
            .collect();
        let small = communes.iter().filter(|&&s| s < 20).count();
        assert!(small * 2 > communes.len(), "most communes under 20 agents");
        assert!(communes.iter().any(|&s| s >= 1000));
        let mut nums: Vec<u32> = emps.iter().map(|e| e.num).collect();
        nums.sort_unstable();
        nums.dedup();
        assert_eq!(nums.len(), emps.len());
    }

    #[test]
    fn tiny_population_keeps_one_agent_per_employer() {
        let mut rng = rng_for(7, Cdg::Aisne);
        let emps = build(Cdg::Aisne, 300, 0.002, &mut rng);
        let total: u64 = emps.iter().map(|e| u64::from(e.initial_size)).sum();
        assert_eq!(total, 300);
        assert!(emps.iter().all(|e| e.initial_size >= 1));
        assert!(emps.len() <= 100);
    }
}
