//! Running one import inside the database transaction: stage the raw rows, check them with
//! [`validate::plan`](super::validate::plan), then either give up (nothing replaced) or swap the
//! valid rows in as the slice's new version with the quarantined values beside it.

use std::collections::BTreeMap;

use arrow::array::RecordBatch;
use cdg_shared::proto::v1::DataVersion;
use duckdb::{Transaction, params};

use super::read::staged_column;
use super::validate;
use crate::catalogue::Dataset;
use crate::error::Result;
use crate::store::{self, SliceSource};

/// What the checks found.
pub struct Outcome {
    pub rows_read: u64,
    pub rows_quarantined: u64,
    /// Quarantined values per `column: reason`.
    pub by_reason: BTreeMap<String, u64>,
    /// The first problems, in file order, for an error message: (line, column, detail).
    pub first: Vec<(i64, String, String)>,
    /// The statement that moves the valid rows into the dataset's table.
    insert_valid: String,
}

/// Stages `raw` and runs the checks. Leaves `import_checked` and `import_rejects` for
/// [`commit`].
pub fn check(tx: &Transaction, dataset: &Dataset, year: i32, raw: RecordBatch) -> Result<Outcome> {
    let columns: Vec<String> = (0..dataset.columns.len())
        .map(|i| format!("{} VARCHAR", staged_column(i)))
        .collect();
    tx.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE import_raw (line BIGINT, defect VARCHAR, \
         defect_detail VARCHAR, {})",
        columns.join(", ")
    ))?;
    {
        let mut appender = tx.appender_to_catalog_and_db("import_raw", "temp", "main")?;
        appender.append_record_batch(raw)?;
        appender.flush()?;
    }
    let plan = validate::plan(dataset, year);
    for statement in &plan.statements {
        tx.execute_batch(statement)?;
    }
    let rows_read: i64 = tx.query_row("SELECT count(*) FROM import_raw", [], |r| r.get(0))?;
    let rows_quarantined: i64 =
        tx.query_row("SELECT count(DISTINCT line) FROM import_rejects", [], |r| {
            r.get(0)
        })?;
    let mut by_reason = BTreeMap::new();
    let mut stmt = tx
        .prepare("SELECT column_name || ': ' || reason, count(*) FROM import_rejects GROUP BY 1")?;
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
        let (reason, n) = row?;
        by_reason.insert(reason, n as u64);
    }
    let mut stmt = tx.prepare(
        "SELECT line, column_name, detail FROM import_rejects ORDER BY line, column_name LIMIT 20",
    )?;
    let first = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Outcome {
        rows_read: rows_read as u64,
        rows_quarantined: rows_quarantined as u64,
        by_reason,
        first,
        insert_valid: plan.insert_valid,
    })
}

/// Replaces the slice with the checked valid rows and records the quarantine.
pub fn commit(
    tx: &Transaction,
    dataset: &Dataset,
    year: i32,
    source: &SliceSource,
    outcome: &Outcome,
) -> Result<DataVersion> {
    let version = store::swap_in_slice(tx, dataset, year, source, &outcome.insert_valid)?;
    tx.execute(
        "INSERT INTO quarantine SELECT ?, ?, ?, ?, line, column_name, value, reason, detail \
         FROM import_rejects",
        params![dataset.name, year, version.1, source.file_name],
    )?;
    tx.execute_batch(
        "DROP TABLE IF EXISTS import_raw; DROP TABLE IF EXISTS import_checked; \
         DROP TABLE IF EXISTS import_rejects;",
    )?;
    Ok(version.0)
}
