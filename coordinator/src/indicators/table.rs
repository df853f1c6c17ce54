//! A query's regional table as the inputs of indicators: per row, each measure as an estimate
//! (released value and its noise, or the published bounds of a withheld cell).

use std::collections::{BTreeMap, HashMap};

use arrow::array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use cdg_shared::query::{Aggregate, AggregateQuery, DEPARTEMENT_COLUMN, Measure, REGION};

use super::interval::{Est, Iv};
use crate::bounds::Published;
use crate::merge::{LOWER, UPPER};

/// How far one node's noise can move its released cells (see its published `CellNoise`).
#[derive(Debug, Clone, Default)]
pub struct NodeNoise {
    /// Largest noise on a count.
    pub count: f64,
    /// Largest noise on a sum of each measured column (`magnitude_noise` × its largest value).
    pub sums: BTreeMap<String, f64>,
}

impl NodeNoise {
    /// What `published` says; None when the node did not say.
    pub fn of(published: &Published) -> Option<NodeNoise> {
        let noise = published.noise.as_ref()?;
        Some(NodeNoise {
            count: f64::from(noise.max_noise),
            sums: published
                .measure_ranges
                .iter()
                .map(|r| {
                    let largest = r.min.abs().max(r.max.abs());
                    (r.column.clone(), noise.magnitude_noise * largest)
                })
                .collect(),
        })
    }
}

/// The noise of a cell before it is turned into a margin: on its count and on its sum.
#[derive(Debug, Clone, Copy, Default)]
struct Noise {
    count: f64,
    sum: f64,
}

impl Noise {
    fn plus(self, o: Noise) -> Noise {
        Noise {
            count: self.count + o.count,
            sum: self.sum + o.sum,
        }
    }
}

/// One row: a département's or the region's cell.
#[derive(Debug, Clone)]
pub struct Row {
    pub departement: String,
    pub key: Vec<String>,
    pub cells: Vec<Est>,
}

/// A query's regional table, read for indicators.
#[derive(Debug, Clone)]
pub struct Table {
    pub dims: Vec<String>,
    pub measures: Vec<Measure>,
    pub rows: Vec<Row>,
    index: HashMap<(String, Vec<String>), usize>,
}

fn numbers(batch: &RecordBatch, name: &str) -> Result<Vec<Option<f64>>, String> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| format!("the regional table has no column {name:?}"))?;
    let n = batch.num_rows();
    if let Some(a) = col.as_any().downcast_ref::<Int64Array>() {
        return Ok((0..n)
            .map(|r| a.is_valid(r).then(|| a.value(r) as f64))
            .collect());
    }
    if let Some(a) = col.as_any().downcast_ref::<Float64Array>() {
        return Ok((0..n).map(|r| a.is_valid(r).then(|| a.value(r))).collect());
    }
    Err(format!("column {name:?} is not numeric"))
}

fn texts(batch: &RecordBatch, name: &str) -> Result<Vec<String>, String> {
    let col = batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| format!("the regional table has no text column {name:?}"))?;
    Ok((0..col.len()).map(|r| col.value(r).to_string()).collect())
}

