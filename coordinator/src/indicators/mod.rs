//! The study's indicators, computed by the coordinator from the regional tables, that is from
//! released cells and the published bounds of withheld ones only: no hidden value ever reaches
//! the coordinator, so none can enter an indicator. An indicator with a withheld input is the
//! interval those bounds allow; each says how far the nodes' noise can move it.

pub mod interval;
pub mod table;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Builder, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema};
use cdg_shared::indicator::{Indicator, IndicatorKind, MeasureRef, YEAR};
use cdg_shared::query::{DEPARTEMENT_COLUMN, DIFFUSION_COLUMN, RELEASED};

use crate::merge::{LOWER, UPPER};
use interval::{Est, Iv};
pub use table::{NodeNoise, Table};

/// `diffusion` of an indicator computed on an interval (an input withheld or itself bounded).
pub const BOUNDED: &str = "encadré";
/// `diffusion` of an indicator that cannot be computed for a cell.
pub const UNDEFINED: &str = "incalculable";
/// Suffix of the column saying how far the noise can move an indicator.
pub const NOISE: &str = "_marge_bruit";

/// One indicator's figure for one cell.
struct Figure {
    departement: String,
    key: Vec<String>,
    outcome: Result<Est, String>,
}

/// The regional tables by query name, read for indicators.
pub type Tables = HashMap<String, Table>;

fn table<'a>(tables: &'a Tables, r: &MeasureRef) -> Result<(&'a Table, usize), String> {
    let t = tables
        .get(&r.query)
        .ok_or_else(|| format!("no regional table for query {:?}", r.query))?;
    let m = t
        .measure(&r.measure)
        .ok_or_else(|| format!("query {:?} has no measure {}", r.query, r.measure))?;
    Ok((t, m))
}

/// Computes one indicator over the regional tables; returns its table.
pub fn compute(indicator: &Indicator, tables: &Tables) -> Result<RecordBatch, String> {
    let (dims, figures): (Vec<String>, Vec<Figure>) = match &indicator.kind {
        IndicatorKind::Ratio { .. } | IndicatorKind::Rate { .. } => {
            let (numerator, denominator, scale) =
                indicator.ratio().ok_or("a ratio without its terms")?;
            let (t, _) = table(tables, &numerator[0])?;
            let terms: Vec<(&Table, usize, &MeasureRef)> = numerator
                .iter()
                .map(|r| table(tables, r).map(|(t, m)| (t, m, r)))
                .collect::<Result<_, _>>()?;
            let (den, dm) = table(tables, denominator)?;
            let figures = t
                .rows
                .iter()
                .map(|row| {
                    let find = |(table, m, r): (&Table, usize, &MeasureRef)| {
                        table
                            .lookup(&row.departement, &t.dims, &row.key, m)
                            .ok_or_else(|| format!("{UNDEFINED}: pas de cellule de {}", r.query))
                    };
                    let outcome = (|| {
                        let mut top = find(terms[0])?;
                        for term in &terms[1..] {
                            top = top.plus(find(*term)?);
                        }
                        let bottom = find((den, dm, denominator))?;
                        top.over(bottom)
                            .map(|q| q.times(scale))
                            .ok_or_else(|| format!("{UNDEFINED}: dénominateur nul"))
                    })();
                    figure(row, outcome)
                })
                .collect();
            (t.dims.clone(), figures)
        }
        IndicatorKind::Share { of, within } => {
            let (t, m) = table(tables, of)?;
            let group = |row: &table::Row| -> (String, Vec<String>) {
                let key = t
                    .dims
                    .iter()
                    .zip(&row.key)
                    .filter(|(d, _)| within.contains(d))
                    .map(|(_, v)| v.clone())
                    .collect();
                (row.departement.clone(), key)
            };
            let mut groups: HashMap<(String, Vec<String>), Vec<usize>> = HashMap::new();
            for (i, row) in t.rows.iter().enumerate() {
                groups.entry(group(row)).or_default().push(i);
            }
            let figures = t
                .rows
                .iter()
                .enumerate()
                .map(|(i, row)| {
                    let cell = row.cells[m];
                    // The rest of the group, summed apart: subtracting this cell from the
                    // group's total would widen an interval the cell itself does not.
                    let rest = groups[&group(row)]
                        .iter()
                        .filter(|j| **j != i)
                        .fold(Est::released(0.0, Some(0.0)), |acc, j| {
                            acc.plus(t.rows[*j].cells[m])
                        });
                    let outcome = cell
                        .share(rest)
                        .map(|s| s.times(100.0))
                        .ok_or_else(|| format!("{UNDEFINED}: total nul"));
                    figure(row, outcome)
                })
                .collect();
            (t.dims.clone(), figures)
        }
        IndicatorKind::Change { of, base }
        | IndicatorKind::ChangePct { of, base }
        | IndicatorKind::Index { of, base } => {
            let (t, m) = table(tables, of)?;
            let year = t
                .dims
                .iter()
                .position(|d| d == YEAR)
                .ok_or_else(|| format!("{} is not grouped by {YEAR}", of.query))?;
            let figures = t
                .rows
                .iter()
                .map(|row| {
                    let mut base_key = row.key.clone();
                    base_key[year] = base.to_string();
                    let outcome = t
                        .lookup(&row.departement, &t.dims, &base_key, m)
                        .ok_or_else(|| format!("{UNDEFINED}: pas de valeur en {base}"))
                        .and_then(|b| {
                            let now = row.cells[m];
                            match &indicator.kind {
                                IndicatorKind::Change { .. } => Ok(now.minus(b)),
                                IndicatorKind::ChangePct { .. } => now
                                    .over(b)
                                    .map(|q| q.times(100.0).minus(Est::released(100.0, Some(0.0))))
                                    .ok_or_else(|| format!("{UNDEFINED}: valeur nulle en {base}")),
                                _ => now
                                    .over(b)
                                    .map(|q| q.times(100.0))
                                    .ok_or_else(|| format!("{UNDEFINED}: valeur nulle en {base}")),
                            }
                        });
                    figure(row, outcome)
                })
                .collect();
            (t.dims.clone(), figures)
        }
    };
    build(&indicator.name, &dims, &figures).map_err(|e| e.to_string())
}

