//! A query checked against the catalogue alone: its dataset, dimensions, filter values and
//! measures exist. The `cdg` client and the coordinator check a study this way before anyone
//! is asked to approve it, and every node checks it again the same way (then against its own
//! policy) before answering, so a study that names something the catalogue does not have is
//! refused at submission with the same message a node would give.

use crate::query::{Aggregate, AggregateQuery, MAX_DIMENSIONS};
use crate::text;

use super::{Dataset, Values, dataset, dataset_names};

/// What is wrong with a query, as the catalogue sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    UnknownDataset(String),
    UnknownDimension(String),
    DimensionTwice(String),
    BadFilterValue(String),
    UnknownMeasure(String),
    TooManyDimensions(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::UnknownDataset(m)
            | Problem::UnknownDimension(m)
            | Problem::DimensionTwice(m)
            | Problem::BadFilterValue(m)
            | Problem::UnknownMeasure(m)
            | Problem::TooManyDimensions(m) => f.write_str(m),
        }
    }
}

/// The dataset `name` names, or the problem naming the datasets there are.
pub fn known_dataset(name: &str) -> Result<&'static Dataset, Problem> {
    dataset(name).ok_or_else(|| {
        Problem::UnknownDataset(format!(
            "unknown dataset {}{}: the catalogue holds {}",
            text::quote(name),
            did_you_mean(name, &dataset_names()),
            dataset_names().join(", ")
        ))
    })
}

impl Dataset {
    /// The dimension `name`, or the problem naming the dataset's dimensions.
    pub fn known_dimension(&self, name: &str) -> Result<&'static super::Dimension, Problem> {
        self.dimension(name).ok_or_else(|| {
            Problem::UnknownDimension(format!(
                "unknown dimension {} for dataset {}{}: allowed dimensions are {}",
                text::quote(name),
                self.name,
                did_you_mean(name, &self.dimension_names()),
                self.dimension_names().join(", ")
            ))
        })
    }

    /// The measure `name` (for a sum or a mean), or the problem naming the dataset's measures.
    pub fn known_measure(&self, name: &str) -> Result<&'static super::MeasureColumn, Problem> {
        self.measure(name).ok_or_else(|| {
            Problem::UnknownMeasure(format!(
                "unknown measure column {} for dataset {}{}: allowed are {}",
                text::quote(name),
                self.name,
                did_you_mean(name, &self.measure_names()),
                if self.measures.is_empty() {
                    "none (only count)".to_string()
                } else {
                    self.measure_names().join(", ")
                }
            ))
        })
    }
}

/// A filter value of a dimension whose values are `values`: the year it names, if a year.
pub fn filter_value(dimension: &str, values: Values, value: &str) -> Result<Option<i32>, Problem> {
    match values {
        Values::Years => value
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|y| (1900..=2100).contains(y))
            .map(Some)
            .ok_or_else(|| {
                Problem::BadFilterValue(format!(
                    "filter on {dimension:?}: {} is not a year (expected e.g. 2024)",
                    text::quote(value)
                ))
            }),
        Values::Codes(codes) if codes.contains(&value) => Ok(None),
        Values::Codes(codes) => Err(Problem::BadFilterValue(format!(
            "filter on {dimension:?}: unknown value {}{}; allowed values are {}",
            text::quote(value),
            did_you_mean(value, codes),
            codes.join(", ")
        ))),
    }
}

/// Checks everything of `q` the catalogue decides; the policy of each node decides the rest.
pub fn check_query(q: &AggregateQuery) -> Result<&'static Dataset, Problem> {
    let d = known_dataset(&q.dataset)?;
    let mut grouped = Vec::new();
    for name in &q.group_by {
        let dim = d.known_dimension(name)?;
        if grouped.contains(&dim.name) {
            return Err(Problem::DimensionTwice(format!(
                "dimension {name:?} appears twice in group_by"
            )));
        }
        grouped.push(dim.name);
    }
    let mut used = grouped.clone();
    for filter in &q.filters {
        let dim = d.known_dimension(&filter.dimension)?;
        for v in &filter.values {
            filter_value(dim.name, dim.values, v)?;
        }
        if !used.contains(&dim.name) {
            used.push(dim.name);
        }
    }
    if used.len() > MAX_DIMENSIONS as usize {
        return Err(Problem::TooManyDimensions(format!(
            "the query uses {} dimensions ({}); a query may group by or filter on at most \
             {MAX_DIMENSIONS} together",
            used.len(),
            used.join(", ")
        )));
    }
    for m in q
        .measures
        .iter()
        .filter(|m| m.aggregate != Aggregate::Count)
    {
        d.known_measure(&m.column)?;
    }
    Ok(d)
}

