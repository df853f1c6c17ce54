//! The SELECT of an aggregate, from catalogue fragments only.
//!
//! One pass over the rows gives each cell its units, cell key and, per measure, the total, the
//! two largest contributions and the rows counted. Queries with a sum or mean on a dataset whose
//! rows have an employer add a second pass over the same rows grouped per employer, for the
//! employer-diversity and employer-dominance rules; it is joined to the cells on their
//! dimensions.

use cdg_shared::query::Aggregate;

use crate::catalogue::Dataset;
use crate::store::slices::{RECORD_KEY, UNIT_FIRST};

/// What the SELECT is built from.
pub struct Parts<'a> {
    pub dataset: &'static Dataset,
    /// The FROM clause: the rows and the joins the query reads.
    pub from: &'a str,
    /// SQL of each group-by dimension, in order.
    pub dims: Vec<&'static str>,
    /// The WHERE conditions (with `?` placeholders), joined by AND.
    pub conditions: &'a [String],
    /// Each measure: its aggregate and, for a sum or mean, the column's SQL.
    pub measures: Vec<(Aggregate, Option<&'static str>)>,
    /// Every cell holds rows of one year only (grouped by year, or filtered on one year).
    pub single_year: bool,
}

impl Parts<'_> {
    /// Whether the query runs the per-employer pass.
    pub fn per_employer(&self) -> bool {
        self.dataset.column("employeur_id").is_some()
            && self.measures.iter().any(|(_, c)| c.is_some())
    }

    /// Whether the per-employer pass counts the units: for a dataset whose unit is the
    /// employer, its distinct employers per cell are the cell's distinct units, exactly.
    pub fn units_from_employer_pass(&self) -> bool {
        self.per_employer() && self.dataset.unit_sql == "t.employeur_id"
    }

    /// The SELECT. Without `exact`, a one-year query bounds each cell's distinct units by
    /// `SUM(unit_first)` and `COUNT(*)` instead of counting them.
    ///
    /// The rows are selected once (`b`: each dimension, measure and key computed there) and
    /// both passes read them: DuckDB binds and optimizes every execution of a statement, so
    /// each fragment written once instead of in every aggregate saves a fifth of a small
    /// query's time.
    pub fn select(&self, exact: bool) -> String {
        let dims: Vec<String> = (0..self.dims.len()).map(|i| format!("d{i}")).collect();
        let where_clause = if self.conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conditions.join(" AND "))
        };
        let group = |extra: &str| {
            let mut keys: Vec<String> = dims.clone();
            keys.extend((!extra.is_empty()).then(|| extra.to_string()));
            if keys.is_empty() {
                String::new()
            } else {
                format!(" GROUP BY {}", keys.join(", "))
            }
        };
        let mut rows: Vec<String> = self
            .dims
            .iter()
            .enumerate()
            .map(|(i, sql)| format!("CAST(({sql}) AS VARCHAR) AS d{i}"))
            .collect();
        rows.push(format!("t.{RECORD_KEY} AS rk"));

        let units_from_employers = self.units_from_employer_pass();
        let employer_pass = self.per_employer();
        let mut cells = dims.clone();
        if !units_from_employers {
            let (low, high) = if self.single_year && !exact {
                rows.push(format!("t.{UNIT_FIRST} AS uf"));
                ("SUM(uf::INTEGER)::BIGINT", "COUNT(*)")
            } else {
                rows.push(format!("{} AS unit", self.dataset.unit_sql));
                ("COUNT(DISTINCT unit)", "COUNT(DISTINCT unit)")
            };
            cells.push(format!("{low} AS units_low"));
            cells.push(format!("{high} AS units_high"));
        }
        // The cell key: the sum of the rows' record keys (computed at import) modulo 2^32.
        cells.push("CAST(SUM(rk) % 4294967296 AS BIGINT) AS cell_key".to_string());
        let mut per_employer = dims.clone();
        if employer_pass {
            rows.push("t.employeur_id AS employer".to_string());
            per_employer.push("employer".to_string());
        }
        let mut out: Vec<String> = dims.iter().map(|d| format!("c.{d}")).collect();
        if units_from_employers {
            out.extend(["COALESCE(e.employers, 0)", "COALESCE(e.employers, 0)"].map(String::from));
        } else {
            out.extend(["c.units_low", "c.units_high"].map(String::from));
        }
        out.push("c.cell_key".to_string());
        out.push(if employer_pass {
            "e.employers".to_string()
        } else {
            "NULL::BIGINT".to_string()
        });
        let mut employer_totals = Vec::new();
        for (i, (aggregate, column)) in self.measures.iter().enumerate() {
            // Per measure: the total, the two largest absolute contributions, the rows
            // counted; then the largest employer's share and the absolute total.
            match (aggregate, column) {
                (Aggregate::Count, _) | (_, None) => cells.push(format!(
                    "COUNT(*)::DOUBLE AS m{i}_t, NULL::DOUBLE AS m{i}_l, \
                     NULL::DOUBLE AS m{i}_s, COUNT(*)::DOUBLE AS m{i}_r"
                )),
                (_, Some(c)) => {
                    rows.push(format!("({c}) AS v{i}"));
                    cells.push(format!(
                        "SUM(v{i})::DOUBLE AS m{i}_t, MAX(ABS(v{i}))::DOUBLE AS m{i}_l, \
                         list_extract(max(ABS(v{i}), 2), 2)::DOUBLE AS m{i}_s, \
                         COUNT(v{i})::DOUBLE AS m{i}_r"
                    ));
                    per_employer.push(format!("SUM(ABS(v{i}))::DOUBLE AS m{i}_e"));
                    employer_totals.push(format!("MAX(m{i}_e) AS m{i}_el, SUM(m{i}_e) AS m{i}_et"));
                }
            }
            out.extend([
                format!("c.m{i}_t"),
                format!("c.m{i}_l"),
                format!("c.m{i}_s"),
                format!("c.m{i}_r"),
            ]);
            if employer_pass && column.is_some() {
                out.extend([format!("e.m{i}_el"), format!("e.m{i}_et")]);
            } else {
                out.extend(["NULL::DOUBLE", "NULL::DOUBLE"].map(String::from));
            }
        }

        let mut sql = format!(
            "WITH b AS (SELECT {} FROM {}{where_clause}), c AS (SELECT {} FROM b{})",
            rows.join(", "),
            self.from,
            cells.join(", "),
            group("")
        );
        let mut join = String::new();
        if employer_pass {
            sql.push_str(&format!(
                ", e AS (SELECT {dims_list}COUNT(employer) AS employers, {totals} \
                 FROM (SELECT {inner} FROM b{inner_group}){outer_group})",
                dims_list = dims.iter().map(|d| format!("{d}, ")).collect::<String>(),
                totals = employer_totals.join(", "),
                inner = per_employer.join(", "),
                inner_group = group("employer"),
                outer_group = group(""),
            ));
            let on: Vec<String> = dims
                .iter()
                .map(|d| format!("c.{d} IS NOT DISTINCT FROM e.{d}"))
                .collect();
            join = format!(
                " LEFT JOIN e ON {}",
                if on.is_empty() {
                    "true".to_string()
                } else {
                    on.join(" AND ")
                }
            );
        }
        sql.push_str(&format!(" SELECT {} FROM c{join}", out.join(", ")));
        if !dims.is_empty() {
            let positions: Vec<String> = (1..=dims.len()).map(|i| i.to_string()).collect();
            sql.push_str(&format!(" ORDER BY {}", positions.join(", ")));
        }
        sql
    }
}
