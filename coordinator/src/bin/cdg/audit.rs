//! `cdg audit ...`: the comité technique's tools on the audit logs.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use cdg_coordinator::audit_tools::{self, FetchedLog, Filters};
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
        #[arg(long, value_parser = ["csv", "json"], default_value = "csv")]
        format: String,
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

/// Runs one `cdg audit` command.
pub(crate) async fn run(connection: &Connection, command: AuditCommand) -> anyhow::Result<()> {
    let trusted = connection.trusted()?;
    match command {
        AuditCommand::Verify(source) => {
            let log = connection.fetch(&source).await?;
            let v = log.verify(&trusted)?;
            println!(
                "{}: {} entries verify, {} signed checkpoints agree; head {}",
                log.origin,
                v.entries.len(),
                v.checkpoints,
                v.entries.last().map_or("(empty)", |e| e.hash.as_str())
            );
            Ok(())
        }
        AuditCommand::List { source, filters } => {
            let v = connection.fetch(&source).await?.verify(&trusted)?;
            let filters = filters.filters();
            let kept: Vec<_> = v.entries.iter().filter(|e| filters.keeps(e)).collect();
            print!("{}", audit_tools::list(&kept));
            Ok(())
        }
        AuditCommand::Show { seq, source } => {
            let v = connection.fetch(&source).await?.verify(&trusted)?;
            let entry = v
                .entries
                .iter()
                .find(|e| e.seq == seq)
                .with_context(|| format!("no entry {seq}: the log has {}", v.entries.len()))?;
            println!("{}", serde_json::to_string_pretty(entry)?);
            Ok(())
        }
        AuditCommand::Export {
            source,
            filters,
            format,
            out,
        } => {
            let v = connection.fetch(&source).await?.verify(&trusted)?;
            let filters = filters.filters();
            let kept: Vec<_> = v.entries.iter().filter(|e| filters.keeps(e)).collect();
            let text = audit_tools::export(&kept, format == "csv")?;
            match out {
                Some(path) => {
                    std::fs::write(&path, text)
                        .with_context(|| format!("writing {}", path.display()))?;
                    println!("{} entries written to {}", kept.len(), path.display());
                }
                None => print!("{text}"),
            }
            Ok(())
        }
        AuditCommand::Crosscheck => {
            let coordinator = connection
                .fetch(&LogSource {
                    file: None,
                    node: None,
                })
                .await?
                .verify(&trusted)?;
            let (_, tls) = connection.resolve()?;
            let mut nodes = std::collections::BTreeMap::new();
            for (cdg, address) in connection.nodes()? {
                let log = FetchedLog::from_node(&address, cdg, &tls).await?;
                nodes.insert(cdg, log.verify(&trusted)?.entries);
            }
            let differences = audit_tools::crosscheck(&coordinator.entries, &nodes);
            if differences.is_empty() {
                println!(
                    "the coordinator's log ({} entries) and the {} nodes' logs agree",
                    coordinator.entries.len(),
                    nodes.len()
                );
                Ok(())
            } else {
                for d in &differences {
                    println!("{d}");
                }
                anyhow::bail!("{} differences between the logs", differences.len())
            }
        }
    }
}
