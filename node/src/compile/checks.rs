//! The statements behind two disclosure rules that look beyond a query's own cells: the
//! complement rule (what a filter leaves out) and the 100% rule (a group wholly inside a filter
//! on a sensitive dimension).

use duckdb::types::Value;

use crate::catalogue::Dataset;

/// Per cell, the rows of its group that a filter on a sensitive dimension leaves out: a cell
/// whose group has none would tell that all of the group has the filtered value.
#[derive(Debug, Clone)]
pub struct WholeGroupCheck {
    /// The filter's position in the query.
    pub filter: usize,
    /// Selects the cell's dimensions as text, then the rows left out.
    pub sql: String,
    pub params: Vec<Value>,
}

/// Counts the units a filter leaves out of the population the other filters select: a filter
/// leaving out 1 to 10 agents is refused, or subtracting two answers would reveal them.
#[derive(Debug, Clone)]
pub struct ComplementCheck {
    /// The filter's position in the query.
    pub filter: usize,
    pub dimension: &'static str,
    /// The rows left out: the other filters' conditions and this one's, negated.
    pub condition: String,
    /// The exact count of distinct units left out.
    pub exact_sql: String,
    pub params: Vec<Value>,
    /// For a filter on the year alone (no other filter), the years it keeps: the units left
    /// out are the other years', whose bounds the node knows without a scan.
    pub years_kept: Option<Vec<i32>>,
}

/// The bounds of several complement checks in one pass over the dataset: for each check, the
/// largest per-year `SUM(unit_first)` (a lower bound of the units it leaves out) and the rows
/// (an upper bound). They usually settle the rule without a distinct count; one statement
/// instead of one per filter spares a plan and a scan each.
#[derive(Debug, Clone)]
pub struct ComplementBounds {
    /// Two counts per check, in the order of `checks`.
    pub sql: String,
    pub params: Vec<Value>,
    /// Indices in [`CompiledQuery::complements`](super::CompiledQuery::complements).
    pub checks: Vec<usize>,
}

/// For each filter, a query counting the units the other filters keep and this one leaves
/// out (the complement rule).
pub(super) fn complement_checks(
    dataset: &Dataset,
    from: &str,
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
            let condition = conditions.join(" AND ");
            ComplementCheck {
                filter: i,
                dimension,
                exact_sql: format!(
                    "SELECT COUNT(DISTINCT {}) FROM {from} WHERE {condition}",
                    dataset.unit_sql
                ),
                condition,
                params,
                years_kept: (*dimension == "annee" && filters.len() == 1).then(|| {
                    values
                        .iter()
                        .filter_map(|v| match v {
                            Value::Int(y) => Some(*y),
                            _ => None,
                        })
                        .collect()
                }),
            }
        })
        .collect()
}

/// One statement bounding every check the per-year totals do not settle (`years_kept`).
pub(super) fn complement_bounds(
    from: &str,
    checks: &[ComplementCheck],
) -> Option<ComplementBounds> {
    let pending: Vec<usize> = (0..checks.len())
        .filter(|&i| checks[i].years_kept.is_none())
        .collect();
    if pending.is_empty() {
        return None;
    }
    let mut outer = Vec::new();
    let mut inner = Vec::new();
    let mut any = Vec::new();
    let mut params = Vec::new();
    for (k, &i) in pending.iter().enumerate() {
        let c = &checks[i].condition;
        outer.push(format!(
            "COALESCE(MAX(low{k}), 0), COALESCE(SUM(high{k}), 0)"
        ));
        inner.push(format!(
            "SUM(t.{first}::INTEGER) FILTER (WHERE {c}) AS low{k}, \
             COUNT(*) FILTER (WHERE {c}) AS high{k}",
            first = crate::store::slices::UNIT_FIRST
        ));
        params.extend(checks[i].params.iter().cloned());
        params.extend(checks[i].params.iter().cloned());
        any.push(format!("({c})"));
    }
    // The WHERE clause repeats the conditions so that DuckDB skips what no check counts.
    for &i in &pending {
        params.extend(checks[i].params.iter().cloned());
    }
    Some(ComplementBounds {
        sql: format!(
            "SELECT {} FROM (SELECT {} FROM {from} WHERE {} GROUP BY t.annee)",
            outer.join(", "),
            inner.join(", "),
            any.join(" OR ")
        ),
        params,
        checks: pending,
    })
}

/// For each filter on a sensitive dimension, counts per cell the rows of the group (the other
/// filters' population) that the filter leaves out.
pub(super) fn whole_group_checks(
    from: &str,
    dims: &[&str],
    dataset: &Dataset,
    grouped: &[String],
    filters: &[(&'static str, String, Vec<Value>)],
) -> Vec<WholeGroupCheck> {
    let select: Vec<String> = dims
        .iter()
        .map(|sql| format!("CAST(({sql}) AS VARCHAR)"))
        .collect();
    let group_by = if dims.is_empty() {
        String::new()
    } else {
        let positions: Vec<String> = (1..=dims.len()).map(|i| i.to_string()).collect();
        format!(" GROUP BY {}", positions.join(", "))
    };
    filters
        .iter()
        .enumerate()
        // Grouped by too, each of its values is a cell of its own: the group-by form of the
        // rule applies (disclosure/whole_group.rs).
        .filter(|(_, (name, _, _))| {
            dataset.dimension(name).is_some_and(|d| d.sensitive)
                && !grouped.iter().any(|g| g == name)
        })
        .map(|(i, (_, condition, values))| {
            // The filter's placeholders come first in the text, in the SELECT list.
            let mut params = values.clone();
            let mut others = Vec::new();
            for (j, (_, c, v)) in filters.iter().enumerate() {
                if j != i {
                    others.push(c.clone());
                    params.extend(v.iter().cloned());
                }
            }
            let where_clause = if others.is_empty() {
                String::new()
            } else {
                format!(" WHERE {}", others.join(" AND "))
            };
            let mut columns = select.clone();
            columns.push(format!("COUNT(*) FILTER (WHERE ({condition}) IS NOT TRUE)"));
            WholeGroupCheck {
                filter: i,
                sql: format!(
                    "SELECT {} FROM {from}{where_clause}{group_by}",
                    columns.join(", ")
                ),
                params,
            }
        })
        .collect()
}
