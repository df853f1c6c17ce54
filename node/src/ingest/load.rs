//! Running one import inside the database transaction: stage the raw rows, check them with
//! [`validate::plan`](super::validate::plan), then either give up (nothing replaced) or swap the
//! valid rows in as the slice's new version with the quarantined values beside it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use cdg_shared::proto::v1::DataVersion;
use duckdb::{Transaction, params};

use super::read::{BatchOut, staged_column};
use super::validate;
use crate::catalogue::Dataset;
use crate::error::{NodeError, Result};
use crate::store::{SliceSource, slices};

/// What the checks found.
pub struct Outcome {
    pub rows_read: u64,
    pub rows_quarantined: u64,
    /// Quarantined values per `column: reason`.
    pub by_reason: BTreeMap<String, u64>,
    /// The first problems, in file order, for an error message: (line, column, detail).
    pub first: Vec<(i64, String, String)>,
    /// The version the checked rows become.
    version: i32,
    /// The statement that removes the rows with a problem from the slice's table.
    discard: String,
}

/// Creates `import_raw` and fills it with the rows `read` hands over. Reading runs on its own
/// thread, so the file is parsed while the database takes the previous batches.
pub fn stage<T: Send>(
    tx: &Transaction,
    dataset: &Dataset,
    read: impl FnOnce(BatchOut) -> Result<T> + Send,
) -> Result<T> {
    let columns: Vec<String> = (0..dataset.file_columns().count())
        .map(|i| format!("{} VARCHAR", staged_column(i)))
        .collect();
    tx.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE import_raw (line BIGINT, defect VARCHAR, \
         defect_detail VARCHAR, {})",
        columns.join(", ")
    ))?;
    let mut appender = tx.appender_to_catalog_and_db("import_raw", "temp", "main")?;
    let (send, receive) = std::sync::mpsc::sync_channel::<RecordBatch>(4);
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            let mut out = |batch| {
                send.send(batch)
                    .map_err(|_| "the database stopped taking rows".to_string())
            };
            read(&mut out)
        });
        let mut appended = Ok(());
        for batch in receive.iter() {
            appended = appender.append_record_batch(batch);
            if appended.is_err() {
                break;
            }
        }
        drop(receive);
        let raw = reader
            .join()
            .map_err(|_| NodeError::Internal("the file reader panicked".into()))?;
        appended?;
        appender.flush()?;
        raw
    })
}

/// Runs the checks over `import_raw`, writing the typed rows into the table of the slice's
/// next version. Leaves it and `import_rejects` for [`commit`].
pub fn check(
    tx: &Transaction,
    dataset: &Dataset,
    year: i32,
    record_key: &str,
    timings: &mut Vec<(&'static str, Duration)>,
) -> Result<Outcome> {
    let start = Instant::now();
    let version = slices::next_version(tx, dataset, year)?;
    let plan = validate::plan(dataset, year, &slices::slice_table(dataset, year, version));
    for (i, statement) in plan.statements.iter().enumerate() {
        let t = Instant::now();
        if i == 0 {
            tx.execute(statement, params![record_key])?;
        } else {
            tx.execute_batch(statement)?;
        }
        tracing::debug!(elapsed = ?t.elapsed(), %statement, "import check");
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
    timings.push(("check", start.elapsed()));
    Ok(Outcome {
        rows_read: rows_read as u64,
        rows_quarantined: rows_quarantined as u64,
        by_reason,
        first,
        version,
        discard: plan.discard,
    })
}

/// Keeps the valid rows as the slice's new version, makes it active and records the
/// quarantine.
pub fn commit(
    tx: &Transaction,
    dataset: &Dataset,
    year: i32,
    source: &SliceSource,
    outcome: &Outcome,
) -> Result<DataVersion> {
    tx.execute_batch(&outcome.discard)?;
    let version = slices::activate(tx, dataset, year, outcome.version, source)?;
    tx.execute(
        "INSERT INTO quarantine SELECT ?, ?, ?, ?, line, column_name, value, reason, detail \
         FROM import_rejects",
        params![dataset.name, year, outcome.version, source.file_name],
    )?;
    tx.execute_batch(
        "DROP TABLE IF EXISTS import_raw; DROP TABLE IF EXISTS import_bad; \
         DROP TABLE IF EXISTS import_rejects;",
    )?;
    Ok(version)
}
