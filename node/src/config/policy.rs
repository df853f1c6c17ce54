//! The node's disclosure policy: the `[policy]` table of its configuration, owned by the CDG's
//! operator. Every setting has a floor (or ceiling) set by the project; a node may tighten the
//! rules, never loosen them, and refuses to start on a policy that would.

use std::collections::BTreeMap;

use cdg_shared::settings::SettingsError;
use serde::{Deserialize, Serialize};

use crate::catalogue;

/// The project's floor: no node may release a cell with fewer distinct agents than this.
pub const FLOOR_MIN_AGENTS: u32 = 11;
/// The project's floor for cells of employer datasets.
pub const FLOOR_MIN_EMPLOYERS: u32 = 3;
/// The most dimensions a query may group by or filter on.
pub const CEILING_MAX_GROUP_BY: u32 = cdg_shared::query::MAX_DIMENSIONS;

/// The disclosure thresholds the operator sets (never below the project's floors).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    pub min_agents_per_cell: u32,
    pub min_employers_per_cell: u32,
    pub max_group_by: u32,
    /// p% rule on magnitude cells: a sum or mean is kept secret when the cell's total minus its
    /// two largest contributions is under this share of the largest.
    pub dominance_p: f64,
    /// (1, k%) rule on employers: a sum or mean is kept secret when one employer holds more
    /// than this share of the cell's total.
    pub employer_dominance: f64,
    /// Released cells an analyst may receive per day from this node.
    pub max_cells_per_analyst_per_day: u32,
    pub perturbation: PerturbationConfig,
    pub convention: ConventionConfig,
    /// Per dataset, the dimensions and measures this node allows, when narrower than the
    /// catalogue's, e.g. `[policy.datasets.agents] dimensions = ["annee", "sexe"]`.
    pub datasets: BTreeMap<String, DatasetPolicy>,
    pub overlap: OverlapConfig,
}

/// What studies may use of one dataset; a list left out allows the whole catalogue's.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DatasetPolicy {
    /// Dimensions studies may group by or filter on.
    pub dimensions: Option<Vec<String>>,
    /// Measure columns studies may sum or average.
    pub measures: Option<Vec<String>>,
}

/// The overlap watch: distinct queries of one analyst that keep reaching the same small group
/// of units (the same cell key) are flagged, then refused. Repeating a query does not count:
/// it gets the same answer and teaches nothing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OverlapConfig {
    /// A released cell with fewer distinct units than this is a small group.
    pub small_group: u32,
    /// Distinct queries reaching one small group after which the node logs a warning.
    pub flag_after: u32,
    /// Distinct queries reaching one small group after which the node refuses more.
    pub refuse_after: u32,
    /// Days the watch remembers a query.
    pub window_days: u32,
}

/// The most distinct queries on one small group a node may allow: averaging attacks on
/// sticky noise need about 30.
pub const CEILING_OVERLAP_REFUSE_AFTER: u32 = 25;

impl Default for OverlapConfig {
    fn default() -> Self {
        OverlapConfig {
            small_group: 50,
            flag_after: 10,
            refuse_after: CEILING_OVERLAP_REFUSE_AFTER,
            window_days: 30,
        }
    }
}

/// The convention's validity (Art. 6): nothing is released outside it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ConventionConfig {
    /// First day of validity, AAAA-MM-JJ.
    pub start: String,
    /// Last day of validity, AAAA-MM-JJ.
    pub end: String,
    /// Avenants extending the convention, each with its new last day and its reference.
    pub avenants: Vec<Avenant>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Avenant {
    pub end: String,
    pub reference: String,
}

impl Default for ConventionConfig {
    fn default() -> Self {
        ConventionConfig {
            start: "2023-01-01".into(),
            end: "2026-12-31".into(),
            avenants: Vec::new(),
        }
    }
}

