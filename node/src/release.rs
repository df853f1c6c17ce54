//! Disclosure control on an aggregate answer, and its Arrow encoding.
//!
//! A cell is released only if it holds at least the policy's number of distinct units (persons,
//! or employers for employer datasets), and its perturbed row count does too. Released counts
//! and sums carry the cell key method's noise (`perturb.rs`); means are perturbed sum over
//! perturbed count. A suppressed cell keeps its row, with every measure null and the reason in
//! the `diffusion` column, so nobody mistakes it for a zero.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Builder, Int64Builder, RecordBatch, StringBuilder};
use arrow::datatypes::SchemaRef;
use cdg_shared::query::{Aggregate, RELEASED};

use crate::compile::CompiledQuery;
use crate::config::PolicyConfig;
use crate::error::Result;
use crate::perturb::{self, Perturbation};
use crate::store::{MeasureValue, RawCell};

/// `diffusion` value of a cell below the frequency threshold.
pub const SUPPRESSED_THRESHOLD: &str = "secret: seuil";

#[derive(Debug, Clone)]
pub struct Released {
    pub schema: SchemaRef,
    pub batch: RecordBatch,
    pub released: u32,
    pub suppressed: u32,
}

/// Applies the threshold and the perturbation to each cell and builds the Arrow batch.
pub fn release(
    q: &CompiledQuery,
    cells: &[RawCell],
    policy: &PolicyConfig,
    perturbation: &Perturbation,
) -> Result<Released> {
    let threshold = i64::from(if q.dataset.unit.is_person() {
        policy.min_agents_per_cell
    } else {
        policy.min_employers_per_cell
    });
    let schema = q.query.result_schema();
    let mut dims: Vec<StringBuilder> = q.dimensions.iter().map(|_| StringBuilder::new()).collect();
    let mut diffusion = StringBuilder::new();
    enum Col {
        Int(Int64Builder),
        Float(Float64Builder),
    }
    let mut measures: Vec<Col> = q
        .measures
        .iter()
        .map(|(agg, _)| match agg {
            Aggregate::Count => Col::Int(Int64Builder::new()),
            _ => Col::Float(Float64Builder::new()),
        })
        .collect();
    let (mut released, mut suppressed) = (0u32, 0u32);
    for cell in cells {
        for (b, v) in dims.iter_mut().zip(&cell.dimensions) {
            b.append_value(v);
        }
        let key = perturb::cell_key(cell.cell_key);
        let rows = cell.values.first().map_or(0.0, |v| v.rows);
        let ok = cell.units >= threshold && perturbation.count(rows, key) >= threshold as f64;
        if ok {
            released += 1;
            diffusion.append_value(RELEASED);
        } else {
            suppressed += 1;
            diffusion.append_value(SUPPRESSED_THRESHOLD);
        }
        for (i, ((b, v), (agg, _))) in measures
            .iter_mut()
            .zip(&cell.values)
            .zip(&q.measures)
            .enumerate()
        {
            let published = if ok {
                published(*agg, v, key, i, perturbation)
            } else {
                None
            };
            match b {
                Col::Int(b) => b.append_option(published.map(|x| x.round() as i64)),
                Col::Float(b) => b.append_option(published),
            }
        }
    }
    let mut columns: Vec<ArrayRef> = dims
        .iter_mut()
        .map(|b| Arc::new(b.finish()) as ArrayRef)
        .collect();
    columns.push(Arc::new(diffusion.finish()));
    for b in &mut measures {
        columns.push(match b {
            Col::Int(b) => Arc::new(b.finish()),
            Col::Float(b) => Arc::new(b.finish()),
        });
    }
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    Ok(Released {
        schema,
        batch,
        released,
        suppressed,
    })
}

/// A released measure: the perturbed count, sum, or sum over count.
fn published(
    aggregate: Aggregate,
    v: &MeasureValue,
    key: f64,
    measure: usize,
    perturbation: &Perturbation,
) -> Option<f64> {
    let sum = |total: f64| perturbation.sum(total, v.largest.unwrap_or(0.0), key, measure);
    match aggregate {
        Aggregate::Count => v.total.map(|n| perturbation.count(n, key)),
        Aggregate::Sum => v.total.map(sum),
        Aggregate::Mean => {
            let count = perturbation.count(v.rows, key);
            match v.total {
                Some(total) if count > 0.0 => Some(sum(total) / count),
                _ => None,
            }
        }
    }
}
