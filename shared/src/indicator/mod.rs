//! Indicators of a study: figures the coordinator derives from the released cells of its
//! queries (ratios, rates per agent-year, shares, changes between years, indices).
//!
//! They are part of the study the directors sign, so they are checked, like the queries,
//! when the file is read: an unknown query, measure or dimension is refused then, named, with
//! the near miss when there is one.
//!
//! ```toml
//! [[indicator]]
//! name = "tension"
//! title = "Demandes d'emploi par offre, par métier"
//! kind = "ratio"
//! numerator = "demandes_metier.count"
//! denominator = "offres_metier.count"
//! ```

use serde::{Deserialize, Serialize};

use crate::catalogue::did_you_mean;
use crate::query::Measure;
use crate::study::StudyQuery;
use crate::text;

/// Largest number of indicators in one study.
pub const MAX_INDICATORS: usize = 50;
/// The year dimension that changes and indices move along.
pub const YEAR: &str = "annee";
/// The dataset whose counts are agent-years: the denominator of a rate.
pub const AGENT_YEARS: &str = "agents";
/// The kinds, as a study file names them.
pub const KINDS: [&str; 6] = ["ratio", "rate", "share", "change", "change_pct", "index"];

/// A measure of a query: `offres_metier.count`, `absences.sum(jours_calendaires)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MeasureRef {
    pub query: String,
    pub measure: Measure,
}

impl TryFrom<String> for MeasureRef {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let (query, measure) = s.split_once('.').ok_or_else(|| {
            format!(
                "{} should name a query and one of its measures, as in \"effectifs.count\" or \
                 \"absences.sum(jours_calendaires)\"",
                text::quote(&s)
            )
        })?;
        let measure = measure
            .parse::<Measure>()
            .map_err(|e| format!("{}: {e}", text::quote(&s)))?;
        Ok(MeasureRef {
            query: query.to_string(),
            measure,
        })
    }
}

impl From<MeasureRef> for String {
    fn from(r: MeasureRef) -> String {
        r.to_string()
    }
}

impl std::fmt::Display for MeasureRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.query, self.measure)
    }
}

/// A multiplier (100 for a percentage, 100/365 for days per agent-year as a rate); equal when
/// its bits are.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Scale(pub f64);

impl PartialEq for Scale {
    fn eq(&self, other: &Scale) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}
impl Eq for Scale {}

/// What an indicator computes, in the study's canonical encoding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IndicatorKind {
    /// The sum of `numerator`'s measures over `denominator`'s, times `scale`, each cell matched
    /// with the denominator's cell of the same values on the dimensions they share.
    Ratio {
        numerator: Vec<MeasureRef>,
        denominator: MeasureRef,
        scale: Scale,
    },
    /// A ratio whose denominator counts agent-years (the `agents` dataset).
    Rate {
        numerator: Vec<MeasureRef>,
        denominator: MeasureRef,
        scale: Scale,
    },
    /// Each cell's share (%) of the total of its département over the other dimensions than
    /// `within`.
    Share { of: MeasureRef, within: Vec<String> },
    /// The change since `base` (a year), in value.
    Change { of: MeasureRef, base: i64 },
    /// The change since `base`, in %.
    ChangePct { of: MeasureRef, base: i64 },
    /// Base 100 in `base`.
    Index { of: MeasureRef, base: i64 },
}

/// One indicator of a study.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Indicator {
    pub name: String,
    pub title: String,
    #[serde(flatten)]
    pub kind: IndicatorKind,
}

/// `numerator = "a.count"` or `numerator = ["a.count", "b.count"]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// `scale = 100` or `scale = "100/365"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ScaleFile {
    Number(f64),
    Int(i64),
    Text(String),
}

