//! Studies: the TOML file the chargé.e de mission writes, its canonical form and its digest.
//!
//! A study is immutable once submitted: its id and digest are derived from a canonical JSON
//! encoding (sorted keys, normalized values), so the same content always has the same digest.
//! The coordinator sends that encoding with every query, so that each node can recompute the
//! digest its director signed and check that the query is one of the study's.

use std::collections::BTreeMap;

use crate::cdg::Cdg;
use crate::fields::{
    DIFFUSION_TERMS, QUERY_NAME, QUERY_TITLE, STUDY_PURPOSE, STUDY_TITLE, TooLarge,
};
use crate::indicator::Indicator;
use crate::query::{Aggregate, AggregateQuery, Filter, Measure};
use crate::text;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Largest number of queries in one study.
pub const MAX_QUERIES: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Diffusion {
    /// Results stay within the five CDGs.
    Interne,
    /// Results are diffused beyond the five CDGs, under `diffusion_terms`.
    Externe,
}

/// A filter value as written in TOML: `annee = 2024`, `sexe = "F"`, `filiere = ["sociale", "animation"]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum FilterValue {
    Text(String),
    Int(i64),
    List(Vec<Scalar>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Int(i64),
}

impl Scalar {
    fn into_string(self) -> String {
        match self {
            Scalar::Text(s) => s,
            Scalar::Int(i) => i.to_string(),
        }
    }
}

/// `quorum = 3` or `quorum = "tous"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum QuorumFile {
    Count(i64),
    Word(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StudyFile {
    title: String,
    purpose: String,
    diffusion: Diffusion,
    #[serde(default)]
    diffusion_terms: Option<String>,
    #[serde(default)]
    departements: Option<Vec<Cdg>>,
    #[serde(default)]
    quorum: Option<QuorumFile>,
    #[serde(rename = "query")]
    queries: Vec<QueryFile>,
    #[serde(default, rename = "indicator")]
    indicators: Vec<crate::indicator::IndicatorFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryFile {
    name: String,
    #[serde(default)]
    title: Option<String>,
    dataset: String,
    #[serde(default)]
    group_by: Vec<String>,
    measures: Vec<Measure>,
    #[serde(default)]
    filters: BTreeMap<String, FilterValue>,
}

/// One named query of a study.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StudyQuery {
    pub name: String,
    pub title: String,
    pub query: AggregateQuery,
}

/// A study in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Study {
    pub title: String,
    pub purpose: String,
    pub diffusion: Diffusion,
    pub diffusion_terms: Option<String>,
    pub departements: Vec<Cdg>,
    /// Départements that must answer for a run to give a result (absent: any number).
    /// Left out of the encoding when absent, so that older studies keep their digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<usize>,
    pub queries: Vec<StudyQuery>,
    /// Figures derived from the queries' released cells. Left out of the encoding when there
    /// are none, so that older studies keep their digest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indicators: Vec<Indicator>,
}

#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    #[error("study file is not valid: {0}")]
    Parse(String),
    #[error("study file: {0}")]
    Invalid(String),
}

