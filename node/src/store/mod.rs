//! The node's DuckDB database: schema, atomic slice loads with data versions, and the
//! statements of an answer. It runs SQL and nothing else: what an answer may release is decided
//! in `disclosure/`, from what these statements read. The connections are owned here
//! (`pool.rs`); callers on the async runtime go through `spawn_blocking`.

use std::path::{Path, PathBuf};

use cdg_shared::proto::v1::DataVersion;
use duckdb::types::Value;
use duckdb::{Connection, OptionalExt, Transaction, params};

use crate::catalogue::{self, Dataset};
use crate::error::{NodeError, Result};

pub mod cancel;
mod facts;
mod pool;
pub mod record_key;
pub mod slices;

pub use facts::YearTotals;

/// Locks the state of the node whose database is at `database` (the database, its record key
/// and the ledger journal beside it) for this process, until dropped: one node, import or
/// repair at a time, and a second one is told the first one's pid (see `cdg_shared::lock`).
pub fn lock(database: &Path) -> Result<cdg_shared::lock::StateLock> {
    let mut name = database.as_os_str().to_owned();
    name.push(".ledger.lock");
    Ok(cdg_shared::lock::StateLock::acquire(
        Path::new(&name),
        &format!("the node's state beside {}", database.display()),
    )?)
}

/// A line of the ledger as the tables `budget` and `overlap_watch` of earlier versions held it
/// (see `disclosure/ledger.rs`): a budget spent (`small_group` None) or a small group watched.
#[derive(Debug, Clone, PartialEq)]
pub struct OldLedgerRow {
    pub analyst: String,
    /// AAAA-MM-JJ.
    pub day: String,
    pub dataset: String,
    pub query: String,
    pub cells: i64,
    pub small_group: Option<i64>,
}

/// One form of an aggregate statement (see `compile/sql.rs`): its text, its parameters, and
/// the shape of its rows.
pub struct AggregateSql<'a> {
    pub sql: &'a str,
    pub params: &'a [Value],
    pub dimensions: usize,
    pub measures: usize,
}

/// One group of an aggregate answer, before disclosure control.
#[derive(Debug, Clone, PartialEq)]
pub struct RawCell {
    pub dimensions: Vec<String>,
    /// Distinct units (agents or employers) in the cell, or a lower bound of them that is at
    /// least the threshold (see [`Store::aggregate`]).
    pub units: i64,
    /// Sum of the rows' record keys modulo 2^32 (see `disclosure/noise.rs`).
    pub cell_key: i64,
    /// Distinct employers, for datasets whose rows have one.
    pub employers: Option<i64>,
    /// One entry per measure.
    pub values: Vec<MeasureValue>,
    /// Set when a filter on a sensitive dimension leaves none of the cell's group out.
    pub whole_group: bool,
}

impl RawCell {
    /// A cell no row reaches.
    pub fn empty(dimensions: Vec<String>, measures: usize) -> RawCell {
        let value = MeasureValue {
            total: None,
            largest: None,
            second: None,
            rows: 0.0,
            top_employer: None,
            employer_total: None,
        };
        RawCell {
            dimensions,
            units: 0,
            cell_key: 0,
            employers: None,
            values: vec![value; measures],
            whole_group: false,
        }
    }
}

/// A cell's dimension value when the data leaves it empty.
pub const NOT_GIVEN: &str = "(non renseigné)";

/// One measure of a cell before disclosure control.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasureValue {
    /// The count, or the sum of the column (None when every value is NULL).
    pub total: Option<f64>,
    /// The largest absolute contribution (None for counts).
    pub largest: Option<f64>,
    /// The second largest (None for counts or a single row).
    pub second: Option<f64>,
    /// Rows counted (non-NULL values for a sum or mean).
    pub rows: f64,
    /// For a sum or mean on a dataset with employers: the largest one employer's total of
    /// absolute values, and the cell's total of absolute values.
    pub top_employer: Option<f64>,
    pub employer_total: Option<f64>,
}

/// What the import records about a loaded slice.
#[derive(Debug, Clone)]
pub struct SliceSource {
    pub digest: String,
    pub file_name: String,
}

pub struct Store {
    pool: pool::Pool,
    /// This process's hold on the node's files ([`lock`]).
    _lock: cdg_shared::lock::StateLock,
    path: PathBuf,
    facts: facts::Facts,
}

