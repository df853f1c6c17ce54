//! The generated files go through the real import (CSV in UTF-8 and
//! Windows-1252, Parquet, XLSX) into a node database without a single row
//! quarantined.

use cdg_shared::cdg::Cdg;
use cdg_synth::{SynthFile, SynthSpec, generate};

use crate::ingest::{ImportOptions, import_file};
use crate::store::Store;

fn run(name: &str, spec: &SynthSpec) -> (std::path::PathBuf, Vec<SynthFile>) {
    let dir = std::env::temp_dir()
        .join("cdg-synth-tests")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let files = generate(spec, &dir).expect("generate");
    (dir, files)
}

/// The columns a synthetic file has beyond the catalogue's, as real exports do (the import
/// ignores them): the surveys' free-text comment.
fn extra_columns(dataset: &str) -> &'static [&'static str] {
    if dataset == "enquetes" {
        &["commentaire"]
    } else {
        &[]
    }
}

#[test]
fn every_file_imports_without_quarantine() {
    for (name, s) in [
        (
            "import-02",
            SynthSpec::new(Cdg::Aisne, 2023, 2024, 11, 0.05),
        ),
        ("import-59", SynthSpec::new(Cdg::Nord, 2024, 2024, 5, 0.1)),
    ] {
        let (dir, files) = run(name, &s);
        let db = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&db.path().join("node.duckdb")).expect("store");
        for f in &files {
            let dataset = crate::catalogue::dataset(f.dataset).expect("catalogue dataset");
            let report = import_file(&store, dataset, f.year, &f.path, &ImportOptions::default())
                .unwrap_or_else(|e| panic!("{:?}: {e}", f.path));
            println!("{}", report.summary());
            assert_eq!(report.rows_read, f.rows, "{:?}", f.path);
            assert_eq!(report.rows_quarantined, 0, "{}", report.summary());
            assert_eq!(report.rows_loaded, report.rows_read, "{:?}", f.path);
            assert_eq!(
                report.ignored_columns,
                extra_columns(f.dataset),
                "{:?}",
                f.path
            );
            assert_eq!(store.count_rows(dataset, f.year).expect("count"), f.rows);
            // The per-year totals follow each import (they are kept between imports).
            let (units, rows) = store.year_totals(dataset).expect("totals")[&f.year];
            assert_eq!(rows as u64, f.rows, "{:?}", f.path);
            assert!((1..=rows).contains(&units), "{units} units in {rows} rows");
        }
        let offres = files
            .iter()
            .find(|f| f.dataset == "offres")
            .expect("offres");
        let report = import_file(
            &store,
            crate::catalogue::dataset("offres").expect("offres"),
            offres.year,
            &offres.path,
            &ImportOptions::default(),
        )
        .expect("re-import");
        assert!(
            report.read_as.contains("Windows-1252"),
            "{}",
            report.read_as
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
