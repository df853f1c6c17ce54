//! Secure aggregation: the demonstration pack run through two coordinators over the same five
//! nodes, one with the second round (the default), one without. What the second round costs
//! in time, and what it publishes: the share of regional cells with a value.

use std::fmt::Write;
use std::time::Duration;

use arrow::array::{Array, AsArray};
use cdg_coordinator::client::CoordinatorClient;
use cdg_coordinator::output::query_batch;
use cdg_shared::cdg::Cdg;
use cdg_shared::proto::v1::StudyResult;
use cdg_shared::query::{DEPARTEMENT_COLUMN, DIFFUSION_COLUMN, REGION};

use super::federated::submit_approved;
use super::region::Region;
use super::stats::{Latencies, ms};
use super::studies::variant;
use super::{BenchOptions, Report, timed_run, verdict};
use crate::localnet::LocalNet;

/// Regional cells with a value, and regional cells, over every table of `result`.
fn published(result: &StudyResult) -> anyhow::Result<(usize, usize)> {
    let (mut valued, mut all) = (0, 0);
    for q in &result.queries {
        let batch = query_batch(q)?;
        let schema = batch.schema();
        let dep = schema.index_of(DEPARTEMENT_COLUMN)?;
        let first_measure = schema.index_of(DIFFUSION_COLUMN)? + 1;
        let deps = batch.column(dep).as_string::<i32>();
        for r in (0..batch.num_rows()).filter(|&r| deps.value(r) == REGION) {
            all += 1;
            valued += usize::from(batch.column(first_measure).is_valid(r));
        }
    }
    Ok((valued, all))
}

fn share((valued, all): (usize, usize)) -> String {
    format!(
        "{valued} of {all} ({:.1}%)",
        100.0 * valued as f64 / all.max(1) as f64
    )
}

pub async fn run(
    net: &mut LocalNet,
    region: &Region,
    opts: &BenchOptions,
) -> anyhow::Result<Report> {
    let cdgs: Vec<Cdg> = region.nodes.iter().map(|(c, _)| *c).collect();
    let study = variant(&cdgs, None, "agrégation sécurisée")?;
    let mut sides = Vec::new();
    for (name, settings) in [
        ("coordinator-secure", ""),
        ("coordinator-plain", "secure_aggregation = false\n"),
    ] {
        let url = net
            .start_coordinator_with(name, &region.nodes, settings)
            .await?;
        let mut client =
            CoordinatorClient::connect(&url, &net.charge_de_mission(), Duration::from_secs(600))
                .await?;
        let id = submit_approved(net, &mut client, &url, &study).await?;
        // One untimed run: channels open, files in the page cache; its result is counted.
        let result = client.run(&id).await?;
        sides.push((client, id, published(&result)?, Latencies::default()));
    }
    eprintln!(
        "secure aggregation: {} timed runs of each side...",
        opts.runs
    );
    for _ in 0..opts.runs {
        for (client, id, _, times) in sides.iter_mut() {
            times.push(timed_run(client, id).await?);
        }
    }
    let (with, without) = (&sides[0], &sides[1]);
    let extra = with.3.p50().as_secs_f64() / without.3.p50().as_secs_f64().max(1e-9) - 1.0;
    let mut t = String::from(
        "| | pack p50 | pack p95 | regional cells with a value |\n|---|---|---|---|\n",
    );
    for (label, side) in [("with the second round", with), ("without", without)] {
        let _ = writeln!(
            t,
            "| {label} | {} | {} | {} |",
            ms(side.3.p50()),
            ms(side.3.percentile(95.0)),
            share(side.2)
        );
    }
    let _ = writeln!(
        t,
        "\nTarget: the second round adds at most 50% to the study's time at 5 nodes: {:+.0}%, {}.",
        100.0 * extra,
        verdict(extra <= 0.5)
    );
    Ok(Report {
        title: "Secure aggregation (cdg-dev bench)",
        method: format!(
            "the demonstration pack ({} , scale {}) as one study, run {} times through each of \
             two coordinators over the same five nodes (alternating), one with the second round \
             (secure aggregation of the regional cells withheld in two départements or more), \
             one with `secure_aggregation = false`. Times are the client's, from RunStudy sent \
             to the result received. The share counts the regional rows of every table whose \
             first measure has a value (released, or summed securely), in one run of each.",
            opts.years, opts.scale, opts.runs
        ),
        figures: t,
    })
}
