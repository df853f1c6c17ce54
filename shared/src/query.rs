//! The query model: one aggregate query, as node and coordinator both understand it.
//!
//! Converted from and to the wire types in exactly one place (this module), so a missing field
//! becomes an error that names it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::proto::v1;

/// The most dimensions a query may group by or filter on, together (a node's policy may allow
/// fewer).
pub const MAX_DIMENSIONS: u32 = 4;

/// Name of the column that tells, for each cell, whether it is released.
pub const DIFFUSION_COLUMN: &str = "diffusion";
/// Value of [`DIFFUSION_COLUMN`] for a released cell.
pub const RELEASED: &str = "diffusé";

/// What a node's answer says of a cell in [`DIFFUSION_COLUMN`]: released, or the rule that
/// keeps it secret. Code speaks of this enum; the text is the wire's and the tables' (French,
/// as the reports print it), converted in [`Diffusion::as_str`] and [`Diffusion::parse`] only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Diffusion {
    Released,
    /// Fewer distinct units than the threshold, or a perturbed count below it.
    Threshold,
    /// A magnitude cell with too few distinct employers.
    Employers,
    /// A magnitude cell one or two contributions dominate (p% rule).
    Dominance,
    /// A magnitude cell one employer dominates ((1, k%) rule).
    EmployerDominance,
    /// The only cell of its group in a sensitive dimension: releasing it would say that every
    /// unit of the group has that value.
    WholeGroup,
}

impl Diffusion {
    pub const ALL: [Diffusion; 6] = [
        Diffusion::Released,
        Diffusion::Threshold,
        Diffusion::Employers,
        Diffusion::Dominance,
        Diffusion::EmployerDominance,
        Diffusion::WholeGroup,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Diffusion::Released => RELEASED,
            Diffusion::Threshold => "secret: seuil",
            Diffusion::Employers => "secret: employeurs",
            Diffusion::Dominance => "secret: dominance",
            Diffusion::EmployerDominance => "secret: dominance employeur",
            Diffusion::WholeGroup => "secret: cellule 100%",
        }
    }

    /// The status a cell's text names, if any.
    pub fn parse(text: &str) -> Option<Diffusion> {
        Diffusion::ALL.into_iter().find(|d| d.as_str() == text)
    }

    pub fn is_released(self) -> bool {
        self == Diffusion::Released
    }
}

impl fmt::Display for Diffusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
/// Name of the column the coordinator adds to say which département a row is about.
pub const DEPARTEMENT_COLUMN: &str = "departement";
/// [`DEPARTEMENT_COLUMN`] value of the regional rows.
pub const REGION: &str = "Hauts-de-France";

/// Orders dimension values as people read them: bands by their first number ("<25" before
/// "25-29" before "65+", "1-9" before "10-19"), years numerically, other labels alphabetically.
pub fn natural_order(a: &str, b: &str) -> std::cmp::Ordering {
    fn key(s: &str) -> (u8, u64, &str) {
        let (rank, rest) = match s.strip_prefix('<') {
            Some(rest) => (0, rest),
            None => (1, s),
        };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        match digits.parse::<u64>() {
            Ok(n) => (rank, n, s),
            Err(_) => (2, 0, s),
        }
    }
    key(a).cmp(&key(b))
}

/// [`natural_order`] applied element by element.
pub fn natural_order_all(a: &[String], b: &[String]) -> std::cmp::Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| natural_order(x, y))
        .find(|o| o.is_ne())
        .unwrap_or_else(|| a.len().cmp(&b.len()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregate {
    Count,
    Sum,
    Mean,
}

/// One measure of a query: `count`, `sum(col)` or `mean(col)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Measure {
    pub aggregate: Aggregate,
    /// Empty for `count`.
    pub column: String,
}

impl Measure {
    pub fn count() -> Self {
        Measure {
            aggregate: Aggregate::Count,
            column: String::new(),
        }
    }

    /// Name of the result column: `nombre`, `somme_<col>`, `moyenne_<col>`.
    pub fn output_name(&self) -> String {
        match self.aggregate {
            Aggregate::Count => "nombre".to_string(),
            Aggregate::Sum => format!("somme_{}", self.column),
            Aggregate::Mean => format!("moyenne_{}", self.column),
        }
    }
}

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.aggregate {
            Aggregate::Count => f.write_str("count"),
            Aggregate::Sum => write!(f, "sum({})", self.column),
            Aggregate::Mean => write!(f, "mean({})", self.column),
        }
    }
}

impl FromStr for Measure {
    type Err = QueryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s == "count" {
            return Ok(Measure::count());
        }
        let bad = || QueryError::BadMeasure(s.to_string());
        let (func, rest) = s.split_once('(').ok_or_else(bad)?;
        let column = rest.strip_suffix(')').ok_or_else(bad)?.trim();
        if column.is_empty() {
            return Err(bad());
        }
        let aggregate = match func.trim() {
            "sum" => Aggregate::Sum,
            "mean" => Aggregate::Mean,
            _ => return Err(bad()),
        };
        Ok(Measure {
            aggregate,
            column: column.to_string(),
        })
    }
}

impl TryFrom<String> for Measure {
    type Error = QueryError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Measure> for String {
    fn from(m: Measure) -> String {
        m.to_string()
    }
}

/// An equality (one value) or IN (several values) filter on a dimension.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Filter {
    pub dimension: String,
    pub values: Vec<String>,
}

/// One aggregate query over one dataset.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AggregateQuery {
    pub dataset: String,
    pub group_by: Vec<String>,
    pub measures: Vec<Measure>,
    pub filters: Vec<Filter>,
}

