//! A node under load: 1 to 64 concurrent clients, each on its own mTLS connection with the
//! coordinator's identity, asking the demonstration pack's queries round and round for a fixed
//! time, as fast as the node answers.

use std::fmt::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::proto::PROTOCOL_VERSION;
use cdg_shared::proto::v1::ExecuteRequest;
use cdg_shared::proto::v1::node_service_client::NodeServiceClient;
use cdg_shared::signing::{Decision, Signer};
use cdg_shared::tls::TlsFiles;
use futures::future::try_join_all;
use tonic::transport::Channel;

use super::region::{Region, node_name};
use super::stats::{Latencies, memory_mib, ms};
use super::studies::variant;
use super::{BenchOptions, Report, bench_config, verdict};
use crate::localnet::LocalNet;
use cdg_coordinator::study::Study;

/// The pack's queries as the coordinator sends them to `cdg`, approved by the five directors.
fn requests(net: &LocalNet) -> anyhow::Result<Vec<ExecuteRequest>> {
    let study = Study::from_toml(&variant(&Cdg::ALL, None, "charge")?)?;
    let approvals = Cdg::ALL
        .iter()
        .map(|&cdg| {
            Ok(Signer::from_files(&net.director(cdg))?.decide(
                &study.digest(),
                Decision::Approve,
                "",
            )?)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let analyst = Principal::new(Role::ChargeDeMission, Cdg::Nord).uri();
    Ok(study
        .queries
        .iter()
        .map(|q| ExecuteRequest {
            protocol_version: PROTOCOL_VERSION,
            query: Some((&q.query).into()),
            study_id: study.id(),
            query_name: q.name.clone(),
            analyst: analyst.clone(),
            study: study.canonical(),
            approvals: approvals.clone(),
        })
        .collect())
}

async fn connect(
    url: &str,
    tls: &TlsFiles,
    cdg: Cdg,
) -> anyhow::Result<NodeServiceClient<Channel>> {
    let channel = tls
        .client_endpoint(url, Principal::new(Role::Node, cdg))?
        .tcp_nodelay(true)
        .connect()
        .await?;
    Ok(NodeServiceClient::new(channel).max_decoding_message_size(64 * 1024 * 1024))
}

/// What one level of concurrency measured.
struct Level {
    clients: usize,
    errors: usize,
    first_error: Option<String>,
    elapsed: Duration,
    latencies: Latencies,
    rss_mib: f64,
}

async fn level(
    url: &str,
    tls: &TlsFiles,
    requests: &Arc<Vec<ExecuteRequest>>,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<(Latencies, usize, Option<String>, Duration)> {
    let connections = try_join_all((0..clients).map(|_| connect(url, tls, Cdg::Nord))).await?;
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let tasks = connections.into_iter().enumerate().map(|(i, mut client)| {
        let requests = Arc::clone(requests);
        tokio::spawn(async move {
            let (mut latencies, mut errors, mut first_error) = (Latencies::default(), 0, None);
            let mut next = i;
            while Instant::now() < deadline {
                let request = requests[next % requests.len()].clone();
                next += 1;
                let sent = Instant::now();
                match client.execute(request).await {
                    Ok(_) => latencies.push(sent.elapsed()),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| e.message().to_string());
                    }
                }
            }
            (latencies, errors, first_error)
        })
    });
    let (mut all, mut errors, mut first_error) = (Latencies::default(), 0, None);
    for task in try_join_all(tasks).await? {
        all.extend(task.0);
        errors += task.1;
        first_error = first_error.or(task.2);
    }
    Ok((all, errors, first_error, start.elapsed()))
}

/// The levels of concurrency on the node at `url` (process `pid`), after a warm-up.
async fn measure(
    url: &str,
    pid: Option<u32>,
    tls: &TlsFiles,
    requests: &Arc<Vec<ExecuteRequest>>,
    opts: &BenchOptions,
) -> anyhow::Result<(Vec<Level>, f64)> {
    // Warm-up: every query once.
    let (_, errors, first, _) = level(url, tls, requests, 1, 1).await?;
    anyhow::ensure!(errors == 0, "the node refused the warm-up: {first:?}");
    let mut levels = Vec::new();
    for &clients in &opts.clients {
        eprintln!("load: {clients} clients for {} s...", opts.seconds);
        let (latencies, errors, first_error, elapsed) =
            level(url, tls, requests, clients, opts.seconds).await?;
        let rss_mib = pid.and_then(memory_mib).map_or(0.0, |m| m.0);
        levels.push(Level {
            clients,
            errors,
            first_error,
            elapsed,
            latencies,
            rss_mib,
        });
    }
    let peak = pid.and_then(memory_mib).map_or(0.0, |m| m.1);
    Ok((levels, peak))
}

pub async fn run(
    net: &mut LocalNet,
    region: &Region,
    opts: &BenchOptions,
) -> anyhow::Result<Report> {
    let name = node_name(Cdg::Nord);
    anyhow::ensure!(
        region.nodes.iter().any(|(c, _)| *c == Cdg::Nord),
        "no node of CDG 59"
    );
    let tls = TlsFiles {
        ca: net.pki.ca_cert(),
        cert: net.pki.coordinator_cert(),
        key: net.pki.coordinator_key(),
    };
    let requests = Arc::new(requests(net)?);
    let mut levels = Vec::new();
    // Node 59 alone under load, so restarted with every core for DuckDB as a CDG server runs
    // it: first computing every answer, then with its default answer cache.
    for cache in [false, true] {
        eprintln!(
            "load: node 59 restarted {}",
            if cache {
                "with its answer cache"
            } else {
                "computing every answer (no answer cache)"
            }
        );
        net.supervisor.stop(&name, Duration::from_secs(10)).await;
        net.write_node_config(Cdg::Nord, &name, &bench_config(cache, false))?;
        let restarted = net.start_nodes(&[(Cdg::Nord, name.clone())]).await?;
        let pid = net.supervisor.pid(&name);
        let address = format!("https://{}", restarted[0].1);
        levels.push(measure(&address, pid, &tls, &requests, opts).await?);
    }
    let [(computed, peak_computed), (reused, peak_reused)]: [_; 2] = levels
        .try_into()
        .map_err(|_| anyhow::anyhow!("two load runs expected"))?;

    let mut t = String::from(
        "| answer cache | clients | answers | queries/s | p50 | p99 | errors | node resident memory |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    let mut at_16 = Vec::new();
    for (cache, levels) in [("off", &computed), ("on", &reused)] {
        for l in levels {
            let qps = l.latencies.len() as f64 / l.elapsed.as_secs_f64();
            let p99 = l.latencies.percentile(99.0);
            if l.clients == 16 {
                at_16.push((cache, qps, p99));
            }
            let _ = writeln!(
                t,
                "| {cache} | {} | {} | {qps:.0} | {} | {} | {}{} | {:.0} MiB |",
                l.clients,
                l.latencies.len(),
                ms(l.latencies.p50()),
                ms(p99),
                l.errors,
                l.first_error
                    .as_ref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default(),
                l.rss_mib
            );
        }
    }
    let _ = writeln!(
        t,
        "\nPeak resident memory of the node: {peak_computed:.0} MiB without the answer cache, \
         {peak_reused:.0} MiB with it."
    );
    for (cache, qps, p99) in at_16 {
        let _ = writeln!(
            t,
            "Target at 16 clients (≥ 400 queries/s with p99 ≤ 100 ms), answer cache {cache}: \
             {qps:.0} queries/s, {}, {}.",
            ms(p99),
            verdict(qps >= 400.0 && p99 <= Duration::from_millis(100))
        );
    }
    Ok(Report {
        title: "Node under load (cdg-dev bench)",
        method: format!(
            "the node of CDG 59 (synthetic data {}, scale {}) asked directly by clients with \
             the coordinator's certificate, each on its own mTLS connection, in a closed loop \
             for {} s per level: the demonstration pack's 7 queries in turn, each Execute \
             carrying the study and the five directors' signed approvals, so every answer goes \
             through the approval checks, the daily budget and overlap watch, and an fsynced \
             audit entry. First with the answer cache off (`limits.answer_cache_entries = 0`: \
             every answer computed by the disclosure-control path), then with the node \
             restarted with its default cache (256 answers: a repeated query reuses the answer \
             computed before, the same bytes). Memory is the node's resident set after each \
             level (Linux /proc).",
            opts.years, opts.scale, opts.seconds
        ),
        figures: t,
    })
}