impl Store {
    /// Opens (creating if needed) the node's database file and its schema.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                NodeError::Internal(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        // Before DuckDB's own lock, so that a second process is told who holds the files.
        let held = lock(path)?;
        let conn = Connection::open(path).map_err(|e| {
            let text = e.to_string();
            if text.contains("lock") {
                NodeError::Internal(format!(
                    "database {} is in use by another process (a running node?): stop it first. ({text})",
                    path.display()
                ))
            } else {
                NodeError::Database(e)
            }
        })?;
        let mut ddl = String::new();
        for ds in catalogue::DATASETS {
            let cols: Vec<String> = ds
                .columns
                .iter()
                .map(|c| {
                    let null = if c.required { " NOT NULL" } else { "" };
                    format!("{} {}{null}", c.name, c.ty.sql_type())
                })
                .collect();
            slices::refuse_old_layout(&conn, ds)?;
            // The empty table giving the dataset its columns when no slice is loaded.
            ddl.push_str(&format!(
                "CREATE TABLE IF NOT EXISTS {} ({}, {} UINTEGER, {} BOOLEAN);\n",
                slices::schema_table(ds),
                cols.join(", "),
                slices::RECORD_KEY,
                slices::UNIT_FIRST
            ));
        }
        ddl.push_str(
            "CREATE TABLE IF NOT EXISTS data_versions (
                dataset VARCHAR NOT NULL, annee INTEGER NOT NULL, version INTEGER NOT NULL,
                digest VARCHAR NOT NULL, rows BIGINT NOT NULL, loaded_at VARCHAR NOT NULL,
                source VARCHAR NOT NULL, active BOOLEAN NOT NULL);
             -- The ledger of earlier versions, copied into the journal (disclosure/ledger.rs) once.
             CREATE TABLE IF NOT EXISTS budget (analyst VARCHAR NOT NULL, day DATE NOT NULL,
                cells BIGINT NOT NULL, PRIMARY KEY (analyst, day));
             CREATE TABLE IF NOT EXISTS overlap_watch (analyst VARCHAR NOT NULL, dataset VARCHAR NOT NULL,
                cell_key BIGINT NOT NULL, query VARCHAR NOT NULL, day DATE NOT NULL,
                PRIMARY KEY (analyst, dataset, cell_key, query));
             CREATE TABLE IF NOT EXISTS node_meta (name VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
             CREATE TABLE IF NOT EXISTS slice_previous (
                dataset VARCHAR NOT NULL, annee INTEGER NOT NULL, version INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS quarantine (
                dataset VARCHAR NOT NULL, annee INTEGER NOT NULL, version INTEGER NOT NULL,
                file VARCHAR NOT NULL, line BIGINT NOT NULL, column_name VARCHAR NOT NULL,
                value VARCHAR NOT NULL, reason VARCHAR NOT NULL, detail VARCHAR NOT NULL);",
        );
        conn.execute_batch(&ddl)?;
        for ds in catalogue::DATASETS {
            slices::refresh_view(&conn, ds)?;
        }
        Ok(Store {
            _lock: held,
            pool: pool::Pool::new(conn),
            path: path.to_path_buf(),
            facts: facts::Facts::default(),
        })
    }

