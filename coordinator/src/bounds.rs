//! Interval arithmetic of the regional merge: what a regional cell is known to be when some
//! département's cell is withheld.
//!
//! A withheld cell contributes nothing but what its node's published policy says of any
//! withheld cell with that status (`SecretBound`) and the range of the measure's values
//! (`MeasureRange`). So the bounds of a regional cell, minus the published départements,
//! give back exactly those public bounds, never the hidden value.

use cdg_shared::proto::v1::{CellNoise, MeasureRange, SecretBound};
use cdg_shared::query::Aggregate;

/// What a node published with its answer about its withheld cells and its measures.
#[derive(Debug, Clone, Default)]
pub struct Published {
    pub secret_bounds: Vec<SecretBound>,
    pub measure_ranges: Vec<MeasureRange>,
    /// The noise its released cells may carry (absent from nodes that do not say).
    pub noise: Option<CellNoise>,
}

impl Published {
    /// Rows a withheld cell with `status` counts: (at least, at most when bounded).
    pub fn rows(&self, status: &str) -> (f64, Option<f64>) {
        self.secret_bounds
            .iter()
            .find(|b| b.status == status)
            .map_or((0.0, None), |b| {
                (b.count_min as f64, b.count_max.map(|m| m as f64))
            })
    }

    pub fn range(&self, column: &str) -> Option<(f64, f64)> {
        self.measure_ranges
            .iter()
            .find(|r| r.column == column)
            .map(|r| (r.min, r.max))
    }
}

/// A closed interval whose ends may be unknown (unbounded).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub low: Option<f64>,
    pub high: Option<f64>,
}

impl Interval {
    pub fn point(v: f64) -> Interval {
        Interval {
            low: Some(v),
            high: Some(v),
        }
    }
}

/// One measure of a cell being accumulated over départements.
#[derive(Debug, Clone, Default)]
pub struct Accumulator {
    /// Released values: sum (weighted sum for a mean) and weights (counts) of a mean.
    pub sum: f64,
    pub weight: f64,
    /// Withheld cells: their rows, at least and at most (unless unbounded).
    pub hidden_rows_min: f64,
    pub hidden_rows_max: f64,
    pub hidden_rows_unbounded: bool,
    /// Whether a withheld cell's values are unbounded (no published range).
    pub hidden_unranged: bool,
    pub range: Option<(f64, f64)>,
    pub hidden: usize,
}

impl Accumulator {
    pub fn released(&mut self, value: f64, weight: f64, aggregate: Aggregate) {
        if aggregate == Aggregate::Mean {
            self.sum += value * weight;
            self.weight += weight;
        } else {
            self.sum += value;
        }
    }

    pub fn withheld(&mut self, rows: (f64, Option<f64>), range: Option<(f64, f64)>) {
        self.hidden += 1;
        self.hidden_rows_min += rows.0;
        match rows.1 {
            Some(max) => self.hidden_rows_max += max,
            None => self.hidden_rows_unbounded = true,
        }
        match range {
            Some(r) => {
                self.range = Some(self.range.map_or(r, |o| (o.0.min(r.0), o.1.max(r.1))));
            }
            None => self.hidden_unranged = true,
        }
    }

    /// The value when nothing is withheld, else `None`; and the bounds.
    pub fn finish(&self, aggregate: Aggregate) -> (Option<f64>, Interval) {
        let released = match aggregate {
            Aggregate::Mean if self.weight > 0.0 => Some(self.sum / self.weight),
            Aggregate::Mean => None,
            _ => Some(self.sum),
        };
        if self.hidden == 0 {
            let bounds = released.map_or(
                Interval {
                    low: None,
                    high: None,
                },
                Interval::point,
            );
            return (released, bounds);
        }
        (None, self.bounds(aggregate, released))
    }