impl Study {
    /// Parses and normalizes a study file.
    pub fn from_toml(text: &str) -> Result<Study, StudyError> {
        let file: StudyFile = toml::from_str(text).map_err(|e| parse_error(text, &e))?;
        let invalid = |m: String| Err(StudyError::Invalid(m));
        let too_large = |e: TooLarge| StudyError::Invalid(e.to_string());
        STUDY_TITLE.check(&file.title).map_err(too_large)?;
        STUDY_PURPOSE.check(&file.purpose).map_err(too_large)?;
        if let Some(terms) = &file.diffusion_terms {
            DIFFUSION_TERMS.check(terms).map_err(too_large)?;
        }
        for title in file.queries.iter().filter_map(|q| q.title.as_deref()) {
            QUERY_TITLE.check(title).map_err(too_large)?;
        }
        if file.title.trim().is_empty() {
            return invalid("`title` is empty".into());
        }
        if file.purpose.trim().is_empty() {
            return invalid("`purpose` is empty: say what the study is for".into());
        }
        if file.diffusion == Diffusion::Externe
            && file
                .diffusion_terms
                .as_deref()
                .is_none_or(|t| t.trim().is_empty())
        {
            return invalid(
                "an external study (diffusion = \"externe\") needs `diffusion_terms`".into(),
            );
        }
        if file.queries.is_empty() {
            return invalid("no [[query]]: a study needs at least one".into());
        }
        if file.queries.len() > MAX_QUERIES {
            return invalid(format!(
                "{} queries; at most {MAX_QUERIES} per study",
                file.queries.len()
            ));
        }
        let mut departements = file.departements.unwrap_or_else(|| Cdg::ALL.to_vec());
        departements.sort();
        departements.dedup();
        if departements.is_empty() {
            return invalid("`departements` is empty".into());
        }
        let asked = departements.len();
        let quorum = match file.quorum {
            None => None,
            Some(QuorumFile::Word(w)) if w == "tous" => Some(asked),
            Some(QuorumFile::Count(n)) if (1..=asked as i64).contains(&n) => Some(n as usize),
            Some(q) => {
                let q = match q {
                    QuorumFile::Count(n) => n.to_string(),
                    QuorumFile::Word(w) => text::quote(&w),
                };
                return invalid(format!(
                    "quorum {q}: expected \"tous\" or a number from 1 to the {asked} départements asked"
                ));
            }
        };
        let mut queries = Vec::new();
        for q in file.queries {
            check_name("query", &q.name).map_err(StudyError::Invalid)?;
            // Each table becomes a file `<name>.csv`: names that differ only by case would be
            // one file on the CDGs' Windows machines.
            if let Some(x) = queries
                .iter()
                .find(|x: &&StudyQuery| x.name.eq_ignore_ascii_case(&q.name))
            {
                return invalid(format!(
                    "two queries are named {:?} and {:?} (one file on Windows, where case does \
                     not count)",
                    x.name, q.name
                ));
            }
            if q.measures.is_empty() {
                return invalid(format!("query {:?} has no measures", q.name));
            }
            let filters = q
                .filters
                .into_iter()
                .map(|(dimension, v)| {
                    let values = match v {
                        FilterValue::Text(s) => vec![s],
                        FilterValue::Int(i) => vec![i.to_string()],
                        FilterValue::List(l) => l.into_iter().map(Scalar::into_string).collect(),
                    };
                    Filter { dimension, values }
                })
                .collect::<Vec<_>>();
            if let Some(f) = filters.iter().find(|f| f.values.is_empty()) {
                return invalid(format!(
                    "query {:?}: filter on {} has no value",
                    q.name,
                    text::quote(&f.dimension)
                ));
            }
            let query = AggregateQuery {
                dataset: q.dataset,
                group_by: q.group_by,
                measures: q.measures,
                filters,
            };
            // What the catalogue decides is checked now, before anyone is asked to approve.
            if let Err(problem) = crate::catalogue::check_query(&query) {
                return invalid(format!("query {:?}: {problem}", q.name));
            }
            queries.push(StudyQuery {
                title: q.title.unwrap_or_else(|| q.name.clone()),
                name: q.name,
                query,
            });
        }
        let indicators = crate::indicator::resolve_all(file.indicators, &queries)
            .map_err(StudyError::Invalid)?;
        Ok(Study {
            indicators,
            title: file.title,
            purpose: file.purpose,
            diffusion: file.diffusion,
            diffusion_terms: file.diffusion_terms,
            departements,
            quorum,
            queries,
        })
    }

    /// The canonical encoding the digest is computed over.
    pub fn canonical(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("studies always serialize")
    }

    /// SHA-256 of the canonical encoding, hex.
    pub fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.canonical()))
    }

    /// The study's id: `S-` and the first 12 hex digits of its digest.
    pub fn id(&self) -> String {
        format!("S-{}", text::prefix(&self.digest(), 12))
    }
}

/// Checks the name of a query or indicator: it names a table and a file.
pub(crate) fn check_name(what: &str, name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= QUERY_NAME.max
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{what} name {} must be 1-{} letters, digits, '_' or '-'",
            text::quote(name),
            QUERY_NAME.max
        ))
    }
}

/// A TOML error as its position and its message, without the source line toml quotes (a
/// study file may hold a line of any length).
fn parse_error(source: &str, e: &toml::de::Error) -> StudyError {
    let at = e.span().map_or(String::new(), |span| {
        let before = source.get(..span.start).unwrap_or(source);
        let line = before.matches('\n').count() + 1;
        let column = before.chars().rev().take_while(|&c| c != '\n').count() + 1;
        format!("line {line}, column {column}: ")
    });
    StudyError::Parse(format!("{at}{}", text::bounded(e.message(), 512)))
}

impl StudyQuery {
    /// The query as the coordinator sends it: a mean always comes with its count, so that
    /// regional means can be weighted.
    pub fn effective(&self) -> StudyQuery {
        let mut q = self.clone();
        let measures = &q.query.measures;
        let has_mean = measures.iter().any(|m| m.aggregate == Aggregate::Mean);
        let has_count = measures.iter().any(|m| m.aggregate == Aggregate::Count);
        if has_mean && !has_count {
            q.query.measures.insert(0, Measure::count());
        }
        q
    }
}
