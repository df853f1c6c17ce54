//! Dates and the export formats other than the UTF-8 CSV of `write.rs`: the
//! Windows-1252 CSV of emploi-territorial, Parquet and XLSX. Every writer is
//! deterministic (no timestamp of the run ends up in a file).

use std::io;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{Field, Schema};
use chrono::{Datelike, NaiveDate};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Workbook};

use super::write::push_int;

/// Days in `year` (365 or 366).
pub fn days_in_year(year: i32) -> u32 {
    if NaiveDate::from_ymd_opt(year, 2, 29).is_some() {
        366
    } else {
        365
    }
}

/// The first day of month `month` (1 to 12) of `year`.
pub fn first_of_month(year: i32, month: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month.clamp(1, 12), 1).expect("valid month")
}

/// Days in month `month` (1 to 12) of `year`.
pub fn days_in_month(year: i32, month: u32) -> u32 {
    let next = if month >= 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    next.and_then(|n| n.pred_opt())
        .map_or(28, |last| last.day())
}

/// Appends a date as French exports write it: `JJ/MM/AAAA`.
pub fn push_date_fr(buf: &mut Vec<u8>, d: NaiveDate) {
    push_int(buf, u64::from(d.day()), 2);
    buf.push(b'/');
    push_int(buf, u64::from(d.month()), 2);
    buf.push(b'/');
    push_int(buf, u64::from(d.year().unsigned_abs()), 4);
}

/// A date as `AAAA-MM-JJ`.
pub fn iso(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// A CSV writer into memory with the settings of the French exports (`;`,
/// CRLF, fields quoted only when needed).
pub fn memory_csv() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(Vec::with_capacity(1 << 16))
}

/// Writes the UTF-8 `text` of a [`memory_csv`] to `path` encoded in
/// Windows-1252, as emploi-territorial and French Excel export; fails if a
/// character has no Windows-1252 byte.
pub fn write_windows_1252(path: &Path, w: csv::Writer<Vec<u8>>) -> io::Result<()> {
    let bytes = w
        .into_inner()
        .map_err(|e| io::Error::other(e.to_string()))?;
    let text = std::str::from_utf8(&bytes).map_err(io::Error::other)?;
    let (encoded, _, lossy) = encoding_rs::WINDOWS_1252.encode(text);
    if lossy {
        return Err(io::Error::other(format!(
            "{}: a character has no Windows-1252 encoding",
            path.display()
        )));
    }
    std::fs::write(path, encoded)
}

/// Writes one Parquet file (Snappy) from named columns of equal length.
pub fn write_parquet(path: &Path, columns: Vec<(&'static str, ArrayRef)>) -> io::Result<()> {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, a)| Field::new(*name, a.data_type().clone(), false))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let arrays = columns.into_iter().map(|(_, a)| a).collect();
    let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(io::Error::other)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let file = std::fs::File::create(path)?;
    let mut writer = ArrowWriter::try_new(file, schema, Some(props)).map_err(io::Error::other)?;
    writer.write(&batch).map_err(io::Error::other)?;
    writer.close().map_err(io::Error::other)?;
    Ok(())
}

/// A cell of an XLSX sheet.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
    /// Nothing written: an empty cell.
    Empty,
}

/// Writes a workbook of one sheet named `sheet`: the header in row 1, then
/// `rows`. The document's creation date is fixed to `created` (1 January of
/// that year) so that the same rows give the same bytes.
pub fn write_xlsx(
    path: &Path,
    sheet: &str,
    header: &[&str],
    rows: &[Vec<Cell>],
    created: i32,
) -> io::Result<()> {
    let xlsx = |e: rust_xlsxwriter::XlsxError| io::Error::other(e.to_string());
    let mut book = Workbook::new();
    let year = u16::try_from(created.clamp(1970, 9999)).unwrap_or(2000);
    let date = ExcelDateTime::from_ymd(year, 1, 1).map_err(xlsx)?;
    book.set_properties(&DocProperties::new().set_creation_datetime(&date));
    let ws = book.add_worksheet();
    ws.set_name(sheet).map_err(xlsx)?;
    for (c, h) in header.iter().enumerate() {
        ws.write_string(0, c as u16, *h).map_err(xlsx)?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = u32::try_from(r + 1).map_err(io::Error::other)?;
        for (c, cell) in row.iter().enumerate() {
            match cell {
                Cell::Text(s) => ws.write_string(r, c as u16, s.as_str()).map(|_| ()),
                Cell::Number(x) => ws.write_number(r, c as u16, *x).map(|_| ()),
                Cell::Empty => Ok(()),
            }
            .map_err(xlsx)?;
        }
    }
    book.save(path).map_err(xlsx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(days_in_year(2024), 366);
        assert_eq!(days_in_year(2023), 365);
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2023, 12), 31);
        let mut b = Vec::new();
        push_date_fr(&mut b, NaiveDate::from_ymd_opt(2024, 3, 5).unwrap());
        assert_eq!(b, b"05/03/2024");
        assert_eq!(
            iso(NaiveDate::from_ymd_opt(2024, 3, 5).unwrap()),
            "2024-03-05"
        );
    }
}
