//! Disclosure control: every rule that decides what a node releases, each in a file a reviewer
//! can read alone. The rules decide from what the store read (`crate::store` runs the SQL) and
//! never run SQL themselves; `crate::answering` calls them in order for each answer.
//!
//! - `convention.rs`: nothing is released outside the convention's term (Art. 6).
//! - `complement.rs`: a filter must not leave a handful of units out of the answer.
//! - `cells.rs`: each cell's threshold, employers, dominance and employer-dominance rules.
//! - `whole_group.rs`: the 100% rule on sensitive dimensions.
//! - `noise.rs`: the cell key method (bounded, consistent noise on counts and sums).
//! - `release.rs`: the released table, withheld cells named with their rule.
//! - `ledger.rs`: each analyst's daily budget of cells and the overlap watch on small groups.
//! - `bounds.rs`: what the published policy alone says of the withheld cells and measures.
//! - `secure_sum.rs`: which withheld cells a node adds, masked, to a regional secure sum.

pub mod bounds;
pub mod cells;
pub mod complement;
pub mod convention;
pub mod ledger;
pub mod noise;
pub mod release;
pub mod secure_sum;
pub mod whole_group;

pub use cdg_shared::query::Diffusion;
