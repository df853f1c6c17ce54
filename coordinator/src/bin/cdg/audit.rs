//! `cdg audit ...`: the comité technique's tools on the audit logs.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use cdg_coordinator::audit_tools::{self, Export, ExportFormat, FetchedLog, Filters};
use cdg_coordinator::client::{CoordinatorClient, Network};
use cdg_shared::signing::TrustedSigners;
use clap::{Args, Subcommand};

use crate::Connection;

#[derive(Subcommand)]
pub(crate) enum AuditCommand {
    /// Verify the chain and the signed checkpoints; name the first entry that breaks them.
    Verify(LogSource),
    /// List entries, one per line.
    List {
        #[command(flatten)]
        source: LogSource,
        #[command(flatten)]
        filters: FilterArgs,
    },
    /// Show one entry in full.
    Show {
        seq: u64,
        #[command(flatten)]
        source: LogSource,
    },
    /// Write the entries as CSV or JSON.
    Export {
        #[command(flatten)]
        source: LogSource,
        #[command(flatten)]
        filters: FilterArgs,
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
        /// Write there instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Fetch every node's log (needs --network) and reconcile it with the coordinator's.
    Crosscheck,
}

/// Which log: the coordinator's (default), a node's, or a file.
#[derive(Args)]
pub(crate) struct LogSource {
    /// A log file (e.g. a backup); its checkpoints are read from FILE.checkpoints.
    #[arg(long, conflicts_with = "node")]
    file: Option<PathBuf>,
    /// The log of this CDG's node (needs --network for its address).
    #[arg(long)]
    node: Option<cdg_shared::cdg::Cdg>,
}

#[derive(Args)]
pub(crate) struct FilterArgs {
    /// Only this study.
    #[arg(long)]
    study: Option<String>,
    /// Only entries about this département.
    #[arg(long)]
    cdg: Option<cdg_shared::cdg::Cdg>,
    /// Only entries on or after this day (AAAA-MM-JJ).
    #[arg(long)]
    since: Option<String>,
    /// Only entries whose kind starts with this, e.g. `study.` or `node.outcome`.
    #[arg(long)]
    kind: Option<String>,
}

impl FilterArgs {
    fn filters(self) -> Filters {
        Filters {
            study: self.study,
            cdg: self.cdg,
            since: self.since,
            kind: self.kind,
        }
    }
}

impl Connection {
    /// The node addresses of --network.
    fn nodes(&self) -> anyhow::Result<Vec<(cdg_shared::cdg::Cdg, String)>> {
        let path = self
            .network
            .as_ref()
            .context("reading the nodes' logs needs --network FILE (their addresses)")?;
        Ok(Network::load(path)?
            .nodes
            .into_iter()
            .map(|n| (n.cdg, n.address))
            .collect())
    }

    async fn fetch(&self, source: &LogSource) -> anyhow::Result<FetchedLog> {
        if let Some(file) = &source.file {
            return FetchedLog::from_file(file);
        }
        let (url, tls) = self.resolve()?;
        match source.node {
            Some(cdg) => {
                let address = self
                    .nodes()?
                    .into_iter()
                    .find(|(c, _)| *c == cdg)
                    .map(|(_, a)| a)
                    .with_context(|| format!("no node of CDG {cdg} in the network file"))?;
                FetchedLog::from_node(&address, cdg, &tls).await
            }
            None => {
                // The timeout covers the answer's start; the pages then take what they take.
                let mut client =
                    CoordinatorClient::connect(&url, &tls, Duration::from_secs(60)).await?;
                FetchedLog::from_coordinator(&mut client).await
            }
        }
    }

    fn trusted(&self) -> anyhow::Result<TrustedSigners> {
        let ca = match &self.network {
            Some(path) => Network::load(path)?.ca,
            None => self
                .ca
                .clone()
                .context("verifying needs the federation CA: --ca FILE or --network FILE")?,
        };
        Ok(TrustedSigners::from_ca_file(&ca)?)
    }
}

/// Runs one `cdg audit` command. Every command verifies the log as its pages arrive and
/// fails at the first break, after the entries before it.
pub(crate) async fn run(connection: &Connection, command: AuditCommand) -> anyhow::Result<()> {
    let trusted = connection.trusted()?;
    match command {
        AuditCommand::Verify(source) => {
            let log = connection.fetch(&source).await?;
            let origin = log.origin.clone();
            let v = log.verify(&trusted, |_| Ok(())).await?;
            println!(
                "{origin}: {} entries verify, {} signed checkpoints agree; head {}",
                v.entries,
                v.checkpoints,
                if v.entries == 0 { "(empty)" } else { &v.head }
            );
            Ok(())
        }
        AuditCommand::List { source, filters } => {
            let filters = filters.filters();
            let mut out = std::io::stdout().lock();
            let log = connection.fetch(&source).await?;
            log.verify(&trusted, |e| {
                if filters.keeps(&e) {
                    out.write_all(audit_tools::list_line(&e).as_bytes())?;
                }
                Ok(())
            })
            .await?;
            Ok(())
        }
        AuditCommand::Show { seq, source } => {
            let mut found = None;
            let v = connection
                .fetch(&source)
                .await?
                .verify(&trusted, |e| {
                    if e.seq == seq {
                        found = Some(e);
                    }
                    Ok(())
                })
                .await?;
            let entry =
                found.with_context(|| format!("no entry {seq}: the log has {}", v.entries))?;
            println!("{}", serde_json::to_string_pretty(&entry)?);
            Ok(())
        }
        AuditCommand::Export {
            source,
            filters,
            format,
            out,
        } => {
            let filters = filters.filters();
            let log = connection.fetch(&source).await?;
            match out {
                Some(path) => {
                    // Written aside, and in place only once the whole log verified.
                    let partial = path.with_extension("partial");
                    let file = std::fs::File::create(&partial)
                        .with_context(|| format!("writing {}", partial.display()))?;
                    let written = export(log, &trusted, &filters, file, format).await?;
                    std::fs::rename(&partial, &path)
                        .with_context(|| format!("writing {}", path.display()))?;
                    println!("{written} entries written to {}", path.display());
                }
                None => {
                    export(log, &trusted, &filters, std::io::stdout().lock(), format).await?;
                }
            }
            Ok(())
        }
        AuditCommand::Crosscheck => crosscheck(connection, &trusted).await,
    }
}

/// Verifies `log`, writing the entries `filters` keeps to `out` as they come.
async fn export(
    log: FetchedLog,
    trusted: &TrustedSigners,
    filters: &Filters,
    out: impl Write,
    format: ExportFormat,
) -> anyhow::Result<u64> {
    let mut export = Export::new(std::io::BufWriter::new(out), format)?;
    log.verify(trusted, |e| {
        if filters.keeps(&e) {
            export.entry(&e)?;
        }
        Ok(())
    })
    .await?;
    export.finish()
}

async fn crosscheck(connection: &Connection, trusted: &TrustedSigners) -> anyhow::Result<()> {
    let coordinator = connection
        .fetch(&LogSource {
            file: None,
            node: None,
        })
        .await?;
    let (_, tls) = connection.resolve()?;
    let nodes = connection.nodes()?;
    let report = audit_tools::crosscheck(coordinator, &nodes, &tls, trusted).await?;
    if report.differences.is_empty() {
        println!(
            "the coordinator's log ({} entries) and the {} nodes' logs agree",
            report.coordinator_entries,
            nodes.len()
        );
        return Ok(());
    }
    for d in &report.differences {
        println!("{d}");
    }
    anyhow::bail!("{} differences between the logs", report.differences.len())
}
