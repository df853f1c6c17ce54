//! `cdg-dev`: a whole observatory network on this machine, for those who develop and try it.
//! `demo` runs the key-figures study end to end, `try` an analyst's own study files, `bench`
//! measures the network. Development certificates and synthetic data only: never the CDGs'.

use std::path::PathBuf;
use std::process::ExitCode;

use cdg_devnet::demo::{self, DemoOptions};
use clap::{Args, Parser, Subcommand};

mod bench_args;

#[derive(Parser)]
#[command(
    name = "cdg-dev",
    version,
    about = "A whole observatory network on this machine: development certificates, synthetic \
             data, five nodes and the coordinator as separate processes on loopback.\n\nFor \
             developers and for trying a study before it is submitted; the network's users \
             work with `cdg`."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a complete local network (certificates, synthetic data, five nodes, coordinator) and
    /// the demonstration study.
    Demo {
        /// Working folder for certificates, data, logs and configuration.
        #[arg(long, default_value = "demo-network")]
        workdir: PathBuf,
        /// Keep the network running until Ctrl-C, and describe it in WORKDIR/network.json
        /// (for `cdg --network WORKDIR/network.json`).
        #[arg(long)]
        serve: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Run study files on a local network of synthetic data, the approvals given
    /// automatically: see the tables they will produce and which cells will be withheld before
    /// anyone is asked to sign them. The figures are synthetic, not the CDGs' data.
    Try {
        /// One or more study files, run in turn on the same network.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Working folder of the local network (certificates, data, logs).
        #[arg(long, default_value = "study-try")]
        workdir: PathBuf,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Measure the network on real processes over mTLS on loopback (federated against
    /// centralized, a node under load, scale-out to 100 nodes, end to end, import, audit,
    /// reports, secure aggregation) and write the figures to BENCHMARKS.md. Takes about 15 minutes with every section.
    Bench(bench_args::BenchArgs),
}

/// The synthetic data.
#[derive(Args)]
struct DataArgs {
    /// Years of synthetic data.
    #[arg(long, default_value = "2020-2024")]
    years: String,
    /// Size of the synthetic data relative to the real départements: 1 for `demo`, 0.25 for
    /// `try` unless given (smaller is faster; small cells are then withheld more often than on
    /// the real data).
    #[arg(long)]
    scale: Option<f64>,
    /// Seed of the synthetic data: the same seed gives the same data.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
}

fn main() -> ExitCode {
    // Parsed before the runtime starts, so that --help and usage errors need none.
    let cli = Cli::parse();
    cdg_coordinator::client::run_command(|| run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo {
            workdir,
            serve,
            data,
        } => {
            demo::run(DemoOptions {
                workdir,
                serve,
                years: data.years,
                scale: data.scale.unwrap_or(1.0),
                seed: data.seed,
                studies: Vec::new(),
            })
            .await
        }
        Command::Try {
            files,
            workdir,
            data,
        } => {
            let scale = data.scale.unwrap_or(0.25);
            // Every file is checked before any network starts.
            let studies = files
                .iter()
                .map(|f| cdg_coordinator::study::read_file(f).map(|(text, _)| text))
                .collect::<anyhow::Result<Vec<_>>>()?;
            println!(
                "Trying {} stud{} on synthetic data (scale {scale}, years {}): the figures are not \
                 the CDGs' data; the withheld cells show what the rules will hide.",
                studies.len(),
                if studies.len() == 1 { "y" } else { "ies" },
                data.years,
            );
            demo::run(DemoOptions {
                workdir,
                serve: false,
                years: data.years,
                scale,
                seed: data.seed,
                studies,
            })
            .await
        }
        Command::Bench(a) => a.run().await,
    }
}
