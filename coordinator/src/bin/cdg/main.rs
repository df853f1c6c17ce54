//! `cdg`: the command-line client of the observatory network (studies, results, demo).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use cdg_coordinator::client::{CoordinatorClient, Network};
use cdg_coordinator::output::{self, Format};
use cdg_shared::signing::Decision;
use cdg_shared::tls::TlsFiles;
use clap::{Args, Parser, Subcommand};

mod audit;

use audit::AuditCommand;

#[derive(Parser)]
#[command(
    name = "cdg",
    version,
    about = "Client of the Hauts-de-France employment observatory network.\n\nConnects to the coordinator with your certificate: either --network FILE (written by `cdg-dev demo --serve`) with --as, or --coordinator with --ca, --cert and --key."
)]
struct Cli {
    #[command(flatten)]
    connection: Connection,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
pub(crate) struct Connection {
    /// network.json describing a running network.
    #[arg(long, global = true, env = "CDG_NETWORK")]
    pub(crate) network: Option<PathBuf>,
    /// With --network: whose certificate to use, charge-de-mission, director-<cdg> or
    /// referent-<cdg>.
    #[arg(
        long = "as",
        global = true,
        default_value = "charge-de-mission",
        env = "CDG_AS"
    )]
    identity: String,
    /// Coordinator address, e.g. https://coordinateur.cdg59.fr:7400
    #[arg(long, global = true, env = "CDG_COORDINATOR")]
    coordinator: Option<String>,
    /// Federation CA certificate (PEM).
    #[arg(long, global = true, env = "CDG_CA")]
    pub(crate) ca: Option<PathBuf>,
    /// Your certificate (PEM).
    #[arg(long, global = true, env = "CDG_CERT")]
    cert: Option<PathBuf>,
    /// Your private key (PEM).
    #[arg(long, global = true, env = "CDG_KEY")]
    key: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Studies: submit, approve (directors), run, fetch results.
    Study {
        #[command(subcommand)]
        command: StudyCommand,
    },
    /// The audit logs, for the comité technique: verify, list, show, export, crosscheck.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The mails sent to the directors (a new study, a question, a vote, an external study's
    /// announcement, results), and those the mail server has not taken yet. Directors.
    Notices,
    /// Open the comité technique's console in the browser: the studies, reading and signing
    /// them, their results and the audit logs, served on this machine with your certificate.
    Console(cdg_coordinator::console::ConsoleArgs),
    /// Check a certificate file against the federation's identity scheme (URI SAN, key usage,
    /// chain, host name, key, validity) and print what its holder would be authorized to do.
    /// Exits 1 when the certificate is not usable.
    CheckCertificate(cdg_shared::certcheck::CheckArgs),
}

