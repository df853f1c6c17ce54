//! `cdg-coordinator`: the federation's coordinator server (run by CDG 59).

use std::path::PathBuf;
use std::process::ExitCode;

use cdg_coordinator::config::CoordinatorConfig;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cdg-coordinator",
    version,
    about = "The coordinator of the Hauts-de-France employment observatory network (CDG 59).\n\nAccepts studies from the chargé.e de mission, fans them out to the CDG nodes over mutual TLS, merges the answers into regional tables and keeps an audit log."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the gRPC server (mutual TLS) until SIGINT or SIGTERM.
    Serve {
        /// Coordinator configuration file (TOML). Keys can be overridden with CDG_COORDINATOR__<KEY>.
        #[arg(long, short)]
        config: PathBuf,
        /// Write the bound address to this file once listening.
        #[arg(long)]
        ready_file: Option<PathBuf>,
    },
    /// Check a certificate against the federation's identity scheme (URI SAN, key usage, chain,
    /// host name, key, validity, deny list) and print what it would be authorized to do. With
    /// --config, checks the coordinator's own tls.cert against its tls.ca, tls.key and deny
    /// list. Exits 1 when the certificate is not usable.
    CheckCertificate {
        /// Coordinator configuration file whose certificate to check.
        #[arg(long, short)]
        config: Option<PathBuf>,
        #[command(flatten)]
        check: cdg_shared::certcheck::CheckArgs,
    },
    /// The audit log's upkeep, the coordinator stopped.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Set aside the broken tail of the audit log (every line from the first one that breaks
    /// its chain, and the checkpoints vouching for them) to side files, after a confirmation,
    /// and record it in the log, so that the coordinator starts again. Refused while the
    /// coordinator runs.
    Repair(cdg_shared::audit::repair::RepairArgs),
}

fn main() -> ExitCode {
    cdg_shared::tls::install_crypto_provider();
    cdg_shared::logging::init("info");
    let result = match Cli::parse().command {
        Command::Serve { config, ready_file } => serve(config, ready_file),
        Command::CheckCertificate { config, check } => check_certificate(config, check),
        Command::Audit {
            command: AuditCommand::Repair(args),
        } => repair(args.config, args.yes),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(config: PathBuf, ready_file: Option<PathBuf>) -> anyhow::Result<()> {
    let config = CoordinatorConfig::load(&config)?;
    tokio::runtime::Runtime::new()?.block_on(async move {
        // Handlers first: the ready file invites a supervisor to signal us.
        let stop = cdg_shared::serving::signal();
        // The state and audit log are opened (and recovered after a crash) before the ready
        // file announces the coordinator.
        let coordinator =
            std::sync::Arc::new(cdg_coordinator::coordinator::Coordinator::new(&config)?);
        let listener = cdg_shared::serving::bind(config.listen, ready_file.as_deref()).await?;
        cdg_coordinator::server::serve(coordinator, config, listener, stop).await
    })
}

fn repair(config: PathBuf, yes: bool) -> anyhow::Result<()> {
    let config = CoordinatorConfig::load(&config)?;
    // The state's lock, held while repairing: refused while a coordinator runs on it.
    let state = cdg_coordinator::state::StateDir::open(&config.state_dir)?;
    let signer = cdg_shared::signing::Signer::from_files(&config.tls)?;
    cdg_shared::audit::repair::run(
        &state.audit_log_path(),
        Some(signer),
        yes,
        "The coordinator",
    )
}

fn check_certificate(
    config: Option<PathBuf>,
    check: cdg_shared::certcheck::CheckArgs,
) -> anyhow::Result<()> {
    let configured = match config {
        Some(path) => {
            let config = CoordinatorConfig::load(&path)?;
            Some(cdg_shared::certcheck::Configured {
                revoked: config.revocation()?,
                expected: config.federation.coordinator,
                tls: config.tls,
            })
        }
        None => None,
    };
    cdg_shared::certcheck::run(check, configured).map_err(anyhow::Error::msg)
}
