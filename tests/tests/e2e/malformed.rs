//! Malformed and oversized requests at a running node's and coordinator's front doors: an
//! approval signed over a digest that is not hex (it once panicked the node), and megabyte ids,
//! names and notes (their errors once echoed them whole, which clients report as
//! RESOURCE_EXHAUSTED instead of the real error).

use cdg_shared::audit::AuditEntry;
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::signing::{Decision, Signer};
use cdg_tests::{
    OneNode, as_role, execute, identity, one_node, query, start_coordinator, study_of,
    with_filters, year_filter,
};
use tonic::Code;

/// The node's audit entries, oldest first.
fn node_audit(n: &OneNode) -> Vec<AuditEntry> {
    cdg_shared::audit::verify(&n.config.audit_log_path()).expect("a valid audit log")
}

fn reason(e: &AuditEntry) -> &str {
    e.details["reason"].as_str().unwrap_or_default()
}

/// An error a person can read: the real code, and a message far below what clients refuse.
fn assert_short(status: &tonic::Status, code: Code, expected: &[&str]) {
    assert_eq!(status.code(), code, "{}", status.message());
    assert!(
        status.message().len() < 1024,
        "a {} byte message",
        status.message().len()
    );
    for part in expected {
        assert!(status.message().contains(part), "{}", status.message());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_signed_over_a_digest_that_is_not_hex_is_refused_and_logged() {
    let n = one_node().await;
    let q = with_filters(query("agents", &["sexe"]), year_filter());
    let study = study_of(Cdg::Aisne, &q).unwrap();
    let director = identity(&n.pki, Principal::new(Role::Director, Cdg::Aisne));
    let own = Signer::from_files(&director).unwrap();
    let mut c = as_role(&n, Principal::new(Role::Coordinator, Cdg::Nord)).await;
    // Byte 12 falls inside a character of each: the node cut digests there to show them.
    let digests = [
        format!("a{}", "é".repeat(20)),
        "😀".repeat(16),
        format!("{}\n{}", "0".repeat(11), "€".repeat(30)),
    ];
    for digest in &digests {
        let mut request = execute(q.clone());
        request.study = study.canonical();
        request.approvals = vec![own.decide(digest, Decision::Approve, "").unwrap()];
        let status = c.execute(request).await.unwrap_err();
        assert_short(
            &status,
            Code::PermissionDenied,
            &["not approved", "signed for another study"],
        );
    }
    // The node keeps serving.
    let answered = c.execute(cdg_tests::approved(&n.pki, Cdg::Aisne, q)).await;
    assert!(answered.is_ok(), "{answered:?}");
    // Each refusal is in the node's log as what it was, not as a caller gone away.
    let entries = node_audit(&n);
    let refused: Vec<&AuditEntry> = entries
        .iter()
        .filter(|e| e.kind == "execute.refused" && reason(e).contains("another study"))
        .collect();
    assert_eq!(refused.len(), digests.len(), "{entries:#?}");
    assert!(!entries.iter().any(|e| e.kind == "execute.cancelled"));
    assert_eq!(entries.last().unwrap().kind, "execute.answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn megabyte_fields_sent_to_a_node_get_a_short_invalid_argument_and_a_bounded_log() {
    let n = one_node().await;
    let q = with_filters(query("agents", &["sexe"]), year_filter());
    let mut c = as_role(&n, Principal::new(Role::Coordinator, Cdg::Nord)).await;
    let megabyte = "é".repeat(512 * 1024);
    let mut long_name = cdg_tests::approved(&n.pki, Cdg::Aisne, q.clone());
    long_name.query_name = megabyte.clone();
    let status = c.execute(long_name).await.unwrap_err();
    assert_short(
        &status,
        Code::InvalidArgument,
        &["`query_name`", "1048576 bytes", "at most 64"],
    );
    let mut long_id = cdg_tests::approved(&n.pki, Cdg::Aisne, q.clone());
    long_id.study_id = format!("S-{megabyte}");
    let status = c.execute(long_id).await.unwrap_err();
    assert_short(
        &status,
        Code::InvalidArgument,
        &["`study_id`", "1048578 bytes"],
    );
    let mut long_value = cdg_tests::approved(&n.pki, Cdg::Aisne, q.clone());
    if let Some(query) = long_value.query.as_mut() {
        query.filters[0].values = vec![megabyte.clone()];
    }
    let status = c.execute(long_value).await.unwrap_err();
    assert_short(&status, Code::InvalidArgument, &["`Filter.values`"]);
    // The refusals are logged, their fields cut to a readable prefix.
    let entries = node_audit(&n);
    let refused: Vec<&AuditEntry> = entries
        .iter()
        .filter(|e| e.kind == "execute.refused")
        .collect();
    assert_eq!(refused.len(), 3, "{entries:#?}");
    let line = serde_json::to_string(&refused).unwrap();
    assert!(line.len() < 8 * 1024, "{} bytes logged", line.len());
    assert!(
        refused[0].details["query_name"]
            .as_str()
            .unwrap()
            .ends_with("… (1048576 bytes)")
    );
    assert!(
        c.execute(cdg_tests::approved(&n.pki, Cdg::Aisne, q))
            .await
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn megabyte_fields_sent_to_the_coordinator_get_their_real_status_and_a_short_message() {
    let n = one_node().await;
    let dir = tempfile::tempdir().unwrap();
    let coordinator =
        start_coordinator(dir.path(), &n.pki, &[(Cdg::Aisne, n.node.url())], 10).await;
    let me = identity(&n.pki, Principal::new(Role::ChargeDeMission, Cdg::Nord));
    let mut client = cdg_tests::coordinator_client(&coordinator.url(), &me).await;
    let megabyte = "x".repeat(1 << 20);
    let long_id = format!("S-{megabyte}");
    let expected = ["`study_id`", "1048578 bytes", "at most 64"];
    assert_short(
        &client.study(&long_id).await.unwrap_err(),
        Code::InvalidArgument,
        &expected,
    );
    assert_short(
        &client.run(&long_id).await.unwrap_err(),
        Code::InvalidArgument,
        &expected,
    );
    assert_short(
        &client.result(&long_id).await.unwrap_err(),
        Code::InvalidArgument,
        &expected,
    );
    // An id of a plausible size that names no study is still NOT_FOUND.
    assert_short(
        &client.study("S-0123456789ab").await.unwrap_err(),
        Code::NotFound,
        &["no study S-0123456789ab"],
    );
    let id = client
        .submit(cdg_coordinator::study::DEMO_STUDY.to_string())
        .await
        .unwrap()
        .study_id;
    assert_short(
        &client.diffuse(&id, &megabyte).await.unwrap_err(),
        Code::InvalidArgument,
        &["`note`", "1048576 bytes"],
    );
    // A study file just under the accepted size, with an enormous title that is not TOML.
    let toml = format!("title = {}\n", "é".repeat(100 * 1024));
    assert_short(
        &client.submit(toml).await.unwrap_err(),
        Code::InvalidArgument,
        &["line 1"],
    );
    // Nothing was logged at those sizes.
    let log = std::fs::read(dir.path().join("coordinator/audit.log")).unwrap();
    assert!(log.len() < 16 * 1024, "{} bytes of audit log", log.len());
}
