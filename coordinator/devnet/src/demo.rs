//! `cdg-dev demo`: a complete local network on one machine. Development certificates, synthetic data
//! for the five CDGs loaded through the real import, five nodes and the coordinator as separate
//! processes on loopback, and the demonstration study run end to end. `cdg-dev try` runs an
//! analyst's study the same way, before anyone is asked to sign it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cdg_shared::cdg::Cdg;
use futures::future::try_join_all;

use crate::localnet::{DataSpec, LocalNet};
use cdg_coordinator::client::CoordinatorClient;
use cdg_coordinator::output;

pub use cdg_coordinator::study::DEMO_STUDY;

pub struct DemoOptions {
    pub workdir: PathBuf,
    pub serve: bool,
    pub years: String,
    pub scale: f64,
    pub seed: u64,
    /// The studies to run in turn (their TOML texts): the demonstration study when empty.
    /// `cdg-dev try` runs the analyst's own this way.
    pub studies: Vec<String>,
}

fn step(start: Instant, what: &str) {
    println!("[{:>6.1} s] {what}", start.elapsed().as_secs_f64());
}

/// Runs the demo; with `serve`, keeps the network up until SIGINT or SIGTERM.
pub async fn run(opts: DemoOptions) -> anyhow::Result<()> {
    let start = Instant::now();
    // Installed before any child process starts, so that a signal at any moment stops them all.
    let mut stop = Box::pin(cdg_shared::serving::signal());
    let mut net = LocalNet::prepare(&opts.workdir)?;
    step(start, &net.ensure_pki(&[])?);

    // Synthetic data, then the real import path, one CDG per task.
    let data = DataSpec {
        years: opts.years.clone(),
        scale: opts.scale,
        seed: opts.seed,
    };
    let loads = Cdg::ALL.iter().map(|&cdg| {
        let (net, data) = (&net, &data);
        async move {
            let rows = net
                .load_node(cdg, &format!("node-{}", cdg.code()), data, "")
                .await?;
            anyhow::Ok((cdg, rows))
        }
    });
    let loaded = tokio::select! {
        loaded = try_join_all(loads) => loaded?,
        () = &mut stop => anyhow::bail!("interrupted while loading the synthetic data"),
    };
    for (cdg, rows) in loaded {
        step(
            start,
            &format!("CDG {cdg} ({}): {rows} rows imported", cdg.name()),
        );
    }

    let body = async {
        let names: Vec<(Cdg, String)> = Cdg::ALL
            .iter()
            .map(|&c| (c, format!("node-{}", c.code())))
            .collect();
        let addresses = net.start_nodes(&names).await?;
        step(
            start,
            &format!(
                "5 nodes listening: {}",
                addresses
                    .iter()
                    .map(|(c, a)| format!("{c}@{a}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        );
        let coordinator_url = net.start_coordinator("coordinator", &addresses).await?;
        step(start, &format!("coordinator listening: {coordinator_url}"));

        let network_path = net.work.join("network.json");
        let network = net.network(&coordinator_url, &addresses);
        std::fs::write(&network_path, serde_json::to_vec_pretty(&network)?)?;

        let mut client = CoordinatorClient::connect(
            &coordinator_url,
            &net.charge_de_mission(),
            Duration::from_secs(300),
        )
        .await?;
        let studies = if opts.studies.is_empty() {
            vec![DEMO_STUDY.to_string()]
        } else {
            opts.studies.clone()
        };
        let mut last = String::new();
        for study in studies {
            last = submit_approve_run(&net, &mut client, &coordinator_url, study, start).await?;
        }
        anyhow::Ok((network_path, last))
    };
    let outcome = tokio::select! {
        outcome = body => outcome,
        () = &mut stop => Err(anyhow::anyhow!("interrupted before the study completed")),
    };
    if let (true, Ok((network_path, study_id))) = (opts.serve, &outcome) {
        println!(
            "\nThe network is running; {} describes it (addresses, certificates).\n\
             Try: cdg --network {} study result {study_id}\n\
             Stop it with Ctrl-C.",
            network_path.display(),
            network_path.display(),
        );
        use std::io::Write;
        let _ = std::io::stdout().flush();
        stop.await;
    }
    net.supervisor.stop_all(Duration::from_secs(10)).await;
    outcome?;
    step(start, "network stopped");
    Ok(())
}

/// Submits `study`, has the five directors approve it, runs it and prints its tables; returns
/// its id.
async fn submit_approve_run(
    net: &LocalNet,
    client: &mut CoordinatorClient,
    coordinator_url: &str,
    study: String,
    start: Instant,
) -> anyhow::Result<String> {
    let study_text = study.clone();
    let submitted = client.submit(study).await?;
    step(
        start,
        &format!(
            "study {} submitted (sha256 {})",
            submitted.study_id,
            cdg_shared::text::prefix(&submitted.digest, 16)
        ),
    );
    // Each director asked reads the study and signs its approval for their CDG (a director
    // whose CDG the study does not ask has nothing to approve).
    let study = cdg_shared::study::Study::from_toml(&study_text)?;
    if study.diffusion == cdg_shared::study::Diffusion::Externe {
        // Art. 4: no external study runs before the comité technique is informed; here the
        // five directors read it (a real network also mails them).
        net.read_as_directors(coordinator_url, &submitted.study_id, &Cdg::ALL)
            .await?;
        step(
            start,
            "external study: the five directors informed (Art. 4)",
        );
    }
    let asked = study.departements;
    net.approve(coordinator_url, &submitted.study_id, &asked)
        .await?;
    let codes: Vec<&str> = asked.iter().map(|c| c.code()).collect();
    step(
        start,
        &format!(
            "approved by the directors of {} (signed decisions)",
            codes.join(", ")
        ),
    );
    let result = client
        .watch_run(&submitted.study_id, |p| {
            // Each node's end, and anything that went wrong on the way.
            let done = p.step == "answered" && p.queries_done == p.queries_total;
            if done || matches!(p.step.as_str(), "retrying" | "failed") {
                println!("           {}", output::progress_line(p, false));
            }
        })
        .await?;
    step(start, "study run completed\n");
    print!("{}", output::render(&result)?);
    let study = cdg_shared::study::Study::from_toml(&study_text)?;
    let report = cdg_coordinator::report::write(&result, Some(&study), &net.work.join("rapports"))?;
    step(start, &format!("report written: {}", report.display()));
    Ok(submitted.study_id)
}
