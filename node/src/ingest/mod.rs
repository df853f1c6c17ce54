//! Importing a dataset slice from a CSV file, the way a CDG's tools export it: `;` or `,`
//! separator, UTF-8 with or without BOM, decimal comma or point.
//!
//! Every row is validated against the catalogue (types, code lists, ranges, the slice's year).
//! Invalid rows are never dropped silently: each invalid value goes to the `quarantine` table
//! with its file, line, column, value and reason, and rows read = rows loaded + rows
//! quarantined, always. When more than the allowed share of rows is invalid, the import fails
//! and nothing is replaced. Otherwise the valid rows replace the (dataset, year) slice and the
//! quarantine records are written in the same transaction.

use std::collections::BTreeMap;
use std::path::Path;

use duckdb::types::Value;
use sha2::{Digest, Sha256};

use crate::catalogue::{Column, ColumnType, Dataset};
use crate::error::{NodeError, Result};
use crate::store::{SliceSource, Store};

mod header;
use header::normalize_header;

/// One invalid value (or unreadable line) of an imported file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// Line in the file (the header is line 1).
    pub line: u64,
    /// Column name, or `(ligne)` when the whole line is unreadable.
    pub column: String,
    /// The value as read, cut to 200 characters.
    pub value: String,
    /// Kind of problem, for the summary: `valeur vide`, `hors liste`, ...
    pub reason: &'static str,
    /// The full explanation.
    pub detail: String,
}

/// Import settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImportOptions {
    /// Largest share of invalid rows (0 to 1) that still lets the import load the valid ones.
    pub max_reject_ratio: f64,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            max_reject_ratio: 0.05,
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
}

impl ImportReport {
    /// A human summary: counts, then quarantined values by reason.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} {}: {} rows read, {} loaded, {} quarantined (sha256 {})",
            self.dataset,
            self.year,
            self.rows_read,
            self.rows_loaded,
            self.rows_quarantined,
            &self.digest[..16.min(self.digest.len())]
        );
        if !self.ignored_columns.is_empty() {
            s.push_str(&format!(
                "\n  columns not in the dataset, ignored: {}",
                self.ignored_columns.join(", ")
            ));
        }
        for (reason, n) in &self.by_reason {
            s.push_str(&format!("\n  {n:>8}  {reason}"));
        }
        s
    }
}

/// Most rejects listed in one failed import's message.
const MAX_LISTED_ERRORS: usize = 20;
/// Longest value kept in the quarantine table.
const MAX_KEPT_VALUE: usize = 200;

fn cut(value: &str) -> String {
    value.chars().take(MAX_KEPT_VALUE).collect()
}

