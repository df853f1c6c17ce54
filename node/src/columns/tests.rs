//! The in-memory pass against the SQL statements it replaces, on every dataset of a synthetic
//! node: the same cells (dimensions, units, cell keys, employers, every measure's figures), the
//! same counts for the 100% and complement rules, and the same released tables.

use cdg_shared::cdg::Cdg;
use cdg_shared::query::{Aggregate, AggregateQuery, Filter, Measure};

use super::{Columns, Scan};
use crate::catalogue::{DATASETS, Dataset};
use crate::compile::{CompiledQuery, compile};
use crate::config::PolicyConfig;
use crate::store::{AggregateSql, MeasureValue, RawCell, Store};

/// A node of CDG 80 with two synthetic years of every dataset.
fn loaded() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let spec = cdg_synth::SynthSpec {
        cdg: Cdg::Somme,
        first_year: 2023,
        last_year: 2024,
        seed: 7,
        scale: 0.25,
    };
    cdg_synth::generate(&spec, &dir.path().join("data")).unwrap();
    let store = Store::open(&dir.path().join("node.duckdb")).unwrap();
    let (files, _) = crate::ingest::folder::plan(&dir.path().join("data")).unwrap();
    crate::ingest::folder::import_all(&store, &files, &Default::default(), |_| {}).unwrap();
    (dir, store)
}

/// Queries over `d` exercising each part of the pass: every dimension alone and by year, each
/// measure summed and averaged, and a filter on each dimension (complement and 100% rules).
fn queries(d: &Dataset, values_of: impl Fn(&str) -> Vec<String>) -> Vec<AggregateQuery> {
    let mut measures = vec![Measure::count()];
    for m in d.measures {
        for aggregate in [Aggregate::Sum, Aggregate::Mean] {
            measures.push(Measure {
                aggregate,
                column: m.name.to_string(),
            });
        }
    }
    let query = |group_by: Vec<&str>, filters: Vec<Filter>| AggregateQuery {
        dataset: d.name.into(),
        group_by: group_by.into_iter().map(String::from).collect(),
        measures: measures.clone(),
        filters,
    };
    let mut out = vec![query(vec![], vec![])];
    for dim in d.dimensions {
        out.push(query(vec![dim.name], vec![]));
        if dim.name != "annee" {
            out.push(query(vec!["annee", dim.name], vec![]));
        }
        let all = values_of(dim.name);
        let other = d
            .dimensions
            .iter()
            .find(|o| o.name != dim.name)
            .map(|o| o.name);
        // The first two values, and every value but the last (which leaves a few units out).
        for values in [
            &all[..all.len().min(2)],
            &all[..all.len().saturating_sub(1)],
        ] {
            if values.is_empty() || values.len() > 64 {
                continue;
            }
            out.push(query(
                other.into_iter().collect(),
                vec![Filter {
                    dimension: dim.name.into(),
                    values: values.to_vec(),
                }],
            ));
        }
    }
    out
}

fn sql_cells(store: &Store, q: &CompiledQuery) -> Vec<RawCell> {
    store
        .cells(&AggregateSql {
            sql: q.exact_sql.as_deref().unwrap_or(&q.sql),
            params: &q.params,
            dimensions: q.dimensions.len(),
            measures: q.measures.len(),
        })
        .unwrap()
        .into_iter()
        .map(|(cell, _)| cell)
        .collect()
}

fn near(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
        (a, b) => a == b,
    }
}

fn same_value(a: &MeasureValue, b: &MeasureValue) -> bool {
    near(a.total, b.total)
        && a.largest == b.largest
        && a.second == b.second
        && a.rows == b.rows
        && near(a.top_employer, b.top_employer)
        && near(a.employer_total, b.employer_total)
}

