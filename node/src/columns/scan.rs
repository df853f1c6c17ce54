//! A compiled query evaluated on a [`Table`] in one pass over the rows its filters keep: each
//! cell's rows, distinct units and employers, record-key sum and, per measure, the total, the
//! two largest contributions, the values counted and the largest employer's share; the same
//! `RawCell`s the aggregate statement of `compile/sql.rs` reads, with the units always counted
//! exactly. Also the two counts the rules look beyond the cells for: the rows of each group a
//! sensitive filter leaves out (100% rule) and the units a filter leaves out (complement rule).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use cdg_shared::query::MAX_DIMENSIONS;

use super::table::{Codes, NULL, Table};
use crate::compile::CompiledQuery;
use crate::error::{NodeError, Result};
use crate::store::{MeasureValue, NOT_GIVEN, RawCell};

const DIMS: usize = MAX_DIMENSIONS as usize;

/// A cell's dimension codes (unused places are 0).
type Key = [u32; DIMS];

pub struct Scan<'a> {
    table: &'a Table,
    dims: Vec<&'a Codes>,
    /// Each filter's column and, per code, whether the filter keeps it.
    filters: Vec<(&'a Codes, Vec<bool>)>,
    /// Per measure of the query: its values (None for a count).
    measures: Vec<Option<&'a [f64]>>,
    /// Whether the cells need the per-employer figures (a sum or mean on rows with employers).
    per_employer: bool,
}

