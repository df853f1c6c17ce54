//! The report's charts, drawn as inline SVG: no script, no font to fetch, printable.
//! Bars (per département or per cell, with the regional value), trend lines over the years and
//! the age pyramid. A withheld value is never drawn as a value: an interval is drawn as a
//! pale band over the bounds, a secret cell as an `s`.

use std::fmt::Write as _;

use super::format::{escape, number};

/// Colours of the series, then the region's.
const PALETTE: [&str; 8] = [
    "#1f5fa8", "#e07b00", "#2a9d5c", "#c23b3b", "#7a4fb3", "#8c6d31", "#17a2b8", "#d63384",
];
const REGION_COLOUR: &str = "#222222";
const WOMEN: &str = "#b5477a";
const MEN: &str = "#1f5fa8";
const WIDTH: f64 = 760.0;

/// What a bar shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bar {
    Value(f64),
    /// Known only within bounds (an end may be unknown).
    Interval(Option<f64>, Option<f64>),
    Secret,
}

impl Bar {
    fn extent(&self) -> (f64, f64) {
        match *self {
            Bar::Value(v) => (v, v),
            Bar::Interval(lo, hi) => {
                let lo = lo.unwrap_or(0.0);
                (lo, hi.unwrap_or(lo))
            }
            Bar::Secret => (0.0, 0.0),
        }
    }

    fn label(&self, integer: bool) -> String {
        match *self {
            Bar::Value(v) => number(v, integer),
            Bar::Interval(Some(lo), Some(hi)) => {
                format!("[{} ; {}]", number(lo, integer), number(hi, integer))
            }
            Bar::Interval(Some(lo), None) => format!("≥{}", number(lo, integer)),
            Bar::Interval(None, Some(hi)) => format!("≤{}", number(hi, integer)),
            _ => "s".to_string(),
        }
    }
}

/// A line of a trend chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<Option<f64>>,
    /// The region's line, drawn darker and thicker.
    pub emphasis: bool,
}

/// A scale from data values to an axis: nice ends and ticks (1, 2 or 5 × 10ⁿ apart).
struct Scale {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Scale {
    /// A scale over [lo, hi], stretched to 0 when `zero`.
    fn new(lo: f64, hi: f64, zero: bool) -> Scale {
        let (lo, hi) = if zero {
            (lo.min(0.0), hi.max(0.0))
        } else {
            (lo, hi)
        };
        let span = if hi - lo > 0.0 {
            hi - lo
        } else {
            hi.abs().max(1.0)
        };
        let raw = span / 5.0;
        let power = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|m| m * power)
            .find(|s| *s >= raw)
            .unwrap_or(10.0 * power);
        let lo = (lo / step).floor() * step;
        let hi = (hi / step).ceil() * step;
        let ticks = (0..=((hi - lo) / step).round() as usize)
            .map(|i| lo + step * i as f64)
            .collect();
        Scale { lo, hi, ticks }
    }

    /// Position of `v` between `from` and `to` (pixels).
    fn at(&self, v: f64, from: f64, to: f64) -> f64 {
        from + (v - self.lo) / (self.hi - self.lo) * (to - from)
    }
}

fn open(height: f64, label: &str) -> String {
    format!(
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" \
         width=\"{WIDTH}\" height=\"{height}\" role=\"img\" aria-label=\"{}\" \
         font-family=\"sans-serif\" font-size=\"12\">",
        escape(label)
    )
}