#[derive(Subcommand)]
enum StudyCommand {
    /// Write a study file to start from: one query per DATASET (agents by default), each
    /// listing its dimensions, their values and its measures in comments. It passes `check`.
    New {
        /// Datasets of the catalogue (see node/DATA-DICTIONARY.md).
        #[arg(default_value = "agents")]
        datasets: Vec<String>,
        /// The year the queries filter on.
        #[arg(long, default_value_t = 2024, value_parser = clap::value_parser!(i32).range(1900..=2100))]
        year: i32,
        /// Write it to this file (never over an existing one) instead of printing it.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a study file (TOML) against the catalogue, without connecting: each query's
    /// dataset, dimensions, filter values and measures. Exits 1, naming the problem, when the
    /// study would be refused.
    Check { file: PathBuf },
    /// Submit a study file (TOML) and print its id and digest. Chargé.e de mission.
    Submit { file: PathBuf },
    /// Show a study in plain French (purpose, diffusion, each query as a sentence), its state,
    /// each département's decision and every signed decision.
    Show { id: String },
    /// List the studies, newest first, with what each awaits and from whom.
    List {
        /// Only the studies awaiting a decision of yours (directors).
        #[arg(long)]
        awaiting: bool,
    },
    /// Approve the study for your CDG, signing its digest with your key. Directors.
    Approve(DecisionArgs),
    /// Reject the study for your CDG. Directors.
    Reject(DecisionArgs),
    /// Put the study in question: no run until the comité technique arbitrates. Directors.
    Question(DecisionArgs),
    /// Vote to settle a question: the study may run once the comité's rule is met
    /// (arbitration_votes directors, 3 by default). Directors.
    Arbitrate(DecisionArgs),
    /// Record that a completed study's results were diffused. Chargé.e de mission.
    Diffuse(DecisionArgs),
    /// Run a study across the nodes whose directors approved it, and print the regional
    /// tables. STUDY is a study id, or a study file (submitted first). Chargé.e de mission.
    Run {
        study: String,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Print a study's kept result.
    Result {
        id: String,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Write a study's kept result as one self-contained HTML report in French (charts drawn
    /// inline, works offline, prints to PDF from the browser): DIR/<id>.html.
    Report {
        id: String,
        /// The folder to write the report into.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
}

#[derive(Args)]
struct DecisionArgs {
    /// The study id (S-...).
    id: String,
    /// Why: kept with the signed decision and in the audit log.
    #[arg(long, default_value = "")]
    note: String,
}

#[derive(Args)]
struct OutArgs {
    /// Also write each query's table into this folder (CSV for --format table; one workbook
    /// for xlsx).
    #[arg(long)]
    out: Option<PathBuf>,
    /// table: print the pivot tables. json: print one JSON document (for scripts). csv, arrow,
    /// parquet, xlsx: files written with --out.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Print nothing but errors and the files written: no progress, no tables.
    #[arg(long, short)]
    quiet: bool,
}

impl Connection {
    pub(crate) fn resolve(&self) -> anyhow::Result<(String, TlsFiles)> {
        if let Some(path) = &self.network {
            let network = Network::load(path)?;
            return Ok((
                network.coordinator.address.clone(),
                network.identity(&self.identity)?,
            ));
        }
        let missing = || {
            anyhow::anyhow!(
                "no coordinator given: pass --network FILE, or --coordinator URL with --ca, --cert and --key"
            )
        };
        Ok((
            self.coordinator.clone().ok_or_else(missing)?,
            TlsFiles {
                ca: self.ca.clone().ok_or_else(missing)?,
                cert: self.cert.clone().ok_or_else(missing)?,
                key: self.key.clone().ok_or_else(missing)?,
            },
        ))
    }

    async fn connect(&self) -> anyhow::Result<CoordinatorClient> {
        let (url, tls) = self.resolve()?;
        CoordinatorClient::connect(&url, &tls, Duration::from_secs(600)).await
    }
}

fn show(result: &cdg_shared::proto::v1::StudyResult, out: &OutArgs) -> anyhow::Result<()> {
    match (out.format, &out.out) {
        (Format::Json, None) => {
            let doc = output::result_json(result)?;
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        (Format::Table, _) | (_, Some(_)) => {
            if !out.quiet {
                print!("{}", output::render(result)?);
            }
        }
        (format, None) => anyhow::bail!(
            "--format {} writes files: add --out DIR",
            format!("{format:?}").to_lowercase()
        ),
    }
    if let Some(dir) = &out.out {
        for path in output::write_all(result, dir, out.format)? {
            println!("written: {}", path.display());
        }
    }
    Ok(())
}

/// Signs and sends a director's decision, then shows the study.
async fn decide(
    connection: &Connection,
    args: DecisionArgs,
    decision: Decision,
) -> anyhow::Result<()> {
    let (url, tls) = connection.resolve()?;
    let mut client = CoordinatorClient::connect(&url, &tls, Duration::from_secs(60)).await?;
    let status = client.decide(&tls, &args.id, decision, &args.note).await?;
    print!("{}", output::render_status(&status));
    Ok(())
}

fn main() -> ExitCode {
    // Parsed before the runtime starts, so that --help and usage errors need none.
    let cli = Cli::parse();
    cdg_coordinator::client::run_command(|| run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::CheckCertificate(args) => {
            cdg_shared::certcheck::run(args, None).map_err(anyhow::Error::msg)
        }
        Command::Audit { command } => audit::run(&cli.connection, command).await,
        Command::Notices => {
            let notices = cli.connection.connect().await?.notices().await?;
            print!("{}", cdg_coordinator::plain::notices_text(&notices));
            Ok(())
        }
        Command::Console(args) => {
            let (url, tls) = cli.connection.resolve()?;
            let network = cli
                .connection
                .network
                .as_deref()
                .map(Network::load)
                .transpose()?;
            cdg_coordinator::console::run(args, url, tls, network.as_ref()).await
        }
        Command::Study { command } => match command {
            StudyCommand::New {
                datasets,
                year,
                out,
            } => {
                let text = cdg_coordinator::template::study_template(&datasets, year)
                    .map_err(anyhow::Error::msg)?;
                match out {
                    None => print!("{text}"),
                    Some(path) => {
                        use std::io::Write;
                        std::fs::OpenOptions::new()
                            .write(true)
                            .create_new(true)
                            .open(&path)
                            .and_then(|mut f| f.write_all(text.as_bytes()))
                            .with_context(|| {
                                format!("writing {} (an existing file is kept)", path.display())
                            })?;
                        println!(
                            "{} written: edit it, then `cdg study check {}`",
                            path.display(),
                            path.display()
                        );
                    }
                }
                Ok(())
            }
            StudyCommand::Check { file } => {
                let study = cdg_coordinator::study::read_file(&file)?.1;
                println!(
                    "{}: valid for catalogue {} ({} queries, {} indicators, digest {})",
                    file.display(),
                    cdg_shared::catalogue::VERSION,
                    study.queries.len(),
                    study.indicators.len(),
                    study.digest()
                );
                for q in &study.queries {
                    println!("  {}: {} ({})", q.name, q.query.dataset, q.title);
                }
                for i in &study.indicators {
                    println!("  {}: {} ({})", i.name, i.describe(), i.title);
                }
                Ok(())
            }
            StudyCommand::Submit { file } => {
                // Checked here first, so that a mistake is named before any connection.
                let text = cdg_coordinator::study::read_file(&file)?.0;
                let s = cli.connection.connect().await?.submit(text).await?;
                println!(
                    "{} {} {}{}",
                    s.study_id,
                    s.digest,
                    s.title,
                    if s.created {
                        ""
                    } else {
                        " (already submitted)"
                    }
                );
                Ok(())
            }
            StudyCommand::Show { id } => {
                let mut client = cli.connection.connect().await?;
                let status = client.study(&id).await?;
                let study = cdg_coordinator::plain::checked_study(&status)?;
                print!("{}", cdg_coordinator::plain::study_text(&status, &study));
                match client.node_policies().await {
                    Ok(nodes) => print!(
                        "{}",
                        cdg_coordinator::plain::policies_text(&nodes, &study.departements)
                    ),
                    Err(e) => println!("\n  Règles des nœuds illisibles : {}", e.message()),
                }
                Ok(())
            }
            StudyCommand::List { awaiting } => {
                let (_, tls) = cli.connection.resolve()?;
                let me = tls.own_principal().ok();
                let studies = cli.connection.connect().await?.studies().await?;
                print!(
                    "{}",
                    cdg_coordinator::plain::study_list(&studies, me, awaiting)
                );
                Ok(())
            }
            StudyCommand::Approve(args) => decide(&cli.connection, args, Decision::Approve).await,
            StudyCommand::Reject(args) => decide(&cli.connection, args, Decision::Reject).await,
            StudyCommand::Question(args) => decide(&cli.connection, args, Decision::Question).await,
            StudyCommand::Arbitrate(args) => {
                decide(&cli.connection, args, Decision::Arbitrate).await
            }
            StudyCommand::Diffuse(args) => {
                let status = cli
                    .connection
                    .connect()
                    .await?
                    .diffuse(&args.id, &args.note)
                    .await?;
                print!("{}", output::render_status(&status));
                Ok(())
            }
            StudyCommand::Run { study, out } => {
                let mut client = cli.connection.connect().await?;
                let path = PathBuf::from(&study);
                let id = if path.is_file() {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    let s = client.submit(text).await?;
                    if !out.quiet {
                        eprintln!("study {} submitted; running...", s.study_id);
                    }
                    s.study_id
                } else {
                    study
                };
                let json = out.format == Format::Json;
                let quiet = out.quiet;
                let result = client
                    .watch_run(&id, |p| {
                        if !quiet && (json || p.step != "asking") {
                            eprintln!("{}", output::progress_line(p, json));
                        }
                    })
                    .await?;
                show(&result, &out)
            }
            StudyCommand::Result { id, out } => {
                let result = cli.connection.connect().await?.stream_result(&id).await?;
                show(&result, &out)
            }
            StudyCommand::Report { id, out } => {
                let mut client = cli.connection.connect().await?;
                let result = client.stream_result(&id).await?;
                // The study itself gives its purpose and what each indicator computes.
                let study = client
                    .study(&id)
                    .await
                    .ok()
                    .and_then(|s| serde_json::from_str(&s.study_json).ok());
                let path = cdg_coordinator::report::write(&result, study.as_ref(), &out)?;
                println!("{}", path.display());
                Ok(())
            }
        },
    }
}
