//! The released table: each cell's status and, for a released cell, its measures with the cell
//! key method's noise (`noise.rs`), as the Arrow batch the node sends. A withheld cell keeps its
//! row, with every measure null and the rule in the `diffusion` column, so nobody mistakes it
//! for a zero. Means are the perturbed sum over the perturbed count.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Builder, Int64Builder, RecordBatch, StringBuilder};
use arrow::datatypes::SchemaRef;
use cdg_shared::query::{Aggregate, Diffusion};

use super::noise::{self, Perturbation};
use super::{cells, whole_group};
use crate::compile::CompiledQuery;
use crate::config::PolicyConfig;
use crate::error::Result;
use crate::store::{MeasureValue, RawCell};

#[derive(Debug, Clone)]
pub struct Released {
    pub schema: SchemaRef,
    pub batch: RecordBatch,
    pub released: u32,
    pub suppressed: u32,
    /// Cell keys of the released cells with fewer units than the overlap watch's small group.
    pub small_groups: Vec<i64>,
    /// Each cell's status, in the order of the batch's rows.
    pub statuses: Vec<Diffusion>,
}

/// Applies the threshold and the perturbation to each cell and builds the Arrow batch.
pub fn release(
    q: &CompiledQuery,
    cells: &[RawCell],
    policy: &PolicyConfig,
    perturbation: &Perturbation,
) -> Result<Released> {
    let threshold = cells::threshold(q, policy);
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
    // A sum's draw follows its column, wherever it sits in the query.
    let salts: Vec<(&cdg_shared::query::Measure, u64)> = q
        .query
        .measures
        .iter()
        .map(|m| (m, noise::column_salt(&m.column)))
        .collect();
    let (mut released, mut suppressed) = (0u32, 0u32);
    let mut small_groups = Vec::new();
    let mut statuses = Vec::with_capacity(cells.len());
    let whole_group = whole_group::whole_groups(q, cells);
    for (cell, whole_group) in cells.iter().zip(whole_group) {
        for (b, v) in dims.iter_mut().zip(&cell.dimensions) {
            b.append_value(v);
        }
        let key = noise::cell_key(cell.cell_key);
        let status = match cells::status(q, cell, policy, perturbation, threshold, key) {
            Diffusion::Released if whole_group => Diffusion::WholeGroup,
            status => status,
        };
        let ok = status.is_released();
        if ok {
            released += 1;
            if cell.units < i64::from(policy.overlap.small_group) {
                small_groups.push(cell.cell_key);
            }
        } else {
            suppressed += 1;
        }
        diffusion.append_value(status.as_str());
        statuses.push(status);
        for ((b, v), (m, salt)) in measures.iter_mut().zip(&cell.values).zip(&salts) {
            let published = if ok {
                published(m.aggregate, v, key, *salt, perturbation)
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
        small_groups,
        statuses,
    })
}

/// A released measure: the perturbed count, sum, or sum over count.
fn published(
    aggregate: Aggregate,
    v: &MeasureValue,
    key: f64,
    salt: u64,
    perturbation: &Perturbation,
) -> Option<f64> {
    let sum = |total: f64| perturbation.sum(total, v.largest.unwrap_or(0.0), key, salt);
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
