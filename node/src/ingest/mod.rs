//! Importing a dataset slice from the files a CDG's tools export: CSV (`;` or `,`, UTF-8 with
//! or without BOM or Windows-1252, decimal comma or point), XLSX, Parquet.
//!
//! The file is read into text columns ([`read`]), staged in DuckDB and checked there with
//! set-based SQL ([`validate`]): types, code lists, ranges, the slice's year, cross-column
//! rules, references and duplicates. Invalid rows are never dropped silently: each problem goes
//! to the `quarantine` table with its file, line, column, value and reason, and rows read = rows
//! loaded + rows quarantined, always. When more than the allowed share of rows is invalid, the
//! import fails and nothing is replaced. Otherwise the valid rows replace the (dataset, year)
//! slice and the quarantine records are written in the same transaction ([`load`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::catalogue::Dataset;
use crate::error::{NodeError, Result};
use crate::store::{SliceSource, Store};

pub mod folder;
mod header;
mod load;
pub use cdg_read as read;
mod validate;

pub use read::{Encoding, Format, ReadOptions};

/// Import settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOptions {
    /// Largest share of invalid rows (0 to 1) that still lets the import load the valid ones.
    pub max_reject_ratio: f64,
    /// Format, separator, encoding, sheet: detected when not given.
    pub read: ReadOptions,
    /// The record-key secret (cell key method); when `None`, the one beside the database
    /// (`<database>.record-key`, created if missing).
    pub record_key: Option<String>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            max_reject_ratio: 0.05,
            read: ReadOptions::default(),
            record_key: None,
        }
    }
}

/// Outcome of an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub dataset: &'static str,
    pub year: i32,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_quarantined: u64,
    /// Quarantined values per `column: reason`.
    pub by_reason: BTreeMap<String, u64>,
    /// Columns of the file that the dataset does not have (not loaded).
    pub ignored_columns: Vec<String>,
    pub digest: String,
    /// How the file was read ("CSV, separator ';', Windows-1252").
    pub read_as: String,
    /// Time spent in each phase: read (and stage, overlapped), check, load.
    pub timings: Vec<(&'static str, Duration)>,
}

impl ImportReport {
    /// A human summary: counts, then quarantined values by reason.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} {} ({}): {} rows read, {} loaded, {} quarantined (sha256 {})",
            self.dataset,
            self.year,
            self.read_as,
            self.rows_read,
            self.rows_loaded,
            self.rows_quarantined,
            cdg_shared::text::prefix(&self.digest, 16)
        );
        if !self.ignored_columns.is_empty() {
            s.push_str(&format!(
                "\n  columns not in the dataset, ignored: {}",
                header::some_of(&self.ignored_columns)
            ));
        }
        if !self.timings.is_empty() {
            let phases: Vec<String> = self
                .timings
                .iter()
                .map(|(name, d)| format!("{name} {:.2} s", d.as_secs_f64()))
                .collect();
            s.push_str(&format!("\n  time: {}", phases.join(", ")));
        }
        for (reason, n) in &self.by_reason {
            s.push_str(&format!("\n  {n:>8}  {reason}"));
        }
        s
    }
}

/// Reads, checks and loads `file` as the (`dataset`, `year`) slice.
pub fn import_file(
    store: &Store,
    dataset: &'static Dataset,
    year: i32,
    file: &Path,
    options: &ImportOptions,
) -> Result<ImportReport> {
    let start = Instant::now();
    let bytes = std::fs::read(file)
        .map_err(|e| NodeError::Import(format!("cannot read {}: {e}", file.display())))?;
    for r in dataset.references {
        let target = crate::catalogue::dataset(r.target)
            .ok_or_else(|| NodeError::Internal(format!("unknown dataset {}", r.target)))?;
        if store.count_rows(target, year)? == 0 {
            return Err(NodeError::Import(format!(
                "no {} loaded for {year}: {} rows refer to them, so import {} {year} first",
                r.target, dataset.name, r.target
            )));
        }
    }
    let record_key = match &options.record_key {
        Some(key) => key.clone(),
        None => crate::store::record_key::load(&store.default_record_key_path())?,
    };
    store.bind_record_key(&record_key)?;
    let file_name = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let ignored = std::sync::Mutex::new(Vec::new());
    let map = |headers: &[String]| {
        let mapped = header::map(dataset, headers)?;
        if let Ok(mut ignored) = ignored.lock() {
            *ignored = mapped.ignored;
        }
        Ok(mapped.positions)
    };
    let mut report = ImportReport {
        dataset: dataset.name,
        year,
        rows_read: 0,
        rows_loaded: 0,
        rows_quarantined: 0,
        by_reason: BTreeMap::new(),
        ignored_columns: Vec::new(),
        digest: String::new(),
        read_as: String::new(),
        timings: Vec::new(),
    };
    store.in_transaction(|tx| {
        // The reader thread hashes the file once it has parsed it: the database is still
        // taking the last batches then, so the digest costs no time.
        let (raw, digest) = load::stage(tx, dataset, |out| {
            let raw = read::read(file, &bytes, &options.read, &map, out)?;
            Ok((raw, hex::encode(Sha256::digest(&bytes))))
        })?;
        report.read_as = raw.read_as;
        report.digest = digest;
        report.ignored_columns = ignored
            .lock()
            .map_err(|_| NodeError::Internal("the header's reader failed".into()))?
            .clone();
        report.timings.push(("read", start.elapsed()));
        let outcome = load::check(tx, dataset, year, &record_key, &mut report.timings)?;
        report.rows_read = outcome.rows_read;
        report.rows_quarantined = outcome.rows_quarantined;
        report.by_reason = outcome.by_reason.clone();
        let ratio = outcome.rows_quarantined as f64 / outcome.rows_read.max(1) as f64;
        if ratio > options.max_reject_ratio || outcome.rows_quarantined == outcome.rows_read {
            let listed: Vec<String> = outcome
                .first
                .iter()
                .map(|(line, column, detail)| format!("line {line}, column {column}: {detail}"))
                .collect();
            let problems: u64 = outcome.by_reason.values().sum();
            return Err(NodeError::Import(format!(
                "{}: {} invalid row(s) of {} ({:.1}%, the limit is {:.1}%); nothing was loaded \
                 and the loaded version is unchanged. Fix the file or raise the maximum reject \
                 ratio.\n{}\n  {}{}",
                file.display(),
                outcome.rows_quarantined,
                outcome.rows_read,
                ratio * 100.0,
                options.max_reject_ratio * 100.0,
                report.summary(),
                listed.join("\n  "),
                if problems as usize > outcome.first.len() {
                    "\n  ..."
                } else {
                    ""
                }
            )));
        }
        let start = Instant::now();
        let source = SliceSource {
            digest: report.digest.clone(),
            file_name: file_name.clone(),
        };
        let version = load::commit(tx, dataset, year, &source, &outcome)?;
        report.rows_loaded = version.rows;
        report.timings.push(("load", start.elapsed()));
        Ok(())
    })?;
    Ok(report)
}

#[cfg(test)]
mod tests;
