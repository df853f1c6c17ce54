//! Audit logs that outgrow a message: read in pages, verified and reconciled by `cdg audit`
//! as a director runs it, with bounded entries; a client from before pages told to upgrade.

use std::ffi::OsString;

use cdg_devnet::bench::auditlog::write_logs;
use cdg_devnet::localnet::network_of;
use cdg_shared::audit::{MAX_TEXT, checkpoints_path};
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::proto::PROTOCOL_VERSION;
use cdg_shared::proto::v1::AuditLogRequest;
use cdg_shared::signing::Signer;
use cdg_tests::process::run_binary;
use cdg_tests::{
    as_role, coordinator_config, execute, identity, one_node, pki, prepare_node, query,
    start_coordinator_with, start_node,
};
use tonic::Code;

/// The coordinator's message limit in the harness (and by default).
const MESSAGE_LIMIT: u64 = 16 * 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_larger_than_a_message_is_verified_in_pages_and_crosschecked() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("certs"));
    let (node_config, _) = prepare_node(dir.path(), &pki, Cdg::Aisne);
    let config = coordinator_config(dir.path(), &pki, &[(Cdg::Aisne, String::new())], 10);
    // 2,600 study runs: about 36,000 entries, more than one message can hold.
    let log = config.state_dir.join("audit.log");
    let keys = |p: Principal| Signer::from_files(&identity(&pki, p)).unwrap();
    let (entries, node_entries) = write_logs(
        (&log, keys(Principal::new(Role::Coordinator, Cdg::Nord))),
        (
            &node_config.audit_log_path(),
            keys(Principal::new(Role::Node, Cdg::Aisne)),
        ),
        2600,
    )
    .unwrap();
    assert!(std::fs::metadata(&log).unwrap().len() > MESSAGE_LIMIT);
    assert!(std::fs::metadata(checkpoints_path(&log)).unwrap().len() > MESSAGE_LIMIT);

    let node = start_node(node_config).await;
    let mut config = config;
    config.nodes[0].address = node.url();
    let coordinator = start_coordinator_with(config).await;
    let network = dir.path().join("network.json");
    let addr = node.addr.to_string();
    let description = network_of(&pki, &coordinator.url(), &[(Cdg::Aisne, addr)]);
    std::fs::write(&network, serde_json::to_string(&description).unwrap()).unwrap();
    let cdg = |args: &[&str]| {
        let mut all: Vec<OsString> = vec!["--network".into(), network.clone().into()];
        all.extend(["--as", "director-02", "audit"].map(OsString::from));
        all.extend(args.iter().map(OsString::from));
        run_binary("cdg", all)
    };

    let (ok, text) = cdg(&["verify"]);
    let expected = format!("coordinator: {entries} entries verify, {entries} signed checkpoints");
    assert!(ok && text.contains(&expected), "{text}");
    let (ok, text) = cdg(&["verify", "--node", "02"]);
    let expected = format!("{node_entries} entries verify");
    assert!(ok && text.contains(&expected), "{text}");
    let (ok, text) = cdg(&["crosscheck"]);
    assert!(ok && text.contains("agree"), "{text}");
    let (ok, text) = cdg(&["show", &entries.to_string()]);
    assert!(ok && text.contains("study.result.read"), "{text}");
    coordinator.stop().await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_requests_with_a_ten_megabyte_query_name_leave_a_small_log_that_verifies() {
    let n = one_node().await;
    let mut c = as_role(&n, Principal::new(Role::Coordinator, Cdg::Nord)).await;
    for _ in 0..2 {
        let mut req = execute(query("agents", &["sexe"]));
        req.query_name = "q".repeat(10 * 1024 * 1024);
        // Refused (no approval), but logged.
        assert!(c.execute(req).await.is_err());
    }
    // Each text of an entry is cut (at MAX_TEXT by the log, shorter where the node bounds the
    // field itself): two entries of a few of them, not 20 MB.
    let log = n.config.audit_log_path();
    assert!(std::fs::metadata(&log).unwrap().len() < 16 * MAX_TEXT as u64);
    let director = identity(&n.pki, Principal::new(Role::Director, Cdg::Aisne));
    let trusted = cdg_shared::signing::TrustedSigners::from_ca_file(&n.pki.ca_cert()).unwrap();
    let mut names = Vec::new();
    let summary =
        cdg_coordinator::audit_tools::FetchedLog::from_node(&n.node.url(), Cdg::Aisne, &director)
            .await
            .unwrap()
            .verify(&trusted, |e| {
                names.push(e.details["query_name"].as_str().unwrap_or("").to_string());
                Ok(())
            })
            .await
            .unwrap();
    assert_eq!(summary.checkpoints, summary.entries);
    for name in names {
        assert!(
            name.len() <= MAX_TEXT + 200 && name.contains("10485760 bytes"),
            "{name:.80}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_from_before_pages_is_told_to_upgrade() {
    let n = one_node().await;
    let dir = tempfile::tempdir().unwrap();
    let config = coordinator_config(dir.path(), &n.pki, &[(Cdg::Aisne, n.node.url())], 10);
    let coordinator = start_coordinator_with(config).await;
    // What a client from before sends: no first entry.
    let old = AuditLogRequest {
        protocol_version: PROTOCOL_VERSION,
        ..Default::default()
    };
    let director = identity(&n.pki, Principal::new(Role::Director, Cdg::Aisne));
    let mut node = as_role(&n, Principal::new(Role::Director, Cdg::Aisne)).await;
    let status = node.get_audit_log(old).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains("Upgrade cdg"),
        "{}",
        status.message()
    );
    let channel = director
        .client_endpoint(
            &coordinator.url(),
            Principal::new(Role::Coordinator, Cdg::Nord),
        )
        .unwrap()
        .connect()
        .await
        .unwrap();
    let status =
        cdg_shared::proto::v1::coordinator_service_client::CoordinatorServiceClient::new(channel)
            .get_audit_log(old)
            .await
            .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains("older than paged audit logs"),
        "{}",
        status.message()
    );
}
