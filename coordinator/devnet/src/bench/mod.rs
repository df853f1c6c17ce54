//! `cdg-dev bench`: the network's figures, measured on real processes over mutual TLS on loopback
//! and written to `BENCHMARKS.md` with the machine, the method and the command.
//!
//! - `federated`: the demonstration pack over five nodes against the same queries on one
//!   DuckDB file holding the five départements, each behind its own coordinator;
//! - `load`: one node under 1 to 64 concurrent clients;
//! - `scale-out`: one query fanned out to 5 to 100 nodes sharing national-scale data;
//! - `end-to-end`: `cdg-dev demo` from start to printed results;
//! - `import`: `cdg-node bench-import` on a million-row CSV;
//! - `audit`: `cdg audit verify` and `crosscheck` on a coordinator log of a million entries;
//! - `report`: the Conférence pack's HTML reports and workbooks.
//!
//! Figures are compared with the targets of the benchmark issue and reported, never asserted.

pub mod auditlog;
mod endtoend;
mod federated;
mod load;
mod region;
mod report;
mod scale;
mod secure;
pub mod stats;
pub mod studies;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use cdg_shared::cdg::Cdg;
use cdg_shared::proto::v1::node_outcome::Status as OutcomeStatus;

use crate::localnet::LocalNet;
use cdg_coordinator::client::CoordinatorClient;

/// A part of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Section {
    Federated,
    Load,
    ScaleOut,
    EndToEnd,
    Import,
    Audit,
    Report,
    /// The second round of a run (secure aggregation), on and off, on the five nodes.
    Secure,
}

pub struct BenchOptions {
    pub workdir: PathBuf,
    /// Markdown file to write the figures to (each section replaces its own).
    pub record: Option<PathBuf>,
    pub sections: Vec<Section>,
    /// Timed runs of each study.
    pub runs: usize,
    /// Size of the region's synthetic data relative to the real départements, and its years.
    pub scale: f64,
    pub years: String,
    /// Node counts of the scale-out.
    pub nodes: Vec<usize>,
    /// Agents (one year) shared among the scale-out's nodes.
    pub national_agents: u64,
    /// Concurrent clients of the load test, and how long each level lasts.
    pub clients: Vec<usize>,
    pub seconds: u64,
    pub seed: u64,
    /// Entries of the coordinator's log in the audit section.
    pub audit_entries: u64,
}

/// What a section found: its title in `BENCHMARKS.md`, its method, and its figures.
pub struct Report {
    pub title: &'static str,
    pub method: String,
    pub figures: String,
}

/// A node's configuration for the benchmark (see [`LocalNet::load_node`]): the analyst's daily
/// budget of cells raised, since the benchmark asks the same queries thousands of times; and,
/// unless `answer_cache`, no answer cache, so that every answer is computed (the node's
/// default keeps the last 256 answers to give again). Nodes sharing this machine get one DuckDB
/// thread and connection each (`shared`), as a CDG would set `limits.duckdb_threads` and
/// `duckdb_connections` on a shared server: five DuckDB processes each using every core slow
/// one another down.
pub fn bench_config(answer_cache: bool, shared: bool) -> String {
    let entries = if answer_cache { 256 } else { 0 };
    let threads = if shared {
        "duckdb_threads = 1\nduckdb_connections = 1\n"
    } else {
        ""
    };
    format!(
        "max_cells_per_analyst_per_day = 1000000000\n\n\
         [limits]\nanswer_cache_entries = {entries}\n{threads}"
    )
}

/// Runs the sections asked for, printing each report and recording it.
pub async fn run(opts: BenchOptions) -> anyhow::Result<()> {
    let mut net = LocalNet::prepare(&opts.workdir)?;
    let national: Vec<Cdg> = if opts.sections.contains(&Section::ScaleOut) {
        Cdg::national()
            .take(opts.nodes.iter().copied().max().unwrap_or(0))
            .collect()
    } else {
        Vec::new()
    };
    anyhow::ensure!(
        !opts.sections.contains(&Section::ScaleOut)
            || national.len() >= opts.nodes.iter().copied().max().unwrap_or(0),
        "--nodes asks for more nodes than the {} CDGs of France",
        Cdg::national().count()
    );
    eprintln!("{}", net.ensure_pki(&national)?);
    let command = format!(
        "cdg-dev bench {}",
        std::env::args().skip(2).collect::<Vec<_>>().join(" ")
    );
    let mut reports = Vec::new();
    let outcome = async {
        let wants = |s| opts.sections.contains(&s);
        if wants(Section::Federated) || wants(Section::Load) || wants(Section::Secure) {
            let region = region::start(&mut net, &opts).await?;
            if wants(Section::Federated) {
                reports.push(federated::run(&mut net, &region, &opts).await?);
                say(reports.last());
            }
            if wants(Section::Load) {
                reports.push(load::run(&mut net, &region, &opts).await?);
                say(reports.last());
            }
            if wants(Section::Secure) {
                reports.push(secure::run(&mut net, &region, &opts).await?);
                say(reports.last());
            }
            net.supervisor.stop_all(Duration::from_secs(10)).await;
        }
        if wants(Section::ScaleOut) {
            reports.push(scale::run(&mut net, &national, &opts).await?);
            say(reports.last());
        }
        if wants(Section::EndToEnd) {
            reports.push(endtoend::run(&net, &opts).await?);
            say(reports.last());
        }
        if wants(Section::Import) {
            endtoend::import(&net, &opts).await?;
        }
        if wants(Section::Audit) {
            reports.push(auditlog::run(&mut net, &opts).await?);
            say(reports.last());
        }
        if wants(Section::Report) {
            reports.push(report::run(&mut net, &opts).await?);
            say(reports.last());
        }
        anyhow::Ok(())
    }
    .await;
    net.supervisor.stop_all(Duration::from_secs(10)).await;
    if let Some(path) = &opts.record {
        for r in &reports {
            let body = cdg_shared::bench::section(&command, &r.method, &r.figures);
            cdg_shared::bench::record(path, r.title, &body)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        if !reports.is_empty() {
            eprintln!("figures written to {}", path.display());
        }
    }
    outcome
}

fn say(report: Option<&Report>) {
    if let Some(r) = report {
        println!("\n## {}\n\n{}", r.title, r.figures);
    }
}

/// Runs study `id` once and returns how long it took, failing unless every node answered.
pub async fn timed_run(client: &mut CoordinatorClient, id: &str) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let result = client
        .run(id)
        .await
        .with_context(|| format!("running {id}"))?;
    let took = start.elapsed();
    for o in &result.outcomes {
        anyhow::ensure!(
            o.status == OutcomeStatus::Answered as i32,
            "study {id}: CDG {} did not answer: {}",
            o.cdg,
            o.message
        );
    }
    Ok(took)
}

/// "met" or "NOT met", for a figure against its target.
pub fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}
