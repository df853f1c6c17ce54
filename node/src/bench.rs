//! `cdg-node bench-import`: the import's throughput on a synthetic `agents` file of about a
//! million rows, a first load and a replacing load, recorded in `BENCHMARKS.md`.

use std::fmt::Write;
use std::path::Path;
use std::time::Instant;

use cdg_shared::cdg::Cdg;

use crate::catalogue::{AGENTS, EMPLOYEURS};
use crate::ingest::{ImportOptions, ImportReport, import_file};
use crate::store::Store;
use crate::synth::{self, SynthSpec};

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
    Ok(figures)
}

fn phase(report: &ImportReport, name: &str) -> String {
    report
        .timings
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("-".into(), |(_, d)| format!("{:.2} s", d.as_secs_f64()))
}
