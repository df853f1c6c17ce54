//! The cell key method's arithmetic (ABS TableBuilder, Eurostat census 2021), shared by the
//! nodes, which perturb every released cell (`node/src/disclosure/noise.rs` says how and why),
//! and the coordinator, which perturbs the regional cells of a secure aggregation the same way
//! (`secure_sum`).

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
    /// The cell key method with count noise over −`max_noise`..`max_noise` of the given
    /// variance, and sums moved by up to `magnitude_noise` times their largest contribution.
    pub fn new(max_noise: u32, variance: f64, magnitude_noise: f64) -> Perturbation {
        Perturbation {
            table: NoiseTable::new(max_noise, variance),
            magnitude_noise,
        }
    }

    /// How far a sum may move, as a multiple of its largest contribution.
    pub fn magnitude_noise(&self) -> f64 {
        self.magnitude_noise
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
        let p = Perturbation::new(4, 2.0, 3.0);
        let moves: Vec<f64> = (0..n)
            .map(|i| p.sum(1000.0, 10.0, i as f64 / n as f64, 7) - 1000.0)
            .collect();
        assert!(moves.iter().all(|m| m.abs() <= 30.0));
        assert!(moves.iter().any(|m| *m < -29.0) && moves.iter().any(|m| *m > 29.0));
    }
}
