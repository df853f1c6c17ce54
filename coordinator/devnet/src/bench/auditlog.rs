//! `cdg-dev bench --only audit`: the audit tools on a coordinator log of a million entries (about
//! 550 bytes each, every one checkpointed), measured as a director runs them, each command in
//! its own process: time, and peak resident memory (`VmHWM`, sampled every 20 ms).
//!
//! The log is written as a coordinator writes it (sealed entries, a signed checkpoint after
//! each), only without an fsync per entry: the figures are about reading it back.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use cdg_shared::audit::{AuditEntry, GENESIS, checkpoints_path, signed_line};
use cdg_shared::cdg::Cdg;
use cdg_shared::signing::Signer;
use serde_json::json;

use super::{BenchOptions, Report, stats};
use crate::localnet::LocalNet;

/// Entries the coordinator logs for one study of three queries asked of the five CDGs.
const PER_STUDY: u64 = 14;

/// A log written without fsync, for benchmarks and tests.
pub struct LogWriter {
    log: BufWriter<File>,
    checkpoints: BufWriter<File>,
    signer: Signer,
    head: String,
    seq: u64,
}

impl LogWriter {
    pub fn create(path: &Path, signer: Signer) -> anyhow::Result<LogWriter> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let create = |p: &Path| {
            File::create(p)
                .map(|f| BufWriter::with_capacity(1 << 20, f))
                .with_context(|| format!("creating {}", p.display()))
        };
        Ok(LogWriter {
            log: create(path)?,
            checkpoints: create(&checkpoints_path(path))?,
            signer,
            head: GENESIS.to_string(),
            seq: 0,
        })
    }

    pub fn append(
        &mut self,
        kind: &str,
        actor: &str,
        study_id: &str,
        details: serde_json::Value,
    ) -> anyhow::Result<()> {
        self.seq += 1;
        let at = chrono::DateTime::from_timestamp(1_780_000_000 + self.seq as i64 / 100, 0)
            .context("a time")?;
        let (entry, line) = AuditEntry {
            seq: self.seq,
            time: at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            kind: kind.into(),
            actor: actor.into(),
            study_id: study_id.into(),
            details,
            prev_hash: std::mem::take(&mut self.head),
            format: Default::default(),
            hash: String::new(),
        }
        .seal();
        self.log.write_all(&line)?;
        self.log.write_all(b"\n")?;
        self.checkpoints
            .write_all(&signed_line(&entry, &self.signer)?)?;
        self.head = entry.hash;
        Ok(())
    }

    pub fn finish(mut self) -> anyhow::Result<u64> {
        self.log.flush()?;
        self.checkpoints.flush()?;
        Ok(self.seq)
    }
}

/// Writes, for `studies` studies, the coordinator's log (signed by `coordinator`) and the log
/// of the node of CDG 02 answering them (signed by `node`), in agreement.
pub fn write_logs(
    coordinator: (&Path, Signer),
    node: (&Path, Signer),
    studies: u64,
) -> anyhow::Result<(u64, u64)> {
    let mut c = LogWriter::create(coordinator.0, coordinator.1)?;
    let mut n = LogWriter::create(node.0, node.1)?;
    let hex = |i: u64, salt: &str| format!("{:0>64}", format!("{i:x}{salt}"));
    for i in 0..studies {
        let id = format!("S-{:012x}", i);
        let digest = hex(i, "d1e57");
        c.append(
            "study.submitted",
            "urn:cdg-hdf:charge-de-mission:59",
            &id,
            json!({"digest": digest, "title": "Effectifs par filière et catégorie, 2020-2024",
                   "queries": 3, "departements": ["02", "59", "60", "62", "80"],
                   "diffusion": "interne"}),
        )?;
        for cdg in Cdg::ALL {
            c.append(
                "study.approve",
                &format!("urn:cdg-hdf:director:{}", cdg.code()),
                &id,
                json!({"cdg": cdg.code(), "digest": digest, "signed_at": "2026-06-15T10:00:00Z",
                       "note": "accord du directeur", "signature": hex(i, "5167").repeat(2)}),
            )?;
        }
        c.append(
            "study.run.started",
            "urn:cdg-hdf:charge-de-mission:59",
            &id,
            json!({"queries": 3}),
        )?;
        for cdg in Cdg::ALL {
            c.append(
                "node.outcome",
                "system",
                &id,
                json!({"cdg": cdg.code(), "status": "STATUS_ANSWERED", "cells_released": 42,
                       "cells_suppressed": 3, "ms": 187, "attempts": 1}),
            )?;
        }
        for q in 1..=3 {
            n.append(
                "execute.answered",
                "urn:cdg-hdf:coordinator:59",
                &id,
                json!({"query_name": format!("q{q}"), "study_digest": digest,
                       "approvals": ["urn:cdg-hdf:director:02"], "cells_released": 14,
                       "cells_suppressed": 1}),
            )?;
        }
        c.append(
            "study.run.completed",
            "urn:cdg-hdf:charge-de-mission:59",
            &id,
            json!({"answered": 5, "queries": 3}),
        )?;
        c.append(
            "study.result.read",
            "urn:cdg-hdf:director:80",
            &id,
            json!({"digest": hex(i, "2e5"), "finished_at": "2026-06-15T10:05:00.000Z"}),
        )?;
    }
    Ok((c.finish()?, n.finish()?))
}

/// A command's wall time and peak resident memory (MiB), its output checked by `expect`.
struct Measured {
    wall: Duration,
    peak_mib: f64,
}

