//! Reading an export into raw text columns, whatever its format: CSV (separator and encoding
//! detected), XLSX, Parquet. Readers do not judge values: every field is kept as text for the
//! set-based checks, and only rows that cannot be split into the header's fields are marked
//! (as a defect, quarantined whole).

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Builder, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema};

/// Why a file could not be read, naming the file: the node reports it as an import error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ReadError(pub String);

pub type Result<T, E = ReadError> = std::result::Result<T, E>;

mod csv;
mod parquet;
mod xlsx;

/// File formats the import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
    Parquet,
}

impl Format {
    pub const NAMES: &'static str = "csv, xlsx, parquet";

    pub fn parse(name: &str) -> Option<Format> {
        match name.to_ascii_lowercase().as_str() {
            "csv" | "txt" => Some(Format::Csv),
            "xlsx" | "xlsm" => Some(Format::Xlsx),
            "parquet" | "pq" => Some(Format::Parquet),
            _ => None,
        }
    }

    /// The format named by a file's extension.
    pub fn of(path: &Path) -> Result<Format> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default();
        if ext.eq_ignore_ascii_case("xls") || ext.eq_ignore_ascii_case("ods") {
            return Err(ReadError(format!(
                "{}: .{ext} files are not read; save the sheet as .xlsx or as CSV",
                path.display()
            )));
        }
        Format::parse(&ext).ok_or_else(|| {
            ReadError(format!(
                "{}: cannot tell the format from the extension {ext:?}; name the file .csv, \
                 .xlsx or .parquet, or give --format ({})",
                path.display(),
                Format::NAMES
            ))
        })
    }
}

/// Text encodings of CSV files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Windows1252,
}

impl Encoding {
    pub const NAMES: &'static str = "utf-8, windows-1252";

    pub fn parse(name: &str) -> Option<Encoding> {
        match name.to_ascii_lowercase().replace('_', "-").as_str() {
            "utf-8" | "utf8" => Some(Encoding::Utf8),
            "windows-1252" | "cp1252" | "latin-1" | "latin1" | "iso-8859-1" | "ansi" => {
                Some(Encoding::Windows1252)
            }
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Windows1252 => "Windows-1252",
        }
    }
}

/// How to read a file; `None` means detect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    pub format: Option<Format>,
    pub separator: Option<u8>,
    pub encoding: Option<Encoding>,
    /// XLSX sheet; the first one when `None`.
    pub sheet: Option<String>,
}

/// Maps a file's header row to the position of each dataset column, or says what is wrong.
pub type HeaderMap<'a> = &'a (dyn Fn(&[String]) -> std::result::Result<Vec<usize>, String> + Sync);

/// Receives the rows read, a batch at a time; an error stops the reading.
pub type BatchOut<'a> = &'a mut dyn FnMut(RecordBatch) -> std::result::Result<(), String>;

/// Rows per batch handed to [`BatchOut`]: big enough to amortise, small enough to overlap
/// reading with loading.
const BATCH_ROWS: usize = 64 * 1024;

/// What reading a file found.
pub struct Raw {
    /// Rows read (data rows and defects).
    pub rows: usize,
    /// How the file was read, for the summary ("CSV, `;`, Windows-1252").
    pub read_as: String,
}

/// Name of the staged text column of the dataset column at `index`.
pub fn staged_column(index: usize) -> String {
    format!("c{index}")
}

/// Reads `file` (whose bytes are `bytes`), handing its rows to `out` in text columns: one per
/// dataset column, plus each row's line and defect (see [`RowSink::batch_schema`]).
pub fn read(
    file: &Path,
    bytes: &[u8],
    options: &ReadOptions,
    map: HeaderMap,
    out: BatchOut,
) -> Result<Raw> {
    let format = match options.format {
        Some(f) => f,
        None => Format::of(file)?,
    };
    let fail = |message: String| ReadError(format!("{}: {message}", file.display()));
    let raw = match format {
        Format::Csv => csv::read(bytes, options, map, out),
        Format::Xlsx => xlsx::read(bytes, options, map, out),
        Format::Parquet => parquet::read(bytes, map, out),
    }
    .map_err(fail)?;
    if raw.rows == 0 {
        return Err(fail(format!(
            "no data rows ({}); nothing was loaded",
            raw.read_as
        )));
    }
    Ok(raw)
}

