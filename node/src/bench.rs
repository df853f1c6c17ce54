//! Benchmarks recorded in `BENCHMARKS.md`:
//! - `cdg-node bench-import`: the import's throughput on a synthetic `agents` file of about a
//!   million rows, a first load and a replacing load, then on each other dataset's file of the
//!   same synthetic year;
//! - `cdg-node bench-query`: the cost of disclosure control, the same aggregate through the
//!   node's whole policy path and as a plain DuckDB `GROUP BY`.

use std::fmt::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use cdg_shared::cdg::Cdg;

use crate::catalogue::{AGENTS, EMPLOYEURS};
use crate::ingest::{ImportOptions, ImportReport, import_file};
use crate::store::Store;
use cdg_synth::{self as synth, SynthSpec};

/// Runs the benchmark in `workdir` (emptied first) and returns the Markdown figures.
pub fn import(rows: u64, workdir: &Path) -> anyhow::Result<String> {
    if workdir.exists() {
        std::fs::remove_dir_all(workdir)?;
    }
    let year = 2024;
    let cdg = Cdg::Nord;
    let scale = rows as f64 / (169_000.0 * cdg.agent_share());
    let spec = SynthSpec {
        cdg,
        first_year: year,
        last_year: year,
        seed: 2026,
        scale,
    };
    eprintln!("generating about {rows} agents (CDG 59 at scale {scale:.2})...");
    let files = synth::generate(&spec, &workdir.join("data"))?;
    let path_of = |dataset: &str| {
        files
            .iter()
            .find(|f| f.dataset == dataset)
            .map(|f| f.path.clone())
            .ok_or_else(|| anyhow::anyhow!("synth wrote no {dataset} file"))
    };
    let (employeurs, agents) = (path_of("employeurs")?, path_of("agents")?);
    let bytes = std::fs::metadata(&agents)?.len();
    let store = Store::open(&workdir.join("bench.duckdb"))?;
    let options = ImportOptions::default();
    import_file(&store, &EMPLOYEURS, year, &employeurs, &options)?;
    let mut figures = String::from(
        "| load | rows | file | wall | rows/s | read + stage | check | load |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for label in ["first load", "replacing load"] {
        let start = Instant::now();
        let report = import_file(&store, &AGENTS, year, &agents, &options)?;
        let wall = start.elapsed().as_secs_f64();
        anyhow::ensure!(
            report.rows_quarantined == 0,
            "the synthetic file has invalid rows"
        );
        eprintln!("{label}: {}", report.summary());
        let phase = |name: &str| phase(&report, name);
        let _ = writeln!(
            figures,
            "| {label} | {} | {:.0} MB CSV | {wall:.2} s | {:.0} | {} | {} | {} |",
            report.rows_loaded,
            bytes as f64 / 1e6,
            report.rows_loaded as f64 / wall,
            phase("read"),
            phase("check"),
            phase("load"),
        );
    }
    figures.push_str("\n| dataset | rows | file | wall | rows/s |\n|---|---|---|---|---|\n");
    for file in files
        .iter()
        .filter(|f| !matches!(f.dataset, "employeurs" | "agents"))
    {
        let dataset = crate::catalogue::dataset(file.dataset)
            .ok_or_else(|| anyhow::anyhow!("no dataset {} in the catalogue", file.dataset))?;
        let start = Instant::now();
        let report = import_file(&store, dataset, year, &file.path, &options)?;
        let wall = start.elapsed().as_secs_f64();
        anyhow::ensure!(
            report.rows_quarantined == 0,
            "the synthetic {} file has invalid rows",
            file.dataset
        );
        eprintln!("{}: {}", file.dataset, report.summary());
        let kind = file
            .path
            .extension()
            .map_or_else(String::new, |e| e.to_string_lossy().to_uppercase());
        let _ = writeln!(
            figures,
            "| {} | {} | {:.1} MB {kind} | {wall:.2} s | {:.0} |",
            file.dataset,
            report.rows_loaded,
            std::fs::metadata(&file.path)?.len() as f64 / 1e6,
            report.rows_loaded as f64 / wall,
        );
    }
    Ok(figures)
}

fn phase(report: &ImportReport, name: &str) -> String {
    report
        .timings
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("-".into(), |(_, d)| format!("{:.2} s", d.as_secs_f64()))
}

