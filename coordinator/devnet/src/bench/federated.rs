//! Federated against centralized: the demonstration pack run through a coordinator over the five
//! nodes, and through another coordinator over one node holding the five départements. Same
//! processes, same mTLS, same disclosure control: the difference is the federation's cost.

use std::fmt::Write;
use std::time::Duration;

use cdg_shared::cdg::Cdg;

use super::region::Region;
use super::stats::{Latencies, ms};
use super::studies::{pack_queries, variant};
use super::{BenchOptions, Report, timed_run, verdict};
use crate::localnet::LocalNet;
use cdg_coordinator::client::CoordinatorClient;

/// One side of the comparison: its coordinator client, and its studies (the pack, then one per
/// query).
struct Side {
    client: CoordinatorClient,
    pack: String,
    queries: Vec<String>,
}

async fn side(
    net: &mut LocalNet,
    name: &str,
    nodes: &[(Cdg, String)],
    label: &str,
) -> anyhow::Result<Side> {
    let url = net.start_coordinator(name, nodes).await?;
    let cdgs: Vec<Cdg> = nodes.iter().map(|(c, _)| *c).collect();
    let mut client =
        CoordinatorClient::connect(&url, &net.charge_de_mission(), Duration::from_secs(600))
            .await?;
    let pack = submit_approved(net, &mut client, &url, &variant(&cdgs, None, label)?).await?;
    let mut queries = Vec::new();
    for name in pack_queries()? {
        let study = variant(&cdgs, Some(&name), label)?;
        queries.push(submit_approved(net, &mut client, &url, &study).await?);
    }
    Ok(Side {
        client,
        pack,
        queries,
    })
}

/// Submits `study` and has each director it asks approve it; returns its id.
pub async fn submit_approved(
    net: &LocalNet,
    client: &mut CoordinatorClient,
    url: &str,
    study: &str,
) -> anyhow::Result<String> {
    let cdgs = cdg_coordinator::study::Study::from_toml(study)?.departements;
    let id = client.submit(study.to_string()).await?.study_id;
    net.approve(url, &id, &cdgs).await?;
    Ok(id)
}

pub async fn run(
    net: &mut LocalNet,
    region: &Region,
    opts: &BenchOptions,
) -> anyhow::Result<Report> {
    let names = pack_queries()?;
    let mut fed = side(net, "coordinator", &region.nodes, "fédéré").await?;
    let central_nodes = [(Cdg::Nord, region.central.clone())];
    let mut cen = side(net, "central-coordinator", &central_nodes, "centralisé").await?;

    // One untimed run of everything: channels open, files in the page cache.
    for s in [&mut fed, &mut cen] {
        timed_run(&mut s.client, &s.pack).await?;
    }
    eprintln!("federated: {} timed runs of each study...", opts.runs);
    let mut per_query = vec![(Latencies::default(), Latencies::default()); names.len()];
    let (mut fed_pack, mut cen_pack) = (Latencies::default(), Latencies::default());
    for _ in 0..opts.runs {
        for (i, (f, c)) in per_query.iter_mut().enumerate() {
            f.push(timed_run(&mut fed.client, &fed.queries[i]).await?);
            c.push(timed_run(&mut cen.client, &cen.queries[i]).await?);
        }
        fed_pack.push(timed_run(&mut fed.client, &fed.pack).await?);
        cen_pack.push(timed_run(&mut cen.client, &cen.pack).await?);
    }

    let mut t = String::from(
        "| query | federated p50 | federated p95 | centralized p50 | centralized p95 | ratio of p50 |\n\
         |---|---|---|---|---|---|\n",
    );
    let mut worst_p50 = Duration::ZERO;
    for (name, (f, c)) in names.iter().zip(&per_query) {
        worst_p50 = worst_p50.max(f.p50());
        t.push_str(&row(name, f, c));
    }
    let pack_ratio = ratio(fed_pack.p50(), cen_pack.p50());
    t.push_str(&row(
        "**whole pack (7 queries, one study)**",
        &fed_pack,
        &cen_pack,
    ));
    let _ = writeln!(
        t,
        "\nTargets: ratio of total times ≤ 1.2: {pack_ratio:.2}, {}; p50 ≤ 15 ms per query: \
         worst {}, {}.",
        verdict(pack_ratio <= 1.2),
        ms(worst_p50),
        verdict(worst_p50 <= Duration::from_millis(15))
    );
    Ok(Report {
        title: "Federated against centralized (cdg-dev bench)",
        method: format!(
            "synthetic data of the five CDGs ({} , scale {}: about {} agents a year in the \
             region) imported into five node files, and the same CSV files concatenated into one \
             file served by a sixth node. Two coordinators: one over the five nodes, one over the \
             centralized node; every process on loopback with mTLS. Each of the demonstration \
             pack's 7 queries is a study of its own, run {} times on each side (alternating), \
             and the whole pack as one study as many times; times are the client's, from \
             RunStudy sent to the regional result received (coordinator audit, fan-out, node \
             policy path and audit, merge). One untimed run first.",
            opts.years,
            opts.scale,
            (169_000.0 * opts.scale).round(),
            opts.runs
        ),
        figures: t,
    })
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

/// One line of the table: a query's (or the pack's) times on both sides and their ratio.
fn row(name: &str, federated: &Latencies, centralized: &Latencies) -> String {
    format!(
        "| {name} | {} | {} | {} | {} | {:.2} |\n",
        ms(federated.p50()),
        ms(federated.percentile(95.0)),
        ms(centralized.p50()),
        ms(centralized.percentile(95.0)),
        ratio(federated.p50(), centralized.p50())
    )
}
