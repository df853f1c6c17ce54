//! Indicators over regional tables merged from planted node answers: exact where every input
//! is released, intervals from the published bounds where one is withheld.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, StringArray};
use arrow::datatypes::Float64Type;
use cdg_shared::cdg::Cdg;
use cdg_shared::indicator::Indicator;
use cdg_shared::proto::v1::{CellNoise, MeasureRange, SecretBound};
use cdg_shared::query::{Aggregate, AggregateQuery, REGION};
use cdg_shared::study::Study;

use super::*;
use crate::bounds::Published;
use crate::merge::{Answer, Checked, merge};

const SECRET: &str = "secret: seuil";

fn published() -> Published {
    Published {
        secret_bounds: vec![SecretBound {
            status: SECRET.into(),
            count_min: 1,
            count_max: Some(10),
        }],
        measure_ranges: vec![MeasureRange {
            column: "jours_calendaires".into(),
            min: 0.0,
            max: 365.0,
        }],
        noise: Some(CellNoise {
            max_noise: 4,
            magnitude_noise: 3.0,
        }),
    }
}

/// A row of a node's answer: the dimension values, the status and the measures.
type AnswerRow<'a> = (&'a [&'a str], &'a str, &'a [Option<f64>]);

fn answer(q: &AggregateQuery, rows: &[AnswerRow]) -> RecordBatch {
    let mut columns: Vec<ArrayRef> = (0..q.group_by.len())
        .map(|d| Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0[d]))) as ArrayRef)
        .collect();
    columns.push(Arc::new(StringArray::from_iter_values(
        rows.iter().map(|r| r.1),
    )));
    for (i, m) in q.measures.iter().enumerate() {
        let values = rows.iter().map(|r| r.2[i]);
        columns.push(if m.aggregate == Aggregate::Count {
            Arc::new(Int64Array::from_iter(values.map(|v| v.map(|x| x as i64))))
        } else {
            Arc::new(Float64Array::from_iter(values))
        });
    }
    RecordBatch::try_new(q.result_schema(), columns).unwrap()
}

const STUDY: &str = r#"
title = "t"
purpose = "p"
diffusion = "interne"
departements = ["02", "59"]

[[query]]
name = "absences"
dataset = "absences"
group_by = ["annee", "categorie"]
measures = ["sum(jours_calendaires)"]
filters = { annee = [2023, 2024] }

[[query]]
name = "effectifs"
dataset = "agents"
group_by = ["annee"]
measures = ["count"]
filters = { annee = [2023, 2024] }

[[indicator]]
name = "jours_par_agent"
kind = "rate"
numerator = "absences.sum(jours_calendaires)"
denominator = "effectifs.count"

[[indicator]]
name = "part_categorie"
kind = "share"
of = "absences.sum(jours_calendaires)"
within = ["annee"]

[[indicator]]
name = "evolution"
kind = "change_pct"
of = "effectifs.count"
base = 2023

[[indicator]]
name = "indice"
kind = "index"
of = "effectifs.count"
base = 2023
"#;

/// The study's regional tables: CDG 59 withholds its absences of catégorie B in 2024.
fn tables(study: &Study) -> Tables {
    let p = published();
    let absences = &study.queries[0].query;
    let effectifs = &study.queries[1].query;
    let answers_absences = [
        (
            Cdg::Aisne,
            answer(
                absences,
                &[
                    (&["2023", "A"], RELEASED, &[Some(300.0)]),
                    (&["2024", "A"], RELEASED, &[Some(400.0)]),
                    (&["2024", "B"], RELEASED, &[Some(600.0)]),
                ],
            ),
        ),
        (
            Cdg::Nord,
            answer(
                absences,
                &[
                    (&["2024", "A"], RELEASED, &[Some(1000.0)]),
                    (&["2024", "B"], SECRET, &[None]),
                ],
            ),
        ),
    ];
    let answers_effectifs = [
        (
            Cdg::Aisne,
            answer(
                effectifs,
                &[
                    (&["2023"], RELEASED, &[Some(80.0)]),
                    (&["2024"], RELEASED, &[Some(100.0)]),
                ],
            ),
        ),
        (
            Cdg::Nord,
            answer(effectifs, &[(&["2024"], RELEASED, &[Some(400.0)])]),
        ),
    ];
    let mut tables = Tables::new();
    for (q, batches) in [
        (absences, &answers_absences),
        (effectifs, &answers_effectifs),
    ] {
        let checked: Vec<(Cdg, Checked)> = batches
            .iter()
            .map(|(cdg, batch)| (*cdg, Checked::new(q, *cdg, batch.clone()).unwrap()))
            .collect();
        let answers: Vec<Answer> = checked
            .iter()
            .map(|(cdg, batch)| Answer {
                cdg: *cdg,
                batch,
                published: &p,
            })
            .collect();
        let merged = merge(q, &answers, &[], true, &Default::default()).unwrap();
        let noise: NoiseByDepartement = batches
            .iter()
            .map(|(cdg, _)| (cdg.code().to_string(), NodeNoise::of(&p)))
            .collect();
        let name = if q == absences {
            "absences"
        } else {
            "effectifs"
        };
        tables.insert(name.into(), Table::read(q, &merged, &noise).unwrap());
    }
    tables
}