fn figure(row: &table::Row, outcome: Result<Est, String>) -> Figure {
    Figure {
        departement: row.departement.clone(),
        key: row.key.clone(),
        outcome,
    }
}

/// The indicator's table: département, dimensions, diffusion, value, bounds, noise margin.
fn build(name: &str, dims: &[String], figures: &[Figure]) -> arrow::error::Result<RecordBatch> {
    let mut fields = vec![Field::new(DEPARTEMENT_COLUMN, DataType::Utf8, false)];
    fields.extend(dims.iter().map(|d| Field::new(d, DataType::Utf8, false)));
    fields.push(Field::new(DIFFUSION_COLUMN, DataType::Utf8, false));
    for suffix in ["", LOWER, UPPER, NOISE] {
        fields.push(Field::new(
            format!("{name}{suffix}"),
            DataType::Float64,
            true,
        ));
    }
    let mut dep = StringBuilder::new();
    let mut keys: Vec<StringBuilder> = dims.iter().map(|_| StringBuilder::new()).collect();
    let mut diffusion = StringBuilder::new();
    let mut numbers: [Float64Builder; 4] = Default::default();
    for f in figures {
        dep.append_value(&f.departement);
        for (b, v) in keys.iter_mut().zip(&f.key) {
            b.append_value(v);
        }
        let (status, value, low, high, noise) = match &f.outcome {
            Err(why) => (why.clone(), None, None, None, None),
            Ok(e) => {
                let (lo, hi) = (Iv::finite(e.value.lo), Iv::finite(e.value.hi));
                let status = if e.released {
                    RELEASED.to_string()
                } else if lo.is_none() && hi.is_none() {
                    crate::merge::REGION_SECRET.to_string()
                } else {
                    format!("{BOUNDED}: une entrée est en secret, calcul sur ses bornes publiées")
                };
                (
                    status,
                    e.released.then_some(e.value.lo),
                    lo,
                    hi,
                    e.noise_margin(),
                )
            }
        };
        diffusion.append_value(status);
        for (b, v) in numbers.iter_mut().zip([value, low, high, noise]) {
            b.append_option(v);
        }
    }
    let mut columns: Vec<ArrayRef> = vec![Arc::new(dep.finish())];
    columns.extend(keys.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    columns.push(Arc::new(diffusion.finish()));
    columns.extend(numbers.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

/// Each département's noise, from what its node published with its answer to a query.
pub type NoiseByDepartement = BTreeMap<String, Option<NodeNoise>>;

#[cfg(test)]
mod tests;