impl Table {
    /// Reads `batch`, the regional table of `query` (as run), with each département's noise.
    pub fn read(
        query: &AggregateQuery,
        batch: &RecordBatch,
        noise: &BTreeMap<String, Option<NodeNoise>>,
    ) -> Result<Table, String> {
        let departements = texts(batch, DEPARTEMENT_COLUMN)?;
        let dims: Vec<Vec<String>> = query
            .group_by
            .iter()
            .map(|d| texts(batch, d))
            .collect::<Result<_, _>>()?;
        let mut columns = Vec::new();
        for m in &query.measures {
            let name = m.output_name();
            columns.push((
                numbers(batch, &name)?,
                numbers(batch, &format!("{name}{LOWER}"))?,
                numbers(batch, &format!("{name}{UPPER}"))?,
            ));
        }
        let count = query
            .measures
            .iter()
            .position(|m| m.aggregate == Aggregate::Count);
        // Each released département cell's noise, then the region's: the sum over the
        // départements released in its group.
        let mut regional: HashMap<Vec<String>, Vec<Option<Noise>>> = HashMap::new();
        let mut rows = Vec::new();
        let mut noises = Vec::new();
        for r in 0..batch.num_rows() {
            let key: Vec<String> = dims.iter().map(|d| d[r].clone()).collect();
            let departement = departements[r].clone();
            let node = noise.get(&departement);
            let cell_noise: Vec<Option<Noise>> = query
                .measures
                .iter()
                .zip(&columns)
                .map(|(m, (value, _, _))| {
                    if value[r].is_none() {
                        return Some(Noise::default());
                    }
                    let node = node?.as_ref()?;
                    let sum = match m.aggregate {
                        Aggregate::Count => 0.0,
                        _ => *node.sums.get(&m.column)?,
                    };
                    Some(Noise {
                        count: node.count,
                        sum,
                    })
                })
                .collect();
            if departement != REGION {
                let acc = regional
                    .entry(key.clone())
                    .or_insert_with(|| vec![Some(Noise::default()); query.measures.len()]);
                for (a, n) in acc.iter_mut().zip(&cell_noise) {
                    *a = a.zip(*n).map(|(a, n)| a.plus(n));
                }
            }
            noises.push(cell_noise);
            rows.push(Row {
                departement,
                key,
                cells: Vec::new(),
            });
        }
        for (r, row) in rows.iter_mut().enumerate() {
            let cell_noise = if row.departement == REGION {
                regional.get(&row.key).cloned().unwrap_or_default()
            } else {
                noises[r].clone()
            };
            let count_value = count.and_then(|c| columns[c].0[r]);
            row.cells = query
                .measures
                .iter()
                .zip(&columns)
                .enumerate()
                .map(|(i, (m, (value, low, high)))| match value[r] {
                    Some(v) => {
                        let n = cell_noise.get(i).copied().flatten();
                        Est::released(v, n.and_then(|n| margin(m, v, count_value, n)))
                    }
                    None => Est::bounded(low[r], high[r]),
                })
                .collect();
        }
        let index = rows
            .iter()
            .enumerate()
            .map(|(i, r)| ((r.departement.clone(), r.key.clone()), i))
            .collect();
        Ok(Table {
            dims: query.group_by.clone(),
            measures: query.measures.clone(),
            rows,
            index,
        })
    }

    pub fn measure(&self, m: &Measure) -> Option<usize> {
        self.measures.iter().position(|x| x == m)
    }

    /// The cell of measure `m` in the row of `departement` whose dimensions agree with
    /// `key` (over `dims`, a superset of this table's dimensions).
    pub fn lookup(
        &self,
        departement: &str,
        dims: &[String],
        key: &[String],
        m: usize,
    ) -> Option<Est> {
        let projected: Vec<String> = self
            .dims
            .iter()
            .map(|d| dims.iter().position(|x| x == d).map(|i| key[i].clone()))
            .collect::<Option<_>>()?;
        let row = self.index.get(&(departement.to_string(), projected))?;
        Some(self.rows[*row].cells[m])
    }
}

/// How far noise of this size can move a released value `v` of measure `m`.
fn margin(m: &Measure, v: f64, count: Option<f64>, n: Noise) -> Option<f64> {
    match m.aggregate {
        Aggregate::Count => Some(n.count),
        Aggregate::Sum => Some(n.sum),
        Aggregate::Mean => {
            // The mean is a noisy sum over a noisy count.
            let count = count?;
            let sum = Iv::point(v * count).widen(n.sum);
            let moved = sum.over(Iv::point(count).widen(n.count))?;
            Iv::finite((v - moved.lo).max(moved.hi - v))
        }
    }
}
