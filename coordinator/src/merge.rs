//! The regional merge: the nodes' tables stacked with a `departement` column, plus regional rows.
//!
//! Regional values are computed from released département cells only. When some département's
//! cell is suppressed, the regional row says so (`partiel`) and its value covers only the released
//! départements, so subtracting the published départements from it reveals nothing about the
//! hidden one.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Float64Array, Float64Builder, Int64Array, Int64Builder, RecordBatch,
    StringArray, StringBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use cdg_shared::cdg::Cdg;
use cdg_shared::query::{
    Aggregate, AggregateQuery, DEPARTEMENT_COLUMN, REGION, RELEASED, natural_order_all,
};

/// `diffusion` of a regional cell where every département's cell is suppressed.
pub const REGION_SECRET: &str = "secret";

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("CDG {cdg} answered with columns [{found}], expected [{expected}]")]
    Schema {
        cdg: Cdg,
        found: String,
        expected: String,
    },
    #[error("building the regional table: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}

fn field_list(schema: &Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| format!("{}: {}", f.name(), f.data_type()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks a node's batch against the schema the query calls for.
pub fn check_schema(
    query: &AggregateQuery,
    cdg: Cdg,
    batch: &RecordBatch,
) -> Result<(), MergeError> {
    let expected = query.result_schema();
    let found = batch.schema();
    let same = expected.fields().len() == found.fields().len()
        && expected
            .fields()
            .iter()
            .zip(found.fields())
            .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
    if same {
        Ok(())
    } else {
        Err(MergeError::Schema {
            cdg,
            found: field_list(&found),
            expected: field_list(&expected),
        })
    }
}

/// A regional cell being accumulated: sums of released values (weighted sums for means), the
/// weights of the means, and how many départements' cells were released or suppressed.
struct RegionalCell {
    sums: Vec<f64>,
    weights: Vec<f64>,
    released: usize,
    suppressed: usize,
}

struct Row {
    departement: String,
    dims: Vec<String>,
    diffusion: String,
    values: Vec<Option<f64>>,
}

fn read_rows(query: &AggregateQuery, cdg: Cdg, batch: &RecordBatch) -> Vec<Row> {
    let dims = query.group_by.len();
    let text = |i: usize| {
        batch
            .column(i)
            .as_any()
            .downcast_ref::<StringArray>()
            .cloned()
    };
    let dim_cols: Vec<StringArray> = (0..dims).filter_map(text).collect();
    let diffusion = text(dims).unwrap_or_else(|| StringArray::from(Vec::<&str>::new()));
    let measures: Vec<Vec<Option<f64>>> = query
        .measures
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let col = batch.column(dims + 1 + i);
            if m.aggregate == Aggregate::Count {
                let a = col.as_any().downcast_ref::<Int64Array>();
                (0..batch.num_rows())
                    .map(|r| a.filter(|a| a.is_valid(r)).map(|a| a.value(r) as f64))
                    .collect()
            } else {
                let a = col.as_any().downcast_ref::<Float64Array>();
                (0..batch.num_rows())
                    .map(|r| a.filter(|a| a.is_valid(r)).map(|a| a.value(r)))
                    .collect()
            }
        })
        .collect();
    (0..batch.num_rows())
        .map(|r| Row {
            departement: cdg.code().to_string(),
            dims: dim_cols.iter().map(|c| c.value(r).to_string()).collect(),
            diffusion: diffusion.value(r).to_string(),
            values: measures.iter().map(|m| m[r]).collect(),
        })
        .collect()
}

/// The schema of a regional table.
pub fn regional_schema(query: &AggregateQuery) -> SchemaRef {
    let node = query.result_schema();
    let mut fields = vec![Field::new(DEPARTEMENT_COLUMN, DataType::Utf8, false)];
    fields.extend(node.fields().iter().map(|f| f.as_ref().clone()));
    Arc::new(Schema::new(fields))
}

/// Merges the answered départements' batches (already schema-checked) into the regional table.
pub fn merge(
    query: &AggregateQuery,
    answers: &[(Cdg, RecordBatch)],
) -> Result<RecordBatch, MergeError> {
    let mut rows: Vec<Row> = Vec::new();
    for (cdg, batch) in answers {
        check_schema(query, *cdg, batch)?;
        rows.extend(read_rows(query, *cdg, batch));
    }
    let count_index = query
        .measures
        .iter()
        .position(|m| m.aggregate == Aggregate::Count);
    let mut regional: BTreeMap<Vec<String>, RegionalCell> = BTreeMap::new();
    for row in &rows {
        let acc = regional
            .entry(row.dims.clone())
            .or_insert_with(|| RegionalCell {
                sums: vec![0.0; query.measures.len()],
                weights: vec![0.0; query.measures.len()],
                released: 0,
                suppressed: 0,
            });
        if row.diffusion != RELEASED {
            acc.suppressed += 1;
            continue;
        }
        acc.released += 1;
        let weight = count_index.and_then(|i| row.values[i]).unwrap_or(0.0);
        for (i, m) in query.measures.iter().enumerate() {
            let v = row.values[i].unwrap_or(0.0);
            if m.aggregate == Aggregate::Mean {
                acc.sums[i] += v * weight;
                acc.weights[i] += weight;
            } else {
                acc.sums[i] += v;
            }
        }
    }
    for (dims, cell) in regional {
        let RegionalCell {
            sums,
            weights,
            released,
            suppressed,
        } = cell;
        let diffusion = match (released, suppressed) {
            (_, 0) => RELEASED.to_string(),
            (0, _) => REGION_SECRET.to_string(),
            (_, n) => format!("partiel: {n} département(s) en secret, non comptés"),
        };
        let values = query
            .measures
            .iter()
            .enumerate()
            .map(|(i, m)| match (released, m.aggregate) {
                (0, _) => None,
                (_, Aggregate::Mean) if weights[i] > 0.0 => Some(sums[i] / weights[i]),
                (_, Aggregate::Mean) => None,
                _ => Some(sums[i]),
            })
            .collect();
        rows.push(Row {
            departement: REGION.to_string(),
            dims,
            diffusion,
            values,
        });
    }
    rows.sort_by(|a, b| {
        natural_order_all(&a.dims, &b.dims)
            .then_with(|| (a.departement == REGION).cmp(&(b.departement == REGION)))
            .then_with(|| a.departement.cmp(&b.departement))
    });
    build(query, &rows)
}

