//! A server announces itself (its ready file) only once it has checked everything it needs: a
//! supervisor that reads the ready file may count on a server that is about to answer, and one
//! that cannot start says why and leaves no ready file behind.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cdg_node::config::NodeConfig;
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_tests::process::NodeProcess;
use cdg_tests::{binary, identity, pki, prepare_node};

/// Runs `cdg-node serve` on `config` with a ready file; returns its stderr once it has exited
/// (within 60 s), and whether the ready file was ever written.
fn serve_until_exit(dir: &Path, config: &NodeConfig) -> (String, bool) {
    let path = dir.join("refused.toml");
    std::fs::write(&path, toml::to_string(config).unwrap()).unwrap();
    let ready = dir.join("refused.ready");
    let mut child = Command::new(binary("cdg-node"))
        .args(["serve", "--config"])
        .arg(&path)
        .arg("--ready-file")
        .arg(&ready)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let mut announced = false;
    while child.try_wait().unwrap().is_none() {
        announced |= ready.exists();
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the node should have refused to start"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    announced |= ready.exists();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    (String::from_utf8_lossy(&out.stderr).into_owned(), announced)
}

#[test]
fn a_node_with_another_cdgs_certificate_refuses_to_start_without_announcing_itself() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("certs"));
    let (mut config, _) = prepare_node(dir.path(), &pki, Cdg::Aisne);
    config.tls = identity(&pki, Principal::new(Role::Node, Cdg::PasDeCalais));
    let (stderr, announced) = serve_until_exit(dir.path(), &config);
    assert!(
        !announced,
        "the ready file was written before the certificate was checked"
    );
    assert!(
        stderr.contains("configured as CDG 02") && stderr.contains("node of CDG 62"),
        "{stderr}"
    );
}

#[test]
fn a_second_node_on_the_same_database_refuses_to_start_without_announcing_itself() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("certs"));
    let (config, _) = prepare_node(dir.path(), &pki, Cdg::Aisne);
    let first = NodeProcess::start(dir.path(), config.clone());
    let mut second = config.clone();
    second.listen = "127.0.0.1:0".parse().unwrap();
    let (stderr, announced) = serve_until_exit(dir.path(), &second);
    assert!(
        !announced,
        "the ready file was written before the database was opened"
    );
    assert!(
        stderr.contains(&config.database.display().to_string()),
        "{stderr}"
    );
    drop(first);
}
