//! `cdg demo`: a complete local network on one machine. Development certificates, synthetic data
//! for the five CDGs loaded through the real import, five nodes and the coordinator as separate
//! processes on loopback, and the demonstration study run end to end.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use cdg_certs_dev::PkiLayout;
use cdg_shared::cdg::Cdg;
use cdg_shared::signing::Decision;
use cdg_shared::tls::TlsFiles;
use futures::future::try_join_all;

use crate::client::{
    CoordinatorClient, KeyPair, Network, NetworkCoordinator, NetworkDirector, NetworkNode,
};
use crate::output;
use crate::supervisor::Supervisor;

/// The demonstration study pack.
pub const DEMO_STUDY: &str = include_str!("../studies/chiffres-cles.toml");

pub struct DemoOptions {
    pub workdir: PathBuf,
    pub serve: bool,
    pub years: String,
    pub scale: f64,
    pub seed: u64,
}

/// The `cdg-node` and `cdg-coordinator` binaries, expected next to the running `cdg`.
fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe.with_file_name(name);
    anyhow::ensure!(
        path.is_file(),
        "{} not found next to {}: build every binary first with `cargo build --release`",
        path.display(),
        exe.display()
    );
    Ok(path)
}

async fn run_step(program: &Path, args: &[String]) -> anyhow::Result<String> {
    let out = tokio::process::Command::new(program)
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .with_context(|| format!("starting {}", program.display()))?;
    anyhow::ensure!(
        out.status.success(),
        "{} {} failed ({}):\n{}",
        program.display(),
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn node_config(cdg: Cdg) -> String {
    let c = cdg.code();
    format!(
        "# Node of CDG {c} ({name}), written by `cdg demo`.\n\
         cdg = \"{c}\"\n\
         listen = \"127.0.0.1:0\"\n\
         database = \"data/node-{c}.duckdb\"\n\n\
         [tls]\nca = \"certs/ca.pem\"\ncert = \"certs/node-{c}.pem\"\nkey = \"certs/node-{c}.key\"\n\n\
         [policy]\nmin_agents_per_cell = 11\nmin_employers_per_cell = 3\nmax_group_by = 4\n\n\
         [policy.convention]\nstart = \"2023-01-01\"\nend = \"2026-12-31\"\n\
         avenants = [{{ end = \"2030-12-31\", reference = \"démonstration : prolongée pour les données de synthèse\" }}]\n",
        name = cdg.name()
    )
}

fn coordinator_config(nodes: &[(Cdg, String)]) -> String {
    let mut s = String::from(
        "# Coordinator (CDG 59), written by `cdg demo`.\n\
         listen = \"127.0.0.1:0\"\n\
         state_dir = \"coordinator\"\n\
         node_timeout_secs = 30\n\n\
         [tls]\nca = \"certs/ca.pem\"\ncert = \"certs/coordinator.pem\"\nkey = \"certs/coordinator.key\"\n",
    );
    for (cdg, addr) in nodes {
        s.push_str(&format!(
            "\n[[nodes]]\ncdg = \"{}\"\naddress = \"https://{addr}\"\n",
            cdg.code()
        ));
    }
    s
}

fn step(start: Instant, what: &str) {
    println!("[{:>6.1} s] {what}", start.elapsed().as_secs_f64());
}

/// Runs the demo; with `serve`, keeps the network up until SIGINT or SIGTERM.
pub async fn run(opts: DemoOptions) -> anyhow::Result<()> {
    let start = Instant::now();
    // Installed before any child process starts, so that a signal at any moment stops them all.
    let mut stop = Box::pin(cdg_shared::serving::signal());
    let node_bin = sibling_binary("cdg-node")?;
    let coordinator_bin = sibling_binary("cdg-coordinator")?;
    let work = &opts.workdir;
    for sub in ["data", "logs", "run"] {
        std::fs::create_dir_all(work.join(sub))
            .with_context(|| format!("creating {}", work.join(sub).display()))?;
    }
    let work = std::fs::canonicalize(work)?;

    let pki = PkiLayout::new(work.join("certs"));
    if pki.exists() {
        step(
            start,
            &format!("certificates: reusing {}", pki.dir().display()),
        );
    } else {
        cdg_certs_dev::generate(pki.dir(), &cdg_certs_dev::Options::default())?;
        step(
            start,
            &format!(
                "certificates: development PKI written to {}",
                pki.dir().display()
            ),
        );
    }

    // Synthetic data, then the real import path, one CDG per task.
    let loads = Cdg::ALL.iter().map(|&cdg| {
        let (work, node_bin, years) = (work.clone(), node_bin.clone(), opts.years.clone());
        let (scale, seed) = (opts.scale, opts.seed);
        async move {
            let c = cdg.code();
            let config = work.join(format!("node-{c}.toml"));
            std::fs::write(&config, node_config(cdg))?;
            // Each run loads its data afresh: a database left by an earlier run (perhaps by
            // an earlier version) is demo output, not data to keep.
            for suffix in ["duckdb", "duckdb.wal"] {
                let _ = std::fs::remove_file(work.join("data").join(format!("node-{c}.{suffix}")));
            }
            let csv_dir = work.join("data").join(format!("csv-{c}"));
            let args: Vec<String> = vec![
                "synth".into(),
                "--cdg".into(),
                c.into(),
                "--years".into(),
                years,
                "--scale".into(),
                scale.to_string(),
                "--seed".into(),
                seed.to_string(),
                "--out".into(),
                csv_dir.display().to_string(),
            ];
            run_step(&node_bin, &args).await?;
            // The real import path, one process per CDG for the whole folder.
            let out = run_step(
                &node_bin,
                &[
                    "import-dir".into(),
                    "--config".into(),
                    config.display().to_string(),
                    csv_dir.display().to_string(),
                ],
            )
            .await?;
            let rows: u64 = out
                .lines()
                .last()
                .and_then(|l| l.split(" files, ").nth(1))
                .and_then(|l| l.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
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

    let mut supervisor = Supervisor::default();
    let body = async {
        let mut nodes = Vec::new();
        for cdg in Cdg::ALL {
            let c = cdg.code();
            let ready = work.join("run").join(format!("node-{c}.addr"));
            let _ = std::fs::remove_file(&ready);
            let config = work.join(format!("node-{c}.toml"));
            supervisor.spawn(
                &format!("node-{c}"),
                &node_bin,
                &[
                    "serve",
                    "--config",
                    &config.display().to_string(),
                    "--ready-file",
                    &ready.display().to_string(),
                ],
                &work.join("logs").join(format!("node-{c}.log")),
            )?;
            nodes.push((cdg, ready));
        }
        let mut addresses = Vec::new();
        for (cdg, ready) in nodes {
            let addr = supervisor
                .wait_ready(
                    &format!("node-{}", cdg.code()),
                    &ready,
                    Duration::from_secs(60),
                )
                .await?;
            addresses.push((cdg, addr));
        }
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

        let config = work.join("coordinator.toml");
        std::fs::write(&config, coordinator_config(&addresses))?;
        let ready = work.join("run").join("coordinator.addr");
        let _ = std::fs::remove_file(&ready);
        supervisor.spawn(
            "coordinator",
            &coordinator_bin,
            &[
                "serve",
                "--config",
                &config.display().to_string(),
                "--ready-file",
                &ready.display().to_string(),
            ],
            &work.join("logs").join("coordinator.log"),
        )?;
        let coordinator_addr = supervisor
            .wait_ready("coordinator", &ready, Duration::from_secs(30))
            .await?;
        let coordinator_url = format!("https://{coordinator_addr}");
        step(start, &format!("coordinator listening: {coordinator_url}"));

        let network = Network {
            ca: pki.ca_cert(),
            ca_key: Some(pki.ca_key()),
            coordinator: NetworkCoordinator {
                address: coordinator_url.clone(),
                cert: pki.coordinator_cert(),
                key: pki.coordinator_key(),
            },
            nodes: addresses
                .iter()
                .map(|(cdg, addr)| NetworkNode {
                    cdg: *cdg,
                    address: format!("https://{addr}"),
                    cert: pki.node_cert(*cdg),
                    key: pki.node_key(*cdg),
                })
                .collect(),
            directors: Cdg::ALL
                .iter()
                .map(|&cdg| NetworkDirector {
                    cdg,
                    cert: pki.director_cert(cdg),
                    key: pki.director_key(cdg),
                })
                .collect(),
            charge_de_mission: KeyPair {
                cert: pki.charge_de_mission_cert(),
                key: pki.charge_de_mission_key(),
            },
        };
        let network_path = work.join("network.json");
        std::fs::write(&network_path, serde_json::to_vec_pretty(&network)?)?;

        let tls = TlsFiles {
            ca: pki.ca_cert(),
            cert: pki.charge_de_mission_cert(),
            key: pki.charge_de_mission_key(),
        };
        let mut client =
            CoordinatorClient::connect(&coordinator_url, &tls, Duration::from_secs(300)).await?;
        let submitted = client.submit(DEMO_STUDY.to_string()).await?;
        step(
            start,
            &format!(
                "study {} submitted (sha256 {})",
                submitted.study_id,
                &submitted.digest[..16]
            ),
        );
        // Each director reads the study and signs its approval for their CDG.
        for cdg in Cdg::ALL {
            let tls = TlsFiles {
                ca: pki.ca_cert(),
                cert: pki.director_cert(cdg),
                key: pki.director_key(cdg),
            };
            CoordinatorClient::connect(&coordinator_url, &tls, Duration::from_secs(60))
                .await?
                .decide(
                    &tls,
                    &submitted.study_id,
                    Decision::Approve,
                    "démonstration",
                )
                .await?;
        }
        step(start, "approved by the five directors (signed decisions)");
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
        anyhow::Ok((network_path, submitted.study_id))
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
    supervisor.stop_all(Duration::from_secs(10)).await;
    outcome?;
    step(start, "network stopped");
    Ok(())
}
