//! One dataset's live rows, read from DuckDB once into columns: each dimension dictionary-coded
//! as DuckDB writes it as text, each measure as a double, and the record key, the unit and the
//! employer of every row.

use std::collections::HashMap;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{ArrowPrimitiveType, DataType, Float64Type, UInt32Type};

use crate::catalogue::Dataset;
use crate::error::{NodeError, Result};
use crate::store::Store;
use crate::store::slices::RECORD_KEY;

/// The code of a NULL value in a [`Codes`] column.
pub const NULL: u32 = u32::MAX;

/// A text column, dictionary-coded: `values[codes[row]]`, or NULL when the code is [`NULL`].
#[derive(Debug, Default)]
pub struct Codes {
    pub codes: Vec<u32>,
    pub values: Vec<String>,
}

impl Codes {
    /// The text of `code` (None for NULL).
    pub fn text(&self, code: u32) -> Option<&str> {
        (code != NULL).then(|| self.values[code as usize].as_str())
    }
}

/// A dataset's rows, as columns.
#[derive(Debug)]
pub struct Table {
    pub rows: usize,
    /// By dimension name.
    pub dimensions: HashMap<&'static str, Codes>,
    /// By measure name: the value of each row, NaN where NULL.
    pub measures: HashMap<&'static str, Vec<f64>>,
    pub record_keys: Vec<u32>,
    /// The unit of each row (its distinct count is a cell's units).
    pub units: Codes,
    /// The employer of each row, for datasets whose rows have one.
    pub employers: Option<Codes>,
    /// The store's generation the rows were read at.
    pub generation: u64,
}

impl Table {
    /// Reads every live row of `dataset` (and the columns its joins add: the joins are on the
    /// joined table's whole key, so they never change the rows).
    pub fn read(store: &Store, dataset: &'static Dataset) -> Result<Table> {
        let generation = store.generation();
        let mut select: Vec<String> = dataset
            .dimensions
            .iter()
            .map(|d| format!("CAST(({}) AS VARCHAR)", d.sql))
            .collect();
        select.extend(
            dataset
                .measures
                .iter()
                .map(|m| format!("CAST(({}) AS DOUBLE)", m.sql)),
        );
        select.push(format!("t.{RECORD_KEY}"));
        select.push(format!("CAST(({}) AS VARCHAR)", dataset.unit_sql));
        let with_employer = dataset.column("employeur_id").is_some();
        if with_employer {
            select.push("CAST(t.employeur_id AS VARCHAR)".to_string());
        }
        let mut fragments: Vec<&str> = dataset.dimensions.iter().map(|d| d.sql).collect();
        fragments.extend(dataset.measures.iter().map(|m| m.sql));
        let sql = format!(
            "SELECT {} FROM {}",
            select.join(", "),
            dataset.from_clause(&fragments)
        );
        let batches = store.arrow(&sql)?;
        let column = |i: usize| -> Vec<ArrayRef> {
            batches
                .iter()
                .map(|b: &RecordBatch| b.column(i).clone())
                .collect()
        };
        let mut at = 0;
        let mut dimensions = HashMap::new();
        for d in dataset.dimensions {
            dimensions.insert(d.name, codes(&column(at))?);
            at += 1;
        }
        let mut measures = HashMap::new();
        for m in dataset.measures {
            measures.insert(m.name, numbers::<Float64Type>(&column(at), f64::NAN)?);
            at += 1;
        }
        // A row without a record key adds nothing to its cell's key, as in SQL's SUM.
        let record_keys = numbers::<UInt32Type>(&column(at), 0)?;
        let units = codes(&column(at + 1))?;
        let employers = if with_employer {
            Some(codes(&column(at + 2))?)
        } else {
            None
        };
        Ok(Table {
            rows: record_keys.len(),
            dimensions,
            measures,
            record_keys,
            units,
            employers,
            generation,
        })
    }
}

fn cast(array: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
    Ok(arrow::compute::cast(array, to)?)
}

/// Dictionary-codes a text column (codes in order of first appearance).
fn codes(arrays: &[ArrayRef]) -> Result<Codes> {
    let mut out = Codes::default();
    let mut index: HashMap<String, u32> = HashMap::new();
    for array in arrays {
        let array = cast(array, &DataType::Utf8)?;
        let text = array.as_string::<i32>();
        out.codes.reserve(text.len());
        for i in 0..text.len() {
            if text.is_null(i) {
                out.codes.push(NULL);
                continue;
            }
            let value = text.value(i);
            // Rows come in runs of one year, one employer...: the last value first.
            if let Some(&last) = out.codes.last()
                && last != NULL
                && out.values[last as usize] == value
            {
                out.codes.push(last);
                continue;
            }
            let code = match index.get(value) {
                Some(&code) => code,
                None => {
                    let code = u32::try_from(out.values.len())
                        .ok()
                        .filter(|&c| c != NULL)
                        .ok_or_else(|| NodeError::Internal("too many distinct values".into()))?;
                    index.insert(value.to_string(), code);
                    out.values.push(value.to_string());
                    code
                }
            };
            out.codes.push(code);
        }
    }
    Ok(out)
}

/// A numeric column as `T`, `null` where the value is NULL.
fn numbers<T: ArrowPrimitiveType>(arrays: &[ArrayRef], null: T::Native) -> Result<Vec<T::Native>> {
    let mut out = Vec::new();
    for array in arrays {
        let array = cast(array, &T::DATA_TYPE)?;
        let values = array.as_primitive::<T>();
        out.extend((0..values.len()).map(|i| {
            if values.is_null(i) {
                null
            } else {
                values.value(i)
            }
        }));
    }
    Ok(out)
}