/// An indicator as the study file writes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IndicatorFile {
    name: String,
    #[serde(default)]
    title: Option<String>,
    kind: String,
    #[serde(default)]
    numerator: Option<OneOrMany>,
    #[serde(default)]
    denominator: Option<String>,
    #[serde(default)]
    of: Option<String>,
    #[serde(default)]
    within: Option<Vec<String>>,
    #[serde(default)]
    base: Option<i64>,
    #[serde(default)]
    scale: Option<ScaleFile>,
}

fn parse_scale(s: &ScaleFile) -> Result<f64, String> {
    let value = match s {
        ScaleFile::Number(x) => *x,
        ScaleFile::Int(i) => *i as f64,
        ScaleFile::Text(t) => {
            let parsed = match t.split_once('/') {
                Some((a, b)) => a
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .zip(b.trim().parse::<f64>().ok())
                    .map(|(a, b)| a / b),
                None => t.trim().parse::<f64>().ok(),
            };
            parsed.ok_or_else(|| {
                format!(
                    "scale {}: expected a number or a fraction such as \"100/365\"",
                    text::quote(t)
                )
            })?
        }
    };
    if value.is_finite() && value != 0.0 {
        Ok(value)
    } else {
        Err("scale must be a finite number other than 0".into())
    }
}

impl IndicatorFile {
    /// Checks the indicator against the study's queries and gives its canonical form.
    pub(crate) fn resolve(self, queries: &[StudyQuery]) -> Result<Indicator, String> {
        let name = self.name.clone();
        let within = |m: String| format!("indicator {}: {m}", text::quote(&name));
        self.resolve_kind(queries)
            .map(|kind| Indicator {
                title: self.title.unwrap_or_else(|| self.name.clone()),
                name: self.name,
                kind,
            })
            .map_err(within)
    }

