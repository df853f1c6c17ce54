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

/// A Parquet file. The parquet crate asserts on some damaged files, and the reader catches
/// those panics and reports the file unreadable (`guarded` in `node/read/src/parquet.rs`).
/// libFuzzer's panic hook aborts on any panic, even one that is caught, so this target hears
/// panics silently while it runs: one the reader does not catch still reaches libFuzzer, which
/// reports it as a crash.
pub fn import_parquet(data: &[u8]) {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    read_as(Format::Parquet, "fuzzed.parquet", data);
    std::panic::set_hook(hook);
}