/// Reads, validates and loads `file` as the (`dataset`, `year`) slice.
pub fn import_csv(
    store: &Store,
    dataset: &'static Dataset,
    year: i32,
    file: &Path,
    options: ImportOptions,
) -> Result<ImportReport> {
    let bytes = std::fs::read(file)
        .map_err(|e| NodeError::Import(format!("cannot read {}: {e}", file.display())))?;
    let digest = hex::encode(Sha256::digest(&bytes));
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        NodeError::Import(format!(
            "{} is not UTF-8 (byte {}): save it as CSV UTF-8",
            file.display(),
            e.valid_up_to()
        ))
    })?;
    let text = text.trim_start_matches('\u{feff}');
    let first_line = text.lines().next().unwrap_or_default();
    if first_line.trim().is_empty() {
        return Err(NodeError::Import(format!(
            "{} is empty: a header row is expected",
            file.display()
        )));
    }
    let separator = if first_line.matches(';').count() >= first_line.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(separator)
        .flexible(true)
        .from_reader(text.as_bytes());

    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| NodeError::Import(format!("{}: bad header row: {e}", file.display())))?
        .iter()
        .map(normalize_header)
        .collect();
    let expected: Vec<&str> = dataset.columns.iter().map(|c| c.name).collect();
    let positions: Vec<Option<usize>> = expected
        .iter()
        .map(|name| headers.iter().position(|h| h == name))
        .collect();
    let missing: Vec<&str> = expected
        .iter()
        .zip(&positions)
        .filter(|(_, p)| p.is_none())
        .map(|(n, _)| *n)
        .collect();
    let unknown: Vec<&str> = headers
        .iter()
        .filter(|h| !h.is_empty() && !expected.contains(&h.as_str()))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(NodeError::Import(format!(
            "{}: missing column(s) {}{}; dataset {} expects {}",
            file.display(),
            missing.join(", "),
            if unknown.is_empty() {
                String::new()
            } else {
                format!(" (unknown column(s) found: {})", unknown.join(", "))
            },
            dataset.name,
            expected.join(", ")
        )));
    }
    let ignored_columns: Vec<String> = unknown.iter().map(|s| s.to_string()).collect();
    let references = load_references(store, dataset, year)?;
    let key_columns: Vec<usize> = dataset
        .key
        .iter()
        .filter_map(|k| dataset.columns.iter().position(|c| c.name == *k))
        .collect();
    let mut seen_keys: std::collections::HashMap<Vec<String>, u64> = Default::default();
    let positions: Vec<usize> = positions.into_iter().flatten().collect();

    let mut rows = Vec::new();
    let mut rejects: Vec<Reject> = Vec::new();
    let mut rows_read = 0u64;
    let mut rows_quarantined = 0u64;
    for (index, record) in reader.records().enumerate() {
        rows_read += 1;
        let line = index as u64 + 2;
        let whole_line = |reason, detail: String| Reject {
            line,
            column: "(ligne)".to_string(),
            value: String::new(),
            reason,
            detail,
        };
        let record = match record {
            Ok(r) if r.len() == headers.len() => r,
            Ok(r) => {
                rows_quarantined += 1;
                rejects.push(whole_line(
                    "nombre de champs",
                    format!("{} fields where the header has {}", r.len(), headers.len()),
                ));
                continue;
            }
            Err(e) => {
                rows_quarantined += 1;
                rejects.push(whole_line("ligne illisible", e.to_string()));
                continue;
            }
        };
        let mut row = Vec::with_capacity(positions.len());
        let before = rejects.len();
        for (column, &pos) in dataset.columns.iter().zip(&positions) {
            let raw = record.get(pos).unwrap_or_default();
            let checked = parse_value(column, raw, year).and_then(|v| {
                match references.iter().find(|(c, _, _)| *c == column.name) {
                    Some((_, target, known)) if !known.contains(raw.trim()) => Err((
                        "référence inconnue",
                        format!("{:?} is not in the {target} loaded for {year}", cut(raw)),
                    )),
                    _ => Ok(v),
                }
            });
            match checked {
                Ok(v) => row.push(v),
                Err((reason, detail)) => rejects.push(Reject {
                    line,
                    column: column.name.to_string(),
                    value: cut(raw),
                    reason,
                    detail,
                }),
            }
        }
        if rejects.len() == before && !key_columns.is_empty() {
            let key: Vec<String> = key_columns
                .iter()
                .map(|&i| {
                    record
                        .get(positions[i])
                        .unwrap_or_default()
                        .trim()
                        .to_string()
                })
                .collect();
            if let Some(first) = seen_keys.get(&key) {
                rejects.push(Reject {
                    line,
                    column: dataset.key.join("+"),
                    value: cut(&key.join("+")),
                    reason: "doublon",
                    detail: format!("same {} as line {first}", dataset.key.join(" and ")),
                });
            } else {
                seen_keys.insert(key, line);
            }
        }
        if rejects.len() == before {
            rows.push(row);
        } else {
            rows_quarantined += 1;
        }
    }
    let mut by_reason = BTreeMap::new();
    for r in &rejects {
        *by_reason
            .entry(format!("{}: {}", r.column, r.reason))
            .or_insert(0u64) += 1;
    }
    let report = |rows_loaded| ImportReport {
        dataset: dataset.name,
        year,
        rows_read,
        rows_loaded,
        rows_quarantined,
        by_reason: by_reason.clone(),
        ignored_columns: ignored_columns.clone(),
        digest: digest.clone(),
    };
    if rows_read == 0 {
        return Err(NodeError::Import(format!(
            "{}: no data rows under the header; nothing was loaded",
            file.display()
        )));
    }
    let ratio = rows_quarantined as f64 / rows_read as f64;
    if ratio > options.max_reject_ratio || rows.is_empty() {
        let listed: Vec<String> = rejects
            .iter()
            .take(MAX_LISTED_ERRORS)
            .map(|r| format!("line {}, column {}: {}", r.line, r.column, r.detail))
            .collect();
        return Err(NodeError::Import(format!(
            "{}: {rows_quarantined} invalid row(s) of {rows_read} ({:.1}%, the limit is {:.1}%); \
             nothing was loaded. Fix the file or raise the maximum reject ratio.\n{}\n  {}{}",
            file.display(),
            ratio * 100.0,
            options.max_reject_ratio * 100.0,
            report(0).summary(),
            listed.join("\n  "),
            if rejects.len() > MAX_LISTED_ERRORS {
                "\n  ..."
            } else {
                ""
            }
        )));
    }
    let file_name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let version = store.replace_slice(
        dataset,
        year,
        &rows,
        &rejects,
        &SliceSource {
            digest: digest.clone(),
            file_name,
        },
    )?;
    Ok(report(version.rows))
}

