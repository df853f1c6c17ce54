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

/// A query ready for DuckDB.
#[derive(Debug, Clone)]
pub struct CompiledQuery {
    pub dataset: &'static Dataset,
    /// The query as asked (its measures give the answer's columns).
    pub query: AggregateQuery,
    pub sql: String,
    /// The filter values.
    pub params: Vec<Value>,
    /// Output names of the group-by columns, in order.
    pub dimensions: Vec<String>,
    /// The measures, in order, with their output names.
    pub measures: Vec<(Aggregate, String)>,
    /// One check per filter of the complement rule.
    pub complements: Vec<ComplementCheck>,
}

/// Counts the units a filter leaves out of the population the other filters select: a filter
/// leaving out 1 to 10 agents is refused, or subtracting two answers would reveal them.
#[derive(Debug, Clone)]
pub struct ComplementCheck {
    pub dimension: &'static str,
    pub sql: String,
    pub params: Vec<Value>,
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
    let dataset = catalogue::dataset(&query.dataset).ok_or_else(|| {
        NodeError::InvalidQuery(format!(
            "unknown dataset {:?}: this node holds {}",
            query.dataset,
            describe_list(&catalogue::dataset_names())
        ))
    })?;
    let unknown_dimension = |name: &str| {
        NodeError::InvalidQuery(format!(
            "unknown dimension {name:?} for dataset {}: allowed dimensions are {}",
            dataset.name,
            describe_list(&dataset.dimension_names())
        ))
    };

    let mut used: Vec<&str> = Vec::new();
    let mut select = Vec::new();
    for (i, name) in query.group_by.iter().enumerate() {
        let dim = dataset
            .dimension(name)
            .ok_or_else(|| unknown_dimension(name))?;
        if used.contains(&dim.name) {
            return Err(NodeError::InvalidQuery(format!(
                "dimension {name:?} appears twice in group_by"
            )));
        }
        used.push(dim.name);
        select.push(format!("CAST(({}) AS VARCHAR) AS d{i}", dim.sql));
    }

    let mut conditions = Vec::new();
    let mut params = Vec::new();
    // Each filter's condition and values, for the complement rule.
    let mut per_filter: Vec<(&str, String, Vec<Value>)> = Vec::new();
    for filter in &query.filters {
        let dim = dataset
            .dimension(&filter.dimension)
            .ok_or_else(|| unknown_dimension(&filter.dimension))?;
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
        params.extend(values.iter().cloned());
        conditions.push(condition.clone());
        per_filter.push((dim.name, condition, values));
    }
    let complements = complement_checks(dataset, &per_filter);
    if used.len() > policy.max_group_by as usize {
        return Err(NodeError::Policy(format!(
            "the query uses {} dimensions ({}); this node's policy allows at most {}",
            used.len(),
            used.join(", "),
            policy.max_group_by
        )));
    }

    select.push(format!("COUNT(DISTINCT {}) AS units", dataset.unit_sql));
    // The cell key: the sum of the rows' record keys (computed at import) modulo 2^32.
    select.push(format!(
        "CAST(SUM(t.{}) % 4294967296 AS BIGINT) AS cell_key",
        crate::store::slices::RECORD_KEY
    ));
    // Distinct employers, for the employer-diversity rule on magnitudes.
    select.push(if dataset.column("employeur_id").is_some() {
        "COUNT(DISTINCT t.employeur_id) AS employers".to_string()
    } else {
        "NULL::BIGINT AS employers".to_string()
    });
    let mut measures = Vec::new();
    for m in &query.measures {
        // Per measure: the total, the two largest absolute contributions, the rows counted.
        let expr = match m.aggregate {
            Aggregate::Count => {
                "COUNT(*)::DOUBLE, NULL::DOUBLE, NULL::DOUBLE, COUNT(*)::DOUBLE".to_string()
            }
            Aggregate::Sum | Aggregate::Mean => {
                let col = dataset.measure(&m.column).ok_or_else(|| {
                    NodeError::InvalidQuery(format!(
                        "unknown measure column {:?} for dataset {}: allowed are {}",
                        m.column,
                        dataset.name,
                        if dataset.measures.is_empty() {
                            "none (only count)".to_string()
                        } else {
                            describe_list(&dataset.measure_names())
                        }
                    ))
                })?;
                let c = col.sql;
                format!(
                    "SUM({c})::DOUBLE, MAX(ABS({c}))::DOUBLE, \
                     list_extract(max(ABS({c}), 2), 2)::DOUBLE, COUNT({c})::DOUBLE"
                )
            }
        };
        select.push(expr);
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

    let mut sql = format!("SELECT {} FROM {}", select.join(", "), dataset.from_sql);
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    if !query.group_by.is_empty() {
        let positions: Vec<String> = (1..=query.group_by.len()).map(|i| i.to_string()).collect();
        sql.push_str(&format!(
            " GROUP BY {} ORDER BY {}",
            positions.join(", "),
            positions.join(", ")
        ));
    }
    Ok(CompiledQuery {
        dataset,
        query: query.clone(),
        sql,
        params,
        dimensions: query.group_by.clone(),
        measures,
        complements,
    })
}

/// For each filter, a query counting the units the other filters keep and this one leaves
/// out (the complement rule).
fn complement_checks(
    dataset: &Dataset,
    filters: &[(&'static str, String, Vec<Value>)],
) -> Vec<ComplementCheck> {
    filters
        .iter()
        .enumerate()
        .map(|(i, (dimension, condition, values))| {
            let mut conditions = Vec::new();
            let mut params = Vec::new();
            for (j, (_, c, v)) in filters.iter().enumerate() {
                if j != i {
                    conditions.push(c.clone());
                    params.extend(v.iter().cloned());
                }
            }
            conditions.push(format!("({condition}) IS NOT TRUE"));
            params.extend(values.iter().cloned());
            ComplementCheck {
                dimension,
                sql: format!(
                    "SELECT COUNT(DISTINCT {}) FROM {} WHERE {}",
                    dataset.unit_sql,
                    dataset.from_sql,
                    conditions.join(" AND ")
                ),
                params,
            }
        })
        .collect()
}

fn filter_value(dimension: &str, values: Values, value: &str) -> Result<Value, NodeError> {
    match values {
        Values::Years => value
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|y| (1900..=2100).contains(y))
            .map(Value::Int)
            .ok_or_else(|| {
                NodeError::InvalidQuery(format!(
                    "filter on {dimension:?}: {value:?} is not a year (expected e.g. 2024)"
                ))
            }),
        Values::Codes(codes) => {
            if codes.contains(&value) {
                Ok(Value::Text(value.to_string()))
            } else {
                Err(NodeError::InvalidQuery(format!(
                    "filter on {dimension:?}: unknown value {value:?}; allowed values are {}",
                    describe_list(codes)
                )))
            }
        }
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
        assert_eq!(c.params, vec![Value::Int(2023), Value::Int(2024)]);
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