fn build(query: &AggregateQuery, rows: &[Row]) -> Result<RecordBatch, MergeError> {
    let schema = regional_schema(query);
    let mut dep = StringBuilder::new();
    let mut dims: Vec<StringBuilder> = query
        .group_by
        .iter()
        .map(|_| StringBuilder::new())
        .collect();
    let mut diffusion = StringBuilder::new();
    let mut measures: Vec<(Option<Int64Builder>, Option<Float64Builder>)> = query
        .measures
        .iter()
        .map(|m| {
            if m.aggregate == Aggregate::Count {
                (Some(Int64Builder::new()), None)
            } else {
                (None, Some(Float64Builder::new()))
            }
        })
        .collect();
    for row in rows {
        dep.append_value(&row.departement);
        for (b, v) in dims.iter_mut().zip(&row.dims) {
            b.append_value(v);
        }
        diffusion.append_value(&row.diffusion);
        for (b, v) in measures.iter_mut().zip(&row.values) {
            match b {
                (Some(b), _) => b.append_option(v.map(|x| x.round() as i64)),
                (_, Some(b)) => b.append_option(*v),
                _ => {}
            }
        }
    }
    let mut columns: Vec<ArrayRef> = vec![Arc::new(dep.finish())];
    columns.extend(dims.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    columns.push(Arc::new(diffusion.finish()));
    for b in &mut measures {
        columns.push(match b {
            (Some(b), _) => Arc::new(b.finish()),
            (_, Some(b)) => Arc::new(b.finish()),
            _ => unreachable!("every measure has one builder"),
        });
    }
    debug_assert_eq!(schema.fields().len(), columns.len());
    Ok(RecordBatch::try_new(schema, columns)?)
}

#[cfg(test)]
mod tests {
    use arrow::array::AsArray;
    use arrow::datatypes::{Float64Type, Int64Type};
    use cdg_shared::query::Measure;

    use super::*;

    fn query() -> AggregateQuery {
        AggregateQuery {
            dataset: "agents".into(),
            group_by: vec!["sexe".into()],
            measures: vec![Measure::count(), "mean(etpr)".parse().unwrap()],
            filters: vec![],
        }
    }

    fn node_batch(rows: &[(&str, &str, Option<i64>, Option<f64>)]) -> RecordBatch {
        let q = query();
        RecordBatch::try_new(
            q.result_schema(),
            vec![
                Arc::new(StringArray::from(
                    rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                )),
                Arc::new(StringArray::from(
                    rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                )),
                Arc::new(Int64Array::from(
                    rows.iter().map(|r| r.2).collect::<Vec<_>>(),
                )),
                Arc::new(Float64Array::from(
                    rows.iter().map(|r| r.3).collect::<Vec<_>>(),
                )),
            ],
        )
        .unwrap()
    }

    #[test]
    fn regional_rows_use_released_cells_only_and_weight_means() {
        let a = node_batch(&[
            ("F", RELEASED, Some(100), Some(0.9)),
            ("H", RELEASED, Some(50), Some(1.0)),
        ]);
        let b = node_batch(&[
            ("F", RELEASED, Some(300), Some(0.5)),
            ("H", "secret: seuil", None, None),
        ]);
        let c = node_batch(&[("H", "secret: seuil", None, None)]);
        let merged = merge(&query(), &[(Cdg::Aisne, a), (Cdg::Nord, b), (Cdg::Oise, c)]).unwrap();
        let dep = merged.column(0).as_string::<i32>();
        let sexe = merged.column(1).as_string::<i32>();
        let diffusion = merged.column(2).as_string::<i32>();
        let count = merged.column(3).as_primitive::<Int64Type>();
        let mean = merged.column(4).as_primitive::<Float64Type>();
        let region = |s: &str| {
            (0..merged.num_rows())
                .find(|&r| dep.value(r) == REGION && sexe.value(r) == s)
                .unwrap()
        };
        let f = region("F");
        assert_eq!((diffusion.value(f), count.value(f)), (RELEASED, 400));
        assert!((mean.value(f) - (100.0 * 0.9 + 300.0 * 0.5) / 400.0).abs() < 1e-12);
        let h = region("H");
        assert!(diffusion.value(h).starts_with("partiel"));
        assert_eq!(count.value(h), 50, "the hidden départements add nothing");
        assert_eq!(merged.num_rows(), 5 + 2);
    }

    #[test]
    fn all_suppressed_is_secret_and_schemas_are_checked() {
        let a = node_batch(&[("F", "secret: seuil", None, None)]);
        let merged = merge(&query(), &[(Cdg::Aisne, a.clone())]).unwrap();
        let region = merged.num_rows() - 1;
        assert_eq!(
            merged.column(2).as_string::<i32>().value(region),
            REGION_SECRET
        );
        assert!(merged.column(3).is_null(region));
        let mut other = query();
        other.group_by = vec!["categorie".into()];
        let err = merge(&other, &[(Cdg::Somme, a)]).unwrap_err().to_string();
        assert!(err.contains("CDG 80") && err.contains("sexe"), "{err}");
    }
}
