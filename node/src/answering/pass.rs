//! One answer computed: what the data say of a compiled query (from the in-memory copy, or
//! from the store's statements), and the rules of `disclosure/` applied to it, in order
//! (complement rule, cells, 100% rule, release).

use cdg_shared::proto::v1::DataVersion;

use super::cache::Answer;
use crate::columns::{Columns, Scan};
use crate::compile::{CompiledQuery, ComplementCheck};
use crate::config::PolicyConfig;
use crate::disclosure::noise::Perturbation;
use crate::disclosure::{bounds, cells, complement, release, whole_group};
use crate::error::Result;
use crate::store::{AggregateSql, RawCell, Store, YearTotals};

/// Computes the answer to `q` on the store's data (from its in-memory copy when there is one),
/// with the data versions it was computed on.
pub fn compute(
    store: &Store,
    columns: Option<&Columns>,
    q: &CompiledQuery,
    policy: &PolicyConfig,
    noise: &Perturbation,
) -> Result<Answer> {
    let threshold = cells::threshold(q, policy);
    let cells = match columns {
        Some(columns) => {
            let table = columns.table(store, q.dataset)?;
            let start = std::time::Instant::now();
            let scan = Scan::new(&table, q)?;
            complement::check(q, threshold, &InMemory { store, scan: &scan })?;
            let mut cells = scan.cells();
            for check in &q.whole_groups {
                whole_group::add_left_out(q, &mut cells, &scan.left_out_by_cell(check.filter));
            }
            tracing::debug!(
                dataset = q.dataset.name,
                rows = table.rows,
                ms = start.elapsed().as_secs_f64() * 1000.0,
                "in-memory pass"
            );
            cells
        }
        None => {
            complement::check(q, threshold, &Reads(store))?;
            let mut cells = aggregate(store, q, threshold)?;
            for check in &q.whole_groups {
                let left_out =
                    store.counts_by_cell(&check.sql, &check.params, q.dimensions.len())?;
                whole_group::add_left_out(q, &mut cells, &left_out);
            }
            cells
        }
    };
    let released = release::release(q, &cells, policy, noise)?;
    // The versions the answer was computed on: the dataset's and those it joins.
    let reads = q.dataset.reads();
    let versions: Vec<DataVersion> = store
        .data_versions()?
        .into_iter()
        .filter(|v| reads.contains(&v.dataset.as_str()))
        .collect();
    let years = versions
        .iter()
        .filter(|v| v.dataset == q.dataset.name)
        .count();
    Ok(Answer {
        released,
        cells,
        secret_bounds: bounds::secret_bounds(q, policy, years),
        measure_ranges: bounds::measure_ranges(q),
        versions,
    })
}

/// The cells of `q`, each with its distinct units counted exactly where the quick bounds of
/// `q.sql` do not settle which side of `threshold` it is on.
pub fn aggregate(store: &Store, q: &CompiledQuery, threshold: i64) -> Result<Vec<RawCell>> {
    let run = |sql: &str| {
        store.cells(&AggregateSql {
            sql,
            params: &q.params,
            dimensions: q.dimensions.len(),
            measures: q.measures.len(),
        })
    };
    let cells = run(&q.sql)?;
    let unsettled = |c: &(RawCell, i64)| c.0.units < threshold && c.1 >= threshold;
    let cells = match &q.exact_sql {
        Some(exact) if cells.iter().any(unsettled) => run(exact)?,
        _ => cells,
    };
    Ok(cells.into_iter().map(|(cell, _)| cell).collect())
}

/// What the complement rule reads, from the in-memory copy: each count exact at once.
struct InMemory<'a> {
    store: &'a Store,
    scan: &'a Scan<'a>,
}

impl complement::Population for InMemory<'_> {
    fn bounds(&self, q: &CompiledQuery) -> Result<Vec<(i64, i64)>> {
        Ok(q.complements
            .iter()
            .map(|c| match c.years_kept {
                // Settled from the per-year totals first (`complement::check`).
                Some(_) => (0, 0),
                None => {
                    let n = self.scan.units_left_out(c.filter);
                    (n, n)
                }
            })
            .collect())
    }

    fn year_totals(&self, q: &CompiledQuery) -> Result<YearTotals> {
        self.store.year_totals(q.dataset)
    }

    fn left_out(&self, check: &ComplementCheck) -> Result<i64> {
        Ok(self.scan.units_left_out(check.filter))
    }
}

/// What the complement rule reads, from the store's statements.
struct Reads<'a>(&'a Store);

impl complement::Population for Reads<'_> {
    fn bounds(&self, q: &CompiledQuery) -> Result<Vec<(i64, i64)>> {
        let mut bounds = vec![(0, 0); q.complements.len()];
        if let Some(b) = &q.complement_bounds {
            let counts = self.0.counts(&b.sql, &b.params)?;
            for (k, &i) in b.checks.iter().enumerate() {
                bounds[i] = (counts[2 * k], counts[2 * k + 1]);
            }
        }
        Ok(bounds)
    }

    fn year_totals(&self, q: &CompiledQuery) -> Result<YearTotals> {
        self.0.year_totals(q.dataset)
    }

    fn left_out(&self, check: &ComplementCheck) -> Result<i64> {
        Ok(self.0.counts(&check.exact_sql, &check.params)?[0])
    }
}
