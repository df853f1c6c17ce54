//! Study results as files: one per query in CSV (as French Excel reads it: `;`, decimal comma,
//! UTF-8 with a BOM), Arrow IPC, Parquet or JSON, or one XLSX workbook (a sheet per query and
//! one for the provenance), for the people who read these tables in spreadsheets.

use std::path::{Path, PathBuf};

use anyhow::Context;
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use cdg_shared::proto::v1::StudyResult;
use cdg_shared::proto::v1::node_outcome::Status as OutcomeStatus;

use crate::output::query_batch;

/// Output formats: `table` prints the pivot tables (and writes CSV files with `--out`); the
/// others are written as files with `--out`, and `json` is printed without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Arrow,
    Parquet,
    Json,
    Xlsx,
}

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Format::Table | Format::Csv => "csv",
            Format::Arrow => "arrow",
            Format::Parquet => "parquet",
            Format::Json => "json",
            Format::Xlsx => "xlsx",
        }
    }
}

/// A cell as JSON: text, integer, number or null.
pub(crate) fn json_value(batch: &RecordBatch, col: usize, row: usize) -> serde_json::Value {
    let a = batch.column(col);
    if a.is_null(row) {
        return serde_json::Value::Null;
    }
    match a.data_type() {
        DataType::Int64 => a.as_primitive::<Int64Type>().value(row).into(),
        DataType::Float64 => a.as_primitive::<Float64Type>().value(row).into(),
        DataType::Utf8 => a.as_string::<i32>().value(row).into(),
        other => format!("({other})").into(),
    }
}

/// The rows of a table as JSON objects keyed by column name.
fn json_rows(batch: &RecordBatch) -> Vec<serde_json::Value> {
    let schema = batch.schema();
    (0..batch.num_rows())
        .map(|r| {
            let row: serde_json::Map<String, serde_json::Value> = schema
                .fields()
                .iter()
                .enumerate()
                .map(|(c, f)| (f.name().clone(), json_value(batch, c, r)))
                .collect();
            row.into()
        })
        .collect()
}

/// The whole result as one JSON document, for scripts: provenance, per-département outcome
/// and every table's rows.
pub fn result_json(result: &StudyResult) -> anyhow::Result<serde_json::Value> {
    let outcomes: Vec<serde_json::Value> = result
        .outcomes
        .iter()
        .map(|o| {
            let status = OutcomeStatus::try_from(o.status).unwrap_or(OutcomeStatus::Unspecified);
            serde_json::json!({
                "cdg": o.cdg,
                "status": status.as_str_name().trim_start_matches("STATUS_").to_lowercase(),
                "message": o.message,
                "cells_released": o.cells_released,
                "cells_suppressed": o.cells_suppressed,
                "policy_version": o.policy_version,
                "attempts": o.attempts,
                "data_versions": o.data_versions.iter().map(|v| serde_json::json!({
                    "dataset": v.dataset, "year": v.year, "digest": v.digest,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut tables = Vec::new();
    for (q, kind) in result
        .queries
        .iter()
        .map(|q| (q, "query"))
        .chain(result.indicators.iter().map(|q| (q, "indicator")))
    {
        let batch = query_batch(q)?;
        tables.push(serde_json::json!({
            kind: q.name,
            "title": q.title,
            "rows": json_rows(&batch),
        }));
    }
    let approvals: Vec<serde_json::Value> = result
        .approvals
        .iter()
        .map(|a| {
            serde_json::json!({
                "director": approver(a),
                "signed_at": a.signed_at,
                "note": a.note,
            })
        })
        .collect();
    Ok(serde_json::json!({
        "study_id": result.study_id,
        "approvals": approvals,
        "digest": result.digest,
        "title": result.title,
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "outcomes": outcomes,
        "tables": tables,
    }))
}

/// Who signed a decision, from its certificate.
pub(crate) fn approver(d: &cdg_shared::proto::v1::SignedDecision) -> String {
    cdg_shared::identity::Principal::from_certificate_der(&d.certificate)
        .map(|p| p.uri())
        .unwrap_or_else(|_| "(unreadable certificate)".into())
}

/// Writes the study's tables into `dir`; returns the files written.
pub fn write_all(result: &StudyResult, dir: &Path, format: Format) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    if format == Format::Xlsx {
        let path = dir.join(format!("{}.xlsx", result.study_id));
        crate::workbook::write(result, &path)?;
        return Ok(vec![path]);
    }
    let mut written = Vec::new();
    for q in crate::output::tables(result) {
        let batch = query_batch(q)?;
        let path = dir.join(format!("{}.{}", q.name, format.extension()));
        let file =
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        match format {
            Format::Table | Format::Csv => write_csv_fr(file, &batch)?,
            Format::Arrow => {
                let mut w = arrow::ipc::writer::FileWriter::try_new(file, &batch.schema())?;
                w.write(&batch)?;
                w.finish()?;
            }
            Format::Parquet => {
                let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None)?;
                w.write(&batch)?;
                w.close()?;
            }
            Format::Json => {
                let doc = serde_json::json!({
                    "study_id": result.study_id,
                    "digest": result.digest,
                    "query": q.name,
                    "title": q.title,
                    "rows": json_rows(&batch),
                });
                serde_json::to_writer_pretty(file, &doc)?;
            }
            Format::Xlsx => unreachable!("written as one workbook above"),
        }
        written.push(path);
    }
    Ok(written)
}

/// Writes `batch` as French Excel opens a CSV file by double-click: UTF-8 with a BOM, `;`
/// between fields, a decimal comma, empty for a missing value.
fn write_csv_fr(file: std::fs::File, batch: &RecordBatch) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(file);
    out.write_all("\u{feff}".as_bytes())?;
    let mut w = csv::WriterBuilder::new().delimiter(b';').from_writer(out);
    let schema = batch.schema();
    w.write_record(schema.fields().iter().map(|f| f.name().as_str()))?;
    for row in 0..batch.num_rows() {
        w.write_record((0..batch.num_columns()).map(|col| cell_fr(batch, col, row)))?;
    }
    w.flush()?;
    Ok(())
}

/// A cell as French spreadsheets write it: decimal comma, nothing for a missing value.
fn cell_fr(batch: &RecordBatch, col: usize, row: usize) -> String {
    match json_value(batch, col, row) {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s,
        serde_json::Value::Number(n) => n.to_string().replace('.', ","),
        other => other.to_string(),
    }
}