/// (diffusion, value, low, high, noise margin) of the row of `departement` and `key`.
type Line = (String, Option<f64>, Option<f64>, Option<f64>, Option<f64>);

fn line(batch: &RecordBatch, departement: &str, key: &[&str]) -> Line {
    let text = |c: usize, r: usize| batch.column(c).as_string::<i32>().value(r).to_string();
    let dims = key.len();
    let row = (0..batch.num_rows())
        .find(|&r| text(0, r) == departement && (0..dims).all(|d| text(1 + d, r) == key[d]))
        .unwrap_or_else(|| panic!("no row {departement} {key:?}"));
    let number = |c: usize| {
        let a = batch.column(c).as_primitive::<Float64Type>();
        a.is_valid(row).then(|| a.value(row))
    };
    let first = 2 + dims;
    (
        text(1 + dims, row),
        number(first),
        number(first + 1),
        number(first + 2),
        number(first + 3),
    )
}

fn indicator<'a>(study: &'a Study, name: &str) -> &'a Indicator {
    study.indicators.iter().find(|i| i.name == name).unwrap()
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

#[test]
fn a_rate_is_exact_where_its_inputs_are_released_and_an_interval_where_one_is_withheld() {
    let study = Study::from_toml(STUDY).unwrap();
    let tables = tables(&study);
    let rate = compute(indicator(&study, "jours_par_agent"), &tables).unwrap();
    assert_eq!(rate.schema().field(7).name(), "jours_par_agent_marge_bruit");
    // 400 days over 100 agents in Aisne, catégorie A, 2024.
    let (status, value, low, high, noise) = line(&rate, "02", &["2024", "A"]);
    assert_eq!(status, RELEASED);
    assert!(close(value, 4.0) && close(low, 4.0) && close(high, 4.0));
    // (400 ± 3 × 365) / (100 ± 4): the noise margin follows from both.
    let margin = (400.0 + 3.0 * 365.0) / 96.0 - 4.0;
    assert!(close(noise, margin), "{noise:?} vs {margin}");
    // The region: (400 + 1000) / (100 + 400), computed from the released cells.
    let (status, value, ..) = line(&rate, REGION, &["2024", "A"]);
    assert_eq!(status, RELEASED);
    assert!(close(value, 1400.0 / 500.0));
    // Nord's catégorie B is withheld: no value, only what its bounds allow. A withheld sum of
    // 1 to 10 agents' days, each within [0, 365], over 400 agents.
    let (status, value, low, high, _) = line(&rate, "59", &["2024", "B"]);
    assert!(status.starts_with(BOUNDED), "{status}");
    assert_eq!(value, None, "never a point from a withheld cell");
    assert!(
        close(low, 0.0) && close(high, 3650.0 / 400.0),
        "{low:?} {high:?}"
    );
    let (status, value, low, high, _) = line(&rate, REGION, &["2024", "B"]);
    assert!(status.starts_with(BOUNDED) && value.is_none());
    assert!(close(low, 600.0 / 500.0) && close(high, (600.0 + 3650.0) / 500.0));
    // No head count of Nord in 2023: incalculable, not zero.
    let (status, value, ..) = line(&rate, REGION, &["2023", "A"]);
    assert_eq!(status, RELEASED);
    assert!(close(value, 300.0 / 80.0));
    assert!(!rate.schema().fields().is_empty());
}

#[test]
fn shares_and_indices_follow_the_released_cells() {
    let study = Study::from_toml(STUDY).unwrap();
    let tables = tables(&study);
    let share = compute(indicator(&study, "part_categorie"), &tables).unwrap();
    // Aisne 2024: A has 400 of 1000 days.
    let (status, value, ..) = line(&share, "02", &["2024", "A"]);
    assert_eq!(status, RELEASED);
    assert!(close(value, 40.0));
    // Nord 2024: A has 1000 days out of 1000 + [0, 3650].
    let (status, value, low, high, _) = line(&share, "59", &["2024", "A"]);
    assert!(status.starts_with(BOUNDED) && value.is_none());
    assert!(close(low, 100.0 * 1000.0 / 4650.0) && close(high, 100.0));
    let index = compute(indicator(&study, "indice"), &tables).unwrap();
    let (_, value, _, _, noise) = line(&index, "02", &["2024"]);
    assert!(close(value, 125.0));
    // (100 ± 4) / (80 ± 4) × 100 reaches 104 / 76 × 100.
    assert!(close(noise, 10400.0 / 76.0 - 125.0), "{noise:?}");
    let (_, value, ..) = line(&index, "02", &["2023"]);
    assert!(close(value, 100.0));
    // Nord has no 2023 cell: its index is incalculable.
    let (status, value, ..) = line(&index, "59", &["2024"]);
    assert!(status.starts_with(UNDEFINED) && value.is_none(), "{status}");
    let change = compute(indicator(&study, "evolution"), &tables).unwrap();
    let (_, value, ..) = line(&change, "02", &["2024"]);
    assert!(close(value, 25.0));
}