/// Collects rows into text columns: only the fields of the dataset's columns are kept,
/// trimmed, an empty field becoming NULL. Full batches go to the [`BatchOut`].
pub struct RowSink<'a> {
    positions: Vec<usize>,
    width: usize,
    values: Vec<StringBuilder>,
    lines: Int64Builder,
    defects: StringBuilder,
    details: StringBuilder,
    pending: usize,
    rows: usize,
    out: BatchOut<'a>,
    failed: Option<String>,
}

impl<'a> RowSink<'a> {
    /// `positions[i]` is the field of dataset column `i` in rows of `width` fields.
    pub fn new(positions: Vec<usize>, width: usize, out: BatchOut<'a>) -> RowSink<'a> {
        RowSink {
            values: positions.iter().map(|_| StringBuilder::new()).collect(),
            positions,
            width,
            lines: Int64Builder::new(),
            defects: StringBuilder::new(),
            details: StringBuilder::new(),
            pending: 0,
            rows: 0,
            out,
            failed: None,
        }
    }

    /// Adds one row. A row with another number of fields than the header is a defect, except
    /// for trailing empty fields (spreadsheets often write a few).
    pub fn row(&mut self, line: u64, fields: &[&str]) {
        self.row_with(line, fields.len(), |i| fields[i]);
    }

    /// [`row`](Self::row) for a row of `n` fields read with `field(i)`.
    pub fn row_with<'f>(&mut self, line: u64, n: usize, field: impl Fn(usize) -> &'f str) {
        let extra_are_empty = n > self.width && (self.width..n).all(|i| field(i).is_empty());
        if n < self.width || (n > self.width && !extra_are_empty) {
            self.defect(
                line,
                "nombre de champs",
                format!("{n} fields where the header has {}", self.width),
            );
            return;
        }
        self.lines.append_value(line as i64);
        self.defects.append_null();
        self.details.append_null();
        for (builder, &pos) in self.values.iter_mut().zip(&self.positions) {
            match field(pos).trim() {
                "" => builder.append_null(),
                value => builder.append_value(value),
            }
        }
        self.added();
    }

    /// Adds a row that could not be read into fields.
    pub fn defect(&mut self, line: u64, reason: &'static str, detail: String) {
        self.lines.append_value(line as i64);
        self.defects.append_value(reason);
        self.details.append_value(detail);
        for builder in &mut self.values {
            builder.append_null();
        }
        self.added();
    }

    fn added(&mut self) {
        self.rows += 1;
        self.pending += 1;
        if self.pending == BATCH_ROWS {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.pending == 0 || self.failed.is_some() {
            return;
        }
        self.pending = 0;
        let batch = self.batch();
        if let Err(e) = (self.out)(batch) {
            self.failed = Some(e);
        }
    }

    /// Hands over the last rows; says why the rows could not all be handed over.
    pub fn finish(mut self) -> std::result::Result<usize, String> {
        self.flush();
        match self.failed {
            Some(e) => Err(e),
            None => Ok(self.rows),
        }
    }

    /// The batch of the pending rows: `line`, `defect`, `defect_detail`, then `c0`, `c1`, ...
    fn batch(&mut self) -> RecordBatch {
        let mut fields = vec![
            Field::new("line", DataType::Int64, false),
            Field::new("defect", DataType::Utf8, true),
            Field::new("defect_detail", DataType::Utf8, true),
        ];
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.lines.finish()),
            Arc::new(self.defects.finish()),
            Arc::new(self.details.finish()),
        ];
        for (i, b) in self.values.iter_mut().enumerate() {
            fields.push(Field::new(staged_column(i), DataType::Utf8, true));
            columns.push(Arc::new(b.finish()));
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
            .expect("staged columns have equal lengths")
    }
}
