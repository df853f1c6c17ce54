//! Scale-out: one query fanned out to 5, 20, 50 and 100 nodes that share national-scale data
//! (about two million agents, one year), through one coordinator without the second round (the
//! fan-out itself), then through one with it (secure aggregation of the withheld cells).

use std::fmt::Write;
use std::time::Duration;

use cdg_shared::cdg::Cdg;
use futures::StreamExt;

use super::federated::submit_approved;
use super::stats::{Latencies, cpu_time, memory_mib, ms};
use super::studies::variant;
use super::{BenchOptions, Report, bench_config, timed_run, verdict};
use crate::localnet::{DataSpec, LocalNet};
use cdg_coordinator::client::CoordinatorClient;

/// The query fanned out: head counts by catégorie and filière, one year.
const QUERY: &str = "effectifs_categorie_filiere";
/// The year of data each node holds.
const YEAR: &str = "2024";

struct Point {
    nodes: usize,
    latencies: Latencies,
    /// The same study through a coordinator that runs the second round.
    secure: Latencies,
    cpu_per_answer: Duration,
    coordinator_mib: f64,
}

/// Loads `cdgs`' share of the national data (equal shares), starts them and a coordinator, and
/// times `runs` runs of the query.
async fn measure(net: &mut LocalNet, cdgs: &[Cdg], opts: &BenchOptions) -> anyhow::Result<Point> {
    let n = cdgs.len();
    let per_node = opts.national_agents as f64 / n as f64;
    eprintln!("scale-out: {n} nodes of about {per_node:.0} agents each: loading...");
    let names: Vec<(Cdg, String)> = cdgs
        .iter()
        .map(|&c| (c, format!("n{n}-{}", c.code())))
        .collect();
    let loads = names.iter().map(|(cdg, name)| {
        let data = DataSpec {
            years: YEAR.into(),
            scale: per_node / (169_000.0 * cdg.agent_share()),
            seed: opts.seed,
        };
        let net = &*net;
        async move {
            net.load_node(*cdg, name, &data, &bench_config(false, true))
                .await
        }
    });
    // Two at a time: one per core.
    let loaded: Vec<anyhow::Result<u64>> = futures::stream::iter(loads)
        .buffer_unordered(2)
        .collect()
        .await;
    for l in loaded {
        l?;
    }
    for (_, name) in &names {
        // The CSV files are imported; only the databases are needed from here on.
        let _ = std::fs::remove_dir_all(net.csv_dir(name));
    }
    let addresses = net.start_nodes(&names).await?;
    let coordinator = format!("coordinator-{n}");
    let study = variant(cdgs, Some(QUERY), &format!("{n} nœuds"))?;
    let mut sides = Vec::new();
    for (name, settings) in [
        (coordinator.clone(), "secure_aggregation = false\n"),
        (format!("{coordinator}-secure"), ""),
    ] {
        let url = net
            .start_coordinator_with(&name, &addresses, settings)
            .await?;
        let mut client =
            CoordinatorClient::connect(&url, &net.charge_de_mission(), Duration::from_secs(600))
                .await?;
        let id = submit_approved(net, &mut client, &url, &study).await?;
        timed_run(&mut client, &id).await?;
        sides.push((client, id));
    }
    let [(mut client, id), (mut secure_client, secure_id)] =
        <[_; 2]>::try_from(sides).map_err(|_| anyhow::anyhow!("two coordinators"))?;
    eprintln!("scale-out: {n} nodes: {} timed runs...", opts.runs);
    let pid = net.supervisor.pid(&coordinator);
    let cpu_before = pid.and_then(cpu_time).unwrap_or_default();
    let mut latencies = Latencies::default();
    for _ in 0..opts.runs {
        latencies.push(timed_run(&mut client, &id).await?);
    }
    let cpu = pid
        .and_then(cpu_time)
        .unwrap_or_default()
        .saturating_sub(cpu_before);
    let coordinator_mib = pid.and_then(memory_mib).map_or(0.0, |m| m.0);
    let mut secure = Latencies::default();
    for _ in 0..opts.runs {
        secure.push(timed_run(&mut secure_client, &secure_id).await?);
    }
    net.supervisor.stop_all(Duration::from_secs(20)).await;
    for (_, name) in &names {
        net.remove_database(name);
    }
    Ok(Point {
        nodes: n,
        latencies,
        secure,
        cpu_per_answer: cpu / (opts.runs * n).max(1) as u32,
        coordinator_mib,
    })
}

pub async fn run(
    net: &mut LocalNet,
    national: &[Cdg],
    opts: &BenchOptions,
) -> anyhow::Result<Report> {
    let mut points = Vec::new();
    for &n in &opts.nodes {
        points.push(measure(net, &national[..n], opts).await?);
    }
    let mut t = String::from(
        "| nodes | agents per node | p50 | p99 | p99 per node | coordinator CPU per node answer | coordinator resident memory | p50 with the second round |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for p in &points {
        let p99 = p.latencies.percentile(99.0);
        let _ = writeln!(
            t,
            "| {} | {:.0} | {} | {} | {} | {:.2} ms | {:.0} MiB | {} ({:+.0}%) |",
            p.nodes,
            opts.national_agents as f64 / p.nodes as f64,
            ms(p.latencies.p50()),
            ms(p99),
            ms(p99 / p.nodes as u32),
            p.cpu_per_answer.as_secs_f64() * 1000.0,
            p.coordinator_mib,
            ms(p.secure.p50()),
            100.0
                * (p.secure.p50().as_secs_f64() / p.latencies.p50().as_secs_f64().max(1e-9) - 1.0)
        );
    }
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        let p99 = last.latencies.percentile(99.0);
        // Linear growth: latency per node no worse at the largest network than at the smallest.
        let per_node = |p: &Point| p.latencies.p50().as_secs_f64() / p.nodes as f64;
        let _ = writeln!(
            t,
            "\nTargets: p99 ≤ 250 ms at {} nodes: {}, {}; growth no worse than linear \
             (p50 per node at {} nodes ≤ at {}): {}.",
            last.nodes,
            ms(p99),
            verdict(last.nodes < 100 || p99 <= Duration::from_millis(250)),
            last.nodes,
            first.nodes,
            verdict(per_node(last) <= per_node(first))
        );
    }
    Ok(Report {
        title: "Scale-out (cdg-dev bench)",
        method: format!(
            "for each network size, {} agents of synthetic data for {YEAR} split equally among \
             the CDGs of the first départements in code order, each imported into its own node \
             file; the nodes and one coordinator started as processes on loopback with mTLS; one \
             study of one query (`{QUERY}`) approved by every director and run {} times after an \
             untimed run. Latency is the client's (RunStudy to the merged result). CPU is the \
             coordinator process's user + system time over the timed runs (Linux /proc), divided \
             by the node answers. All the nodes share this machine's cores with the coordinator. \
             The first columns are the fan-out alone (`secure_aggregation = false`); the last is \
             the same study through a second coordinator that runs the second round (secure \
             aggregation of the regional cells withheld in two départements or more), as many \
             times.",
            opts.national_agents, opts.runs
        ),
        figures: t,
    })
}