#[test]
fn the_in_memory_pass_reads_what_the_sql_statements_read_on_every_dataset() {
    let (_dir, store) = loaded();
    let columns = Columns::default();
    let policy = PolicyConfig::default();
    let mut compared = 0;
    for dataset in DATASETS {
        let table = columns.table(&store, dataset).unwrap();
        assert!(table.rows > 0, "{}: no rows loaded", dataset.name);
        let values_of = |name: &str| {
            let mut v = table.dimensions[name].values.clone();
            v.sort();
            v
        };
        for query in queries(dataset, values_of) {
            let q = match compile(&query, &policy, &Default::default()) {
                Ok(q) => q,
                Err(e) => panic!("{query:?}: {e}"),
            };
            let scan = Scan::new(&table, &q).unwrap();
            let (memory, sql) = (scan.cells(), sql_cells(&store, &q));
            assert_eq!(memory.len(), sql.len(), "{query:?}");
            for (m, s) in memory.iter().zip(&sql) {
                let what = format!("{query:?} cell {:?}", s.dimensions);
                assert_eq!(m.dimensions, s.dimensions, "{what}");
                assert_eq!(m.units, s.units, "{what}");
                assert_eq!(m.cell_key, s.cell_key, "{what}");
                assert_eq!(m.employers, s.employers, "{what}");
                for (a, b) in m.values.iter().zip(&s.values) {
                    assert!(same_value(a, b), "{what}: {a:?} against {b:?}");
                }
            }
            for check in &q.whole_groups {
                let sql = store
                    .counts_by_cell(&check.sql, &check.params, q.dimensions.len())
                    .unwrap();
                assert_eq!(scan.left_out_by_cell(check.filter), sql, "{query:?}");
            }
            for check in &q.complements {
                let sql = store.counts(&check.exact_sql, &check.params).unwrap()[0];
                assert_eq!(scan.units_left_out(check.filter), sql, "{query:?}");
            }
            compared += 1;
        }
    }
    assert!(compared > 100, "{compared} queries compared");
}

#[test]
fn answers_from_memory_and_from_sql_release_the_same_tables() {
    let (_dir, store) = loaded();
    let columns = Columns::default();
    let policy = PolicyConfig::default();
    let noise = crate::disclosure::noise::perturbation(&policy.perturbation);
    let mut refused = 0;
    for dataset in DATASETS {
        let table = columns.table(&store, dataset).unwrap();
        let values_of = |name: &str| {
            let mut v = table.dimensions[name].values.clone();
            v.sort();
            v
        };
        for query in queries(dataset, values_of) {
            let q = compile(&query, &policy, &Default::default()).unwrap();
            let memory = crate::answering::compute(&store, Some(&columns), &q, &policy, &noise);
            let sql = crate::answering::compute(&store, None, &q, &policy, &noise);
            let (memory, sql) = match (memory, sql) {
                (Ok(m), Ok(s)) => (m, s),
                (Err(m), Err(s)) => {
                    assert_eq!(m.to_string(), s.to_string(), "{query:?}");
                    refused += 1;
                    continue;
                }
                (m, s) => panic!("{query:?}: {:?} against {:?}", m.err(), s.err()),
            };
            let (m, s) = (&memory.released, &sql.released);
            assert_eq!((m.released, m.suppressed), (s.released, s.suppressed));
            assert_eq!(m.batch.schema(), s.batch.schema());
            for (i, field) in s.batch.schema().fields().iter().enumerate() {
                let (a, b) = (m.batch.column(i), s.batch.column(i));
                if field.data_type() == &arrow::datatypes::DataType::Float64 {
                    let (a, b) = (
                        arrow::array::AsArray::as_primitive::<arrow::datatypes::Float64Type>(a),
                        arrow::array::AsArray::as_primitive::<arrow::datatypes::Float64Type>(b),
                    );
                    for (x, y) in a.iter().zip(b.iter()) {
                        assert!(
                            near(x, y),
                            "{query:?} {}: {x:?} against {y:?}",
                            field.name()
                        );
                    }
                } else {
                    assert_eq!(a, b, "{query:?} column {}", field.name());
                }
            }
            assert_eq!(memory.versions, sql.versions);
        }
    }
    assert!(
        refused > 0,
        "some filters are refused by the complement rule"
    );
}