/// Runs `program args`, sampling its peak memory until it exits.
async fn measure(program: &Path, args: &[String], expect: &str) -> anyhow::Result<Measured> {
    let start = Instant::now();
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", program.display()))?;
    let pid = child.id().context("a child's pid")?;
    // Read while it runs, so that a full pipe never stops it.
    let read = |pipe: Option<Box<dyn tokio::io::AsyncRead + Send + Unpin>>| {
        tokio::spawn(async move {
            let mut text = String::new();
            if let Some(mut p) = pipe {
                use tokio::io::AsyncReadExt;
                p.read_to_string(&mut text).await?;
            }
            std::io::Result::Ok(text)
        })
    };
    let stdout = read(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = read(child.stderr.take().map(|p| Box::new(p) as _));
    let mut peak = 0f64;
    let out = loop {
        if let Some((_, hwm)) = stats::memory_mib(pid) {
            peak = peak.max(hwm);
        }
        tokio::select! {
            status = child.wait() => break status?,
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    };
    let wall = start.elapsed();
    let (stdout, stderr) = (stdout.await??, stderr.await??);
    anyhow::ensure!(
        out.success() && stdout.contains(expect),
        "{} {} failed ({out}):\n{stdout}\n{stderr}",
        program.display(),
        args.join(" ")
    );
    Ok(Measured {
        wall,
        peak_mib: peak,
    })
}

pub async fn run(net: &mut LocalNet, opts: &BenchOptions) -> anyhow::Result<Report> {
    let studies = opts.audit_entries.div_ceil(PER_STUDY).max(1);
    let coordinator_name = "audit-coordinator";
    let node_name = "audit-node-02";
    let log = net.work.join(coordinator_name).join("audit.log");
    net.write_node_config(Cdg::Aisne, node_name, "")?;
    let node_log = net
        .work
        .join("data")
        .join(format!("{node_name}.duckdb.audit.log"));
    eprintln!("audit: writing {} entries...", studies * PER_STUDY);
    let started = Instant::now();
    let pki = net.pki.clone();
    let (log_for, node_log_for) = (log.clone(), node_log.clone());
    let (entries, node_entries) = tokio::task::spawn_blocking(move || {
        let signer = |cert: PathBuf, key: PathBuf| {
            Signer::from_files(&cdg_shared::tls::TlsFiles {
                ca: pki.ca_cert(),
                cert,
                key,
            })
        };
        write_logs(
            (
                &log_for,
                signer(pki.coordinator_cert(), pki.coordinator_key())?,
            ),
            (
                &node_log_for,
                signer(pki.node_cert(Cdg::Aisne), pki.node_key(Cdg::Aisne))?,
            ),
            studies,
        )
    })
    .await??;
    let written = started.elapsed();
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len()) as f64 / 1e6;
    let (log_mb, checkpoints_mb) = (size(&log), size(&checkpoints_path(&log)));

    // The node and the coordinator start on them (each verifies its chain first).
    let node = net
        .start_nodes(&[(Cdg::Aisne, node_name.to_string())])
        .await?;
    let started = Instant::now();
    let url = net.start_coordinator(coordinator_name, &node).await?;
    let coordinator_start = started.elapsed();
    let network = net.work.join("audit-network.json");
    std::fs::write(
        &network,
        serde_json::to_string_pretty(&net.network(&url, &node))?,
    )?;
    let cdg = std::env::current_exe()?;
    let args = |rest: &[&str]| -> Vec<String> {
        [
            "--network",
            &network.display().to_string(),
            "--as",
            "director-02",
            "audit",
        ]
        .iter()
        .chain(rest)
        .map(|s| s.to_string())
        .collect()
    };
    let file = log.display().to_string();
    let mut rows = Vec::new();
    for (what, rest, expect) in [
        (
            "`cdg audit verify --file` (chain and checkpoints)",
            vec!["verify", "--file", &file],
            "entries verify",
        ),
        (
            "`cdg audit verify` (pages from the coordinator)",
            vec!["verify"],
            "entries verify",
        ),
        (
            "`cdg audit crosscheck` (coordinator and node 02)",
            vec!["crosscheck"],
            "agree",
        ),
    ] {
        eprintln!("audit: {what}...");
        rows.push((what, measure(&cdg, &args(&rest), expect).await?));
    }
    let coordinator_peak = net
        .supervisor
        .pid(coordinator_name)
        .and_then(stats::memory_mib)
        .map_or(0.0, |(_, hwm)| hwm);
    net.supervisor.stop_all(Duration::from_secs(10)).await;

    let mut t = String::from("| command | wall | entries/s | peak memory |\n|---|---|---|---|\n");
    for (what, m) in &rows {
        let _ = writeln!(
            t,
            "| {what} | {:.1} s | {:.0} | {:.0} MiB |",
            m.wall.as_secs_f64(),
            entries as f64 / m.wall.as_secs_f64(),
            m.peak_mib
        );
    }
    let _ = writeln!(
        t,
        "\n{entries} coordinator entries ({log_mb:.0} MB, and {checkpoints_mb:.0} MB of \
         checkpoints), {node_entries} node entries; written in {:.1} s. The coordinator started \
         on them (its chain verified) in {:.1} s, and its peak memory after serving the pages \
         was {coordinator_peak:.0} MiB.",
        written.as_secs_f64(),
        coordinator_start.as_secs_f64()
    );
    Ok(Report {
        title: "Audit log (cdg-dev bench)",
        method: format!(
            "a coordinator log of {entries} entries ({studies} studies: submission, five \
             approvals, run start, five node outcomes, completion, result read), each with its \
             signed checkpoint, and the log of the node of CDG 02 answering them; then each \
             command run in its own process as a director would, its peak resident memory \
             (VmHWM) sampled every 20 ms. `verify` checks the chain and every checkpoint's \
             signature; `crosscheck` verifies both logs and compares the answers."
        ),
        figures: t,
    })
}