/// Horizontal bars, one per item, and the regional value as a dashed line when given.
pub fn bars(items: &[(String, Bar)], reference: Option<(&str, f64)>, integer: bool) -> String {
    let (left, right, top, row) = (220.0, WIDTH - 130.0, 28.0, 22.0);
    let height = top + row * items.len() as f64 + 30.0;
    let (mut lo, mut hi) = reference.map_or((0.0, 0.0), |(_, v)| (v, v));
    for (_, b) in items {
        let (a, z) = b.extent();
        lo = lo.min(a);
        hi = hi.max(z);
    }
    let scale = Scale::new(lo, hi, true);
    let mut s = open(height, "diagramme en barres");
    for t in &scale.ticks {
        let x = scale.at(*t, left, right);
        let _ = write!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
            height - 24.0,
            height - 8.0,
            number(*t, integer)
        );
    }
    let zero = scale.at(0.0, left, right);
    for (i, (label, bar)) in items.iter().enumerate() {
        let y = top + row * i as f64;
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            left - 8.0,
            y + 14.0,
            escape(&shorten(label, 34))
        );
        let (from, to, class, fill) = match *bar {
            Bar::Value(v) => (v.min(0.0), v.max(0.0), "bar", PALETTE[0]),
            Bar::Interval(..) => {
                let (a, z) = bar.extent();
                (a, z, "bar interval", "#9bb7d9")
            }
            Bar::Secret => (0.0, 0.0, "", ""),
        };
        let end = if class.is_empty() {
            zero
        } else {
            let (x0, x1) = (scale.at(from, left, right), scale.at(to, left, right));
            let _ = write!(
                s,
                "<rect class=\"{class}\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" \
                 fill=\"{fill}\"><title>{}</title></rect>",
                y + 3.0,
                (x1 - x0).max(1.0),
                row - 6.0,
                escape(&format!("{label} : {}", bar.label(integer)))
            );
            x1
        };
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#333\">{}</text>",
            end + 4.0,
            y + 14.0,
            escape(&bar.label(integer))
        );
    }
    if let Some((name, v)) = reference {
        let x = scale.at(v, left, right);
        let _ = write!(
            s,
            "<line class=\"reference\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" \
             stroke=\"{REGION_COLOUR}\" stroke-width=\"2\" stroke-dasharray=\"5 3\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"bold\">{} : {}</text>",
            top - 6.0,
            height - 24.0,
            top - 10.0,
            escape(name),
            number(v, integer)
        );
    }
    s.push_str("</svg>");
    s
}