type Rejection = (&'static str, String);

/// For each reference of `dataset`: its column, the target dataset's name and the known values.
fn load_references(
    store: &Store,
    dataset: &Dataset,
    year: i32,
) -> Result<
    Vec<(
        &'static str,
        &'static str,
        std::collections::HashSet<String>,
    )>,
> {
    let mut out = Vec::new();
    for r in dataset.references {
        let target = crate::catalogue::dataset(r.target)
            .ok_or_else(|| NodeError::Internal(format!("unknown dataset {}", r.target)))?;
        let known = store.values_of(target, r.target_column, year)?;
        if known.is_empty() {
            return Err(NodeError::Import(format!(
                "no {} loaded for {year}: {} rows refer to them, so import {} {year} first",
                r.target, dataset.name, r.target
            )));
        }
        out.push((r.column, r.target, known));
    }
    Ok(out)
}

fn parse_value(column: &Column, raw: &str, year: i32) -> std::result::Result<Value, Rejection> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(("valeur vide", "empty value".to_string()));
    }
    match column.ty {
        ColumnType::Year => match raw.parse::<i32>() {
            Ok(y) if y == year => Ok(Value::Int(y)),
            Ok(y) => Err((
                "autre année",
                format!("year {y} in a file imported as year {year}"),
            )),
            Err(_) => Err(("pas une année", format!("{raw:?} is not a year"))),
        },
        ColumnType::Int { min, max } => match raw.parse::<i64>() {
            Ok(v) if (min..=max).contains(&v) => Ok(Value::Int(v as i32)),
            Ok(v) => Err(("hors bornes", format!("{v} outside {min}..{max}"))),
            Err(_) => Err(("pas un entier", format!("{raw:?} is not a whole number"))),
        },
        ColumnType::Decimal { min, max } => {
            let normalized = raw
                .replace([' ', '\u{a0}', '\u{202f}'], "")
                .replace(',', ".");
            match normalized.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= min && v <= max => Ok(Value::Double(v)),
                Ok(v) => Err(("hors bornes", format!("{v} outside {min}..{max}"))),
                Err(_) => Err(("pas un nombre", format!("{raw:?} is not a number"))),
            }
        }
        ColumnType::Code(codes) => {
            if codes.contains(&raw) {
                Ok(Value::Text(raw.to_string()))
            } else {
                Err((
                    "hors liste",
                    format!(
                        "{:?} is not an allowed value ({})",
                        cut(raw),
                        codes.join(", ")
                    ),
                ))
            }
        }
        ColumnType::Identifier => text_up_to(raw, 64, "identifier"),
        ColumnType::Label => text_up_to(raw, 200, "label"),
    }
}

fn text_up_to(raw: &str, max: usize, what: &str) -> std::result::Result<Value, Rejection> {
    if raw.len() > max {
        Err((
            "trop long",
            format!("{what} longer than {max} bytes ({} bytes)", raw.len()),
        ))
    } else {
        Ok(Value::Text(raw.to_string()))
    }
}

#[cfg(test)]
mod tests;
