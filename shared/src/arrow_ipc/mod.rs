//! Arrow IPC stream encoding, the format of every table on the wire.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;

mod layout;

use layout::Layout;

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

/// Decodes an Arrow IPC stream into its schema and batches. The bytes may come from anywhere
/// (a node's answer): every buffer a message points to is checked to lie within its message,
/// aligned as the format requires and sized in whole values of its column's type, before arrow
/// reads it, since arrow's reader slices and aligns with assertions that panic.
pub fn decode(bytes: &[u8]) -> Result<(SchemaRef, Vec<RecordBatch>), ArrowError> {
    check_buffers(bytes)?;
    let read = || {
        let reader = StreamReader::try_new(std::io::Cursor::new(bytes), None)?;
        let schema = reader.schema();
        let batches = reader.collect::<Result<Vec<_>, _>>()?;
        Ok((schema, batches))
    };
    // Should arrow assert on a buffer the checks above let through, the stream is an error,
    // not a crash (the fuzz targets, which abort on any panic, find such buffers).
    std::panic::catch_unwind(read).unwrap_or_else(|panic| {
        Err(damaged(format!(
            "arrow's reader gave up: {}",
            crate::text::panic_message(panic.as_ref())
        )))
    })
}

fn damaged(what: String) -> ArrowError {
    ArrowError::IpcError(format!("damaged Arrow IPC stream: {what}"))
}

/// The bytes of a stream not read yet.
struct Rest<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Rest<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ArrowError> {
        let at = self.at;
        let part = at
            .checked_add(n)
            .and_then(|end| self.bytes.get(at..end))
            .ok_or_else(|| damaged(format!("{what} of {n} bytes at byte {at} is cut off")))?;
        self.at += n;
        Ok(part)
    }

    fn word(&mut self) -> Result<i32, ArrowError> {
        let mut word = [0u8; 4];
        word.copy_from_slice(self.take(4, "a message length")?);
        Ok(i32::from_le_bytes(word))
    }
}

/// Walks the stream's messages as arrow's reader frames them (an optional continuation
/// marker, the metadata's length, the metadata, the body) and checks that each buffer of a
/// record or dictionary batch lies within its message's body.
fn check_buffers(bytes: &[u8]) -> Result<(), ArrowError> {
    let mut rest = Rest { bytes, at: 0 };
    let mut layout: Option<Layout> = None;
    while rest.at < bytes.len() {
        let mut length = rest.word()?;
        if length == -1 {
            length = rest.word()?;
        }
        if length == 0 {
            break;
        }
        let length = usize::try_from(length)
            .map_err(|_| damaged(format!("negative message length {length}")))?;
        let message = arrow::ipc::root_as_message(rest.take(length, "a message")?)
            .map_err(|e| damaged(format!("unreadable message: {e}")))?;
        let body = message.bodyLength();
        if let Some(schema) = message.header_as_schema() {
            layout = Some(Layout::of(schema).map_err(damaged)?);
        }
        if message.header_as_dictionary_batch().is_some() {
            return Err(damaged(
                "a dictionary batch, which answers never hold".into(),
            ));
        }
        let batch = message.header_as_record_batch();
        if let Some(batch) = batch {
            let layout = layout
                .as_ref()
                .ok_or_else(|| damaged("a record batch before its schema".into()))?;
            layout.check(&batch).map_err(damaged)?;
        }
        for buffer in batch.and_then(|b| b.buffers()).iter().flatten() {
            let (offset, length) = (buffer.offset(), buffer.length());
            let inside = offset >= 0
                && length >= 0
                && offset.checked_add(length).is_some_and(|end| end <= body);
            if !inside {
                return Err(damaged(format!(
                    "a buffer at offset {offset} of length {length} lies outside its message \
                     body of {body} bytes"
                )));
            }
            // The format aligns every buffer on 8 bytes (arrow asserts it on some reads).
            if offset % 8 != 0 {
                return Err(damaged(format!(
                    "a buffer at offset {offset} is not 8-byte aligned"
                )));
            }
        }
        let body =
            usize::try_from(body).map_err(|_| damaged(format!("negative body length {body}")))?;
        rest.take(body, "a message body")?;
    }
    Ok(())
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

    /// A node's answer is untrusted bytes: every truncation and every single-byte change of a
    /// real answer decodes or fails, and never panics.
    #[test]
    fn damaged_streams_fail_without_panicking() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("tranche_age", DataType::Utf8, false),
            Field::new("diffusion", DataType::Utf8, false),
            Field::new("nombre", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec!["<25", "25-29", "65+"])),
                Arc::new(StringArray::from(vec!["diffusé", "secret", "diffusé"])),
                Arc::new(Int64Array::from(vec![Some(12), None, Some(40)])),
            ],
        )
        .unwrap();
        let bytes = encode(&schema, &[batch.clone(), batch]).unwrap();
        let mut panics = Vec::new();
        let mut attempt = |damaged: &[u8], what: String| {
            if std::panic::catch_unwind(|| decode(damaged)).is_err() {
                panics.push(what);
            }
        };
        for n in 0..bytes.len() {
            attempt(&bytes[..n], format!("cut at {n}"));
        }
        for i in 0..bytes.len() {
            for value in [
                0x00,
                0xFF,
                0x7F,
                0x80,
                bytes[i] ^ 0x01,
                bytes[i].wrapping_add(8),
            ] {
                let mut damaged = bytes.clone();
                damaged[i] = value;
                attempt(&damaged, format!("byte {i} set to {value:#04x}"));
            }
        }
        assert!(panics.is_empty(), "decode panicked: {panics:?}");
    }

    /// Found by the `node_answer` fuzz target: a string column's offsets buffer of 5 bytes
    /// made arrow's reader assert; the length check refuses it before arrow reads it.
    #[test]
    fn an_offsets_buffer_of_a_partial_value_is_refused_before_arrow_reads_it() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fuzz/regressions/node_answer");
        let mut found = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            let error = check_buffers(&bytes).unwrap_err();
            assert!(error.to_string().contains("whole number"), "{error}");
            found += 1;
        }
        assert!(found > 0);
    }
}
