//! The PRNG and small sampling helpers (no `rand_distr` needed).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use cdg_shared::cdg::Cdg;

/// The generator's PRNG: ChaCha8, whose output is fixed by its 32-byte key
/// across platforms and `rand` versions.
pub type SynthRng = ChaCha8Rng;

/// Seeds the PRNG from the spec's seed and the CDG: key bytes 0..8 are the
/// seed (little endian), bytes 8..10 the ASCII département code, the rest 0.
pub fn rng_for(seed: u64, cdg: Cdg) -> SynthRng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    let code = cdg.code().as_bytes();
    key[8..8 + code.len()].copy_from_slice(code);
    ChaCha8Rng::from_seed(key)
}

/// Seeds an independent PRNG stream for one dataset and year, so that the
/// datasets added to the main ones never consume the main stream: key bytes
/// 0..8 are the seed, 8..10 the département code (as in [`rng_for`]), 12..28
/// the ASCII `tag` (1 to 16 bytes), 28..32 the year (little endian). The main
/// stream has zeros in 10..32, so no stream shares its key.
pub fn stream_for(seed: u64, cdg: Cdg, tag: &str, year: i32) -> SynthRng {
    assert!(
        !tag.is_empty() && tag.len() <= 16,
        "stream tag of 1 to 16 bytes"
    );
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    let code = cdg.code().as_bytes();
    key[8..8 + code.len()].copy_from_slice(code);
    key[12..12 + tag.len()].copy_from_slice(tag.as_bytes());
    key[28..].copy_from_slice(&year.to_le_bytes());
    ChaCha8Rng::from_seed(key)
}

/// A uniform draw in `[0, 1)`.
pub fn unit(rng: &mut SynthRng) -> f64 {
    rng.random::<f64>()
}

/// An exponential draw of mean `mean`.
pub fn exponential(rng: &mut SynthRng, mean: f64) -> f64 {
    -mean * (1.0 - unit(rng)).ln()
}

/// How many of `n` trials succeed, each with probability `p`.
pub fn binomial(rng: &mut SynthRng, n: u32, p: f64) -> u32 {
    (0..n).map(|_| u32::from(chance(rng, p))).sum()
}

/// `true` with probability `p`.
pub fn chance(rng: &mut SynthRng, p: f64) -> bool {
    unit(rng) < p
}

/// Index drawn with probability proportional to `weights` (not all zero).
pub fn weighted(rng: &mut SynthRng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = unit(rng) * total;
    let mut last = 0;
    for (i, &w) in weights.iter().enumerate() {
        if w > 0.0 {
            if x < w {
                return i;
            }
            x -= w;
            last = i;
        }
    }
    last
}

/// A standard normal draw (Box-Muller).
pub fn normal(rng: &mut SynthRng) -> f64 {
    let u1 = 1.0 - unit(rng); // (0, 1]
    let u2 = unit(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// The logistic function.
pub fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The logit function, for `p` in `(0, 1)`.
pub fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

/// Apportions `total` units by `weights` (largest remainders, ties by index),
/// giving each weight at least `min` units when the total allows it.
pub fn apportion(total: u64, weights: &[f64], min: u64) -> Vec<u64> {
    let n = weights.len();
    if n == 0 {
        return Vec::new();
    }
    let sum: f64 = weights.iter().sum();
    let mut out = Vec::with_capacity(n);
    let mut rem = Vec::with_capacity(n);
    let mut given = 0u64;
    for (i, &w) in weights.iter().enumerate() {
        let exact = if sum > 0.0 {
            total as f64 * w / sum
        } else {
            0.0
        };
        let floor = exact.floor() as u64;
        out.push(floor);
        given += floor;
        rem.push((exact - floor as f64, i));
    }
    rem.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in rem.iter().take(total.saturating_sub(given) as usize) {
        out[i] += 1;
    }
    // Raise the small ones to `min`, taking from the largest.
    if total >= min * n as u64 {
        for i in 0..n {
            while out[i] < min {
                let (j, _) = out
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))
                    .unwrap_or((i, &0));
                if out[j] <= min {
                    break;
                }
                out[j] -= 1;
                out[i] += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apportion_sums_and_respects_min() {
        let a = apportion(100, &[10.0, 0.001, 5.0, 0.0], 1);
        assert_eq!(a.iter().sum::<u64>(), 100);
        assert!(a.iter().all(|&x| x >= 1));
        assert!(a[0] > a[2]);
    }

    #[test]
    fn streams_differ_from_the_main_one_and_each_other() {
        let first = |mut r: SynthRng| r.random::<u64>();
        let main = first(rng_for(1, Cdg::Nord));
        let a = first(stream_for(1, Cdg::Nord, "absences", 2024));
        let b = first(stream_for(1, Cdg::Nord, "absences", 2023));
        let c = first(stream_for(1, Cdg::Nord, "offres", 2024));
        assert_eq!(a, first(stream_for(1, Cdg::Nord, "absences", 2024)));
        assert!(main != a && a != b && a != c && b != c);
    }

    #[test]
    fn weighted_skips_zero_weights() {
        let mut rng = rng_for(1, Cdg::Nord);
        for _ in 0..1000 {
            assert_ne!(weighted(&mut rng, &[1.0, 0.0, 2.0]), 1);
        }
    }
}
