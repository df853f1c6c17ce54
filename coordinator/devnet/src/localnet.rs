//! A network on one machine, for `cdg-dev demo` and `cdg-dev bench`: development certificates,
//! synthetic data loaded through the real import, nodes and coordinators as separate processes
//! on loopback, and studies submitted and approved by each director with a signed decision.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use cdg_certs_dev::{PkiLayout, Principal, Role, Validity};
use cdg_shared::cdg::Cdg;
use cdg_shared::signing::Decision;
use cdg_shared::tls::TlsFiles;
use futures::future::try_join_all;

use crate::supervisor::Supervisor;
use cdg_coordinator::client::{
    CoordinatorClient, KeyPair, Network, NetworkCoordinator, NetworkDirector, NetworkNode,
};

/// What synthetic data a node gets: years ("2020-2024"), size relative to its real
/// département, and seed.
#[derive(Debug, Clone)]
pub struct DataSpec {
    pub years: String,
    pub scale: f64,
    pub seed: u64,
}

/// A folder holding a local network's certificates, data, logs and configuration, and the
/// processes running from it.
pub struct LocalNet {
    pub work: PathBuf,
    pub pki: PkiLayout,
    pub node_bin: PathBuf,
    pub coordinator_bin: PathBuf,
    pub supervisor: Supervisor,
}

/// The `cdg-node` and `cdg-coordinator` binaries, expected next to the running `cdg`.
pub fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
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

