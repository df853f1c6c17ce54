//! Attacks on a running node's and coordinator's front door: no certificate, a foreign CA, the
//! wrong role, malformed queries, an old protocol version, a node impersonating another.

use std::time::Duration;

use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::proto::PROTOCOL_VERSION;
use cdg_shared::proto::v1::DescribeRequest;
use cdg_shared::proto::v1::node_outcome::Status as OutcomeStatus;
use cdg_shared::proto::v1::node_service_client::NodeServiceClient;
use cdg_shared::tls::TlsFiles;
use cdg_tests::{
    as_role, describe, identity, node_client, one_node, pki, query, start_coordinator,
};
use tonic::Code;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_certificate_is_turned_away() {
    let n = one_node().await;
    let ca = std::fs::read(n.pki.ca_cert()).unwrap();
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca))
        .domain_name("localhost");
    let endpoint = Endpoint::from_shared(n.node.url())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .timeout(Duration::from_secs(5));
    let outcome = match endpoint.connect().await {
        Err(e) => Err(e.to_string()),
        Ok(channel) => NodeServiceClient::new(channel)
            .describe(DescribeRequest {
                protocol_version: PROTOCOL_VERSION,
            })
            .await
            .map(|_| ())
            .map_err(|s| format!("{:?}: {}", s.code(), s.message())),
    };
    let err = outcome.expect_err("a client without certificate must not be answered");
    assert!(
        !err.contains("PermissionDenied"),
        "refused at the TLS layer, not by the application: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_another_ca_is_rejected() {
    let n = one_node().await;
    let other_dir = tempfile::tempdir().unwrap();
    let other = pki(other_dir.path());
    // A perfectly formed coordinator identity, but signed by a CA the federation does not trust.
    let forged = TlsFiles {
        ca: n.pki.ca_cert(),
        ..identity(&other, Principal::new(Role::Coordinator, Cdg::Nord))
    };
    let outcome = match node_client(&n.node.url(), &forged, Cdg::Aisne).await {
        Err(e) => Err(e.to_string()),
        Ok(mut c) => c
            .execute(n.approved(query("agents", &["sexe"])))
            .await
            .map(|_| ())
            .map_err(|s| s.to_string()),
    };
    let err = outcome.expect_err("a foreign certificate must not be answered");
    assert!(!err.contains("PermissionDenied"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_coordinator_may_execute_and_describe_is_open_to_members() {
    let n = one_node().await;
    for role in [Role::Director, Role::ChargeDeMission] {
        let cdg = if role == Role::Director {
            Cdg::Aisne
        } else {
            Cdg::Nord
        };
        let mut c = as_role(&n, Principal::new(role, cdg)).await;
        let status = c
            .execute(n.approved(query("agents", &["sexe"])))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied);
        assert!(
            status.message().contains("coordinator") && status.message().contains(role.as_str()),
            "{}",
            status.message()
        );
        let described = describe(&mut c).await;
        assert_eq!(described.cdg, "02");
        assert_eq!(described.policy.unwrap().min_agents_per_cell, 11);
        assert!(
            described
                .data_versions
                .iter()
                .any(|v| v.dataset == "agents")
        );
        assert!(described.datasets.iter().any(|d| d.name == "agents" && d.dimensions.iter().any(|x| x.name == "tranche_age")));
    }
    let mut c = as_role(&n, Principal::new(Role::Coordinator, Cdg::Nord)).await;
    let answer = c
        .execute(n.approved(query("agents", &["sexe"])))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.cells_released, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_queries_are_invalid_arguments_naming_the_culprit() {
    let n = one_node().await;
    let mut c = as_role(&n, Principal::new(Role::Coordinator, Cdg::Nord)).await;
    for (q, culprit) in [
        (query("agents", &["commune"]), "commune"),
        (query("agents", &["agent_id"]), "agent_id"),
        (query("salaires", &["sexe"]), "salaires"),
    ] {
        let status = c.execute(n.approved(q)).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{}", status.message());
        assert!(status.message().contains(culprit), "{}", status.message());
    }
    let mut no_query = n.approved(query("agents", &[]));
    no_query.query = None;
    let status = c.execute(no_query).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("query"));
    // The node is still serving after all of this.
    assert!(
        c.execute(n.approved(query("agents", &["categorie"])))
            .await
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protocol_version_mismatch_is_a_failed_precondition() {
    let n = one_node().await;
    let mut c = as_role(&n, Principal::new(Role::Coordinator, Cdg::Nord)).await;
    let status = c
        .describe(DescribeRequest {
            protocol_version: PROTOCOL_VERSION + 1,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("protocol version"));
    let mut req = n.approved(query("agents", &["sexe"]));
    req.protocol_version = 0;
    assert_eq!(
        c.execute(req).await.unwrap_err().code(),
        Code::FailedPrecondition
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coordinator_checks_roles_and_node_identities() {
    let n = one_node().await;
    let dir = tempfile::tempdir().unwrap();
    // Node 02 is listed twice: once honestly, once at an address claimed for CDG 62.
    let nodes = vec![(Cdg::Aisne, n.node.url()), (Cdg::PasDeCalais, n.node.url())];
    let coordinator = start_coordinator(dir.path(), &n.pki, &nodes, 10).await;

    let director = identity(&n.pki, Principal::new(Role::Director, Cdg::Aisne));
    let mut as_director = cdg_tests::coordinator_client(&coordinator.url(), &director).await;
    let status = as_director
        .submit(cdg_coordinator::study::DEMO_STUDY.to_string())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(
        status.message().contains("charge-de-mission"),
        "{}",
        status.message()
    );

    let me = identity(&n.pki, Principal::new(Role::ChargeDeMission, Cdg::Nord));
    let mut client = cdg_tests::coordinator_client(&coordinator.url(), &me).await;
    let bad = client.submit("title = \"x\"".into()).await.unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    let study = cdg_coordinator::study::DEMO_STUDY.replace(
        "departements = [\"02\", \"59\", \"60\", \"62\", \"80\"]",
        "departements = [\"02\", \"62\", \"80\"]",
    );
    let s = client.submit(study).await.unwrap();
    cdg_tests::approve_as_directors(
        &coordinator.url(),
        &n.pki,
        &s.study_id,
        &[Cdg::Aisne, Cdg::PasDeCalais],
    )
    .await;
    let result = client.run(&s.study_id).await.unwrap();
    let by_cdg = |c: &str| result.outcomes.iter().find(|o| o.cdg == c).unwrap().clone();
    assert_eq!(
        by_cdg("02").status,
        OutcomeStatus::Answered as i32,
        "{}",
        by_cdg("02").message
    );
    let impostor = by_cdg("62");
    assert_ne!(impostor.status, OutcomeStatus::Answered as i32);
    assert!(
        impostor.message.contains("urn:cdg-hdf:node:62"),
        "{}",
        impostor.message
    );
    let missing = by_cdg("80");
    assert_eq!(missing.status, OutcomeStatus::Unreachable as i32);
    assert!(missing.message.contains("80"));
}
