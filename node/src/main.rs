//! `cdg-node`: run a CDG's node, load its data, generate synthetic data.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use cdg_node::catalogue;
use cdg_node::config::NodeConfig;
use cdg_node::ingest::{Encoding, Format, ImportOptions, ReadOptions};
use cdg_node::store::Store;
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_synth::{self as synth, SynthSpec};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cdg-node",
    version,
    about = "A CDG's node of the Hauts-de-France employment observatory network.\n\nKeeps the CDG's HR data in its own DuckDB file and answers only aggregated, disclosure-controlled queries, over gRPC with mutual TLS."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the gRPC server (mutual TLS) until SIGINT or SIGTERM.
    Serve {
        /// Node configuration file (TOML). Keys can be overridden with CDG_NODE__<SECTION>__<KEY>.
        #[arg(long, short)]
        config: PathBuf,
        /// Write the bound address to this file once listening (useful with listen port 0).
        #[arg(long)]
        ready_file: Option<PathBuf>,
    },
    /// Load one dataset slice (one year) from a CSV, XLSX or Parquet file, replacing that
    /// slice atomically. Invalid rows are quarantined with their reason; the import fails, with
    /// nothing replaced, when more than the maximum reject ratio are invalid. The node must not
    /// be running (DuckDB allows one process per database file).
    Import {
        #[arg(long, short)]
        config: PathBuf,
        /// Dataset name: employeurs, agents, mouvements, absences, offres, demandes, concours
        /// (see node/DATA-DICTIONARY.md or `cdg-node catalogue`).
        #[arg(long)]
        dataset: String,
        /// Reference year of the file.
        #[arg(long)]
        year: i32,
        /// The file: .csv (`;`, `,` or tab; UTF-8 or Windows-1252; decimal comma or point),
        /// .xlsx or .parquet.
        file: PathBuf,
        /// File format when the extension does not tell it: csv, xlsx, parquet.
        #[arg(long, value_parser = parse_format)]
        format: Option<Format>,
        /// CSV separator (detected from the header when not given): ';', ',' or 'tab'.
        #[arg(long, value_parser = parse_separator)]
        separator: Option<u8>,
        /// CSV encoding (detected when not given): utf-8 or windows-1252.
        #[arg(long, value_parser = parse_encoding)]
        encoding: Option<Encoding>,
        /// XLSX sheet to read (the first one when not given).
        #[arg(long)]
        sheet: Option<String>,
        /// Largest share of invalid rows (0 to 1) that may be quarantined while the rest loads;
        /// defaults to the configuration's import.max_reject_ratio.
        #[arg(long)]
        max_reject_ratio: Option<f64>,
    },
    /// Load every export of a folder named `<dataset>_<year>.<csv|xlsx|parquet>` (as `synth`
    /// writes them), year by year and in reference order, each file in its own transaction.
    /// Stops at the first failure. Prints one summary per file.
    ImportDir {
        #[arg(long, short)]
        config: PathBuf,
        /// The folder.
        dir: PathBuf,
        /// As for `import`.
        #[arg(long)]
        max_reject_ratio: Option<f64>,
    },
    /// Measure the import's throughput on a synthetic agents file (a first load, then a
    /// replacing one), then on each other dataset's file of that year, and print the figures.
    BenchImport {
        /// Rows of the agents file (about).
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
        /// Scratch folder (emptied first).
        #[arg(long, default_value = "target/bench-import")]
        workdir: PathBuf,
        /// Also write the figures as the "Import" section of this Markdown file.
        #[arg(long)]
        record: Option<PathBuf>,
    },
    /// Measure the cost of disclosure control: one aggregate on region-scale data through the
    /// node's policy path and as a plain DuckDB GROUP BY, and print the ratio.
    BenchQuery {
        /// Timed runs of each path.
        #[arg(long, default_value_t = 50)]
        runs: usize,
        /// Scratch folder (emptied first).
        #[arg(long, default_value = "target/bench-query")]
        workdir: PathBuf,
        /// Also write the figures as the "Disclosure control" section of this Markdown file.
        #[arg(long)]
        record: Option<PathBuf>,
    },
    /// Check a certificate against the federation's identity scheme (URI SAN, key usage, chain,
    /// host name, key, validity, deny list) and print what it would be authorized to do. With
    /// --config, checks the node's own tls.cert against its tls.ca, tls.key, CDG and deny list.
    /// Exits 1 when the certificate is not usable.
    CheckCertificate {
        /// Node configuration file whose certificate to check.
        #[arg(long, short)]
        config: Option<PathBuf>,
        #[command(flatten)]
        check: cdg_shared::certcheck::CheckArgs,
    },
    /// Record a signed avenant to the convention (Art. 6) in the node's configuration file: its
    /// new last day of validity and its reference. Comments and other keys are kept, and the
    /// file is checked again. Restart the node to apply it: until then, and past the last day,
    /// the node releases nothing and its health says NOT_SERVING.
    Avenant {
        /// Node configuration file (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// The avenant's new last day of validity, AAAA-MM-JJ.
        #[arg(long)]
        end: chrono::NaiveDate,
        /// The avenant's reference, e.g. "avenant n°1, comité technique du 2026-12-15".
        #[arg(long)]
        reference: String,
    },
    /// Print the data dictionary (Markdown): datasets, columns, allowed values, dimensions,
    /// measures.
    Catalogue,
    /// Show or manage the data loaded in the node.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
    /// Generate deterministic synthetic data for one CDG, in the formats the import reads (CSV in
    /// UTF-8 and Windows-1252, XLSX, Parquet), and list the files as JSON lines in load order.
    Synth {
        /// Département code: 02, 59, 60, 62 or 80.
        #[arg(long)]
        cdg: Cdg,
        /// Years, e.g. 2020-2024 or 2024.
        #[arg(long, default_value = "2020-2024")]
        years: String,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// Size relative to the real département (1.0 = real scale).
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// Output folder.
        #[arg(long, short)]
        out: PathBuf,
    },
    /// The audit log's upkeep, the node stopped.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Set aside the broken tail of the node's audit log (every line from the first one that
    /// breaks its chain, and the checkpoints vouching for them) to side files, after a
    /// confirmation, and record it in the log, so that the node starts again. Refused while
    /// the node runs.
    Repair(cdg_shared::audit::repair::RepairArgs),
}

