//! Checks on regional tables shared by the end-to-end tests.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int64Type};
use cdg_coordinator::output::query_batch;
use cdg_shared::proto::v1::StudyResult;
use cdg_shared::query::{DEPARTEMENT_COLUMN, DIFFUSION_COLUMN, REGION, RELEASED};

pub fn value(batch: &RecordBatch, col: usize, row: usize) -> Option<f64> {
    let a = batch.column(col);
    if a.is_null(row) {
        return None;
    }
    Some(match a.data_type() {
        arrow::datatypes::DataType::Int64 => a.as_primitive::<Int64Type>().value(row) as f64,
        _ => a.as_primitive::<Float64Type>().value(row),
    })
}

/// No regional cell with a withheld département is a point, and its bounds minus the
/// published départements are exactly the public bounds of the withheld cells: nothing of the
/// hidden value. Returns how many such cells were checked.
pub fn assert_no_recovery(result: &StudyResult) -> usize {
    let mut checked = 0;
    for q in &result.queries {
        let batch = query_batch(q).unwrap();
        let schema = batch.schema();
        let dep = schema.index_of(DEPARTEMENT_COLUMN).unwrap();
        let diff = schema.index_of(DIFFUSION_COLUMN).unwrap();
        let measures = (schema.fields().len() - diff - 1) / 3;
        let text = |c: usize, r: usize| batch.column(c).as_string::<i32>().value(r).to_string();
        let group = |r: usize| (dep + 1..diff).map(|c| text(c, r)).collect::<Vec<_>>();
        for r in (0..batch.num_rows()).filter(|&r| text(dep, r) == REGION) {
            if !text(diff, r).starts_with("partiel") {
                continue;
            }
            let members: Vec<usize> = (0..batch.num_rows())
                .filter(|&o| text(dep, o) != REGION && group(o) == group(r))
                .collect();
            for m in 0..measures {
                let (v, low, high) = (
                    diff + 1 + m,
                    diff + 1 + measures + m,
                    diff + 1 + 2 * measures + m,
                );
                assert!(value(&batch, v, r).is_none(), "{}: a point", q.name);
                if schema.field(v).name() != "nombre" {
                    continue;
                }
                let mut released = 0.0;
                let (mut hidden_low, mut hidden_high) = (0.0, Some(0.0));
                for &o in &members {
                    if text(diff, o) == RELEASED {
                        released += value(&batch, v, o).unwrap();
                        continue;
                    }
                    let (l, h) = (value(&batch, low, o).unwrap(), value(&batch, high, o));
                    assert!([0.0, 3.0, 11.0].contains(&l), "a public lower bound: {l}");
                    assert!(h.is_none_or(|h| h > l && h <= 30.0), "a public upper bound");
                    hidden_low += l;
                    hidden_high = hidden_high.zip(h).map(|(a, b)| a + b);
                }
                assert_eq!(
                    value(&batch, low, r),
                    Some(released + hidden_low),
                    "{}",
                    q.name
                );
                assert_eq!(value(&batch, high, r), hidden_high.map(|h| released + h));
                checked += 1;
            }
        }
    }
    checked
}
