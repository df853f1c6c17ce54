//! Parquet files: column names are the header; every value is cast to the text a CSV export
//! would carry (booleans as oui/non, dates as AAAA-MM-JJ). Rows are numbered from 1.

use arrow::array::{Array, AsArray, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use cdg_shared::text;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::metadata::ParquetMetaData;

use super::{BatchOut, HeaderMap, Raw, RowSink};

pub fn read(bytes: &[u8], map: HeaderMap, out: BatchOut) -> Result<Raw, String> {
    let builder = guarded(|| {
        ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(bytes))
            .map_err(|e| format!("not a readable Parquet file ({e})"))
    })?;
    let headers: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let positions = map(&headers)?;
    check_chunks(builder.metadata(), bytes.len())?;
    let mut reader = guarded(|| {
        builder
            .with_batch_size(64 * 1024)
            .build()
            .map_err(|e| format!("cannot read the Parquet file: {e}"))
    })?;
    let mut sink = RowSink::new((0..positions.len()).collect(), positions.len(), out);
    let mut line = 0u64;
    while let Some(batch) = guarded(|| {
        reader
            .next()
            .transpose()
            .map_err(|e| format!("cannot read the Parquet file: {e}"))
    })? {
        let columns: Vec<StringArray> = guarded(|| {
            positions
                .iter()
                .map(|&p| as_text(batch.column(p).as_ref(), &headers[p]))
                .collect()
        })?;
        let mut fields: Vec<&str> = Vec::with_capacity(columns.len());
        for row in 0..batch.num_rows() {
            line += 1;
            fields.clear();
            fields.extend(
                columns
                    .iter()
                    .map(|c| if c.is_null(row) { "" } else { c.value(row) }),
            );
            sink.row(line, &fields);
        }
    }
    Ok(Raw {
        rows: sink.finish()?,
        read_as: "Parquet".into(),
    })
}

/// Runs a call into the parquet and arrow crates, which assert on some damaged files (a
/// division by zero in a page decoder, found by the fuzzer): a panic there is an unreadable
/// file, reported as such, not a crashed import.
fn guarded<T>(call: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)).unwrap_or_else(|panic| {
        Err(format!(
            "not a readable Parquet file (the Parquet reader gave up: {}); export it again, or \
             as CSV",
            text::panic_message(panic.as_ref())
        ))
    })
}

/// Checks that every column chunk the footer declares lies within the file: the parquet
/// crate asserts (panics) on a negative start or size when it opens a row group.
fn check_chunks(metadata: &ParquetMetaData, file_len: usize) -> Result<(), String> {
    for (g, group) in metadata.row_groups().iter().enumerate() {
        for chunk in group.columns() {
            let start = chunk
                .dictionary_page_offset()
                .unwrap_or(chunk.data_page_offset());
            let len = chunk.compressed_size();
            let inside = start >= 0
                && len >= 0
                && start
                    .checked_add(len)
                    .is_some_and(|end| u64::try_from(end).is_ok_and(|end| end <= file_len as u64));
            if !inside {
                return Err(format!(
                    "not a readable Parquet file (row group {g}: column {} declares {len} bytes \
                     at byte {start}, outside the file's {file_len} bytes)",
                    text::quote(chunk.column_path().string().as_str())
                ));
            }
        }
    }
    Ok(())
}

fn as_text(array: &dyn Array, name: &str) -> Result<StringArray, String> {
    if let DataType::Boolean = array.data_type() {
        let b = array.as_boolean();
        return Ok(b
            .iter()
            .map(|v| v.map(|v| if v { "oui" } else { "non" }))
            .collect());
    }
    let text = cast(array, &DataType::Utf8).map_err(|e| {
        format!(
            "column {} of type {} cannot be read as text: {e}",
            text::quote(name),
            array.data_type()
        )
    })?;
    Ok(text.as_string::<i32>().clone())
}
