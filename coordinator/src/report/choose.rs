//! Which chart suits a measure: the age pyramid for a table by sex and age band, trend lines
//! for a table by year, bars otherwise (per département with the regional value, or per cell),
//! none where there would be too many bars or lines to read (the table says it all).

use cdg_shared::codes::SEXES;
use cdg_shared::indicator::YEAR;
use cdg_shared::query::{REGION, natural_order};

use super::svg::{self, Bar, Series};
use crate::pivot::{Cell, Mark, Pivot};

/// More bars than this are left to the table.
const MAX_BARS: usize = 30;
/// More lines than this are left to the table.
const MAX_LINES: usize = 10;
/// More pyramids than this (one per value of a third dimension) are left to the table.
const MAX_PYRAMIDS: usize = 4;

fn bar(cell: &Cell) -> Bar {
    match cell.mark {
        Mark::Released | Mark::Partial | Mark::Secure => cell.value.map_or(Bar::Secret, Bar::Value),
        Mark::Bounded => Bar::Interval(cell.low, cell.high),
        _ => Bar::Secret,
    }
}

fn point(cell: &Cell) -> Option<f64> {
    match cell.mark {
        Mark::Released | Mark::Partial | Mark::Secure => cell.value,
        _ => None,
    }
}

/// Whose figures the chart shows: the region's, or the one département's of a departmental
/// study.
fn whole_name(p: &Pivot) -> String {
    match (p.region(), p.columns.as_slice()) {
        (None, [one]) => format!("CDG {one}"),
        _ => REGION.to_string(),
    }
}

/// Whether the measure adds up over départements (a count or a sum): then the regional value
/// is a total, not comparable with the départements' own.
fn additive(p: &Pivot) -> bool {
    p.measure == "nombre" || p.measure.starts_with("somme_")
}

/// What a chart shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Women left, men right, by age band.
    Pyramid,
    /// One line per series over the years.
    Lines,
    /// Horizontal bars, one per category.
    Bars,
}

/// One series of a chart: a value (or bounds, or a secret) per category.
#[derive(Debug, Clone)]
pub struct Serie {
    pub name: String,
    pub values: Vec<Bar>,
    /// The region's line, drawn darker.
    pub emphasis: bool,
}

/// One chart (a pyramid per value of a third dimension makes several).
#[derive(Debug, Clone)]
pub struct Panel {
    pub name: String,
    pub categories: Vec<String>,
    pub series: Vec<Serie>,
}

/// The chart suited to a measure: the SVG of the report and the native chart of the workbook
/// are both drawn from it.
#[derive(Debug, Clone)]
pub struct Plan {
    pub kind: Kind,
    pub caption: String,
    pub panels: Vec<Panel>,
    /// The regional value, drawn as a dashed line over bars per département.
    pub reference: Option<f64>,
    pub integer: bool,
}

/// The chart for `p`, or None when a table reads better.
pub fn plan(p: &Pivot) -> Option<Plan> {
    let region = p.whole();
    let has = |d: &str| p.dims.iter().position(|x| x == d);
    let planned = |kind, caption: String, panels, reference| Plan {
        kind,
        caption,
        panels,
        reference,
        integer: p.integer,
    };
    if let (Some(sex), Some(age)) = (has("sexe"), has("tranche_age")) {
        let panels = pyramids(p, sex, age, region?)?;
        let caption = format!("{} : femmes à gauche, hommes à droite", whole_name(p));
        return Some(planned(Kind::Pyramid, caption, panels, None));
    }
    if let Some(year) = has(YEAR) {
        let (panel, caption) = trend(p, year, region)?;
        let caption = format!("{caption} ; une année en secret interrompt la ligne");
        return Some(planned(Kind::Lines, caption, vec![panel], None));
    }
    if p.dims.is_empty() {
        let (_, cells) = p.rows.first()?;
        let (categories, values): (Vec<String>, Vec<Bar>) = p
            .columns
            .iter()
            .zip(cells)
            .filter(|(c, _)| c.as_str() != REGION)
            .map(|(c, cell)| (format!("CDG {c}"), bar(cell)))
            .unzip();
        let regional = p.region().and_then(|r| point(&cells[r]));
        let mut caption = "par département".to_string();
        let reference = match regional {
            Some(v) if !additive(p) => {
                caption.push_str(", et la valeur régionale (tirets)");
                Some(v)
            }
            Some(v) => {
                caption.push_str(&format!(
                    " ; Hauts-de-France : {}",
                    super::format::number(v, p.integer)
                ));
                None
            }
            None => None,
        };
        let serie = Serie {
            name: super::format::measure_label(&p.measure),
            values,
            emphasis: false,
        };
        let panel = Panel {
            name: String::new(),
            categories,
            series: vec![serie],
        };
        return Some(planned(Kind::Bars, caption, vec![panel], reference));
    }
    if p.rows.len() > MAX_BARS {
        return None;
    }
    let r = region?;
    let (categories, values) = p
        .rows
        .iter()
        .map(|(key, cells)| (key.join(" · "), bar(&cells[r])))
        .unzip();
    let panel = Panel {
        name: String::new(),
        categories,
        series: vec![Serie {
            name: whole_name(p),
            values,
            emphasis: false,
        }],
    };
    let caption = format!("{}, par cellule", whole_name(p));
    Some(planned(Kind::Bars, caption, vec![panel], None))
}