impl AggregateQuery {
    /// The schema of a node's answer: the group-by columns (text), [`DIFFUSION_COLUMN`], then one
    /// column per measure (`nombre` as Int64, sums and means as Float64; null when suppressed).
    pub fn result_schema(&self) -> SchemaRef {
        let mut fields: Vec<Field> = self
            .group_by
            .iter()
            .map(|d| Field::new(d, DataType::Utf8, false))
            .collect();
        fields.push(Field::new(DIFFUSION_COLUMN, DataType::Utf8, false));
        for m in &self.measures {
            let ty = if m.aggregate == Aggregate::Count {
                DataType::Int64
            } else {
                DataType::Float64
            };
            fields.push(Field::new(m.output_name(), ty, true));
        }
        Arc::new(Schema::new(fields))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("missing field `{0}` in the query")]
    MissingField(&'static str),
    #[error("bad measure {}: expected count, sum(<column>) or mean(<column>)", crate::text::quote(.0))]
    BadMeasure(String),
    #[error("filter on {} has no value", crate::text::quote(.0))]
    EmptyFilter(String),
    #[error("{0}")]
    TooLarge(#[from] crate::fields::TooLarge),
}

impl TryFrom<v1::AggregateQuery> for AggregateQuery {
    type Error = QueryError;

    fn try_from(q: v1::AggregateQuery) -> Result<Self, Self::Error> {
        crate::fields::check_query(&q)?;
        if q.dataset.is_empty() {
            return Err(QueryError::MissingField("dataset"));
        }
        if q.measures.is_empty() {
            return Err(QueryError::MissingField("measures"));
        }
        let measures = q
            .measures
            .into_iter()
            .map(|m| {
                let aggregate = match v1::Aggregate::try_from(m.aggregate) {
                    Ok(v1::Aggregate::Count) => return Ok(Measure::count()),
                    Ok(v1::Aggregate::Sum) => Aggregate::Sum,
                    Ok(v1::Aggregate::Mean) => Aggregate::Mean,
                    _ => return Err(QueryError::MissingField("measures.aggregate")),
                };
                if m.column.is_empty() {
                    return Err(QueryError::MissingField("measures.column"));
                }
                Ok(Measure {
                    aggregate,
                    column: m.column,
                })
            })
            .collect::<Result<_, _>>()?;
        let filters = q
            .filters
            .into_iter()
            .map(|f| {
                if f.dimension.is_empty() {
                    return Err(QueryError::MissingField("filters.dimension"));
                }
                if f.values.is_empty() {
                    return Err(QueryError::EmptyFilter(f.dimension));
                }
                Ok(Filter {
                    dimension: f.dimension,
                    values: f.values,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(AggregateQuery {
            dataset: q.dataset,
            group_by: q.group_by,
            measures,
            filters,
        })
    }
}

impl From<&AggregateQuery> for v1::AggregateQuery {
    fn from(q: &AggregateQuery) -> Self {
        v1::AggregateQuery {
            dataset: q.dataset.clone(),
            group_by: q.group_by.clone(),
            measures: q
                .measures
                .iter()
                .map(|m| v1::Measure {
                    aggregate: match m.aggregate {
                        Aggregate::Count => v1::Aggregate::Count,
                        Aggregate::Sum => v1::Aggregate::Sum,
                        Aggregate::Mean => v1::Aggregate::Mean,
                    } as i32,
                    column: m.column.clone(),
                })
                .collect(),
            filters: q
                .filters
                .iter()
                .map(|f| v1::Filter {
                    dimension: f.dimension.clone(),
                    values: f.values.clone(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_sort_as_read() {
        let mut ages = vec!["65+", "25-29", "<25", "60-64", "30-34"];
        ages.sort_by(|a, b| natural_order(a, b));
        assert_eq!(ages, ["<25", "25-29", "30-34", "60-64", "65+"]);
        let mut sizes = vec!["1000 et plus", "10-19", "1-9", "100-349"];
        sizes.sort_by(|a, b| natural_order(a, b));
        assert_eq!(sizes, ["1-9", "10-19", "100-349", "1000 et plus"]);
        let mut labels = vec!["technique", "administrative", "2024", "2023"];
        labels.sort_by(|a, b| natural_order(a, b));
        assert_eq!(labels, ["2023", "2024", "administrative", "technique"]);
    }

    #[test]
    fn measures_parse_and_print() {
        for s in ["count", "sum(etpr)", "mean(remuneration_brute_annuelle)"] {
            assert_eq!(s.parse::<Measure>().unwrap().to_string(), s);
        }
        for bad in ["max(etpr)", "sum()", "sum(etpr", "etpr", ""] {
            assert!(bad.parse::<Measure>().is_err(), "{bad}");
        }
    }

    #[test]
    fn wire_round_trip_and_missing_fields() {
        let q = AggregateQuery {
            dataset: "agents".into(),
            group_by: vec!["sexe".into()],
            measures: vec![Measure::count(), "mean(etpr)".parse().unwrap()],
            filters: vec![Filter {
                dimension: "annee".into(),
                values: vec!["2024".into()],
            }],
        };
        let wire = v1::AggregateQuery::from(&q);
        assert_eq!(AggregateQuery::try_from(wire.clone()).unwrap(), q);
        let mut no_measure = wire.clone();
        no_measure.measures.clear();
        assert_eq!(
            AggregateQuery::try_from(no_measure),
            Err(QueryError::MissingField("measures"))
        );
        let mut empty_filter = wire;
        empty_filter.filters[0].values.clear();
        assert!(matches!(
            AggregateQuery::try_from(empty_filter),
            Err(QueryError::EmptyFilter(_))
        ));
    }
}
