//! Crash safety: the coordinator killed with SIGKILL in the middle of a run.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_tests::process::{start_coordinator_process as start, stop};
use cdg_tests::{binary, identity, pki};

fn kinds(log: &std::path::Path) -> Vec<String> {
    cdg_shared::audit::verify(log)
        .expect("the log verifies")
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

/// A coordinator process whose one node (CDG 02) accepts connections and never answers, with
/// a study approved for it: a run of it waits until the coordinator is killed.
struct Waiting {
    dir: tempfile::TempDir,
    pki: cdg_certs_dev::PkiLayout,
    config: std::path::PathBuf,
    ready: std::path::PathBuf,
    coordinator: Child,
    url: String,
    analyst: cdg_shared::tls::TlsFiles,
    study: String,
    _silent: std::net::TcpListener,
}

impl Waiting {
    async fn start() -> Waiting {
        let dir = tempfile::tempdir().unwrap();
        let pki = pki(&dir.path().join("certs"));
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let tls = identity(&pki, Principal::new(Role::Coordinator, Cdg::Nord));
        let config = dir.path().join("coordinator.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:0\"\nstate_dir = \"state\"\nnode_timeout_secs = 120\n\n\
                 [tls]\nca = {:?}\ncert = {:?}\nkey = {:?}\n\n\
                 [[nodes]]\ncdg = \"02\"\naddress = \"https://{}\"\n",
                tls.ca,
                tls.cert,
                tls.key,
                silent.local_addr().unwrap()
            ),
        )
        .unwrap();
        let ready = dir.path().join("ready");
        let (coordinator, url) = start(&config, &ready);
        let analyst = identity(&pki, Principal::new(Role::ChargeDeMission, Cdg::Nord));
        let mut client = cdg_tests::coordinator_client(&url, &analyst).await;
        let study = cdg_coordinator::study::DEMO_STUDY.replace(
            "departements = [\"02\", \"59\", \"60\", \"62\", \"80\"]",
            "departements = [\"02\"]",
        );
        let study = client.submit(study).await.unwrap().study_id;
        cdg_tests::approve_as_directors(&url, &pki, &study, &[Cdg::Aisne]).await;
        Waiting {
            dir,
            pki,
            config,
            ready,
            coordinator,
            url,
            analyst,
            study,
            _silent: silent,
        }
    }
}

/// Waits until the coordinator's log says a run started.
async fn wait_for_the_run(log: &std::path::Path) {
    let start_wait = Instant::now();
    // (Read as text: the coordinator may be writing an entry at that moment.)
    while !std::fs::read_to_string(log)
        .unwrap_or_default()
        .contains("\"study.run.started\"")
    {
        assert!(
            start_wait.elapsed() < Duration::from_secs(30),
            "the run did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_cut_off_by_a_coordinator_restart_is_told_so_in_plain_words() {
    let mut net = Waiting::start().await;
    let run = Command::new(binary("cdg"))
        .args(["--coordinator", &net.url, "--ca"])
        .arg(&net.analyst.ca)
        .arg("--cert")
        .arg(&net.analyst.cert)
        .arg("--key")
        .arg(&net.analyst.key)
        .args(["study", "run", &net.study, "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_the_run(&net.dir.path().join("state/audit.log")).await;
    net.coordinator.kill().unwrap(); // SIGKILL, as a crash or a hard restart
    net.coordinator.wait().unwrap();
    let out = run.wait_with_output().unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.starts_with("error: the connection to the coordinator was cut before its answer came")
            && said.contains("Run the same command again"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_killed_during_a_run_loses_no_entry_and_marks_the_run_interrupted() {
    let net = Waiting::start().await;
    let (dir, pki, config, ready) = (&net.dir, &net.pki, &net.config, &net.ready);
    let (mut coordinator, id) = (net.coordinator, net.study.clone());
    let mut client = cdg_tests::coordinator_client(&net.url, &net.analyst).await;
    let run = tokio::spawn(async move { client.run(&id).await });

    let log = dir.path().join("state/audit.log");
    wait_for_the_run(&log).await;
    coordinator.kill().unwrap(); // SIGKILL
    coordinator.wait().unwrap();
    assert!(
        run.await.unwrap().is_err(),
        "the run died with the coordinator"
    );

    // Every acknowledged entry is there and the chain holds.
    assert_eq!(
        kinds(&log),
        ["study.submitted", "study.approve", "study.run.started"]
    );
    // Restarted, the coordinator marks the run interrupted; the checkpoints still agree.
    let (coordinator, _) = start(config, ready);
    assert_eq!(kinds(&log).last().unwrap(), "study.run.interrupted");
    let entries = cdg_shared::audit::verify(&log).unwrap();
    let trusted = cdg_shared::signing::TrustedSigners::from_ca_file(&pki.ca_cert()).unwrap();
    let summary = cdg_shared::audit::verify_log_file(&log, &trusted, |_| {
        Ok::<_, cdg_shared::audit::AuditError>(())
    })
    .unwrap();
    // A kill between an entry's fsync and its checkpoint's leaves that entry without one; the
    // checkpoint of the next entry covers it through the chain.
    assert!(
        summary.checkpoints + 1 >= summary.entries,
        "{} of {}",
        summary.checkpoints,
        summary.entries
    );
    let checkpoints = std::fs::read_to_string(cdg_shared::audit::checkpoints_path(&log)).unwrap();
    let last: cdg_shared::audit::Checkpoint =
        serde_json::from_str(checkpoints.lines().last().unwrap()).unwrap();
    assert_eq!(
        last.seq,
        entries.len() as u64,
        "the interruption is checkpointed"
    );
    stop(coordinator);
}
