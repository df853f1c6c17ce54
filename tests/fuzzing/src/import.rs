//! An export as a CDG's IT team drops it in the import folder: read by the node's readers
//! (`cdg-read`) into the text columns that the checks then judge. Whatever the bytes, a reader
//! returns rows or an error that names the file; it never panics or allocates by what a file
//! declares.

use std::path::Path;

use cdg_read::{Format, ReadOptions, read};

/// Reads `data` as a file of `format`, with a header map that takes the first few columns,
/// whatever their names (the datasets' own maps only refuse more).
fn read_as(format: Format, name: &str, data: &[u8]) {
    let options = ReadOptions {
        format: Some(format),
        ..ReadOptions::default()
    };
    let map = |headers: &[String]| Ok((0..headers.len().min(4)).collect());
    let mut rows = 0usize;
    let mut out = |batch: arrow::array::RecordBatch| {
        rows += batch.num_rows();
        Ok(())
    };
    let _ = read(Path::new(name), data, &options, &map, &mut out);
}

/// A CSV export (separator and encoding detected).
pub fn import_csv(data: &[u8]) {
    read_as(Format::Csv, "fuzzed.csv", data);
}

/// An XLSX workbook (a zip of XML parts).
pub fn import_xlsx(data: &[u8]) {
    read_as(Format::Xlsx, "fuzzed.xlsx", data);
}

/// A Parquet file.
pub fn import_parquet(data: &[u8]) {
    read_as(Format::Parquet, "fuzzed.parquet", data);
}