/// Trend lines over `x` (the years), one per series, broken where a value is withheld.
pub fn lines(x: &[String], series: &[Series], integer: bool) -> String {
    let (left, right, top, bottom) = (70.0, WIDTH - 190.0, 16.0, 250.0);
    let height = (bottom + 40.0_f64).max(top + 18.0 * series.len() as f64 + 20.0);
    let values = series.iter().flat_map(|s| s.points.iter().flatten());
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, z), v| {
        (a.min(*v), z.max(*v))
    });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    // Trends start the axis at 0 unless every value is far from it.
    let scale = Scale::new(lo, hi, !(lo > 0.0 && lo > 0.5 * hi));
    let step = if x.len() > 1 {
        (right - left) / (x.len() - 1) as f64
    } else {
        0.0
    };
    let px = |i: usize| {
        left + step * i as f64
            + if x.len() > 1 {
                0.0
            } else {
                (right - left) / 2.0
            }
    };
    let mut s = open(height, "évolution");
    for t in &scale.ticks {
        let y = scale.at(*t, bottom, top);
        let _ = write!(
            s,
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{right}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#555\">{}</text>",
            left - 6.0,
            y + 4.0,
            number(*t, integer)
        );
    }
    for (i, label) in x.iter().enumerate() {
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
            px(i),
            bottom + 18.0,
            escape(label)
        );
    }
    for (k, serie) in series.iter().enumerate() {
        let colour = if serie.emphasis {
            REGION_COLOUR
        } else {
            PALETTE[k % PALETTE.len()]
        };
        let width = if serie.emphasis { 3 } else { 2 };
        let mut d = String::new();
        let mut pen_down = false;
        for (i, p) in serie.points.iter().enumerate() {
            match p {
                Some(v) => {
                    let _ = write!(
                        d,
                        "{}{:.1} {:.1} ",
                        if pen_down { "L" } else { "M" },
                        px(i),
                        scale.at(*v, bottom, top)
                    );
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        let _ = write!(
            s,
            "<path class=\"line\" d=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"{width}\"/>",
            d.trim_end()
        );
        for (i, p) in serie.points.iter().enumerate() {
            if let Some(v) = p {
                let _ = write!(
                    s,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"><title>{}</title></circle>",
                    px(i),
                    scale.at(*v, bottom, top),
                    escape(&format!(
                        "{} {} : {}",
                        serie.name,
                        x[i],
                        number(*v, integer)
                    ))
                );
            }
        }
        let y = top + 18.0 * k as f64;
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"12\" height=\"4\" fill=\"{colour}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            right + 20.0,
            y + 4.0,
            right + 38.0,
            y + 10.0,
            escape(&shorten(&serie.name, 22))
        );
    }
    s.push_str("</svg>");
    s
}

/// The age pyramid: women on the left, men on the right, one row per age band (youngest at
/// the bottom).
pub fn pyramid(bands: &[(String, Bar, Bar)]) -> String {
    let (centre, half, top, row) = (WIDTH / 2.0, 250.0, 30.0, 20.0);
    let height = top + row * bands.len() as f64 + 16.0;
    let largest = bands
        .iter()
        .flat_map(|(_, f, h)| [f.extent().1, h.extent().1])
        .fold(1.0, f64::max);
    let scale = Scale::new(0.0, largest, true);
    let gap = 40.0;
    let mut s = open(height, "pyramide des âges");
    let _ = write!(
        s,
        "<text x=\"{:.1}\" y=\"16\" text-anchor=\"middle\" font-weight=\"bold\" fill=\"{WOMEN}\">Femmes</text>\
         <text x=\"{:.1}\" y=\"16\" text-anchor=\"middle\" font-weight=\"bold\" fill=\"{MEN}\">Hommes</text>",
        centre - gap - half / 2.0,
        centre + gap + half / 2.0
    );
    for (i, (band, women, men)) in bands.iter().rev().enumerate() {
        let y = top + row * i as f64;
        let _ = write!(
            s,
            "<text x=\"{centre}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            y + 13.0,
            escape(band)
        );
        for (bar, side, colour) in [(women, -1.0, WOMEN), (men, 1.0, MEN)] {
            let start = centre + side * gap;
            let (_, to) = bar.extent();
            let length = scale.at(to, 0.0, half);
            let x = if side < 0.0 { start - length } else { start };
            if *bar != Bar::Secret {
                let class = if matches!(bar, Bar::Value(_)) {
                    "bar"
                } else {
                    "bar interval"
                };
                let fill = if class == "bar" { colour } else { "#bbbbbb" };
                let _ = write!(
                    s,
                    "<rect class=\"{class}\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" \
                     fill=\"{fill}\"><title>{}</title></rect>",
                    y + 2.0,
                    length.max(1.0),
                    row - 4.0,
                    escape(&format!("{band} : {}", bar.label(true)))
                );
            }
            let (tx, anchor) = if side < 0.0 {
                (x - 4.0, "end")
            } else {
                (x + length + 4.0, "start")
            };
            let _ = write!(
                s,
                "<text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" fill=\"#333\" font-size=\"11\">{}</text>",
                y + 13.0,
                escape(&bar.label(true))
            );
        }
    }
    s.push_str("</svg>");
    s
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max - 1).collect::<String>() + "…"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_have_round_ticks_around_the_data() {
        let s = Scale::new(0.0, 1234.0, true);
        assert_eq!(s.lo, 0.0);
        assert!(s.hi >= 1234.0 && s.ticks.len() <= 8, "{:?}", s.ticks);
        assert_eq!(s.ticks, [0.0, 500.0, 1000.0, 1500.0]);
        let n = Scale::new(-3.0, 7.0, true);
        let far = Scale::new(980.0, 1010.0, false);
        assert!(
            far.lo >= 900.0 && far.lo <= 980.0 && far.hi >= 1010.0,
            "{:?}",
            far.ticks
        );
        assert!(n.lo <= -3.0 && n.ticks.contains(&0.0));
    }

    #[test]
    fn a_withheld_value_is_never_drawn_as_a_value() {
        let svg = bars(
            &[
                ("A".into(), Bar::Value(120.0)),
                ("B".into(), Bar::Interval(Some(10.0), Some(30.0))),
                ("C".into(), Bar::Secret),
            ],
            Some(("Hauts-de-France", 80.0)),
            true,
        );
        assert_eq!(svg.matches("class=\"bar\"").count(), 1);
        assert_eq!(svg.matches("class=\"bar interval\"").count(), 1);
        assert!(svg.contains("[10 ; 30]") && svg.contains(">s<"));
        assert!(svg.contains("class=\"reference\""));
        let trend = lines(
            &["2020".into(), "2021".into(), "2022".into()],
            &[Series {
                name: "02".into(),
                points: vec![Some(1.0), None, Some(3.0)],
                emphasis: false,
            }],
            false,
        );
        // Two points, no segment across the withheld year.
        assert_eq!(trend.matches("<circle").count(), 2);
        assert!(!trend.contains(" L"), "{trend}");
    }
}
