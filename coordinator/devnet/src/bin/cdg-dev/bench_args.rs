//! `cdg-dev bench`'s options.

use cdg_devnet::bench::{self, BenchOptions, Section};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub(crate) struct BenchArgs {
    /// Sections to run (all by default).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Section>,
    /// Working folder for certificates, data and logs.
    #[arg(long, default_value = "bench-network")]
    workdir: PathBuf,
    /// Markdown file the figures are written to, each section replacing its own.
    #[arg(long, default_value = "BENCHMARKS.md")]
    record: PathBuf,
    /// Print the figures without writing them.
    #[arg(long)]
    no_record: bool,
    /// Timed runs of each study.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Years of the region's synthetic data (federated, load, end to end).
    #[arg(long, default_value = "2020-2024")]
    years: String,
    /// Size of the region's synthetic data relative to the real départements.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Network sizes of the scale-out.
    #[arg(long, value_delimiter = ',', default_value = "5,20,50,100")]
    nodes: Vec<usize>,
    /// Agents of one year shared among the scale-out's nodes.
    #[arg(long, default_value_t = 2_000_000)]
    national_agents: u64,
    /// Concurrent clients of the load test.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16,64")]
    clients: Vec<usize>,
    /// Seconds each load level lasts.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Entries of the coordinator's audit log in the audit section.
    #[arg(long, default_value_t = 1_000_000)]
    audit_entries: u64,
}

impl BenchArgs {
    /// Runs the sections asked and records their figures.
    pub(crate) async fn run(self) -> anyhow::Result<()> {
        let a = self;
        let sections = if a.only.is_empty() {
            vec![
                Section::Federated,
                Section::Load,
                Section::ScaleOut,
                Section::EndToEnd,
                Section::Import,
                Section::Audit,
                Section::Report,
                Section::Secure,
            ]
        } else {
            a.only
        };
        anyhow::ensure!(a.runs > 0, "--runs must be at least 1");
        anyhow::ensure!(
            a.nodes.iter().all(|&n| n > 0) && a.clients.iter().all(|&c| c > 0),
            "--nodes and --clients take positive counts"
        );
        bench::run(BenchOptions {
            workdir: a.workdir,
            record: (!a.no_record).then_some(a.record),
            sections,
            runs: a.runs,
            scale: a.scale,
            years: a.years,
            nodes: a.nodes,
            national_agents: a.national_agents,
            clients: a.clients,
            seconds: a.seconds,
            seed: a.seed,
            audit_entries: a.audit_entries,
        })
        .await
    }
}
