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
fn json_value(batch: &RecordBatch, col: usize, row: usize) -> serde_json::Value {
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
fn approver(d: &cdg_shared::proto::v1::SignedDecision) -> String {
    cdg_shared::identity::Principal::from_certificate_der(&d.certificate)
        .map(|p| p.uri())
        .unwrap_or_else(|_| "(unreadable certificate)".into())
}

/// Writes the study's tables into `dir`; returns the files written.
pub fn write_all(result: &StudyResult, dir: &Path, format: Format) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    if format == Format::Xlsx {
        let path = dir.join(format!("{}.xlsx", result.study_id));
        write_workbook(result, &path)?;
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

/// A sheet name Excel accepts: at most 31 characters, none of `[]:*?/\`, and not one of
/// `used` (Excel compares them without regard to case): a second `effectifs_par_…` becomes
/// `effectifs_par_…~2`, still within 31 characters.
fn sheet_name(name: &str, used: &mut Vec<String>) -> String {
    let clean: String = name
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .collect();
    let taken =
        |n: &str, used: &[String]| used.iter().any(|u| u.to_lowercase() == n.to_lowercase());
    let mut candidate: String = clean.chars().take(31).collect();
    let mut k = 2;
    while taken(&candidate, used) {
        let suffix = format!("~{k}");
        candidate = clean.chars().take(31 - suffix.len()).collect::<String>() + &suffix;
        k += 1;
    }
    used.push(candidate.clone());
    candidate
}

fn write_workbook(result: &StudyResult, path: &Path) -> anyhow::Result<()> {
    use rust_xlsxwriter::{Format as CellFormat, Workbook};
    let mut book = Workbook::new();
    let bold = CellFormat::new().set_bold();
    // Excel reserves "History" for itself.
    let mut used = vec!["Origine".to_string(), "History".to_string()];
    let about = book.add_worksheet().set_name("Origine")?;
    let approvals: Vec<String> = result
        .approvals
        .iter()
        .map(|a| format!("{} ({})", approver(a), a.signed_at))
        .collect();
    let lines = [
        ("Étude", format!("{} {}", result.study_id, result.title)),
        ("Empreinte SHA-256", result.digest.clone()),
        ("Début", result.started_at.clone()),
        ("Fin", result.finished_at.clone()),
        ("Approuvée par", approvals.join(", ")),
    ];
    for (r, (k, v)) in lines.iter().enumerate() {
        about.write_string_with_format(r as u32, 0, *k, &bold)?;
        about.write_string(r as u32, 1, v)?;
    }
    let first = lines.len() as u32 + 1;
    about.write_string_with_format(first, 0, "Département", &bold)?;
    about.write_string_with_format(first, 1, "Réponse", &bold)?;
    about.write_string_with_format(first, 2, "Versions des données", &bold)?;
    about.write_string_with_format(first, 3, "Version de la politique", &bold)?;
    for (i, o) in result.outcomes.iter().enumerate() {
        let r = first + 1 + i as u32;
        let status = crate::output::outcome_label(o.status);
        let answer = if o.message.is_empty() {
            status.to_string()
        } else {
            format!("{status} : {}", o.message)
        };
        about.write_string(r, 0, &o.cdg)?;
        about.write_string(r, 1, &answer)?;
        let versions: Vec<String> = o
            .data_versions
            .iter()
            .map(|v| {
                format!(
                    "{} {} ({})",
                    v.dataset,
                    v.year,
                    cdg_shared::text::prefix(&v.digest, 12)
                )
            })
            .collect();
        about.write_string(r, 2, versions.join(", "))?;
        about.write_string(r, 3, &o.policy_version)?;
    }
    // Each query's sheet and title, then what the marks mean.
    let mut r = first + 2 + result.outcomes.len() as u32;
    about.write_string_with_format(r, 0, "Feuille", &bold)?;
    about.write_string_with_format(r, 1, "Tableau", &bold)?;
    let names: Vec<String> = crate::output::tables(result)
        .map(|q| sheet_name(&q.name, &mut used))
        .collect();
    for (q, name) in crate::output::tables(result).zip(&names) {
        r += 1;
        about.write_string(r, 0, name)?;
        about.write_string(r, 1, &q.title)?;
    }
    about.write_string_with_format(r + 2, 0, "Légende", &bold)?;
    about.write_string(r + 2, 1, crate::output::LEGEND)?;
    for (q, name) in crate::output::tables(result).zip(&names) {
        let batch = query_batch(q)?;
        let sheet = book.add_worksheet().set_name(name)?;
        for (c, f) in batch.schema().fields().iter().enumerate() {
            sheet.write_string_with_format(0, c as u16, f.name(), &bold)?;
        }
        for r in 0..batch.num_rows() {
            for c in 0..batch.num_columns() {
                let (row, col) = (r as u32 + 1, c as u16);
                match json_value(&batch, c, r) {
                    serde_json::Value::Number(n) => {
                        sheet.write_number(row, col, n.as_f64().unwrap_or(f64::NAN))?;
                    }
                    serde_json::Value::String(s) => {
                        sheet.write_string(row, col, s)?;
                    }
                    _ => {} // withheld: left empty, its `diffusion` says why
                }
            }
        }
    }
    book.save(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_are_unique_within_31_characters() {
        // Excel reserves "History" for itself.
        let mut used = vec!["Origine".to_string(), "History".to_string()];
        let long = "effectifs_par_categorie_filiere_et_statut";
        assert_eq!(
            sheet_name(long, &mut used),
            "effectifs_par_categorie_filiere"
        );
        assert_eq!(
            sheet_name(long, &mut used),
            "effectifs_par_categorie_filie~2"
        );
        assert_eq!(
            sheet_name(long, &mut used),
            "effectifs_par_categorie_filie~3"
        );
        assert_eq!(sheet_name("origine", &mut used), "origine~2");
        assert_eq!(sheet_name("a/b:c", &mut used), "a_b_c");
        let mut used = vec!["Origine".to_string(), "History".to_string()];
        assert_eq!(sheet_name("history", &mut used), "history~2");
        assert!(used.iter().all(|n| n.chars().count() <= 31));
    }
}
