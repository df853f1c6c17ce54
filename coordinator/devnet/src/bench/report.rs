//! `cdg-dev bench --only report`: how long the reports of the Conférence pack take to write, once
//! its studies have run on the five nodes (HTML report and XLSX workbook of each study).

use std::time::{Duration, Instant};

use anyhow::Context;
use cdg_shared::cdg::Cdg;
use cdg_shared::proto::v1::StudyResult;
use cdg_shared::study::Study;
use futures::future::try_join_all;

use super::region::node_name;
use super::{BenchOptions, Report, bench_config, stats, verdict};
use crate::localnet::{DataSpec, LocalNet};
use cdg_coordinator::client::CoordinatorClient;

/// The Conférence pack, as the repository holds it.
const PACK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/studies");
/// Target: the whole pack's reports in under a second.
const TARGET: Duration = Duration::from_secs(1);

/// The pack's studies (their files' names and texts), in name order.
fn pack() -> anyhow::Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(PACK).with_context(|| format!("reading {PACK}"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "toml") {
            let name = path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            files.push((name, std::fs::read_to_string(&path)?));
        }
    }
    files.sort();
    Ok(files)
}

pub async fn run(net: &mut LocalNet, opts: &BenchOptions) -> anyhow::Result<Report> {
    let data = DataSpec {
        years: opts.years.clone(),
        scale: opts.scale,
        seed: opts.seed,
    };
    eprintln!(
        "report: importing the five CDGs' synthetic data (scale {})...",
        data.scale
    );
    let loads = Cdg::ALL.map(|cdg| {
        let (net, data) = (&*net, &data);
        async move {
            net.load_node(cdg, &node_name(cdg), data, &bench_config(true, true))
                .await
        }
    });
    try_join_all(loads).await?;
    let names: Vec<(Cdg, String)> = Cdg::ALL.iter().map(|&c| (c, node_name(c))).collect();
    let addresses = net.start_nodes(&names).await?;
    let url = net
        .start_coordinator("coordinator-report", &addresses)
        .await?;
    let mut client =
        CoordinatorClient::connect(&url, &net.charge_de_mission(), Duration::from_secs(300))
            .await?;
    let mut runs: Vec<(StudyResult, Study)> = Vec::new();
    for (name, text) in pack()? {
        let study = Study::from_toml(&text).with_context(|| format!("study {name}"))?;
        let id = client.submit(text).await?.study_id;
        net.approve(&url, &id, &study.departements).await?;
        let result = client
            .run(&id)
            .await
            .with_context(|| format!("running {name}"))?;
        runs.push((result, study));
    }
    net.supervisor.stop_all(Duration::from_secs(10)).await;

    let repeats = opts.runs.max(5);
    let out = net.work.join("report-bench");
    let (mut html, mut xlsx) = (stats::Latencies::default(), stats::Latencies::default());
    let mut bytes = 0;
    for _ in 0..repeats {
        let start = Instant::now();
        bytes = 0;
        for (result, study) in &runs {
            bytes += cdg_coordinator::report::render(result, Some(study), "bench")?.len();
        }
        html.push(start.elapsed());
        let start = Instant::now();
        for (result, _) in &runs {
            cdg_coordinator::export::write_all(
                result,
                &out,
                cdg_coordinator::export::Format::Xlsx,
            )?;
        }
        xlsx.push(start.elapsed());
    }
    let tables: usize = runs.iter().map(|(r, _)| r.queries.len()).sum();
    let indicators: usize = runs.iter().map(|(r, _)| r.indicators.len()).sum();
    let (html_median, xlsx_median) = (html.p50(), xlsx.p50());
    let figures = format!(
        "| studies | tables | indicators | HTML written | HTML reports (median of {repeats}) | max | XLSX workbooks (median) | target |\n\
         |---|---|---|---|---|---|---|---|\n\
         | {} | {tables} | {indicators} | {:.1} MB | {:.0} ms | {:.0} ms | {:.0} ms | < 1 s: {} |\n",
        runs.len(),
        bytes as f64 / 1e6,
        html_median.as_secs_f64() * 1e3,
        html.percentile(100.0).as_secs_f64() * 1e3,
        xlsx_median.as_secs_f64() * 1e3,
        verdict(html_median < TARGET),
    );
    Ok(Report {
        title: "Conférence reports (cdg-dev bench)",
        method: format!(
            "the {} studies of coordinator/studies/ run once on five nodes of synthetic data \
             (scale {}, years {}); then, {repeats} times, every study's HTML report rendered in \
             memory (charts, tables, provenance) and every study's XLSX workbook written to a \
             temporary folder. Wall time on one thread.",
            runs.len(),
            opts.scale,
            opts.years
        ),
        figures,
    })
}