/// Runs the disclosure-control benchmark on region-scale agents in `workdir` (emptied first).
pub fn query(runs: usize, workdir: &Path) -> anyhow::Result<String> {
    use cdg_shared::query::AggregateQuery;

    use crate::answering::{Answering, system_clock};
    use crate::approval::ApprovalCheck;
    use crate::config::{Limits, PolicyConfig};

    if workdir.exists() {
        std::fs::remove_dir_all(workdir)?;
    }
    let year = 2024;
    let cdg = Cdg::Nord;
    // The whole region's agents (about 169,000) in one node.
    let spec = SynthSpec {
        cdg,
        first_year: year,
        last_year: year,
        seed: 2026,
        scale: 1.0 / cdg.agent_share(),
    };
    eprintln!("generating region-scale data...");
    let files = synth::generate(&spec, &workdir.join("data"))?;
    let store = Store::open(&workdir.join("bench.duckdb"))?;
    for f in files
        .iter()
        .filter(|f| f.dataset == "employeurs" || f.dataset == "agents")
    {
        let dataset = crate::catalogue::dataset(f.dataset).expect("a catalogue dataset");
        import_file(&store, dataset, year, &f.path, &ImportOptions::default())?;
    }
    let agents = store.count_rows(&AGENTS, year)?;
    let aggregate = AggregateQuery {
        dataset: "agents".into(),
        group_by: vec!["categorie".into(), "filiere".into(), "sexe".into()],
        measures: vec![
            cdg_shared::query::Measure::count(),
            "mean(remuneration_brute_annuelle)".parse()?,
        ],
        filters: vec![cdg_shared::query::Filter {
            dimension: "annee".into(),
            values: vec![year.to_string()],
        }],
    };
    let raw_sql = format!(
        "SELECT categorie, filiere, sexe, COUNT(*), AVG(remuneration_brute_annuelle) \
         FROM agents WHERE annee = {year} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    );
    // The node's own path, as a request takes it once approved: every answer computed (no
    // cache) and recorded in the ledger (a budget no run exhausts).
    let policy = PolicyConfig {
        max_cells_per_analyst_per_day: u32::MAX,
        ..PolicyConfig::default()
    };
    let limits = Limits {
        answer_cache_entries: 0,
        ..Limits::default()
    };
    let store = Arc::new(store);
    let answering = |in_memory_copy: bool| {
        let approvals = ApprovalCheck::new(cdg_shared::signing::TrustedSigners::none(), cdg);
        let limits = Limits {
            in_memory_copy,
            ..limits.clone()
        };
        let answering = Answering::new(
            store.clone(),
            policy.clone(),
            limits,
            approvals,
            system_clock(),
        )?;
        answering.warm()?;
        anyhow::Ok(answering)
    };
    let (memory, sql) = (answering(true)?, answering(false)?);
    let path = |answering: &Answering| -> anyhow::Result<()> {
        let admitted = answering.admit_for_benchmark(&aggregate)?;
        answering.answer(&admitted, "urn:cdg-hdf:bench")?;
        Ok(())
    };
    let paths: [(&str, &dyn Fn() -> anyhow::Result<()>); 3] = [
        ("plain DuckDB GROUP BY", &|| {
            store.run(&raw_sql)?;
            Ok(())
        }),
        ("node policy path, in-memory copy (the default)", &|| {
            path(&memory)
        }),
        (
            "node policy path, DuckDB statements (`limits.in_memory_copy = false`)",
            &|| path(&sql),
        ),
    ];
    // Interleaved run by run, so that every path sees the same machine state; one untimed
    // run of each first.
    let mut times = vec![Vec::with_capacity(runs); paths.len()];
    for run in 0..=runs {
        for ((_, f), times) in paths.iter().zip(&mut times) {
            let start = Instant::now();
            f()?;
            if run > 0 {
                times.push(start.elapsed().as_secs_f64() * 1000.0);
            }
        }
    }
    let medians: Vec<f64> = times
        .iter_mut()
        .map(|t| {
            t.sort_by(f64::total_cmp);
            t[runs / 2]
        })
        .collect();
    let mut figures = String::from("| path | median of runs | ratio |\n|---|---|---|\n");
    for ((name, _), median) in paths.iter().zip(&medians) {
        let _ = writeln!(
            figures,
            "| {name} | {median:.2} ms | {:.2} |",
            median / medians[0]
        );
    }
    let _ = writeln!(
        figures,
        "\n{agents} agents of one year; `GROUP BY categorie, filiere, sexe` with `count` and \
         `mean(remuneration_brute_annuelle)`, filtered on the year; {runs} runs each. The \
         policy path is what a request takes once approved: compile, complement rule, cells, \
         thresholds, p% and employer rules, perturbation, Arrow table, ledger (fsynced)."
    );
    Ok(figures)
}