impl<'a> Scan<'a> {
    pub fn new(table: &'a Table, q: &'a CompiledQuery) -> Result<Scan<'a>> {
        let missing = |what: &str, name: &str| {
            NodeError::Internal(format!("the in-memory copy has no {what} {name:?}"))
        };
        if q.group_by.len() > DIMS {
            return Err(NodeError::Internal("too many dimensions".into()));
        }
        let dimension = |name: &str| {
            table
                .dimensions
                .get(name)
                .ok_or_else(|| missing("dimension", name))
        };
        let dims = q
            .group_by
            .iter()
            .map(|d| dimension(d.name))
            .collect::<Result<Vec<_>>>()?;
        let filters = q
            .filters
            .iter()
            .map(|(d, values)| {
                let codes = dimension(d.name)?;
                let keeps = codes.values.iter().map(|v| values.contains(v)).collect();
                Ok((codes, keeps))
            })
            .collect::<Result<Vec<_>>>()?;
        let measures = q
            .columns
            .iter()
            .map(|c| match c {
                None => Ok(None),
                Some(m) => table
                    .measures
                    .get(m.name)
                    .map(|v| Some(v.as_slice()))
                    .ok_or_else(|| missing("measure", m.name)),
            })
            .collect::<Result<Vec<_>>>()?;
        let per_employer = table.employers.is_some() && measures.iter().any(Option::is_some);
        Ok(Scan {
            table,
            dims,
            filters,
            measures,
            per_employer,
        })
    }

    /// Whether `row` passes every filter but `except`.
    fn keeps(&self, row: usize, except: Option<usize>) -> bool {
        (0..self.filters.len()).all(|j| Some(j) == except || self.keeps_by(j, row))
    }

    fn key(&self, row: usize) -> Key {
        let mut key = [0; DIMS];
        for (k, d) in key.iter_mut().zip(&self.dims) {
            *k = d.codes[row];
        }
        key
    }

    fn texts(&self, key: &Key) -> Vec<String> {
        self.dims
            .iter()
            .zip(key)
            .map(|(d, &code)| d.text(code).unwrap_or(NOT_GIVEN).to_string())
            .collect()
    }

    /// The query's cells, in the order of their dimensions (NULL last, as SQL orders them).
    pub fn cells(&self) -> Vec<RawCell> {
        // The rows each cell holds, in table order.
        let mut numbering = Numbering::new(&self.dims);
        let mut kept: Vec<(u32, u32)> = Vec::new();
        for row in 0..self.table.rows {
            if self.keeps(row, None) {
                kept.push((numbering.cell(self, row), row as u32));
            }
        }
        let keys = numbering.keys;
        let (rows, starts) = by_cell(keys.len(), &kept);
        let mut tally = Tally::new(self.table);
        let mut cells: Vec<(Key, RawCell)> = keys
            .iter()
            .enumerate()
            .map(|(i, key)| {
                let rows = &rows[starts[i]..starts[i + 1]];
                (*key, self.cell(key, rows, &mut tally))
            })
            .collect();
        cells.sort_by(|(a, _), (b, _)| {
            self.dims
                .iter()
                .zip(a.iter().zip(b))
                .map(|(d, (&x, &y))| match (d.text(x), d.text(y)) {
                    (Some(x), Some(y)) => x.cmp(y),
                    (x, y) => x.is_none().cmp(&y.is_none()),
                })
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        cells.into_iter().map(|(_, cell)| cell).collect()
    }

    fn cell(&self, key: &Key, rows: &[u32], tally: &mut Tally) -> RawCell {
        let t = self.table;
        let cell_key = rows
            .iter()
            .fold(0u64, |sum, &r| sum + u64::from(t.record_keys[r as usize]))
            % (1 << 32);
        tally.next_cell();
        let units = tally.units(&t.units, rows);
        let employers = match (&t.employers, self.per_employer) {
            (Some(e), true) => Some(tally.employers(e, rows)),
            _ => None,
        };
        let values = self
            .measures
            .iter()
            .map(|m| match m {
                None => MeasureValue {
                    total: Some(rows.len() as f64),
                    largest: None,
                    second: None,
                    rows: rows.len() as f64,
                    top_employer: None,
                    employer_total: None,
                },
                Some(values) => {
                    let mut v = magnitude(values, rows);
                    if let (Some(e), true) = (&t.employers, self.per_employer) {
                        (v.top_employer, v.employer_total) = tally.by_employer(e, values, rows);
                    }
                    v
                }
            })
            .collect();
        RawCell {
            dimensions: self.texts(key),
            units,
            cell_key: cell_key as i64,
            employers,
            values,
            whole_group: false,
        }
    }

    /// Per cell, the rows of its group that filter `filter` leaves out, among those the other
    /// filters keep (every such group is present, with 0 when the filter keeps all its rows).
    pub fn left_out_by_cell(&self, filter: usize) -> HashMap<Vec<String>, i64> {
        let mut numbering = Numbering::new(&self.dims);
        let mut counts: Vec<i64> = Vec::new();
        for row in 0..self.table.rows {
            if self.keeps(row, Some(filter)) {
                let cell = numbering.cell(self, row) as usize;
                if cell == counts.len() {
                    counts.push(0);
                }
                counts[cell] += i64::from(!self.keeps_by(filter, row));
            }
        }
        numbering
            .keys
            .iter()
            .zip(counts)
            .map(|(key, n)| (self.texts(key), n))
            .collect()
    }

    /// The distinct units filter `filter` leaves out of the population the others keep.
    pub fn units_left_out(&self, filter: usize) -> i64 {
        let units = &self.table.units;
        let mut seen = vec![false; units.values.len()];
        let mut n = 0;
        for row in 0..self.table.rows {
            let unit = units.codes[row];
            if unit == NULL || seen[unit as usize] {
                continue;
            }
            if self.keeps(row, Some(filter)) && !self.keeps_by(filter, row) {
                seen[unit as usize] = true;
                n += 1;
            }
        }
        n
    }

    fn keeps_by(&self, filter: usize, row: usize) -> bool {
        let (codes, keeps) = &self.filters[filter];
        let code = codes.codes[row];
        code != NULL && keeps[code as usize]
    }
}

/// Numbers the cells in order of first appearance. A row's dimension codes make one number
/// (mixed radix, NULL as the last digit of each); when the combinations are few, a dense table
/// maps it to its cell, otherwise a hash map with a multiplicative hash: SipHash, Rust's
/// default, took most of a pass's time.
struct Numbering {
    /// Per dimension: its values, plus one for NULL.
    radix: Vec<u64>,
    dense: Vec<u32>,
    sparse: HashMap<u64, u32, BuildHasherDefault<Mix>>,
    keys: Vec<Key>,
}

/// Combinations up to which a dense table numbers the cells (256 KiB).
const DENSE: u64 = 1 << 16;
const UNNUMBERED: u32 = u32::MAX;

impl Numbering {
    fn new(dims: &[&Codes]) -> Numbering {
        let radix: Vec<u64> = dims.iter().map(|d| d.values.len() as u64 + 1).collect();
        let combinations = radix
            .iter()
            .try_fold(1u64, |n, r| n.checked_mul(*r))
            .unwrap_or(u64::MAX);
        Numbering {
            dense: if combinations <= DENSE {
                vec![UNNUMBERED; combinations as usize]
            } else {
                Vec::new()
            },
            radix,
            sparse: HashMap::default(),
            keys: Vec::new(),
        }
    }

    /// The cell of `row`.
    fn cell(&mut self, scan: &Scan, row: usize) -> u32 {
        let mut number = 0u64;
        for (d, radix) in scan.dims.iter().zip(&self.radix) {
            let code = d.codes[row];
            let digit = if code == NULL {
                radix - 1
            } else {
                u64::from(code)
            };
            number = number.wrapping_mul(*radix).wrapping_add(digit);
        }
        let next = self.keys.len() as u32;
        let cell = if self.dense.is_empty() {
            *self.sparse.entry(number).or_insert(next)
        } else {
            let slot = &mut self.dense[number as usize];
            if *slot == UNNUMBERED {
                *slot = next;
            }
            *slot
        };
        if cell == next {
            self.keys.push(scan.key(row));
        }
        cell
    }
}

/// A multiplicative hash of the cell numbers (Fibonacci hashing).
#[derive(Default)]
struct Mix(u64);

impl Hasher for Mix {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(26) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// The rows of each cell, from (cell, row) pairs in row order (a stable counting sort): all
/// the rows, cell after cell, and where each cell's rows start.
fn by_cell(cells: usize, kept: &[(u32, u32)]) -> (Vec<u32>, Vec<usize>) {
    let mut starts = vec![0usize; cells + 1];
    for &(cell, _) in kept {
        starts[cell as usize + 1] += 1;
    }
    for i in 0..cells {
        starts[i + 1] += starts[i];
    }
    let mut next = starts.clone();
    let mut rows = vec![0u32; kept.len()];
    for &(cell, row) in kept {
        rows[next[cell as usize]] = row;
        next[cell as usize] += 1;
    }
    (rows, starts)
}

/// A measure's figures over a cell's rows: the total, the two largest absolute contributions
/// and the values counted (NULLs, NaN here, are skipped as SQL's aggregates skip them).
fn magnitude(values: &[f64], rows: &[u32]) -> MeasureValue {
    let (mut total, mut counted, mut first, mut second) = (0.0, 0usize, 0.0f64, 0.0f64);
    for &r in rows {
        let v = values[r as usize];
        if v.is_nan() {
            continue;
        }
        total += v;
        counted += 1;
        let a = v.abs();
        if counted == 1 || a > first {
            second = first;
            first = a;
        } else if counted == 2 || a > second {
            second = a;
        }
    }
    MeasureValue {
        total: (counted > 0).then_some(total),
        largest: (counted > 0).then_some(first),
        second: (counted > 1).then_some(second),
        rows: counted as f64,
        top_employer: None,
        employer_total: None,
    }
}

/// Distinct non-NULL values of `column` over `rows`, marking each in `seen` with `stamp`.
fn distinct(seen: &mut [u32], stamp: u32, column: &Codes, rows: &[u32]) -> i64 {
    let mut n = 0;
    for &r in rows {
        let code = column.codes[r as usize];
        if code != NULL && seen[code as usize] != stamp {
            seen[code as usize] = stamp;
            n += 1;
        }
    }
    n
}

/// Scratch space reused from cell to cell: the last cell each unit or employer was counted in,
/// and each employer's running total.
struct Tally {
    stamp: u32,
    units_seen: Vec<u32>,
    employers_seen: Vec<u32>,
    /// Per employer (the last place for NULL): its sum of absolute values and whether it has
    /// one; `touched` lists the employers of the current cell.
    sums: Vec<(f64, bool)>,
    touched: Vec<usize>,
}

impl Tally {
    fn new(t: &Table) -> Tally {
        let employers = t.employers.as_ref().map_or(0, |e| e.values.len());
        Tally {
            stamp: 0,
            units_seen: vec![0; t.units.values.len()],
            employers_seen: vec![0; employers],
            sums: vec![(0.0, false); employers + 1],
            touched: Vec::new(),
        }
    }

    /// Starts a new cell: nothing counted in it yet.
    fn next_cell(&mut self) {
        self.stamp += 1;
    }

    /// Distinct units over `rows`.
    fn units(&mut self, units: &Codes, rows: &[u32]) -> i64 {
        distinct(&mut self.units_seen, self.stamp, units, rows)
    }

    /// Distinct employers over `rows`.
    fn employers(&mut self, employers: &Codes, rows: &[u32]) -> i64 {
        distinct(&mut self.employers_seen, self.stamp, employers, rows)
    }

    /// The largest one employer's total of absolute values, and the sum of those totals (the
    /// rows without an employer make one group, as SQL's GROUP BY makes of NULL).
    fn by_employer(
        &mut self,
        employers: &Codes,
        values: &[f64],
        rows: &[u32],
    ) -> (Option<f64>, Option<f64>) {
        let null = self.sums.len() - 1;
        for &r in rows {
            let code = employers.codes[r as usize];
            let slot = if code == NULL { null } else { code as usize };
            let (sum, any) = &mut self.sums[slot];
            if !*any && *sum == 0.0 {
                self.touched.push(slot);
            }
            let v = values[r as usize];
            if !v.is_nan() {
                *sum += v.abs();
                *any = true;
            }
        }
        let (mut top, mut total): (Option<f64>, Option<f64>) = (None, None);
        self.touched.sort_unstable();
        self.touched.dedup();
        for &slot in &self.touched {
            let (sum, any) = std::mem::take(&mut self.sums[slot]);
            if any {
                top = Some(top.map_or(sum, |t| t.max(sum)));
                total = Some(total.unwrap_or(0.0) + sum);
            }
        }
        self.touched.clear();
        (top, total)
    }
}
