//! What one node contributes for one cell, as numbers modulo 2⁶⁴, and their sum read back.
//!
//! Counts are integers; the magnitudes are fixed-point with three decimals (two's complement
//! for negative values), so that sums of up to a hundred départements stay exact far below
//! 2⁶³. The record keys' sum is kept whole and reduced modulo 2³² once summed: the regional
//! cell key is that of the union of the départements' rows.
//!
//! The dominance rules need each cell's largest contributions, and a maximum is not a sum. Each
//! node therefore contributes its own largest, largest plus second, and largest employer's
//! total: their sums over the participants bound the region's from above (the region's largest
//! is one of the nodes' largest; its two largest are at most the two largest of one node or the
//! largest of two), so the rules applied to the bounds are at least as strict as on the truth.

/// Fixed-point scale of the magnitudes.
pub const SCALE: f64 = 1000.0;

/// Values per cell before the measures: units, employers, record keys.
const HEAD: usize = 3;
/// Values per measure.
const PER_MEASURE: usize = 6;

/// The most measures a cell may carry: one HKDF expansion (255 blocks of 32 bytes) masks it.
pub const MAX_MEASURES: usize = (255 * 32 / 8 - HEAD) / PER_MEASURE;

/// A cell's figures as one node holds them, or as their sum over the participants.
#[derive(Debug, Clone, PartialEq)]
pub struct CellSums {
    /// Distinct units (agents or employers).
    pub units: u64,
    /// Distinct employers (0 for datasets without).
    pub employers: u64,
    /// Sum of the rows' record keys (the cell key before its reduction modulo 2³²).
    pub record_keys: u64,
    pub measures: Vec<MeasureSums>,
}

/// One measure of a cell.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasureSums {
    /// The count, or the sum of the column.
    pub total: f64,
    /// Rows counted (non-null values).
    pub rows: u64,
    /// The largest absolute contribution (0 for counts).
    pub largest: f64,
    /// The largest plus the second largest.
    pub two_largest: f64,
    /// The largest one employer's total of absolute values, and the cell's (0 without
    /// employers).
    pub top_employer: f64,
    pub employer_total: f64,
}

/// Values of a cell with `measures` measures.
pub fn len(measures: usize) -> usize {
    HEAD + PER_MEASURE * measures
}

fn fixed(x: f64) -> u64 {
    (x * SCALE).round() as i64 as u64
}

fn unfixed(v: u64) -> f64 {
    v as i64 as f64 / SCALE
}

impl CellSums {
    pub fn encode(&self) -> Vec<u64> {
        let mut v = Vec::with_capacity(len(self.measures.len()));
        v.extend([self.units, self.employers, self.record_keys]);
        for m in &self.measures {
            v.extend([
                fixed(m.total),
                m.rows,
                fixed(m.largest),
                fixed(m.two_largest),
                fixed(m.top_employer),
                fixed(m.employer_total),
            ]);
        }
        v
    }

    /// Reads back the (summed) values of a cell of `measures` measures; None if their number
    /// is wrong.
    pub fn decode(values: &[u64], measures: usize) -> Option<CellSums> {
        if values.len() != len(measures) {
            return None;
        }
        Some(CellSums {
            units: values[0],
            employers: values[1],
            record_keys: values[2],
            measures: values[HEAD..]
                .chunks_exact(PER_MEASURE)
                .map(|m| MeasureSums {
                    total: unfixed(m[0]),
                    rows: m[1],
                    largest: unfixed(m[2]),
                    two_largest: unfixed(m[3]),
                    top_employer: unfixed(m[4]),
                    employer_total: unfixed(m[5]),
                })
                .collect(),
        })
    }
}

/// The element-wise sum modulo 2⁶⁴ of vectors of one length.
pub fn add(into: &mut [u64], values: &[u64]) {
    for (a, b) in into.iter_mut().zip(values) {
        *a = a.wrapping_add(*b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(units: u64, total: f64) -> CellSums {
        CellSums {
            units,
            employers: 2,
            record_keys: 4_000_000_000,
            measures: vec![MeasureSums {
                total,
                rows: units,
                largest: 1.5,
                two_largest: 2.25,
                top_employer: 0.0,
                employer_total: 0.0,
            }],
        }
    }

    #[test]
    fn sums_of_encodings_decode_to_the_sums_negative_values_included() {
        let (a, b) = (cell(4, 1234.567), cell(6, -2000.5));
        let mut sum = a.encode();
        add(&mut sum, &b.encode());
        let s = CellSums::decode(&sum, 1).unwrap();
        assert_eq!(s.units, 10);
        assert_eq!(s.employers, 4);
        assert_eq!(s.record_keys, 8_000_000_000);
        assert!((s.measures[0].total - (1234.567 - 2000.5)).abs() < 1e-9);
        assert_eq!(s.measures[0].rows, 10);
        assert!((s.measures[0].two_largest - 4.5).abs() < 1e-9);
        assert_eq!(CellSums::decode(&sum[1..], 1), None);
        assert!(len(MAX_MEASURES) * 8 <= 255 * 32);
    }
}