#[derive(Subcommand)]
enum DataCommand {
    /// List the loaded slices and their versions.
    Status {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Put back the slice the last import of (dataset, year) replaced. Running it again undoes it.
    Rollback {
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long)]
        dataset: String,
        #[arg(long)]
        year: i32,
    },
}

/// The node's record-key secret (created on first use), which imports key the rows with.
fn record_key(config: &NodeConfig) -> anyhow::Result<String> {
    Ok(cdg_node::store::record_key::load(
        &config.record_key_path(),
    )?)
}

/// `--max-reject-ratio`, or the configuration's.
fn reject_ratio(given: Option<f64>, config: &NodeConfig) -> anyhow::Result<f64> {
    let ratio = given.unwrap_or(config.import.max_reject_ratio);
    anyhow::ensure!(
        (0.0..=1.0).contains(&ratio),
        "--max-reject-ratio must be between 0 and 1"
    );
    Ok(ratio)
}

fn parse_format(s: &str) -> Result<Format, String> {
    Format::parse(s).ok_or_else(|| format!("unknown format {s:?}: expected {}", Format::NAMES))
}

fn parse_encoding(s: &str) -> Result<Encoding, String> {
    Encoding::parse(s)
        .ok_or_else(|| format!("unknown encoding {s:?}: expected {}", Encoding::NAMES))
}

fn parse_separator(s: &str) -> Result<u8, String> {
    match s {
        ";" => Ok(b';'),
        "," => Ok(b','),
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        _ => Err(format!(
            "unknown separator {s:?}: expected ';', ',' or 'tab'"
        )),
    }
}

fn parse_years(s: &str) -> anyhow::Result<(i32, i32)> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let parse = |x: &str| {
        x.trim()
            .parse::<i32>()
            .ok()
            .filter(|y| (1990..=2100).contains(y))
            .with_context(|| format!("bad year {x:?} in --years {s:?}: expected e.g. 2020-2024"))
    };
    let (first, last) = (parse(a)?, parse(b)?);
    anyhow::ensure!(
        first <= last,
        "--years {s:?}: the first year comes after the last"
    );
    Ok((first, last))
}

