//! Turns a validated [`AggregateQuery`] into SQL with bound parameters.
//!
//! Names are looked up in the catalogue and replaced by the catalogue's own SQL fragments; filter
//! values become `?` parameters. The only things formatted into the SQL text are catalogue
//! constants and placeholder counts.

use cdg_shared::query::{Aggregate, AggregateQuery};
use duckdb::types::Value;

use crate::catalogue::{self, Dataset, Values};
use crate::config::{Limits, PolicyConfig};
use crate::error::NodeError;

mod checks;
mod sql;

pub use checks::{ComplementBounds, ComplementCheck, WholeGroupCheck};

/// A query ready for DuckDB.
#[derive(Debug, Clone)]
pub struct CompiledQuery {
    pub dataset: &'static Dataset,
    /// The query as asked (its measures give the answer's columns).
    pub query: AggregateQuery,
    /// The aggregate; it may bound a cell's distinct units instead of counting them.
    pub sql: String,
    /// The same aggregate counting every cell's distinct units, for when the bounds of
    /// `sql` straddle the threshold (None when `sql` counts them already).
    pub exact_sql: Option<String>,
    /// The parameters of both.
    pub params: Vec<Value>,
    /// Output names of the group-by columns, in order.
    pub dimensions: Vec<String>,
    /// The measures, in order, with their output names.
    pub measures: Vec<(Aggregate, String)>,
    /// One check per filter of the complement rule.
    pub complements: Vec<ComplementCheck>,
    /// The bounds of the complement checks the per-year totals do not settle, in one statement.
    pub complement_bounds: Option<ComplementBounds>,
    /// One check per filter on a sensitive dimension (the 100% rule).
    pub whole_groups: Vec<WholeGroupCheck>,
    /// How many years a cell's rows can come from: 1 when grouped by year, the number of
    /// years filtered on, or `None` for every loaded year.
    pub years_per_cell: Option<usize>,
    /// The query in catalogue terms, for the in-memory copy (`crate::columns`): the group-by
    /// dimensions, each filter with its values as text (a year as its digits), and each
    /// measure's column (None for a count).
    pub group_by: Vec<&'static catalogue::Dimension>,
    pub filters: Vec<(&'static catalogue::Dimension, Vec<String>)>,
    pub columns: Vec<Option<&'static catalogue::MeasureColumn>>,
}

fn describe_list(items: &[&str]) -> String {
    items.join(", ")
}

/// Checks a query against the catalogue and policy and compiles it.
pub fn compile(
    query: &AggregateQuery,
    policy: &PolicyConfig,
    limits: &Limits,
) -> Result<CompiledQuery, NodeError> {
    let invalid = |p: catalogue::Problem| NodeError::InvalidQuery(p.to_string());
    let dataset = catalogue::known_dataset(&query.dataset).map_err(invalid)?;
    let known_dimension = |name: &str| {
        dataset
            .known_dimension(name)
            .map_err(|p| NodeError::InvalidQuery(p.to_string()))
    };

    // A dimension or measure the catalogue knows but this node's policy does not allow.
    let refused = |kind: &str, name: &str, allowed: Vec<&str>| {
        NodeError::Policy(format!(
            "this node's policy does not allow the {kind} {name:?} of dataset {}: allowed are {}",
            dataset.name,
            describe_list(&allowed)
        ))
    };
    let check_dimension = |dim: &catalogue::Dimension| {
        if policy.allows_dimension(dataset.name, dim.name) {
            Ok(())
        } else {
            let allowed = dataset.dimension_names();
            Err(refused(
                "dimension",
                dim.name,
                allowed
                    .into_iter()
                    .filter(|d| policy.allows_dimension(dataset.name, d))
                    .collect(),
            ))
        }
    };
    let mut used: Vec<&str> = Vec::new();
    let mut dims = Vec::new();
    let mut group_by = Vec::new();
    for name in &query.group_by {
        let dim = known_dimension(name)?;
        check_dimension(dim)?;
        if used.contains(&dim.name) {
            return Err(NodeError::InvalidQuery(format!(
                "dimension {name:?} appears twice in group_by"
            )));
        }
        used.push(dim.name);
        dims.push(dim.sql);
        group_by.push(dim);
    }
    // Each cell holds one year's rows when grouped by year or filtered on a single year.
    let mut single_year = used.contains(&"annee");
    let mut years_per_cell = single_year.then_some(1);

    let mut conditions = Vec::new();
    let mut params = Vec::new();
    // Each filter's condition and values, for the complement rule.
    let mut per_filter: Vec<(&str, String, Vec<Value>)> = Vec::new();
    let mut filters = Vec::new();
    for filter in &query.filters {
        let dim = known_dimension(&filter.dimension)?;
        check_dimension(dim)?;
        if filter.values.len() > limits.max_filter_values {
            return Err(NodeError::InvalidQuery(format!(
                "filter on {:?} has {} values; at most {} are allowed",
                dim.name,
                filter.values.len(),
                limits.max_filter_values
            )));
        }
        if !used.contains(&dim.name) {
            used.push(dim.name);
        }
        let values = filter
            .values
            .iter()
            .map(|v| filter_value(dim.name, dim.values, v))
            .collect::<Result<Vec<_>, _>>()?;
        let placeholders = vec!["?"; filter.values.len()].join(", ");
        let condition = format!("({}) IN ({placeholders})", dim.sql);
        if dim.name == "annee" {
            let distinct: std::collections::BTreeSet<String> =
                values.iter().map(|v| format!("{v:?}")).collect();
            single_year |= distinct.len() == 1;
            years_per_cell = Some(years_per_cell.map_or(distinct.len(), |n| n.min(distinct.len())));
        }
        let texts = values
            .iter()
            .map(|v| match v {
                Value::Int(year) => year.to_string(),
                Value::Text(text) => text.clone(),
                other => format!("{other:?}"),
            })
            .collect();
        filters.push((dim, texts));
        params.extend(values.iter().cloned());
        conditions.push(condition.clone());
        per_filter.push((dim.name, condition, values));
    }
    // Every fragment the query reads, for the joins it needs.
    let mut fragments: Vec<&'static str> = dims.clone();
    fragments.push(dataset.unit_sql);
    for filter in &query.filters {
        fragments.extend(dataset.dimension(&filter.dimension).map(|d| d.sql));
    }
    if used.len() > policy.max_group_by as usize {
        return Err(NodeError::Policy(format!(
            "the query uses {} dimensions ({}); this node's policy allows at most {}",
            used.len(),
            used.join(", "),
            policy.max_group_by
        )));
    }

    let mut measures = Vec::new();
    let mut columns = Vec::new();
    let mut measure_columns = Vec::new();
    for m in &query.measures {
        let column = match m.aggregate {
            Aggregate::Count => None,
            Aggregate::Sum | Aggregate::Mean => {
                let col = dataset.known_measure(&m.column).map_err(invalid)?;
                if !policy.allows_measure(dataset.name, col.name) {
                    return Err(refused(
                        "measure",
                        col.name,
                        dataset
                            .measure_names()
                            .into_iter()
                            .filter(|m| policy.allows_measure(dataset.name, m))
                            .collect(),
                    ));
                }
                Some(col)
            }
        };
        measure_columns.push(column);
        let column = column.map(|c| c.sql);
        columns.push((m.aggregate, column));
        fragments.extend(column);
        measures.push((m.aggregate, m.output_name()));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (_, name) in &measures {
        if !seen.insert(name) {
            return Err(NodeError::InvalidQuery(format!(
                "measure {name} is asked twice"
            )));
        }
    }

    let from = dataset.from_clause(&fragments);
    let complements = checks::complement_checks(dataset, &from, &per_filter);
    let complement_bounds = checks::complement_bounds(&from, &complements);
    let whole_groups =
        checks::whole_group_checks(&from, &dims, dataset, &query.group_by, &per_filter);
    let parts = sql::Parts {
        dataset,
        from: &from,
        dims,
        conditions: &conditions,
        measures: columns,
        single_year,
    };
    // Bounds need an exact count to fall back on, unless the units are counted exactly.
    let exact_sql = (single_year && !parts.units_from_employer_pass()).then(|| parts.select(true));
    Ok(CompiledQuery {
        dataset,
        query: query.clone(),
        sql: parts.select(false),
        exact_sql,
        params,
        dimensions: query.group_by.clone(),
        years_per_cell,
        measures,
        complements,
        complement_bounds,
        whole_groups,
        group_by,
        filters,
        columns: measure_columns,
    })
}

fn filter_value(dimension: &str, values: Values, value: &str) -> Result<Value, NodeError> {
    match catalogue::filter_value(dimension, values, value) {
        Ok(Some(year)) => Ok(Value::Int(year)),
        Ok(None) => Ok(Value::Text(value.to_string())),
        Err(p) => Err(NodeError::InvalidQuery(p.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use cdg_shared::query::{Filter, Measure};

    use super::*;

    fn query(dataset: &str, group_by: &[&str], filters: Vec<Filter>) -> AggregateQuery {
        AggregateQuery {
            dataset: dataset.into(),
            group_by: group_by.iter().map(|s| s.to_string()).collect(),
            measures: vec![Measure::count(), "mean(etpr)".parse().unwrap()],
            filters,
        }
    }

    fn run(q: &AggregateQuery) -> Result<CompiledQuery, NodeError> {
        compile(q, &PolicyConfig::default(), &Limits::default())
    }

    #[test]
    fn hostile_values_become_parameters_not_sql() {
        let evil = "F'; DROP TABLE agents; --";
        let q = query(
            "agents",
            &["sexe"],
            vec![Filter {
                dimension: "sexe".into(),
                values: vec![evil.into()],
            }],
        );
        let err = run(&q).unwrap_err().to_string();
        assert!(err.contains("unknown value"), "{err}");
        let q = query(
            "agents",
            &["sexe", "tranche_age"],
            vec![Filter {
                dimension: "annee".into(),
                values: vec!["2023".into(), "2024".into()],
            }],
        );
        let c = run(&q).unwrap();
        assert!(c.sql.contains("IN (?, ?)"));
        // Bound once: the per-employer pass of the mean reads the rows the filter selected.
        assert_eq!(c.params, [Value::Int(2023), Value::Int(2024)]);
        assert_eq!(c.sql.matches("IN (?, ?)").count(), 1);
        assert!(!c.sql.contains("2024"));
    }

    #[test]
    fn names_unknown_things_and_enforces_limits() {
        let err = run(&query("salaries", &[], vec![]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("salaries") && err.contains("agents"), "{err}");
        let err = run(&query("agents", &["commune"], vec![]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("commune") && err.contains("tranche_age"),
            "{err}"
        );
        let err = run(&query("agents", &["agent_id"], vec![]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("agent_id"), "{err}");
        let err = run(&query(
            "agents",
            &["sexe", "categorie", "filiere", "statut", "tranche_age"],
            vec![],
        ))
        .unwrap_err();
        assert!(matches!(err, NodeError::Policy(_)), "{err}");
        let mut q = query("employeurs", &[], vec![]);
        q.measures = vec!["sum(etpr)".parse().unwrap()];
        assert!(run(&q).unwrap_err().to_string().contains("only count"));
    }
}
