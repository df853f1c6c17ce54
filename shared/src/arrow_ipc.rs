//! Arrow IPC stream encoding, the format of every table on the wire.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;

/// Encodes batches sharing `schema` as one Arrow IPC stream.
pub fn encode(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>, ArrowError> {
    let mut out = Vec::new();
    {
        let mut writer = StreamWriter::try_new(&mut out, schema)?;
        for batch in batches {
            writer.write(batch)?;
        }
        writer.finish()?;
    }
    Ok(out)
}

/// Decodes an Arrow IPC stream into its schema and batches.
pub fn decode(bytes: &[u8]) -> Result<(SchemaRef, Vec<RecordBatch>), ArrowError> {
    let reader = StreamReader::try_new(std::io::Cursor::new(bytes), None)?;
    let schema = reader.schema();
    let batches = reader.collect::<Result<Vec<_>, _>>()?;
    Ok((schema, batches))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn round_trip() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("sexe", DataType::Utf8, false),
            Field::new("nombre", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec!["F", "H"])),
                Arc::new(Int64Array::from(vec![Some(12), None])),
            ],
        )
        .unwrap();
        let bytes = encode(&schema, std::slice::from_ref(&batch)).unwrap();
        let (back_schema, back) = decode(&bytes).unwrap();
        assert_eq!(back_schema, schema);
        assert_eq!(back, vec![batch]);
        assert!(decode(&bytes[..bytes.len() / 2]).is_err());
    }
}