    /// A connection, once one is free; refused to a cancelled request (see `cancel.rs`).
    pub(crate) fn conn(&self) -> Result<pool::ConnGuard<'_>> {
        self.pool.take()
    }

    /// Opens more connections to the database, up to `n` (`limits.duckdb_connections`), for
    /// answers to run side by side.
    pub fn widen(&mut self, n: usize) -> Result<()> {
        self.pool.widen(n)
    }

    /// How many connections answers share.
    pub fn connections(&self) -> usize {
        self.pool.len()
    }

    /// Cancels the request running under `token` (see `cancel.rs`).
    pub fn cancel(&self, token: &cancel::CancelToken) {
        self.pool.cancel(token);
    }

    /// The path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The ledger lines that earlier versions kept in the tables `budget` and `overlap_watch`.
    pub fn old_ledger(&self) -> Result<Vec<OldLedgerRow>> {
        let budget = self.rows(
            "SELECT analyst, CAST(day AS VARCHAR), cells FROM budget",
            &[],
            |r| {
                Ok(OldLedgerRow {
                    analyst: r.get(0)?,
                    day: r.get(1)?,
                    dataset: String::new(),
                    query: String::new(),
                    cells: r.get(2)?,
                    small_group: None,
                })
            },
        )?;
        let watch = self.rows(
            "SELECT analyst, dataset, cell_key, query, CAST(day AS VARCHAR) FROM overlap_watch",
            &[],
            |r| {
                Ok(OldLedgerRow {
                    analyst: r.get(0)?,
                    dataset: r.get(1)?,
                    small_group: Some(r.get(2)?),
                    query: r.get(3)?,
                    day: r.get(4)?,
                    cells: 0,
                })
            },
        )?;
        Ok(budget.into_iter().chain(watch).collect())
    }

    /// Runs `f` in one transaction, committed only when `f` succeeds.
    pub fn in_transaction<T>(&self, f: impl FnOnce(&Transaction) -> Result<T>) -> Result<T> {
        self.facts.forget();
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let out = f(&tx)?;
        tx.commit()?;
        drop(conn);
        // Read again after the commit, never in between.
        self.facts.forget();
        Ok(out)
    }

    /// Puts back the slice an import replaced, making its data version active again (and keeping
    /// the rolled-back one as the previous, so a second rollback undoes the first).
    pub fn rollback(&self, dataset: &Dataset, year: i32) -> Result<DataVersion> {
        self.in_transaction(|tx| slices::rollback(tx, dataset, year))?;
        self.data_versions()?
            .into_iter()
            .find(|v| v.dataset == dataset.name && v.year == year)
            .ok_or_else(|| NodeError::Internal("rolled-back version not found".into()))
    }

    /// The active data version of every loaded slice.
    pub fn data_versions(&self) -> Result<Vec<DataVersion>> {
        self.facts.get_or_read(
            |known| known.versions.clone(),
            || self.read_versions(),
            |known, v| known.versions = Some(v),
        )
    }

    /// Per year of `dataset`: its distinct units and rows.
    pub fn year_totals(&self, dataset: &'static Dataset) -> Result<YearTotals> {
        let read = || {
            let sql = format!(
                "SELECT annee, SUM({}::INTEGER)::BIGINT, COUNT(*) FROM {} GROUP BY annee",
                slices::UNIT_FIRST,
                dataset.table
            );
            let rows = self.rows(&sql, &[], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?;
            Ok(rows.into_iter().collect())
        };
        self.facts.get_or_read(
            |known| known.years.get(dataset.name).cloned(),
            read,
            |known, totals| {
                known.years.insert(dataset.name, totals);
            },
        )
    }

    fn read_versions(&self) -> Result<Vec<DataVersion>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(
            "SELECT dataset, annee, digest, rows, loaded_at, source FROM data_versions
             WHERE active ORDER BY dataset, annee",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(DataVersion {
                dataset: r.get(0)?,
                year: r.get(1)?,
                digest: r.get(2)?,
                rows: r.get::<_, i64>(3)? as u64,
                loaded_at: r.get(4)?,
                source: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The quarantined values of the active version of a slice: (line, column, value, reason).
    pub fn quarantine(
        &self,
        dataset: &str,
        year: i32,
    ) -> Result<Vec<(i64, String, String, String)>> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(
            "SELECT q.line, q.column_name, q.value, q.reason FROM quarantine q
             JOIN data_versions v ON v.dataset = q.dataset AND v.annee = q.annee
                 AND v.version = q.version AND v.active
             WHERE q.dataset = ? AND q.annee = ? ORDER BY q.line, q.column_name",
        )?;
        let rows = stmt.query_map(params![dataset, year], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Rows of the live (dataset, year) slice.
    pub fn count_rows(&self, dataset: &Dataset, year: i32) -> Result<u64> {
        let conn = self.conn()?;
        let n: i64 = conn.query_row(
            &format!("SELECT count(*) FROM {} WHERE annee = ?", dataset.table),
            params![year],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// Where the record-key secret sits when the configuration does not say:
    /// `<database>.record-key`.
    pub fn default_record_key_path(&self) -> PathBuf {
        record_key::default_path(&self.path)
    }

    /// Ties the database to the record-key secret its slices were keyed with: the first call
    /// records the secret's fingerprint, later ones refuse another secret (every stored record
    /// key, hence every answer's noise, depends on it).
    pub fn bind_record_key(&self, secret: &str) -> Result<()> {
        use sha2::{Digest, Sha256};
        let fingerprint = hex::encode(Sha256::digest(secret.as_bytes()));
        let conn = self.conn()?;
        let stored: Option<String> = conn
            .query_row(
                "SELECT value FROM node_meta WHERE name = 'record_key_sha256'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        match stored {
            None => {
                conn.execute(
                    "INSERT INTO node_meta VALUES ('record_key_sha256', ?)",
                    params![fingerprint],
                )?;
                Ok(())
            }
            Some(f) if f == fingerprint => Ok(()),
            Some(_) => Err(NodeError::Internal(
                "the record key is not the one this database's data were loaded with: restore \
                 the record key file from the backup, or start a new database and import \
                 every slice again"
                    .into(),
            )),
        }
    }

    /// Runs a query and returns its number of rows (benchmarks compare against plain SQL).
    pub fn run(&self, sql: &str) -> Result<usize> {
        timed(sql, || {
            let conn = self.conn()?;
            let mut stmt = conn.prepare_cached(sql)?;
            let mut rows = stmt.query([])?;
            let mut n = 0;
            while rows.next()?.is_some() {
                n += 1;
            }
            Ok(n)
        })
    }

    /// Sets how many threads DuckDB gives each statement (`limits.duckdb_threads`).
    pub fn set_threads(&self, threads: usize) -> Result<()> {
        self.conn()?
            .execute_batch(&format!("SET threads = {threads}"))?;
        Ok(())
    }

    /// Runs a read statement of an answer, mapping each row; timed (see [`timed`]).
    fn rows<T>(
        &self,
        sql: &str,
        params: &[Value],
        map: impl FnMut(&duckdb::Row<'_>) -> duckdb::Result<T>,
    ) -> Result<Vec<T>> {
        timed(sql, || {
            let conn = self.conn()?;
            let mut stmt = conn.prepare_cached(sql)?;
            let rows = stmt.query_map(duckdb::params_from_iter(params.iter()), map)?;
            Ok(rows.collect::<std::result::Result<Vec<_>, _>>()?)
        })
    }

    /// The generation of the loaded data: it changes with every import or rollback (see
    /// `facts.rs`), so a copy of the data taken at one generation is stale at another.
    pub fn generation(&self) -> u64 {
        self.facts.generation()
    }

    /// Runs a read statement and returns its rows as Arrow batches (the in-memory copy,
    /// `crate::columns`, reads each dataset so).
    pub fn arrow(&self, sql: &str) -> Result<Vec<arrow::array::RecordBatch>> {
        timed(sql, || {
            let conn = self.conn()?;
            let mut stmt = conn.prepare(sql)?;
            Ok(stmt.query_arrow([])?.collect())
        })
    }

    /// Runs a query returning one row of counts (NULL read as 0).
    pub fn counts(&self, sql: &str, params: &[Value]) -> Result<Vec<i64>> {
        self.rows(sql, params, |r| {
            (0..r.as_ref().column_count())
                .map(|i| Ok(r.get::<_, Option<i64>>(i)?.unwrap_or(0)))
                .collect()
        })?
        .pop()
        .ok_or_else(|| NodeError::Internal(format!("no row from {sql}")))
    }

    /// Runs a query returning `dims` text columns and a count: the count per cell.
    pub fn counts_by_cell(
        &self,
        sql: &str,
        params: &[Value],
        dims: usize,
    ) -> Result<std::collections::HashMap<Vec<String>, i64>> {
        let rows = self.rows(sql, params, |r| {
            let mut key = Vec::with_capacity(dims);
            for i in 0..dims {
                let v: Option<String> = r.get(i)?;
                key.push(v.unwrap_or_else(|| NOT_GIVEN.to_string()));
            }
            Ok((key, r.get(dims)?))
        })?;
        Ok(rows.into_iter().collect())
    }

    /// The cells an aggregate statement reads, each with the upper bound of its distinct units
    /// (equal to `units` when the statement counts them).
    pub fn cells(&self, a: &AggregateSql) -> Result<Vec<(RawCell, i64)>> {
        let (dims, measures) = (a.dimensions, a.measures);
        self.rows(a.sql, a.params, |r| {
            let mut dimensions = Vec::with_capacity(dims);
            for i in 0..dims {
                let v: Option<String> = r.get(i)?;
                dimensions.push(v.unwrap_or_else(|| NOT_GIVEN.to_string()));
            }
            let units: i64 = r.get(dims)?;
            let units_high: i64 = r.get(dims + 1)?;
            let cell_key: i64 = r.get(dims + 2)?;
            let employers: Option<i64> = r.get(dims + 3)?;
            let mut values = Vec::with_capacity(measures);
            for i in 0..measures {
                let at = dims + 4 + 6 * i;
                values.push(MeasureValue {
                    total: r.get(at)?,
                    largest: r.get(at + 1)?,
                    second: r.get(at + 2)?,
                    rows: r.get::<_, Option<f64>>(at + 3)?.unwrap_or(0.0),
                    top_employer: r.get(at + 4)?,
                    employer_total: r.get(at + 5)?,
                });
            }
            let cell = RawCell {
                dimensions,
                units,
                cell_key,
                employers,
                values,
                whole_group: false,
            };
            Ok((cell, units_high))
        })
    }
}

/// Runs a statement, logging its time at debug level (`RUST_LOG=cdg_node=debug`) with its SQL:
/// catalogue fragments and placeholders only, never a value.
fn timed<T>(sql: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let start = std::time::Instant::now();
    let out = f();
    tracing::debug!(
        ms = start.elapsed().as_secs_f64() * 1000.0,
        ok = out.is_ok(),
        sql,
        "statement"
    );
    out
}