fn date(s: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

impl ConventionConfig {
    /// The first and last day of validity, avenants included (checked at load).
    pub fn validity(&self) -> (chrono::NaiveDate, chrono::NaiveDate) {
        let start = date(&self.start).unwrap_or(chrono::NaiveDate::MAX);
        let end = self
            .avenants
            .iter()
            .filter_map(|a| date(&a.end))
            .chain(date(&self.end))
            .max()
            .unwrap_or(chrono::NaiveDate::MIN);
        (start, end)
    }
}

/// Floor of the p% rule.
pub const FLOOR_DOMINANCE_P: f64 = 0.10;
/// Ceiling of the employer dominance share (INSEE's (1, 85%)): a node may only lower it.
pub const CEILING_EMPLOYER_DOMINANCE: f64 = 0.85;

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            min_agents_per_cell: FLOOR_MIN_AGENTS,
            min_employers_per_cell: FLOOR_MIN_EMPLOYERS,
            max_group_by: CEILING_MAX_GROUP_BY,
            dominance_p: FLOOR_DOMINANCE_P,
            employer_dominance: CEILING_EMPLOYER_DOMINANCE,
            max_cells_per_analyst_per_day: 20_000,
            perturbation: PerturbationConfig::default(),
            convention: ConventionConfig::default(),
            datasets: BTreeMap::new(),
            overlap: OverlapConfig::default(),
        }
    }
}

/// The cell key method's parameters (see `disclosure/noise.rs`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PerturbationConfig {
    /// Largest noise added to a count (D).
    pub max_noise: u32,
    /// Variance of the count noise (V).
    pub variance: f64,
    /// A sum moves by up to this share of the cell's largest contribution.
    pub magnitude_noise: f64,
}

/// Floors of the perturbation: a node may add more noise, never less.
pub const FLOOR_MAX_NOISE: u32 = 2;
pub const FLOOR_VARIANCE: f64 = 1.0;
/// Below 2, subtracting two sums whose populations differ by one agent would give that agent's
/// value within 10% more than 5% of the time (see `disclosure/noise.rs`).
pub const FLOOR_MAGNITUDE_NOISE: f64 = 2.0;
/// Above 5, sums of small cells would mean little.
pub const CEILING_MAGNITUDE_NOISE: f64 = 5.0;

impl Default for PerturbationConfig {
    fn default() -> Self {
        PerturbationConfig {
            max_noise: 4,
            variance: 2.0,
            magnitude_noise: 3.0,
        }
    }
}

impl PolicyConfig {
    /// Whether studies may group by or filter on `dimension` of `dataset`.
    pub fn allows_dimension(&self, dataset: &str, dimension: &str) -> bool {
        self.allowed(dataset, |d| d.dimensions.as_ref(), dimension)
    }

    /// Whether studies may sum or average `measure` of `dataset`.
    pub fn allows_measure(&self, dataset: &str, measure: &str) -> bool {
        self.allowed(dataset, |d| d.measures.as_ref(), measure)
    }

    fn allowed(
        &self,
        dataset: &str,
        list: impl Fn(&DatasetPolicy) -> Option<&Vec<String>>,
        name: &str,
    ) -> bool {
        match self.datasets.get(dataset).and_then(list) {
            Some(allowed) => allowed.iter().any(|a| a == name),
            None => true,
        }
    }