fn find_dataset(name: &str) -> anyhow::Result<&'static catalogue::Dataset> {
    catalogue::dataset(name).with_context(|| {
        format!(
            "unknown dataset {name:?}: expected one of {}",
            catalogue::dataset_names().join(", ")
        )
    })
}

/// The node's configuration, the named dataset and the opened database, for data commands.
fn open_for(
    config: &std::path::Path,
    dataset: &str,
) -> anyhow::Result<(NodeConfig, &'static catalogue::Dataset, Store)> {
    let config = NodeConfig::load(config)?;
    let ds = find_dataset(dataset)?;
    let store = Store::open(&config.database)?;
    Ok((config, ds, store))
}

fn main() -> ExitCode {
    cdg_shared::tls::install_crypto_provider();
    cdg_shared::logging::init("info");
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { config, ready_file } => {
            let config = NodeConfig::load(&config)?;
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async move {
                // Handlers first: the ready file invites a supervisor to signal us.
                let stop = cdg_shared::serving::signal();
                let listener =
                    cdg_shared::serving::bind(config.listen, ready_file.as_deref()).await?;
                cdg_node::server::run(config, listener, stop).await
            })
        }
        Command::Import {
            config,
            dataset,
            year,
            file,
            format,
            separator,
            encoding,
            sheet,
            max_reject_ratio,
        } => {
            let (config, ds, store) = open_for(&config, &dataset)?;
            let options = ImportOptions {
                max_reject_ratio: reject_ratio(max_reject_ratio, &config)?,
                read: ReadOptions {
                    format,
                    separator,
                    encoding,
                    sheet,
                },
                record_key: Some(record_key(&config)?),
            };
            let report = cdg_node::ingest::import_file(&store, ds, year, &file, &options)?;
            println!("{}", report.summary());
            Ok(())
        }
        Command::ImportDir {
            config,
            dir,
            max_reject_ratio,
        } => {
            let config = NodeConfig::load(&config)?;
            let options = ImportOptions {
                max_reject_ratio: reject_ratio(max_reject_ratio, &config)?,
                record_key: Some(record_key(&config)?),
                ..Default::default()
            };
            let (files, skipped) = cdg_node::ingest::folder::plan(&dir)?;
            anyhow::ensure!(
                !files.is_empty(),
                "no file named <dataset>_<year>.<csv|xlsx|parquet> in {} (datasets: {})",
                dir.display(),
                catalogue::dataset_names().join(", ")
            );
            if !skipped.is_empty() {
                println!(
                    "skipped (not <dataset>_<year>.<csv|xlsx|parquet>): {}",
                    skipped.join(", ")
                );
            }
            let store = Store::open(&config.database)?;
            let reports = cdg_node::ingest::folder::import_all(&store, &files, &options, |r| {
                println!("{}", r.summary())
            })?;
            let rows: u64 = reports.iter().map(|r| r.rows_read).sum();
            println!("{} files, {rows} rows read", reports.len());
            Ok(())
        }
        Command::BenchImport {
            rows,
            workdir,
            record,
        } => {
            let figures = cdg_node::bench::import(rows, &workdir)?;
            println!("{figures}");
            if let Some(path) = record {
                let body = cdg_shared::bench::section(
                    &format!("cdg-node bench-import --rows {rows} --record BENCHMARKS.md"),
                    "a synthetic agents CSV of CDG 59 (`;`, decimal comma, as French Excel \
                     writes it) imported with every check through `ingest::import_file` into a \
                     fresh DuckDB file, after its employeurs; then imported again, replacing \
                     the slice (the replaced one is kept for rollback); then every other \
                     dataset's file of the same synthetic year, once each, in load order. Wall \
                     time covers reading the file, checks, the durable write and the commit. \
                     Target: 1,000,000 rows/s.",
                    &figures,
                );
                cdg_shared::bench::record(&path, "Import (cdg-node bench-import)", &body)?;
                println!("recorded in {}", path.display());
            }
            Ok(())
        }
        Command::BenchQuery {
            runs,
            workdir,
            record,
        } => {
            anyhow::ensure!(runs > 0, "--runs must be at least 1");
            let figures = cdg_node::bench::query(runs, &workdir)?;
            println!("{figures}");
            if let Some(path) = record {
                let body = cdg_shared::bench::section(
                    &format!("cdg-node bench-query --runs {runs} --record BENCHMARKS.md"),
                    "the same aggregate on a node's DuckDB file, in process (no gRPC): as the \
                     plain GROUP BY it protects, and through the node's policy path \
                     (`Answering::answer`, as a request once approved) from the in-memory copy \
                     and from DuckDB statements; the three interleaved run by run on the same \
                     data, the median of each. Target: a ratio of at most 1.3.",
                    &figures,
                );
                cdg_shared::bench::record(
                    &path,
                    "Disclosure control (cdg-node bench-query)",
                    &body,
                )?;
                println!("recorded in {}", path.display());
            }
            Ok(())
        }
        Command::CheckCertificate { config, check } => {
            let configured = match config {
                Some(path) => {
                    let config = NodeConfig::load(&path)?;
                    Some(cdg_shared::certcheck::Configured {
                        revoked: config.revocation()?,
                        expected: Principal::new(Role::Node, config.cdg),
                        tls: config.tls,
                    })
                }
                None => None,
            };
            cdg_shared::certcheck::run(check, configured).map_err(anyhow::Error::msg)
        }
        Command::Avenant {
            config,
            end,
            reference,
        } => {
            let until = cdg_node::convention::record_avenant(&config, end, &reference)?;
            println!(
                "avenant recorded in {}: the convention now runs until {until}. Restart the \
                 node to apply it (systemctl restart cdg-node).",
                config.display()
            );
            Ok(())
        }
        Command::Catalogue => {
            print!("{}", catalogue::data_dictionary());
            Ok(())
        }
        Command::Data {
            command: DataCommand::Status { config },
        } => {
            let config = NodeConfig::load(&config)?;
            let store = Store::open(&config.database)?;
            let versions = store.data_versions()?;
            if versions.is_empty() {
                println!("no data loaded in {}", config.database.display());
            }
            for v in versions {
                println!(
                    "{:<12} {}  {:>8} rows  loaded {}  from {}  sha256 {}",
                    v.dataset,
                    v.year,
                    v.rows,
                    v.loaded_at,
                    v.source,
                    cdg_shared::text::prefix(&v.digest, 16)
                );
            }
            Ok(())
        }
        Command::Data {
            command:
                DataCommand::Rollback {
                    config,
                    dataset,
                    year,
                },
        } => {
            let (_, ds, store) = open_for(&config, &dataset)?;
            let v = store.rollback(ds, year)?;
            println!(
                "{} {}: back to the version loaded {} from {} ({} rows, sha256 {})",
                v.dataset,
                v.year,
                v.loaded_at,
                v.source,
                v.rows,
                cdg_shared::text::prefix(&v.digest, 16)
            );
            Ok(())
        }
        Command::Synth {
            cdg,
            years,
            seed,
            scale,
            out,
        } => {
            // The generator refuses on its own a size beyond its identifier space.
            anyhow::ensure!(scale > 0.0 && scale <= 100.0, "--scale must be in ]0, 100]");
            let (first_year, last_year) = parse_years(&years)?;
            let spec = SynthSpec {
                cdg,
                first_year,
                last_year,
                seed,
                scale,
            };
            let files = synth::generate(&spec, &out)
                .with_context(|| format!("writing into {}", out.display()))?;
            for f in files {
                println!(
                    "{}",
                    serde_json::json!({"dataset": f.dataset, "year": f.year, "path": f.path, "rows": f.rows})
                );
            }
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Repair(cdg_shared::audit::repair::RepairArgs { config, yes }),
        } => {
            let config = NodeConfig::load(&config)?;
            // The node's lock, held while repairing: refused while the node runs.
            let _lock = cdg_node::store::lock(&config.database)?;
            let signer = cdg_shared::signing::Signer::from_files(&config.tls)?;
            cdg_shared::audit::repair::run(&config.audit_log_path(), Some(signer), yes, "The node")
        }
    }
}