    fn bounds(&self, aggregate: Aggregate, released: Option<f64>) -> Interval {
        let rows_max = (!self.hidden_rows_unbounded).then_some(self.hidden_rows_max);
        let range = if self.hidden_unranged {
            None
        } else {
            self.range
        };
        match aggregate {
            Aggregate::Count => Interval {
                low: Some(self.sum + self.hidden_rows_min),
                high: rows_max.map(|h| self.sum + h),
            },
            // Each withheld value lies in the range; rows with a value may be fewer than the
            // rows counted (empty values), so from 0 to the rows' upper bound.
            Aggregate::Sum => {
                let end = |v: f64| -> Option<f64> {
                    if v == 0.0 {
                        Some(self.sum)
                    } else {
                        rows_max.map(|h| self.sum + h * v)
                    }
                };
                Interval {
                    low: range.and_then(|(min, _)| end(min.min(0.0))),
                    high: range.and_then(|(_, max)| end(max.max(0.0))),
                }
            }
            // (S + n·m) / (W + n) with n from 0 to the rows' upper bound and m in the range:
            // monotone in n, so its ends are at n = 0 (the released mean) or at the bound
            // (the range's end when unbounded).
            Aggregate::Mean => {
                let end = |v: f64, pick: fn(f64, f64) -> f64| -> f64 {
                    let far = match rows_max {
                        Some(h) if self.weight + h > 0.0 => (self.sum + h * v) / (self.weight + h),
                        _ => v,
                    };
                    released.map_or(far, |r| pick(r, far))
                };
                Interval {
                    low: range.map(|(min, _)| end(min, f64::min)),
                    high: range.map(|(_, max)| end(max, f64::max)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seuil(max: Option<u64>) -> Published {
        Published {
            secret_bounds: vec![SecretBound {
                status: "secret: seuil".into(),
                count_min: 0,
                count_max: max,
            }],
            measure_ranges: vec![MeasureRange {
                column: "etpr".into(),
                min: 0.0,
                max: 1.0,
            }],
            noise: None,
        }
    }

    #[test]
    fn counts_sums_and_means_are_bounded_by_the_public_bounds_only() {
        let p = seuil(Some(14));
        let mut count = Accumulator::default();
        count.released(100.0, 0.0, Aggregate::Count);
        count.released(50.0, 0.0, Aggregate::Count);
        count.withheld(p.rows("secret: seuil"), None);
        let (value, b) = count.finish(Aggregate::Count);
        assert_eq!(value, None, "never a point");
        assert_eq!((b.low, b.high), (Some(150.0), Some(164.0)));

        let mut sum = Accumulator::default();
        sum.released(80.0, 0.0, Aggregate::Sum);
        sum.withheld(p.rows("secret: seuil"), p.range("etpr"));
        let (_, b) = sum.finish(Aggregate::Sum);
        assert_eq!((b.low, b.high), (Some(80.0), Some(94.0)));

        let mut mean = Accumulator::default();
        mean.released(0.8, 100.0, Aggregate::Mean);
        mean.withheld(p.rows("secret: seuil"), p.range("etpr"));
        let (_, b) = mean.finish(Aggregate::Mean);
        assert!((b.low.unwrap() - 80.0 / 114.0).abs() < 1e-12);
        assert!((b.high.unwrap() - 94.0 / 114.0).abs() < 1e-12);
    }

    #[test]
    fn unbounded_rows_or_values_leave_an_end_open() {
        let p = seuil(None);
        let mut count = Accumulator::default();
        count.released(100.0, 0.0, Aggregate::Count);
        count.withheld(p.rows("secret: seuil"), None);
        let (_, b) = count.finish(Aggregate::Count);
        assert_eq!((b.low, b.high), (Some(100.0), None));

        let mut mean = Accumulator::default();
        mean.released(0.8, 100.0, Aggregate::Mean);
        mean.withheld(p.rows("secret: seuil"), p.range("etpr"));
        let (_, b) = mean.finish(Aggregate::Mean);
        assert_eq!((b.low, b.high), (Some(0.0), Some(1.0)));

        let mut sum = Accumulator::default();
        sum.released(80.0, 0.0, Aggregate::Sum);
        sum.withheld(p.rows("secret: seuil"), None);
        let (_, b) = sum.finish(Aggregate::Sum);
        assert_eq!((b.low, b.high), (None, None), "no range: nothing known");

        let mut all_released = Accumulator::default();
        all_released.released(3.0, 0.0, Aggregate::Count);
        assert_eq!(
            all_released.finish(Aggregate::Count),
            (Some(3.0), Interval::point(3.0))
        );
    }
}
