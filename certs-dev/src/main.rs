//! `cdg-certs-dev`: generates the development PKI of the CDG Hauts-de-France federation.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use cdg_certs_dev::{Error, Options, PkiLayout, generate};
use clap::{Parser, Subcommand};

/// Development-only certificates for the CDG Hauts-de-France federation.
#[derive(Debug, Parser)]
#[command(
    name = "cdg-certs-dev",
    version,
    long_about = "Development-only certificates for the CDG Hauts-de-France federation.\n\n\
        Identity scheme: the members of the federation (the nodes of CDG 02, 59, 60, 62 and 80, \
        their directors, the coordinator run by CDG 59 and its charge.e de mission, and each CDG's \
        departmental referent) authenticate \
        each other with mutual TLS. Every certificate chains to one federation CA and carries \
        exactly one URI subject alternative name urn:cdg-hdf:<role>:<cdg>, where <role> is node, \
        coordinator, director, charge-de-mission or referent and <cdg> is the departement code, e.g. \
        urn:cdg-hdf:node:62 or urn:cdg-hdf:director:02; authorization is decided on that URI \
        only. Node and coordinator certificates also name localhost and 127.0.0.1.\n\n\
        NEVER use these certificates in production: the CA key is written next to them."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a CA and the certificates of every node, director, the coordinator and the
    /// charge.e de mission in one folder.
    Generate {
        /// Folder to write into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Replace the files if the folder already holds some.
        #[arg(long)]
        force: bool,
        /// Validity of every certificate, in days, starting one hour ago.
        #[arg(long, value_name = "N", default_value_t = 365,
              value_parser = clap::value_parser!(u32).range(1..=36_500))]
        days: u32,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Generate { out, force, days } => run_generate(&out, force, days),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cdg-certs-dev: error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run_generate(out: &Path, force: bool, days: u32) -> Result<(), Error> {
    let opts = Options {
        force,
        validity_days: days,
    };
    let layout = generate(out, &opts)?;
    print_summary(&layout, days);
    Ok(())
}

fn print_summary(layout: &PkiLayout, days: u32) {
    println!(
        "Development PKI written to {} (valid {days} days; DEVELOPMENT ONLY, never for production):",
        layout.dir().display()
    );
    let line = |path: &Path, what: &str| println!("  {:<24} {what}", file_name(path));
    line(
        &layout.ca_cert(),
        "federation CA certificate (trust anchor)",
    );
    line(&layout.ca_key(), "federation CA private key (0600)");
    for leaf in layout.leaves() {
        line(&leaf.cert, &leaf.principal.uri());
        line(&leaf.key, "private key (0600)");
    }
    line(&layout.readme(), "development-only warning");
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}