    fn resolve_kind(&self, queries: &[StudyQuery]) -> Result<IndicatorKind, String> {
        let required = |field: &str, value: bool| {
            if value {
                Ok(())
            } else {
                Err(format!("a {} indicator needs `{field}`", self.kind))
            }
        };
        let refuse = |field: &str, present: bool| {
            if present {
                Err(format!("a {} indicator takes no `{field}`", self.kind))
            } else {
                Ok(())
            }
        };
        let reference = |s: &str| resolve_ref(s, queries);
        match self.kind.as_str() {
            "ratio" | "rate" => {
                required("numerator", self.numerator.is_some())?;
                required("denominator", self.denominator.is_some())?;
                refuse("of", self.of.is_some())?;
                refuse("within", self.within.is_some())?;
                refuse("base", self.base.is_some())?;
                let terms = match self.numerator.as_ref() {
                    Some(OneOrMany::One(s)) => vec![s.clone()],
                    Some(OneOrMany::Many(l)) => l.clone(),
                    None => Vec::new(),
                };
                if terms.is_empty() {
                    return Err("`numerator` names no measure".into());
                }
                let numerator = terms
                    .iter()
                    .map(|t| reference(t))
                    .collect::<Result<Vec<_>, _>>()?;
                let denominator = reference(self.denominator.as_deref().unwrap_or_default())?;
                let scale = match &self.scale {
                    None => 1.0,
                    Some(s) => parse_scale(s)?,
                };
                let driving = query_of(queries, &numerator[0]);
                for term in numerator[1..].iter().chain(std::iter::once(&denominator)) {
                    let q = query_of(queries, term);
                    if let Some(extra) = q
                        .query
                        .group_by
                        .iter()
                        .find(|d| !driving.query.group_by.contains(d))
                    {
                        return Err(format!(
                            "{term} is split by {} but {} is not, so a cell of the one has no \
                             single cell of the other: group {} by {} too, or drop it from {}",
                            text::quote(extra),
                            numerator[0],
                            numerator[0].query,
                            text::quote(extra),
                            q.name
                        ));
                    }
                }
                if self.kind == "rate" {
                    let q = query_of(queries, &denominator);
                    if q.query.dataset != AGENT_YEARS {
                        return Err(format!(
                            "a rate is per agent-year: its denominator must be a measure of a \
                             query on the {AGENT_YEARS:?} dataset (such as effectifs.count or \
                             effectifs.sum(etpr)), not of {:?}; use kind = \"ratio\" otherwise",
                            q.query.dataset
                        ));
                    }
                    Ok(IndicatorKind::Rate {
                        numerator,
                        denominator,
                        scale: Scale(scale),
                    })
                } else {
                    Ok(IndicatorKind::Ratio {
                        numerator,
                        denominator,
                        scale: Scale(scale),
                    })
                }
            }
            "share" => {
                required("of", self.of.is_some())?;
                refuse("numerator", self.numerator.is_some())?;
                refuse("denominator", self.denominator.is_some())?;
                refuse("base", self.base.is_some())?;
                refuse("scale (a share is in %)", self.scale.is_some())?;
                let of = reference(self.of.as_deref().unwrap_or_default())?;
                let group_by = &query_of(queries, &of).query.group_by;
                let within = self.within.clone().unwrap_or_default();
                for w in &within {
                    if !group_by.contains(w) {
                        let candidates: Vec<&str> = group_by.iter().map(String::as_str).collect();
                        return Err(format!(
                            "`within` names {}, which {} is not grouped by{}; it is grouped by [{}]",
                            text::quote(w),
                            of.query,
                            did_you_mean(w, &candidates),
                            candidates.join(", ")
                        ));
                    }
                }
                if within.len() >= group_by.len() {
                    return Err(format!(
                        "a share needs a dimension of {} left to share out besides `within`; \
                         each cell would be 100% of itself",
                        of.query
                    ));
                }
                Ok(IndicatorKind::Share { of, within })
            }
            "change" | "change_pct" | "index" => {
                required("of", self.of.is_some())?;
                required("base (the reference year)", self.base.is_some())?;
                refuse("numerator", self.numerator.is_some())?;
                refuse("denominator", self.denominator.is_some())?;
                refuse("within", self.within.is_some())?;
                refuse("scale", self.scale.is_some())?;
                let of = reference(self.of.as_deref().unwrap_or_default())?;
                let base = self.base.unwrap_or_default();
                let query = &query_of(queries, &of).query;
                if !query.group_by.iter().any(|d| d == YEAR) {
                    return Err(format!(
                        "a change over years needs {} grouped by {YEAR:?}",
                        of.query
                    ));
                }
                if let Some(years) = query.filters.iter().find(|f| f.dimension == YEAR)
                    && !years.values.contains(&base.to_string())
                {
                    return Err(format!(
                        "base year {base} is not among the years {} asks for ({})",
                        of.query,
                        years.values.join(", ")
                    ));
                }
                Ok(match self.kind.as_str() {
                    "change" => IndicatorKind::Change { of, base },
                    "change_pct" => IndicatorKind::ChangePct { of, base },
                    _ => IndicatorKind::Index { of, base },
                })
            }
            other => Err(format!(
                "unknown kind {}{}: expected one of {}",
                text::quote(other),
                did_you_mean(other, &KINDS),
                KINDS.join(", ")
            )),
        }
    }
}

fn query_of<'a>(queries: &'a [StudyQuery], r: &MeasureRef) -> &'a StudyQuery {
    queries
        .iter()
        .find(|q| q.name == r.query)
        .expect("references are resolved against the queries first")
}

/// `query.measure`, checked: the query is one of the study's, the measure one of its measures.
fn resolve_ref(s: &str, queries: &[StudyQuery]) -> Result<MeasureRef, String> {
    let r = MeasureRef::try_from(s.to_string())?;
    let Some(q) = queries.iter().find(|q| q.name == r.query) else {
        let names: Vec<&str> = queries.iter().map(|q| q.name.as_str()).collect();
        return Err(format!(
            "no query is named {}{}: the study's queries are {}",
            text::quote(&r.query),
            did_you_mean(&r.query, &names),
            names.join(", ")
        ));
    };
    if !q.effective().query.measures.contains(&r.measure) {
        let measures: Vec<String> = q.query.measures.iter().map(|m| m.to_string()).collect();
        let candidates: Vec<&str> = measures.iter().map(String::as_str).collect();
        return Err(format!(
            "query {} has no measure {}{}: it measures {}",
            q.name,
            text::quote(&r.measure.to_string()),
            did_you_mean(&r.measure.to_string(), &candidates),
            measures.join(", ")
        ));
    }
    Ok(r)
}

