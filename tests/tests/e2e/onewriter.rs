//! One writer per state, with real processes: a second coordinator (or node) on the same files
//! is refused with the first one's pid; a chain that two writers broke stops the coordinator
//! until `cdg-coordinator audit repair` sets its broken tail aside.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cdg_shared::audit::AuditLog;
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::signing::Signer;
use cdg_tests::process::{
    NodeProcess, run_binary, start_coordinator_process, stop, write_coordinator_config,
};
use cdg_tests::{binary, coordinator_config, identity, pki, prepare_node};

/// Runs `program serve --config config` expecting it to refuse to start: its error output.
/// (A node writes its ready file before it opens its files; a coordinator does not.)
fn refused_to_serve(program: &str, config: &Path, ready: &Path) -> String {
    let mut child = Command::new(binary(program))
        .args([
            OsStr::new("serve"),
            OsStr::new("--config"),
            config.as_os_str(),
        ])
        .arg("--ready-file")
        .arg(ready)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{program} started on files another process holds"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `program audit repair --config config` and `extra` arguments.
fn repair(program: &str, config: &Path, extra: &[&str]) -> (bool, String) {
    let mut args: Vec<OsString> = vec!["audit".into(), "repair".into(), "--config".into()];
    args.push(config.into());
    args.extend(extra.iter().map(OsString::from));
    run_binary(program, args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_coordinator_on_the_same_state_dir_is_refused_with_the_first_ones_pid() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("certs"));
    let nodes = [(Cdg::Aisne, "https://127.0.0.1:9".to_string())];
    let config = write_coordinator_config(
        dir.path(),
        &coordinator_config(dir.path(), &pki, &nodes, 10),
    );
    let (first, _) = start_coordinator_process(&config, &dir.path().join("ready-1"));
    let held_by = format!("pid {}", first.id());

    // Started by mistake on the same folder, on another port.
    let ready = dir.path().join("ready-2");
    let err = refused_to_serve("cdg-coordinator", &config, &ready);
    assert!(
        err.contains("coordinator.lock") && err.contains(&held_by) && err.contains("Stop"),
        "{err}"
    );
    assert!(!ready.exists(), "never announced");
    let (ok, text) = repair("cdg-coordinator", &config, &["--yes"]);
    assert!(!ok && text.contains(&held_by), "a repair waits too: {text}");

    // Once the first has stopped, the folder is free.
    stop(first);
    let (second, _) = start_coordinator_process(&config, &dir.path().join("ready-2"));
    stop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_two_writers_broke_stops_the_coordinator_until_audit_repair_sets_its_tail_aside() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("certs"));
    let nodes = [(Cdg::Aisne, "https://127.0.0.1:9".to_string())];
    let coordinator = coordinator_config(dir.path(), &pki, &nodes, 10);
    let config = write_coordinator_config(dir.path(), &coordinator);
    let ready = dir.path().join("ready");
    let (running, url) = start_coordinator_process(&config, &ready);
    let me = identity(&pki, Principal::new(Role::ChargeDeMission, Cdg::Nord));
    let mut client = cdg_tests::coordinator_client(&url, &me).await;
    client
        .submit(cdg_coordinator::study::DEMO_STUDY.to_string())
        .await
        .unwrap();
    stop(running);

    // Two writers that both believe they append entry 2 (what two coordinators did before
    // the lock): the library's appender, twice, on the coordinator's log.
    let log = coordinator.state_dir.join("audit.log");
    let signer = || Signer::from_files(&coordinator.tls).unwrap();
    let mut one = AuditLog::open_signed(&log, signer(), |_| {}).unwrap();
    let mut two = AuditLog::open_signed(&log, signer(), |_| {}).unwrap();
    for i in 0..2 {
        one.append(
            "study.result.read",
            "system",
            "",
            serde_json::json!({ "i": i }),
        )
        .unwrap();
        two.append(
            "study.result.read",
            "system",
            "",
            serde_json::json!({ "i": i }),
        )
        .unwrap();
    }
    drop((one, two));

    let err = refused_to_serve("cdg-coordinator", &config, &ready);
    assert!(
        err.contains("line 3") && err.contains("cdg-coordinator audit repair"),
        "{err}"
    );
    // Not on a terminal, a repair needs --yes; nothing changes without it.
    let before = std::fs::read(&log).unwrap();
    let (ok, text) = repair("cdg-coordinator", &config, &[]);
    assert!(!ok && text.contains("--yes"), "{text}");
    assert_eq!(std::fs::read(&log).unwrap(), before);
    let (ok, text) = repair("cdg-coordinator", &config, &["--yes"]);
    assert!(
        ok && text.contains("3 lines") && text.contains("Set aside"),
        "{text}"
    );

    let (running, url) = start_coordinator_process(&config, &ready);
    let director = identity(&pki, Principal::new(Role::Director, Cdg::Aisne));
    let cdg = |args: &[&str]| {
        let mut all: Vec<OsString> = vec!["--coordinator".into(), url.clone().into()];
        for (flag, file) in [
            ("--ca", &director.ca),
            ("--cert", &director.cert),
            ("--key", &director.key),
        ] {
            all.push(flag.into());
            all.push(file.into());
        }
        all.push("audit".into());
        all.extend(args.iter().map(OsString::from));
        run_binary("cdg", all)
    };
    let (ok, text) = cdg(&["verify"]);
    assert!(ok && text.contains("3 entries verify"), "{text}");
    let (ok, text) = cdg(&["list", "--kind", "audit.repaired"]);
    assert!(ok && text.lines().count() == 1, "{text}");
    stop(running);
}

#[test]
fn a_second_node_on_the_same_files_is_refused_with_the_first_ones_pid() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("certs"));
    let (config, _) = prepare_node(dir.path(), &pki, Cdg::Aisne);
    let first = NodeProcess::start(dir.path(), config);
    let held_by = format!("pid {}", first.pid());
    let toml = dir.path().join("node-02.toml");
    let err = refused_to_serve("cdg-node", &toml, &dir.path().join("node-02.second"));
    assert!(
        err.contains("ledger.lock") && err.contains(&held_by),
        "{err}"
    );
    let (ok, text) = repair("cdg-node", &toml, &["--yes"]);
    assert!(!ok && text.contains(&held_by), "a repair waits too: {text}");
}
