//! What the node remembers of each analyst's answers, in its database: released cells per
//! day (the budget) and the queries that reached each small group (the overlap watch). Both
//! are checked, then recorded, in one transaction: a refused answer records nothing.

use duckdb::{Transaction, params};

use super::Store;
use crate::config::PolicyConfig;
use crate::error::{NodeError, Result};

/// An answer about to be released to an analyst.
pub struct Release<'a> {
    pub analyst: &'a str,
    /// AAAA-MM-JJ, from the node's clock.
    pub day: &'a str,
    pub dataset: &'a str,
    /// Digest of the query as asked: repeating a query is not a new one.
    pub query: &'a str,
    /// Cells released.
    pub cells: u32,
    /// Cell keys of the released cells with fewer units than `policy.overlap.small_group`.
    pub small_groups: &'a [i64],
}

impl Store {
    /// Checks the daily budget and the overlap watch for `r`, then records it.
    pub fn record_release(&self, r: &Release, policy: &PolicyConfig) -> Result<()> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        spend_budget(&tx, r, policy.max_cells_per_analyst_per_day)?;
        watch_overlap(&tx, r, policy)?;
        tx.commit()?;
        Ok(())
    }
}

fn spend_budget(tx: &Transaction, r: &Release, limit: u32) -> Result<()> {
    let used: i64 = tx.query_row(
        "SELECT COALESCE(SUM(cells), 0) FROM budget WHERE analyst = ? AND day = CAST(? AS DATE)",
        params![r.analyst, r.day],
        |row| row.get(0),
    )?;
    let (analyst, day, cells) = (r.analyst, r.day, r.cells);
    if used + i64::from(cells) > i64::from(limit) {
        return Err(NodeError::Budget(format!(
            "{analyst} has received {used} cells from this node on {day}; this answer's \
             {cells} would pass the daily budget of {limit} (policy.max_cells_per_analyst_per_day). \
             Ask fewer or coarser tables, or wait until tomorrow"
        )));
    }
    tx.execute(
        "INSERT INTO budget VALUES (?, CAST(? AS DATE), ?) ON CONFLICT (analyst, day) \
         DO UPDATE SET cells = cells + excluded.cells",
        params![analyst, day, i64::from(cells)],
    )?;
    Ok(())
}

/// Refuses a query that would be the analyst's `refuse_after + 1`-th distinct query reaching
/// one small group within the window; warns past `flag_after`.
///
/// Set-based: one statement reads what the watch knows of every small group of the answer, one
/// records those not already recorded today for this query. (A statement per group made the
/// ledger the slowest part of an answer: DuckDB plans each one, about a millisecond.)
fn watch_overlap(tx: &Transaction, r: &Release, policy: &PolicyConfig) -> Result<()> {
    let o = &policy.overlap;
    let mut keys = r.small_groups.to_vec();
    keys.sort_unstable();
    keys.dedup();
    if keys.is_empty() {
        return Ok(());
    }
    // Cell keys are integers: written in the statement, they cannot inject anything.
    let values = keys
        .iter()
        .map(|k| format!("({k})"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut earlier = tx.prepare(&format!(
        "WITH keys(cell_key) AS (VALUES {values}), \
         recent AS (SELECT cell_key, query, day FROM overlap_watch \
                    WHERE analyst = ? AND dataset = ? \
                    AND day > CAST(? AS DATE) - CAST(? AS INTEGER)) \
         SELECT k.cell_key, count(r.query) FILTER (WHERE r.query <> ?), \
                bool_or(r.query = ?), bool_or(r.query = ? AND r.day = CAST(? AS DATE)) \
         FROM keys k LEFT JOIN recent r ON r.cell_key = k.cell_key \
         GROUP BY k.cell_key ORDER BY k.cell_key"
    ))?;
    let rows = earlier.query_map(
        params![
            r.analyst,
            r.dataset,
            r.day,
            o.window_days,
            r.query,
            r.query,
            r.query,
            r.day
        ],
        |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, Option<bool>>(2)?,
                row.get::<_, Option<bool>>(3)?,
            ))
        },
    )?;
    let mut to_record = Vec::new();
    for row in rows {
        let (key, others, repeat, recorded_today) = row?;
        let queries = others + 1;
        if repeat != Some(true) && queries > i64::from(o.refuse_after) {
            return Err(NodeError::Policy(format!(
                "overlap watch: {} has already sent {others} different queries reaching the same \
                 small group of {} (fewer than {} units) in the last {} days; this node allows \
                 {} (policy.overlap.refuse_after). Ask about larger groups",
                r.analyst, r.dataset, o.small_group, o.window_days, o.refuse_after
            )));
        }
        if repeat != Some(true) && queries > i64::from(o.flag_after) {
            tracing::warn!(
                analyst = r.analyst,
                dataset = r.dataset,
                queries,
                "overlap watch: many different queries reach the same small group"
            );
        }
        if recorded_today != Some(true) {
            to_record.push(key);
        }
    }
    if to_record.is_empty() {
        return Ok(());
    }
    let values = to_record
        .iter()
        .map(|k| format!("({k})"))
        .collect::<Vec<_>>()
        .join(", ");
    tx.execute(
        &format!(
            "INSERT INTO overlap_watch \
             SELECT ?, ?, k.cell_key, ?, CAST(? AS DATE) FROM (VALUES {values}) k(cell_key) \
             ON CONFLICT (analyst, dataset, cell_key, query) DO UPDATE SET day = excluded.day"
        ),
        params![r.analyst, r.dataset, r.query, r.day],
    )?;
    Ok(())
}