/// The plan drawn as SVG.
pub fn svg(plan: &Plan) -> String {
    let mut out = String::new();
    for panel in &plan.panels {
        if !panel.name.is_empty() {
            out.push_str(&format!("<h4>{}</h4>", super::format::escape(&panel.name)));
        }
        out.push_str(&match plan.kind {
            Kind::Pyramid => {
                let rows: Vec<(String, Bar, Bar)> = panel
                    .categories
                    .iter()
                    .enumerate()
                    .map(|(i, band)| {
                        let at =
                            |s: usize| panel.series.get(s).map_or(Bar::Secret, |s| s.values[i]);
                        (band.clone(), at(0), at(1))
                    })
                    .collect();
                svg::pyramid(&rows)
            }
            Kind::Lines => {
                let series: Vec<Series> = panel
                    .series
                    .iter()
                    .map(|s| Series {
                        name: s.name.clone(),
                        points: s
                            .values
                            .iter()
                            .map(|b| match b {
                                Bar::Value(v) => Some(*v),
                                _ => None,
                            })
                            .collect(),
                        emphasis: s.emphasis,
                    })
                    .collect();
                svg::lines(&panel.categories, &series, plan.integer)
            }
            Kind::Bars => {
                let items: Vec<(String, Bar)> = panel
                    .categories
                    .iter()
                    .cloned()
                    .zip(panel.series[0].values.iter().copied())
                    .collect();
                let reference = plan.reference.map(|v| (REGION, v));
                svg::bars(&items, reference, plan.integer)
            }
        });
    }
    out
}

/// One pyramid of the regional values, or one per value of a third dimension.
fn pyramids(p: &Pivot, sex: usize, age: usize, region: usize) -> Option<Vec<Panel>> {
    let others: Vec<usize> = (0..p.dims.len())
        .filter(|d| *d != sex && *d != age)
        .collect();
    if others.len() > 1 {
        return None;
    }
    let group_of = |key: &[String]| {
        others
            .iter()
            .map(|&d| key[d].clone())
            .collect::<Vec<_>>()
            .join(" · ")
    };
    let mut groups: Vec<String> = Vec::new();
    let mut bands: Vec<String> = Vec::new();
    for (key, _) in &p.rows {
        let g = group_of(key);
        if !groups.contains(&g) {
            groups.push(g);
        }
        if !bands.contains(&key[age]) {
            bands.push(key[age].clone());
        }
    }
    if groups.len() > MAX_PYRAMIDS {
        return None;
    }
    bands.sort_by(|a, b| natural_order(a, b));
    let panels = groups
        .iter()
        .map(|g| {
            let find = |band: &str, sexe: &str| -> Bar {
                p.rows
                    .iter()
                    .find(|(key, _)| key[age] == band && key[sex] == sexe && group_of(key) == *g)
                    .map_or(Bar::Secret, |(_, cells)| bar(&cells[region]))
            };
            let series = [("Femmes", SEXES[0]), ("Hommes", SEXES[1])]
                .iter()
                .map(|(name, code)| Serie {
                    name: name.to_string(),
                    values: bands.iter().map(|b| find(b, code)).collect(),
                    emphasis: false,
                })
                .collect();
            Panel {
                name: g.clone(),
                categories: bands.clone(),
                series,
            }
        })
        .collect();
    Some(panels)
}

/// Lines over the years: per département (and the region, unless the measure is a total), or
/// per value of the other dimensions, for the region.
fn trend(p: &Pivot, year: usize, region: Option<usize>) -> Option<(Panel, String)> {
    let mut years: Vec<String> = Vec::new();
    for (key, _) in &p.rows {
        if !years.contains(&key[year]) {
            years.push(key[year].clone());
        }
    }
    years.sort_by(|a, b| natural_order(a, b));
    let others: Vec<usize> = (0..p.dims.len()).filter(|d| *d != year).collect();
    let at = |rest: &[String], y: &str, column: usize| -> Bar {
        p.rows
            .iter()
            .find(|(key, _)| key[year] == y && others.iter().zip(rest).all(|(&d, v)| key[d] == *v))
            .and_then(|(_, cells)| point(&cells[column]))
            .map_or(Bar::Secret, Bar::Value)
    };
    let (series, caption) = if others.is_empty() {
        let series: Vec<Serie> = p
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| !(additive(p) && c.as_str() == REGION))
            .map(|(column, c)| Serie {
                name: if c == REGION {
                    c.clone()
                } else {
                    format!("CDG {c}")
                },
                values: years.iter().map(|y| at(&[], y, column)).collect(),
                emphasis: c == REGION,
            })
            .collect();
        (series, "par département".to_string())
    } else {
        let r = region?;
        let mut combos: Vec<Vec<String>> = Vec::new();
        for (key, _) in &p.rows {
            let rest: Vec<String> = others.iter().map(|&d| key[d].clone()).collect();
            if !combos.contains(&rest) {
                combos.push(rest);
            }
        }
        if combos.len() > MAX_LINES {
            return None;
        }
        let series = combos
            .iter()
            .map(|rest| Serie {
                name: rest.join(" · "),
                values: years.iter().map(|y| at(rest, y, r)).collect(),
                emphasis: false,
            })
            .collect();
        (series, whole_name(p))
    };
    let panel = Panel {
        name: String::new(),
        categories: years,
        series,
    };
    Some((panel, caption))
}
