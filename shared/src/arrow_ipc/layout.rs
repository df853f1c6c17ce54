//! What each buffer of a record batch holds, from the stream's schema: arrow's reader views an
//! offsets or values buffer as a slice of `i32`, `i64` or `f64` and asserts (panics) when its
//! length is not a whole number of them. Checking the lengths first turns such a stream into an
//! error. Only flat columns of the types answers and results carry are accepted.

use arrow::ipc::{Field, Precision, RecordBatch, Schema, Type};

/// One buffer of a column, as the IPC format lays it out.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Buffer {
    /// A validity or boolean bitmap: any number of bytes.
    Bitmap,
    /// Values of this many bytes each.
    Values(i64),
    /// Offsets of this many bytes each, into the next buffer.
    Offsets(i64),
    /// The bytes the offsets point into.
    Bytes,
}

/// The buffers of every column of a schema, in the order record batches list them.
#[derive(Debug, Default)]
pub(super) struct Layout(Vec<(String, Buffer)>);

impl Layout {
    /// The layout of `schema`, or why it is not one this project reads.
    pub(super) fn of(schema: Schema<'_>) -> Result<Layout, String> {
        let mut buffers = Vec::new();
        for field in schema.fields().iter().flatten() {
            let name = field.name().unwrap_or_default();
            let quoted = crate::text::quote(name);
            if field.dictionary().is_some() {
                return Err(format!("column {quoted} is dictionary-encoded"));
            }
            if field.children().is_some_and(|c| !c.is_empty()) {
                return Err(format!("column {quoted} is nested"));
            }
            let of_column = column(field).ok_or_else(|| {
                format!(
                    "column {quoted} has the Arrow type {:?}, which answers and results never hold",
                    field.type_type()
                )
            })?;
            buffers.extend(of_column.iter().map(|b| (name.to_string(), *b)));
        }
        Ok(Layout(buffers))
    }

    /// Checks that every buffer of `batch` can be read as its column's type says.
    pub(super) fn check(&self, batch: &RecordBatch<'_>) -> Result<(), String> {
        if batch.compression().is_some() {
            return Err("its body is compressed, which this project never does".into());
        }
        let buffers = batch.buffers().map(|b| b.len()).unwrap_or(0);
        if buffers != self.0.len() {
            return Err(format!(
                "a record batch lists {buffers} buffers where its schema has {}",
                self.0.len()
            ));
        }
        for (buffer, (column, kind)) in batch.buffers().iter().flatten().zip(&self.0) {
            let width = match kind {
                Buffer::Values(w) | Buffer::Offsets(w) => *w,
                Buffer::Bitmap | Buffer::Bytes => continue,
            };
            if buffer.length() % width != 0 {
                return Err(format!(
                    "a buffer of column {} holds {} bytes, not a whole number of {width}-byte values",
                    crate::text::quote(column),
                    buffer.length()
                ));
            }
        }
        Ok(())
    }
}

/// The buffers of a flat column, by its type; `None` for a type not read here.
fn column(field: Field<'_>) -> Option<Vec<Buffer>> {
    use Buffer::*;
    let fixed = |bytes: i64| Some(vec![Bitmap, Values(bytes)]);
    match field.type_type() {
        Type::Null => Some(vec![]),
        Type::Bool => Some(vec![Bitmap, Bitmap]),
        Type::Int => {
            let bits = field.type_as_int()?.bitWidth();
            matches!(bits, 8 | 16 | 32 | 64).then_some(())?;
            fixed(i64::from(bits / 8))
        }
        Type::FloatingPoint => match field.type_as_floating_point()?.precision() {
            Precision::HALF => fixed(2),
            Precision::SINGLE => fixed(4),
            Precision::DOUBLE => fixed(8),
            _ => None,
        },
        Type::Date => fixed(
            if field.type_as_date()?.unit() == arrow::ipc::DateUnit::DAY {
                4
            } else {
                8
            },
        ),
        Type::Utf8 | Type::Binary => Some(vec![Bitmap, Offsets(4), Bytes]),
        Type::LargeUtf8 | Type::LargeBinary => Some(vec![Bitmap, Offsets(8), Bytes]),
        _ => None,
    }
}