    /// Checks every setting against the project's floors; `invalid` names the key.
    pub(super) fn validate(
        &self,
        invalid: &dyn Fn(&'static str, String) -> SettingsError,
    ) -> Result<(), SettingsError> {
        let p = self;
        p.validate_datasets(invalid)?;
        let o = &p.overlap;
        if o.small_group < p.min_agents_per_cell {
            return Err(invalid(
                "policy.overlap.small_group",
                format!(
                    "is {}, expected at least min_agents_per_cell ({})",
                    o.small_group, p.min_agents_per_cell
                ),
            ));
        }
        if !(1..=CEILING_OVERLAP_REFUSE_AFTER).contains(&o.refuse_after) {
            return Err(invalid(
                "policy.overlap.refuse_after",
                format!(
                    "is {}, expected 1 to {CEILING_OVERLAP_REFUSE_AFTER}",
                    o.refuse_after
                ),
            ));
        }
        if o.flag_after == 0 || o.flag_after > o.refuse_after {
            return Err(invalid(
                "policy.overlap.flag_after",
                format!(
                    "is {}, expected 1 to refuse_after ({})",
                    o.flag_after, o.refuse_after
                ),
            ));
        }
        if o.window_days == 0 {
            return Err(invalid(
                "policy.overlap.window_days",
                "must be at least 1".to_string(),
            ));
        }
        if p.min_agents_per_cell < FLOOR_MIN_AGENTS {
            return Err(invalid(
                "policy.min_agents_per_cell",
                format!(
                    "is {}, below the project's floor of {FLOOR_MIN_AGENTS}: a node may tighten the threshold, never loosen it",
                    p.min_agents_per_cell
                ),
            ));
        }
        if p.min_employers_per_cell < FLOOR_MIN_EMPLOYERS {
            return Err(invalid(
                "policy.min_employers_per_cell",
                format!(
                    "is {}, below the project's floor of {FLOOR_MIN_EMPLOYERS}",
                    p.min_employers_per_cell
                ),
            ));
        }
        if p.max_group_by == 0 || p.max_group_by > CEILING_MAX_GROUP_BY {
            return Err(invalid(
                "policy.max_group_by",
                format!(
                    "is {}, expected 1 to {CEILING_MAX_GROUP_BY}",
                    p.max_group_by
                ),
            ));
        }
        if !(FLOOR_DOMINANCE_P..=1.0).contains(&p.dominance_p) {
            return Err(invalid(
                "policy.dominance_p",
                format!(
                    "is {}, expected between the floor {FLOOR_DOMINANCE_P} and 1",
                    p.dominance_p
                ),
            ));
        }
        if !(0.5..=CEILING_EMPLOYER_DOMINANCE).contains(&p.employer_dominance) {
            return Err(invalid(
                "policy.employer_dominance",
                format!(
                    "is {}, expected between 0.5 and the ceiling {CEILING_EMPLOYER_DOMINANCE}",
                    p.employer_dominance
                ),
            ));
        }
        if p.max_cells_per_analyst_per_day == 0 {
            return Err(invalid(
                "policy.max_cells_per_analyst_per_day",
                "must be at least 1".to_string(),
            ));
        }
        let c = &p.convention;
        for (key, value) in [
            ("policy.convention.start", &c.start),
            ("policy.convention.end", &c.end),
        ]
        .into_iter()
        .chain(
            c.avenants
                .iter()
                .map(|a| ("policy.convention.avenants.end", &a.end)),
        ) {
            if date(value).is_none() {
                return Err(invalid(key, format!("{value:?} is not a date AAAA-MM-JJ")));
            }
        }
        if let (Some(start), Some(end)) = (date(&c.start), date(&c.end))
            && end < start
        {
            return Err(invalid(
                "policy.convention.end",
                format!("{end} comes before the start {start}"),
            ));
        }
        let n = &p.perturbation;
        if n.max_noise < FLOOR_MAX_NOISE || n.max_noise >= p.min_agents_per_cell {
            return Err(invalid(
                "policy.perturbation.max_noise",
                format!(
                    "is {}, expected at least {FLOOR_MAX_NOISE} and below min_agents_per_cell",
                    n.max_noise
                ),
            ));
        }
        let d2 = f64::from(n.max_noise).powi(2);
        if !(FLOOR_VARIANCE..=d2 / 2.0).contains(&n.variance) {
            return Err(invalid(
                "policy.perturbation.variance",
                format!(
                    "is {}, expected between {FLOOR_VARIANCE} and max_noise²/2 = {}",
                    n.variance,
                    d2 / 2.0
                ),
            ));
        }
        if !(FLOOR_MAGNITUDE_NOISE..=CEILING_MAGNITUDE_NOISE).contains(&n.magnitude_noise) {
            return Err(invalid(
                "policy.perturbation.magnitude_noise",
                format!(
                    "is {}, expected between {FLOOR_MAGNITUDE_NOISE} and {CEILING_MAGNITUDE_NOISE}",
                    n.magnitude_noise
                ),
            ));
        }
        Ok(())
    }
}

impl PolicyConfig {
    /// Every dataset, dimension and measure named in `[policy.datasets]` is in the catalogue.
    fn validate_datasets(
        &self,
        invalid: &dyn Fn(&'static str, String) -> SettingsError,
    ) -> Result<(), SettingsError> {
        for (name, allowed) in &self.datasets {
            let Some(dataset) = catalogue::dataset(name) else {
                return Err(invalid(
                    "policy.datasets",
                    format!(
                        "names the unknown dataset {name:?}; datasets are {}",
                        catalogue::dataset_names().join(", ")
                    ),
                ));
            };
            let lists = [
                (
                    "policy.datasets.<dataset>.dimensions",
                    &allowed.dimensions,
                    dataset.dimension_names(),
                ),
                (
                    "policy.datasets.<dataset>.measures",
                    &allowed.measures,
                    dataset.measure_names(),
                ),
            ];
            for (key, list, known) in lists {
                for item in list.iter().flatten() {
                    if !known.contains(&item.as_str()) {
                        return Err(invalid(
                            key,
                            format!(
                                "{name}: {item:?} is not in the catalogue; expected some of {}",
                                known.join(", ")
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}