/// `, did you mean "x"` when one of `candidates` is what `name` probably meant: the same but
/// for case and accents, one containing the other, or a few letters apart.
pub fn did_you_mean(name: &str, candidates: &[&str]) -> String {
    let folded = fold(name);
    let n = folded.chars().count();
    let best = candidates
        .iter()
        .map(|c| {
            let f = fold(c);
            let contains = n >= 3 && (f.contains(&folded) || folded.contains(&f));
            let d = if f == folded {
                0
            } else if contains {
                1
            } else {
                distance(&f, &folded)
            };
            (d, *c)
        })
        .filter(|(d, _)| *d <= (n / 4).max(1))
        .min_by_key(|(d, _)| *d);
    match best {
        Some((_, c)) if c != name => format!(", did you mean {}?", text::quote(c)),
        _ => String::new(),
    }
}

/// Lower case without accents, `-`, `_` and spaces alike.
fn fold(s: &str) -> String {
    s.trim()
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| match text::unaccented(c) {
            '-' | ' ' => '_',
            c => c,
        })
        .collect()
}

/// The edit distance between `a` and `b` (insertions, deletions, substitutions).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{Filter, Measure};

    fn query(dataset: &str, group_by: &[&str], filters: Vec<Filter>, m: &str) -> AggregateQuery {
        AggregateQuery {
            dataset: dataset.into(),
            group_by: group_by.iter().map(|s| s.to_string()).collect(),
            measures: vec![Measure::count(), m.parse().unwrap()],
            filters,
        }
    }

    fn filter(dimension: &str, values: &[&str]) -> Filter {
        Filter {
            dimension: dimension.into(),
            values: values.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn each_name_and_value_is_checked_and_named() {
        let ok = query(
            "agents",
            &["metier", "sexe"],
            vec![filter("annee", &["2024"])],
            "mean(etpr)",
        );
        assert_eq!(check_query(&ok).unwrap().name, "agents");
        let cases = [
            (query("agent", &[], vec![], "sum(etpr)"), "unknown dataset"),
            (
                query("agents", &["age"], vec![], "sum(etpr)"),
                "unknown dimension",
            ),
            (
                query("agents", &["sexe", "sexe"], vec![], "sum(etpr)"),
                "appears twice",
            ),
            (
                query(
                    "agents",
                    &[],
                    vec![filter("annee", &["deux mille"])],
                    "sum(etpr)",
                ),
                "is not a year",
            ),
            (
                query("agents", &[], vec![filter("sexe", &["X"])], "sum(etpr)"),
                "unknown value \"X\"",
            ),
            (
                query("agents", &[], vec![], "sum(salaire)"),
                "unknown measure",
            ),
            (
                query("enquetes", &["reponse"], vec![], "sum(reponse)"),
                "none (only count)",
            ),
        ];
        for (q, expected) in cases {
            let err = check_query(&q).unwrap_err().to_string();
            assert!(err.contains(expected), "{expected}: {err}");
        }
    }

    #[test]
    fn a_near_miss_is_suggested() {
        let q = |dims: &[&str], f: Vec<Filter>| query("agents", dims, f, "mean(etpr)");
        let said = |q: AggregateQuery| check_query(&q).unwrap_err().to_string();
        assert!(
            said(q(&[], vec![filter("filiere", &["Médico-sociale"])]))
                .contains("unknown value \"Médico-sociale\", did you mean \"médico-sociale\"?")
        );
        assert!(said(q(&["age"], vec![])).contains("did you mean \"tranche_age\"?"));
        assert!(said(q(&["categori"], vec![])).contains("did you mean \"categorie\"?"));
        assert!(
            said(query("absence", &[], vec![], "count")).contains("did you mean \"absences\"?")
        );
        // Nothing close: no suggestion.
        assert!(!said(q(&["commune"], vec![])).contains("did you mean"));
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
