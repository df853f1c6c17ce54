//! Parquet files: column names are the header; every value is cast to the text a CSV export
//! would carry (booleans as oui/non, dates as AAAA-MM-JJ). Rows are numbered from 1.

use arrow::array::{Array, AsArray, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::{BatchOut, HeaderMap, Raw, RowSink};

pub fn read(bytes: &[u8], map: HeaderMap, out: BatchOut) -> Result<Raw, String> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(bytes))
        .map_err(|e| format!("not a readable Parquet file ({e})"))?;
    let headers: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let positions = map(&headers)?;
    let reader = builder
        .with_batch_size(64 * 1024)
        .build()
        .map_err(|e| format!("cannot read the Parquet file: {e}"))?;
    let mut sink = RowSink::new((0..positions.len()).collect(), positions.len(), out);
    let mut line = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| format!("cannot read the Parquet file: {e}"))?;
        let columns: Vec<StringArray> = positions
            .iter()
            .map(|&p| as_text(batch.column(p).as_ref(), &headers[p]))
            .collect::<Result<_, _>>()?;
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
            "column {name:?} of type {} cannot be read as text: {e}",
            array.data_type()
        )
    })?;
    Ok(text.as_string::<i32>().clone())
}