/// Checks the study's indicators: names, kinds and references. Indicator names are distinct
/// from each other and from the query names, as each gives a table of that name.
pub(crate) fn resolve_all(
    files: Vec<IndicatorFile>,
    queries: &[StudyQuery],
) -> Result<Vec<Indicator>, String> {
    if files.len() > MAX_INDICATORS {
        return Err(format!(
            "{} indicators; at most {MAX_INDICATORS} per study",
            files.len()
        ));
    }
    let mut out: Vec<Indicator> = Vec::new();
    for f in files {
        crate::study::check_name("indicator", &f.name)?;
        let same = |name: &str| name.eq_ignore_ascii_case(&f.name);
        if queries.iter().any(|q| same(&q.name)) || out.iter().any(|i| same(&i.name)) {
            return Err(format!(
                "{} names two tables: give the indicator a name no query or other indicator has",
                text::quote(&f.name)
            ));
        }
        if let Some(title) = &f.title {
            crate::fields::QUERY_TITLE
                .check(title)
                .map_err(|e| e.to_string())?;
        }
        out.push(f.resolve(queries)?);
    }
    Ok(out)
}

impl Indicator {
    /// A ratio's or rate's numerator terms, denominator and scale.
    pub fn ratio(&self) -> Option<(&[MeasureRef], &MeasureRef, f64)> {
        match &self.kind {
            IndicatorKind::Ratio {
                numerator,
                denominator,
                scale,
            }
            | IndicatorKind::Rate {
                numerator,
                denominator,
                scale,
            } => Some((numerator, denominator, scale.0)),
            _ => None,
        }
    }

    /// The measures this indicator reads, the first being the one whose cells it follows.
    pub fn inputs(&self) -> Vec<&MeasureRef> {
        if let Some((numerator, denominator, _)) = self.ratio() {
            return numerator
                .iter()
                .chain(std::iter::once(denominator))
                .collect();
        }
        match &self.kind {
            IndicatorKind::Share { of, .. }
            | IndicatorKind::Change { of, .. }
            | IndicatorKind::ChangePct { of, .. }
            | IndicatorKind::Index { of, .. } => vec![of],
            IndicatorKind::Ratio { .. } | IndicatorKind::Rate { .. } => Vec::new(),
        }
    }

    /// What it computes, in words, for tables and reports.
    pub fn describe(&self) -> String {
        if let Some((numerator, denominator, scale)) = self.ratio() {
            let top: Vec<String> = numerator.iter().map(ToString::to_string).collect();
            let times = if scale == 1.0 {
                String::new()
            } else {
                let short = format!("{scale:.6}");
                format!(" × {}", short.trim_end_matches('0').trim_end_matches('.'))
            };
            return format!("({}) / {denominator}{times}", top.join(" + "));
        }
        match &self.kind {
            IndicatorKind::Ratio { .. } | IndicatorKind::Rate { .. } => String::new(),
            IndicatorKind::Share { of, within } if within.is_empty() => {
                format!("part de {of} dans le total du département (%)")
            }
            IndicatorKind::Share { of, within } => {
                format!("part de {of} dans le total par {} (%)", within.join(", "))
            }
            IndicatorKind::Change { of, base } => format!("évolution de {of} depuis {base}"),
            IndicatorKind::ChangePct { of, base } => {
                format!("évolution de {of} depuis {base} (%)")
            }
            IndicatorKind::Index { of, base } => format!("indice de {of}, base 100 en {base}"),
        }
    }
}

#[cfg(test)]
mod tests;
