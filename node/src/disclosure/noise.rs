//! The cell key method (ABS TableBuilder, Eurostat census 2021): consistent, bounded noise on
//! every released count and sum, so that repeating a query, or reaching the same cell through
//! another query, gives exactly the same answer and averaging learns nothing.
//!
//! - **Record key**: each row gets a 32-bit key from a keyed hash of its unit's pseudonym
//!   (`md5(secret ‖ agent_id)`, low 32 bits), computed in SQL at import. An agent keeps the same key
//!   every year. The secret never leaves the node (`store/record_key.rs`).
//! - **Cell key**: the sum of the cell's record keys modulo 2³², as a fraction of 2³² (a uniform
//!   number in [0, 1) that only the cell's rows determine).
//! - **Counts**: the cell key picks the noise from a fixed table over −D..D (a discretised normal
//!   with variance V; symmetric, so unbiased). With the release threshold of 11 above D, no output
//!   is negative, and the threshold is also applied to the perturbed count, so small positive
//!   values are never published.
//! - **Sums**: the cell's largest absolute contribution times `magnitude_noise` times a number
//!   drawn uniformly in [−1, 1] from a second key derived from the cell key and the measured
//!   column (not its position in the query, or moving it would give a fresh draw to average).
//!   Uniform, because it is the draw of a given width least likely to leave two draws close: an
//!   analyst subtracting two sums whose populations differ by one agent gets that agent's value
//!   plus the difference of two draws, which misses it by less than 10% with a probability of
//!   about 0.1 / `magnitude_noise` (the value being at most the largest contribution). The
//!   default of 3 makes that about 3%; the floor of 2 keeps it at most 5%.
//! - **Means**: perturbed sum over perturbed count.

use crate::config::PerturbationConfig;

/// The noise of counts, by cell key: the inverse of a cumulative distribution over −D..D.
#[derive(Debug, Clone)]
pub struct NoiseTable {
    max: i64,
    /// `cumulative[k]` = P(noise ≤ k − max).
    cumulative: Vec<f64>,
}

impl NoiseTable {
    /// A discretised normal over −`max`..`max` with the given variance (which must be below
    /// `max`², checked by the configuration).
    pub fn new(max: u32, variance: f64) -> NoiseTable {
        let max = i64::from(max);
        let weights = |s: f64| -> Vec<f64> {
            (-max..=max)
                .map(|k| (-(k * k) as f64 / (2.0 * s * s)).exp())
                .collect()
        };
        let variance_of = |s: f64| {
            let w = weights(s);
            let total: f64 = w.iter().sum();
            (-max..=max)
                .zip(&w)
                .map(|(k, w)| (k * k) as f64 * w / total)
                .sum::<f64>()
        };
        // The variance grows with the spread: find the spread by bisection.
        let (mut lo, mut hi) = (1e-3, 1e3);
        for _ in 0..200 {
            let mid = (lo + hi) / 2.0;
            if variance_of(mid) < variance {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let w = weights(lo);
        let total: f64 = w.iter().sum();
        let mut acc = 0.0;
        let cumulative = w
            .iter()
            .map(|w| {
                acc += w / total;
                acc
            })
            .collect();
        NoiseTable { max, cumulative }
    }

    /// The noise of a cell key in [0, 1).
    pub fn noise(&self, key: f64) -> i64 {
        let k = self
            .cumulative
            .iter()
            .position(|&c| key < c)
            .unwrap_or(self.cumulative.len() - 1);
        k as i64 - self.max
    }
}

/// A cell's key as a fraction in [0, 1), from the SQL sum of record keys modulo 2³².
pub fn cell_key(sum_mod_2_32: i64) -> f64 {
    (sum_mod_2_32.rem_euclid(1 << 32)) as f64 / 4_294_967_296.0
}

/// Another uniform number in [0, 1), determined by the cell key and `salt` (one per measure).
pub fn derived_key(key: f64, salt: u64) -> f64 {
    // splitmix64 finaliser over the key's 32 bits and the salt.
    let mut z =
        ((key * 4_294_967_296.0) as u64) ^ salt.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 32) as f64 / 4_294_967_296.0
}

/// The salt of a measured column's draws: a stable hash of its name (FNV-1a).
pub fn column_salt(column: &str) -> u64 {
    column.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The perturbation a node applies, from its policy.
#[derive(Debug, Clone)]
pub struct Perturbation {
    table: NoiseTable,
    magnitude_noise: f64,
}

impl Perturbation {
    pub fn new(config: &PerturbationConfig) -> Perturbation {
        Perturbation {
            table: NoiseTable::new(config.max_noise, config.variance),
            magnitude_noise: config.magnitude_noise,
        }
    }

    /// A count as published.
    pub fn count(&self, count: f64, key: f64) -> f64 {
        (count + self.table.noise(key) as f64).max(0.0)
    }

    /// A sum as published: moved by up to `magnitude_noise` times the largest contribution,
    /// by a draw from the cell key and the column's salt ([`column_salt`]).
    pub fn sum(&self, sum: f64, largest: f64, key: f64, salt: u64) -> f64 {
        let draw = 2.0 * derived_key(key, salt) - 1.0;
        sum + largest.abs() * self.magnitude_noise * draw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_noise_is_bounded_unbiased_and_has_the_variance_asked() {
        let t = NoiseTable::new(4, 2.0);
        let n = 100_000;
        let draws: Vec<i64> = (0..n)
            .map(|i| t.noise((i as f64 + 0.5) / n as f64))
            .collect();
        assert!(draws.iter().all(|d| d.abs() <= 4));
        let mean = draws.iter().sum::<i64>() as f64 / n as f64;
        let var = draws
            .iter()
            .map(|d| (*d as f64 - mean).powi(2))
            .sum::<f64>()
            / n as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 2.0).abs() < 0.02, "variance {var}");
        assert!(draws.contains(&4) && draws.contains(&-4) && draws.contains(&0));
    }

    #[test]
    fn keys_are_uniform_and_derived_keys_independent() {
        assert_eq!(cell_key(0), 0.0);
        assert_eq!(cell_key(1 << 32), 0.0);
        assert!((cell_key(1 << 31) - 0.5).abs() < 1e-12);
        let n = 10_000;
        let derived: Vec<f64> = (0..n)
            .map(|i| derived_key(i as f64 / n as f64, 1))
            .collect();
        let mean = derived.iter().sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
        assert_ne!(derived_key(0.25, 0), derived_key(0.25, 1));
        assert_eq!(derived_key(0.25, 3), derived_key(0.25, 3));
        assert_ne!(column_salt("etpr"), column_salt("jours_calendaires"));
        // A sum moves by at most magnitude_noise times the largest contribution, both ways.
        let p = Perturbation::new(&PerturbationConfig::default());
        let moves: Vec<f64> = (0..n)
            .map(|i| p.sum(1000.0, 10.0, i as f64 / n as f64, 7) - 1000.0)
            .collect();
        assert!(moves.iter().all(|m| m.abs() <= 30.0));
        assert!(moves.iter().any(|m| *m < -29.0) && moves.iter().any(|m| *m > 29.0));
    }
}
