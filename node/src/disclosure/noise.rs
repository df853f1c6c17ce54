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
//!
//! The arithmetic is in `cdg_shared::cellkey`, so that the coordinator perturbs the regional
//! cells of a secure aggregation (`secure_sum.rs`) exactly as a node perturbs its own.

pub use cdg_shared::cellkey::{NoiseTable, Perturbation, cell_key, column_salt, derived_key};

use crate::config::PerturbationConfig;

/// The perturbation a node applies, from its policy.
pub fn perturbation(config: &PerturbationConfig) -> Perturbation {
    Perturbation::new(config.max_noise, config.variance, config.magnitude_noise)
}
