//! The arithmetic of indicators: each input is an estimate that carries the interval its true
//! value lies in (a point when released) and that interval widened by the noise the node may
//! have added. Every operation is applied to both, so an indicator says what it is known to be
//! and how far the noise can move it.

/// A closed interval; an end may be infinite (unbounded).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Iv {
    pub lo: f64,
    pub hi: f64,
}

impl Iv {
    pub fn point(v: f64) -> Iv {
        Iv { lo: v, hi: v }
    }

    pub fn new(lo: Option<f64>, hi: Option<f64>) -> Iv {
        Iv {
            lo: lo.unwrap_or(f64::NEG_INFINITY),
            hi: hi.unwrap_or(f64::INFINITY),
        }
    }

    pub fn widen(self, r: f64) -> Iv {
        Iv {
            lo: self.lo - r,
            hi: self.hi + r,
        }
    }

    pub fn plus(self, o: Iv) -> Iv {
        Iv {
            lo: self.lo + o.lo,
            hi: self.hi + o.hi,
        }
    }

    pub fn minus(self, o: Iv) -> Iv {
        Iv {
            lo: self.lo - o.hi,
            hi: self.hi - o.lo,
        }
    }

    pub fn times(self, k: f64) -> Iv {
        if k >= 0.0 {
            Iv {
                lo: self.lo * k,
                hi: self.hi * k,
            }
        } else {
            Iv {
                lo: self.hi * k,
                hi: self.lo * k,
            }
        }
    }

    /// `self / d`; None when `d` is exactly 0. Over a denominator that may be 0 or below, the
    /// quotient is unbounded above (and below, unless the numerator is non-negative).
    pub fn over(self, d: Iv) -> Option<Iv> {
        if d.lo == 0.0 && d.hi == 0.0 {
            return None;
        }
        if d.lo > 0.0 {
            // On a box where the denominator is positive the quotient is monotone in each
            // input, so its extremes are at the corners; inf/inf is no extreme.
            let corners = [
                self.lo / d.lo,
                self.lo / d.hi,
                self.hi / d.lo,
                self.hi / d.hi,
            ];
            let finite = corners.iter().copied().filter(|c| !c.is_nan());
            let lo = finite.clone().fold(f64::INFINITY, f64::min);
            let hi = finite.fold(f64::NEG_INFINITY, f64::max);
            return Some(Iv { lo, hi });
        }
        if self.lo >= 0.0 && d.lo >= 0.0 {
            let lo = if d.hi.is_finite() {
                self.lo / d.hi
            } else {
                0.0
            };
            return Some(Iv {
                lo,
                hi: f64::INFINITY,
            });
        }
        Some(Iv::new(None, None))
    }

    /// `x / (x + rest)` for non-negative `x` and `rest`, which rises with `x` and falls with
    /// `rest` (tighter than dividing the intervals apart). None when both are exactly 0.
    pub fn share(x: Iv, rest: Iv) -> Option<Iv> {
        let ratio = |a: f64, b: f64| {
            if a.is_infinite() {
                1.0
            } else if b.is_infinite() {
                0.0
            } else if a + b == 0.0 {
                f64::NAN
            } else {
                a / (a + b)
            }
        };
        let (x, rest) = (x.clamp_non_negative(), rest.clamp_non_negative());
        let lo = ratio(x.lo, rest.hi);
        let hi = ratio(x.hi, rest.lo);
        match (lo.is_nan(), hi.is_nan()) {
            (true, true) => None,
            _ => Some(Iv {
                lo: if lo.is_nan() { 0.0 } else { lo },
                hi: if hi.is_nan() { 1.0 } else { hi },
            }),
        }
    }

    fn clamp_non_negative(self) -> Iv {
        Iv {
            lo: self.lo.max(0.0),
            hi: self.hi.max(0.0),
        }
    }

    pub fn finite(v: f64) -> Option<f64> {
        v.is_finite().then_some(v)
    }
}

/// An input or result of an indicator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Est {
    /// Where the figure lies: a point when computed from released cells only.
    pub value: Iv,
    /// `value` widened by what the nodes' noise may have moved it; None when unknown.
    pub noisy: Option<Iv>,
    /// Whether every input was released.
    pub released: bool,
}

impl Est {
    /// A released value moved by at most `noise`.
    pub fn released(v: f64, noise: Option<f64>) -> Est {
        Est {
            value: Iv::point(v),
            noisy: noise.map(|r| Iv::point(v).widen(r)),
            released: true,
        }
    }