/// Runs `program args` to completion and returns its standard output.
pub async fn run_step(program: &Path, args: &[String]) -> anyhow::Result<String> {
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

/// A node's configuration file; `policy_extra` lines go into its `[policy]` table and may
/// end with tables of their own (e.g. `[limits]`).
fn node_config(cdg: Cdg, name: &str, policy_extra: &str) -> String {
    let c = cdg.code();
    format!(
        "# Node of CDG {c} ({dep}), written by `cdg-dev demo` or `cdg-dev bench`.\n\
         cdg = \"{c}\"\n\
         listen = \"127.0.0.1:0\"\n\
         database = \"data/{name}.duckdb\"\n\n\
         [tls]\nca = \"certs/ca.pem\"\ncert = \"certs/node-{c}.pem\"\nkey = \"certs/node-{c}.key\"\n\n\
         [policy]\nmin_agents_per_cell = 11\nmin_employers_per_cell = 3\nmax_group_by = 4\n{policy_extra}\n\
         [policy.convention]\nstart = \"2023-01-01\"\nend = \"2026-12-31\"\n\
         avenants = [{{ end = \"2030-12-31\", reference = \"démonstration : prolongée pour les données de synthèse\" }}]\n\
         {federation}",
        dep = cdg.name(),
        federation = federation_section(&[cdg]),
    )
}

/// The `[federation]` table of a network that reaches beyond the five CDGs of the region (the
/// national benchmark): every département is a member. Empty for the region, the default.
fn federation_section(cdgs: &[Cdg]) -> String {
    if cdgs.iter().all(|c| c.in_region()) {
        return String::new();
    }
    let members: Vec<String> = Cdg::national().map(|c| format!("\"{c}\"")).collect();
    format!("\n[federation]\nmembers = [{}]\n", members.join(", "))
}

fn coordinator_config(name: &str, nodes: &[(Cdg, String)], settings: &str) -> String {
    let mut s = format!(
        "# Coordinator (CDG 59), written by `cdg-dev demo` or `cdg-dev bench`.\n\
         listen = \"127.0.0.1:0\"\n\
         state_dir = \"{name}\"\n\
         node_timeout_secs = 30\n{settings}\n\
         [tls]\nca = \"certs/ca.pem\"\ncert = \"certs/coordinator.pem\"\nkey = \"certs/coordinator.key\"\n",
    );
    for (cdg, addr) in nodes {
        s.push_str(&format!(
            "\n[[nodes]]\ncdg = \"{}\"\naddress = \"https://{addr}\"\n",
            cdg.code()
        ));
    }
    let cdgs: Vec<Cdg> = nodes.iter().map(|(cdg, _)| *cdg).collect();
    s.push_str(&federation_section(&cdgs));
    s
}

/// The client-side description of a network (`network.json`) whose certificates are those of
/// `pki`, its nodes at `nodes` (addresses without scheme).
pub fn network_of(pki: &PkiLayout, coordinator_url: &str, nodes: &[(Cdg, String)]) -> Network {
    Network {
        ca: pki.ca_cert(),
        ca_key: Some(pki.ca_key()),
        coordinator: NetworkCoordinator {
            address: coordinator_url.to_string(),
            cert: pki.coordinator_cert(),
            key: pki.coordinator_key(),
        },
        nodes: nodes
            .iter()
            .map(|(cdg, addr)| NetworkNode {
                cdg: *cdg,
                address: format!("https://{addr}"),
                cert: pki.node_cert(*cdg),
                key: pki.node_key(*cdg),
            })
            .collect(),
        directors: nodes
            .iter()
            .map(|&(cdg, _)| NetworkDirector {
                cdg,
                cert: pki.director_cert(cdg),
                key: pki.director_key(cdg),
            })
            .collect(),
        charge_de_mission: KeyPair {
            cert: pki.charge_de_mission_cert(),
            key: pki.charge_de_mission_key(),
        },
        referents: nodes
            .iter()
            .map(|&(cdg, _)| NetworkDirector {
                cdg,
                cert: pki.referent_cert(cdg),
                key: pki.referent_key(cdg),
            })
            .collect(),
    }
}

impl LocalNet {
    /// Creates the folder's layout and finds the binaries.
    pub fn prepare(workdir: &Path) -> anyhow::Result<LocalNet> {
        let node_bin = sibling_binary("cdg-node")?;
        let coordinator_bin = sibling_binary("cdg-coordinator")?;
        for sub in ["data", "logs", "run"] {
            std::fs::create_dir_all(workdir.join(sub))
                .with_context(|| format!("creating {}", workdir.join(sub).display()))?;
        }
        let work = std::fs::canonicalize(workdir)?;
        Ok(LocalNet {
            pki: PkiLayout::new(work.join("certs")),
            work,
            node_bin,
            coordinator_bin,
            supervisor: Supervisor::default(),
        })
    }

    /// Writes the development PKI unless one is there, and the node and director certificates
    /// of `extra` CDGs (outside the region) that are missing. Says what it did.
    pub fn ensure_pki(&self, extra: &[Cdg]) -> anyhow::Result<String> {
        let mut said = if self.pki.exists() {
            format!("certificates: reusing {}", self.pki.dir().display())
        } else {
            cdg_certs_dev::generate(self.pki.dir(), &cdg_certs_dev::Options::default())?;
            format!(
                "certificates: development PKI written to {}",
                self.pki.dir().display()
            )
        };
        let mut issued = 0;
        for &cdg in extra.iter().filter(|c| !c.in_region()) {
            for (role, cert, key) in [
                (Role::Node, self.pki.node_cert(cdg), self.pki.node_key(cdg)),
                (
                    Role::Director,
                    self.pki.director_cert(cdg),
                    self.pki.director_key(cdg),
                ),
            ] {
                if !cert.is_file() || !key.is_file() {
                    let validity = Validity::starting_an_hour_ago(365)?;
                    cdg_certs_dev::issue_leaf(
                        self.pki.dir(),
                        Principal::new(role, cdg),
                        &cert,
                        &key,
                        validity,
                    )?;
                    issued += 1;
                }
            }
        }
        if issued > 0 {
            said.push_str(&format!(
                "; {issued} certificates issued for CDGs outside the region"
            ));
        }
        Ok(said)
    }

    /// Writes the configuration of node `name` for `cdg`, generates its synthetic data and
    /// imports it afresh through `cdg-node import-dir`. Returns the rows imported.
    pub async fn load_node(
        &self,
        cdg: Cdg,
        name: &str,
        data: &DataSpec,
        policy_extra: &str,
    ) -> anyhow::Result<u64> {
        let config = self.write_node_config(cdg, name, policy_extra)?;
        // Each run loads its data afresh: a database left by an earlier run (perhaps by an
        // earlier version) is generated output, not data to keep.
        self.remove_database(name);
        let csv_dir = self.csv_dir(name);
        let args: Vec<String> = vec![
            "synth".into(),
            "--cdg".into(),
            cdg.code().into(),
            "--years".into(),
            data.years.clone(),
            "--scale".into(),
            data.scale.to_string(),
            "--seed".into(),
            data.seed.to_string(),
            "--out".into(),
            csv_dir.display().to_string(),
        ];
        run_step(&self.node_bin, &args).await?;
        self.import_dir(&config, &csv_dir).await
    }

    /// Writes node `name`'s configuration file and returns its path.
    pub fn write_node_config(
        &self,
        cdg: Cdg,
        name: &str,
        policy_extra: &str,
    ) -> anyhow::Result<PathBuf> {
        let config = self.work.join(format!("{name}.toml"));
        std::fs::write(&config, node_config(cdg, name, policy_extra))?;
        Ok(config)
    }

    /// Removes node `name`'s database, its write-ahead log and its ledger, if any.
    pub fn remove_database(&self, name: &str) {
        for suffix in ["duckdb", "duckdb.wal", "duckdb.ledger"] {
            let _ = std::fs::remove_file(self.work.join("data").join(format!("{name}.{suffix}")));
        }
    }

    /// Where node `name`'s synthetic files are written.
    pub fn csv_dir(&self, name: &str) -> PathBuf {
        self.work
            .join("data")
            .join(format!("csv-{}", name.trim_start_matches("node-")))
    }

    /// Imports every file of `dir` with the node configuration `config`; returns the rows read.
    pub async fn import_dir(&self, config: &Path, dir: &Path) -> anyhow::Result<u64> {
        let out = run_step(
            &self.node_bin,
            &[
                "import-dir".into(),
                "--config".into(),
                config.display().to_string(),
                dir.display().to_string(),
            ],
        )
        .await?;
        Ok(out
            .lines()
            .last()
            .and_then(|l| l.split(" files, ").nth(1))
            .and_then(|l| l.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0))
    }

    /// Starts the nodes `(cdg, name)` (configured by [`LocalNet::load_node`]) and returns their
    /// addresses once all listen.
    pub async fn start_nodes(
        &mut self,
        nodes: &[(Cdg, String)],
    ) -> anyhow::Result<Vec<(Cdg, String)>> {
        let mut ready_files = Vec::new();
        for (cdg, name) in nodes {
            let bin = self.node_bin.clone();
            let ready = self.serve(name, &bin)?;
            ready_files.push((*cdg, name, ready));
        }
        let mut addresses = Vec::new();
        for (cdg, name, ready) in ready_files {
            let addr = self
                .supervisor
                .wait_ready(name, &ready, Duration::from_secs(120))
                .await?;
            addresses.push((cdg, addr));
        }
        Ok(addresses)
    }

    /// Starts coordinator `name` (state in `WORK/name`) over `nodes`; returns its URL.
    pub async fn start_coordinator(
        &mut self,
        name: &str,
        nodes: &[(Cdg, String)],
    ) -> anyhow::Result<String> {
        self.start_coordinator_with(name, nodes, "").await
    }

    /// [`LocalNet::start_coordinator`] with more top-level `settings` (TOML lines).
    pub async fn start_coordinator_with(
        &mut self,
        name: &str,
        nodes: &[(Cdg, String)],
        settings: &str,
    ) -> anyhow::Result<String> {
        std::fs::write(
            self.work.join(format!("{name}.toml")),
            coordinator_config(name, nodes, settings),
        )?;
        let bin = self.coordinator_bin.clone();
        let ready = self.serve(name, &bin)?;
        let addr = self
            .supervisor
            .wait_ready(name, &ready, Duration::from_secs(30))
            .await?;
        Ok(format!("https://{addr}"))
    }

    /// Spawns `bin serve` with the configuration `WORK/name.toml`, its log in `WORK/logs`;
    /// returns the ready file it will write its address to.
    fn serve(&mut self, name: &str, bin: &Path) -> anyhow::Result<PathBuf> {
        let ready = self.work.join("run").join(format!("{name}.addr"));
        let _ = std::fs::remove_file(&ready);
        let config = self.work.join(format!("{name}.toml"));
        self.supervisor.spawn(
            name,
            bin,
            &[
                "serve",
                "--config",
                &config.display().to_string(),
                "--ready-file",
                &ready.display().to_string(),
            ],
            &self.work.join("logs").join(format!("{name}.log")),
        )?;
        Ok(ready)
    }

    /// The client-side description of a running network (`network.json`).
    pub fn network(&self, coordinator_url: &str, nodes: &[(Cdg, String)]) -> Network {
        network_of(&self.pki, coordinator_url, nodes)
    }

    /// The TLS files of the chargé.e de mission.
    pub fn charge_de_mission(&self) -> TlsFiles {
        TlsFiles {
            ca: self.pki.ca_cert(),
            cert: self.pki.charge_de_mission_cert(),
            key: self.pki.charge_de_mission_key(),
        }
    }

    /// The TLS files of the departmental référent of `cdg`.
    pub fn referent(&self, cdg: Cdg) -> TlsFiles {
        TlsFiles {
            ca: self.pki.ca_cert(),
            cert: self.pki.referent_cert(cdg),
            key: self.pki.referent_key(cdg),
        }
    }

    /// The TLS files of the director of `cdg`.
    pub fn director(&self, cdg: Cdg) -> TlsFiles {
        TlsFiles {
            ca: self.pki.ca_cert(),
            cert: self.pki.director_cert(cdg),
            key: self.pki.director_key(cdg),
        }
    }

    /// Has each director of `cdgs` sign an approval of `study_id` through the coordinator,
    /// a few at a time.
    pub async fn approve(&self, url: &str, study_id: &str, cdgs: &[Cdg]) -> anyhow::Result<()> {
        for chunk in cdgs.chunks(8) {
            try_join_all(chunk.iter().map(|&cdg| async move {
                let tls = self.director(cdg);
                CoordinatorClient::connect(url, &tls, Duration::from_secs(60))
                    .await?
                    .decide(&tls, study_id, Decision::Approve, "démonstration")
                    .await
                    .with_context(|| format!("approval by the director of CDG {cdg}"))?;
                anyhow::Ok(())
            }))
            .await?;
        }
        Ok(())
    }

    /// The directors of `cdgs` each read study `id` (as `cdg study show` does): for an
    /// external study, that is how the comité technique is informed when no mail is sent.
    pub async fn read_as_directors(
        &self,
        url: &str,
        study_id: &str,
        cdgs: &[Cdg],
    ) -> anyhow::Result<()> {
        try_join_all(cdgs.iter().map(|&cdg| async move {
            CoordinatorClient::connect(url, &self.director(cdg), Duration::from_secs(60))
                .await?
                .study(study_id)
                .await
                .with_context(|| format!("the director of CDG {cdg} reading {study_id}"))?;
            anyhow::Ok(())
        }))
        .await?;
        Ok(())
    }
}