    /// A withheld value, known only to lie within its published bounds.
    pub fn bounded(low: Option<f64>, high: Option<f64>) -> Est {
        let value = Iv::new(low, high);
        Est {
            value,
            noisy: Some(value),
            released: false,
        }
    }

    fn both(self, o: Est, f: impl Fn(Iv, Iv) -> Iv) -> Est {
        Est {
            value: f(self.value, o.value),
            noisy: self.noisy.zip(o.noisy).map(|(a, b)| f(a, b)),
            released: self.released && o.released,
        }
    }

    pub fn plus(self, o: Est) -> Est {
        self.both(o, Iv::plus)
    }

    pub fn minus(self, o: Est) -> Est {
        self.both(o, Iv::minus)
    }

    pub fn times(self, k: f64) -> Est {
        Est {
            value: self.value.times(k),
            noisy: self.noisy.map(|n| n.times(k)),
            released: self.released,
        }
    }

    /// None when the denominator is exactly 0.
    pub fn over(self, d: Est) -> Option<Est> {
        let value = self.value.over(d.value)?;
        Some(Est {
            value,
            noisy: self
                .noisy
                .zip(d.noisy)
                .map(|(a, b)| a.over(b).unwrap_or(Iv::new(None, None))),
            released: self.released && d.released,
        })
    }

    /// `self`'s share of `self + rest`; None when both are exactly 0.
    pub fn share(self, rest: Est) -> Option<Est> {
        let value = Iv::share(self.value, rest.value)?;
        Some(Est {
            value,
            noisy: self
                .noisy
                .zip(rest.noisy)
                .map(|(a, b)| Iv::share(a, b).unwrap_or(Iv { lo: 0.0, hi: 1.0 })),
            released: self.released && rest.released,
        })
    }

    /// How far the noise can move the figure beyond `value`: None when unknown or unbounded.
    pub fn noise_margin(&self) -> Option<f64> {
        let n = self.noisy?;
        let margin = (self.value.lo - n.lo).max(n.hi - self.value.hi).max(0.0);
        Iv::finite(margin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ratio_of_released_values_is_exact_and_its_noise_margin_follows_from_the_inputs() {
        let r = Est::released(30.0, Some(4.0))
            .over(Est::released(10.0, Some(4.0)))
            .unwrap();
        assert!(r.released);
        assert_eq!(r.value, Iv::point(3.0));
        // (30 ± 4) / (10 ± 4) spans [26/14, 34/6].
        let margin = r.noise_margin().unwrap();
        assert!((margin - (34.0 / 6.0 - 3.0)).abs() < 1e-12, "{margin}");
    }

    #[test]
    fn a_withheld_input_makes_an_interval_from_its_published_bounds() {
        // Numerator released (40), denominator withheld, known to lie within [1, 10].
        let r = Est::released(40.0, Some(4.0))
            .over(Est::bounded(Some(1.0), Some(10.0)))
            .unwrap();
        assert!(!r.released);
        assert_eq!(r.value, Iv { lo: 4.0, hi: 40.0 });
        // Unbounded above: no upper end.
        let open = Est::released(40.0, None)
            .over(Est::bounded(Some(0.0), None))
            .unwrap();
        assert_eq!(open.value.lo, 0.0);
        assert!(open.value.hi.is_infinite());
        assert_eq!(open.noise_margin(), None);
    }

    #[test]
    fn a_share_is_monotone_in_each_part() {
        // 30 out of 30 + [10, 20]: between 30/50 and 30/40.
        let s = Est::released(30.0, Some(0.0))
            .share(Est::bounded(Some(10.0), Some(20.0)))
            .unwrap();
        assert_eq!(s.value, Iv { lo: 0.6, hi: 0.75 });
        let exact = Est::released(1.0, Some(0.0))
            .share(Est::released(3.0, Some(0.0)))
            .unwrap();
        assert_eq!(exact.value, Iv::point(0.25));
        assert_eq!(
            Est::released(0.0, None).share(Est::released(0.0, None)),
            None
        );
    }

    #[test]
    fn differences_add_the_noise_of_both_years() {
        let change = Est::released(120.0, Some(4.0)).minus(Est::released(100.0, Some(4.0)));
        assert_eq!(change.value, Iv::point(20.0));
        assert_eq!(change.noise_margin(), Some(8.0));
        assert_eq!(
            Est::released(1.0, None).over(Est::released(0.0, None)),
            None
        );
    }
}
