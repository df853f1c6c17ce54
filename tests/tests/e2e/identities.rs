//! Identities bound to the convention: certificates that the federation CA really signed, but
//! for the wrong CDG or for a CDG outside the federation, are refused on every RPC of a running
//! node and coordinator, and each refusal names the identity expected and the one presented.

use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::proto::PROTOCOL_VERSION;
use cdg_shared::proto::v1::coordinator_service_client::CoordinatorServiceClient;
use cdg_shared::proto::v1::node_service_client::NodeServiceClient;
use cdg_shared::proto::v1::{
    AuditLogRequest, DecideStudyRequest, DescribeRequest, DiffuseStudyRequest, GetResultRequest,
    GetStudyRequest, RunStudyRequest, SubmitStudyRequest,
};
use cdg_shared::tls::TlsFiles;
use cdg_tests::pki::signed_by_federation;
use cdg_tests::{OneNode, identity, node_client, one_node, query, start_coordinator};
use tonic::transport::Channel;
use tonic::{Code, Status};

fn who(role: Role, code: &str) -> Principal {
    Principal::new(role, code.parse().expect("a département code"))
}

/// A node client presenting a federation-signed certificate for `principal`.
async fn node_as(n: &OneNode, principal: Principal) -> NodeServiceClient<Channel> {
    let tls = signed_by_federation(&n.pki, principal, n.dir.path());
    node_client(&n.node.url(), &tls, Cdg::Aisne)
        .await
        .expect("the TLS handshake succeeds: the CA did sign this certificate")
}

#[derive(Debug, Clone, Copy)]
enum NodeRpc {
    Execute,
    Describe,
    AuditLog,
}

async fn call_node(
    n: &OneNode,
    c: &mut NodeServiceClient<Channel>,
    rpc: NodeRpc,
) -> Result<(), Status> {
    let v = PROTOCOL_VERSION;
    match rpc {
        NodeRpc::Execute => c
            .execute(n.approved(query("agents", &["sexe"])))
            .await
            .map(drop),
        NodeRpc::Describe => c
            .describe(DescribeRequest {
                protocol_version: v,
            })
            .await
            .map(drop),
        NodeRpc::AuditLog => c
            .get_audit_log(AuditLogRequest {
                protocol_version: v,
                from_seq: 1,
                ..Default::default()
            })
            .await
            .map(drop),
    }
}

fn assert_refused(outcome: Result<(), Status>, presented: Principal, expected: &str, case: &str) {
    let status = outcome.expect_err(case);
    if presented.role == Role::Node {
        // A node's certificate is for serving only (no clientAuth usage): the server's TLS
        // refuses it during the handshake, before any RPC, so there is no status to read (the
        // first call fails with the transport error, later ones on the same channel cancelled).
        assert!(
            matches!(
                status.code(),
                Code::Unknown | Code::Cancelled | Code::Unavailable
            ),
            "{case}: refused at the handshake, not {:?}: {}",
            status.code(),
            status.message()
        );
        return;
    }
    assert_eq!(
        status.code(),
        Code::PermissionDenied,
        "{case}: {}",
        status.message()
    );
    let message = status.message();
    assert!(
        message.contains(&presented.uri()),
        "{case}: names the identity presented: {message}"
    );
    assert!(
        message.contains(expected),
        "{case}: names what is expected ({expected}): {message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_refuses_federation_signed_identities_of_the_wrong_cdg_on_every_rpc() {
    let n = one_node().await;
    use NodeRpc::*;
    let outsiders = "members: 02, 59, 60, 62, 80";
    let coordinator = "urn:cdg-hdf:coordinator:59";
    let cases = [
        (who(Role::Coordinator, "62"), Execute, coordinator),
        (who(Role::Coordinator, "75"), Execute, outsiders),
        (who(Role::Director, "02"), Execute, coordinator),
        (who(Role::Node, "62"), Execute, coordinator),
        (who(Role::ChargeDeMission, "59"), Execute, coordinator),
        (who(Role::Director, "75"), Describe, outsiders),
        (who(Role::Node, "75"), Describe, outsiders),
        (who(Role::Coordinator, "75"), Describe, outsiders),
        (who(Role::Director, "75"), AuditLog, outsiders),
        (who(Role::Coordinator, "62"), AuditLog, coordinator),
        (
            who(Role::ChargeDeMission, "59"),
            AuditLog,
            "urn:cdg-hdf:director:<a member CDG>",
        ),
    ];
    for (presented, rpc, expected) in cases {
        let mut c = node_as(&n, presented).await;
        let case = format!("{presented} calling {rpc:?}");
        assert_refused(call_node(&n, &mut c, rpc).await, presented, expected, &case);
    }
    // Members in their roles are still served: a director of another member CDG reads the
    // node's log, any member describes it, and the configured coordinator is answered.
    for (allowed, rpc) in [
        (who(Role::Director, "62"), AuditLog),
        (who(Role::Director, "80"), Describe),
        (who(Role::Coordinator, "59"), Execute),
    ] {
        let mut c = node_as(&n, allowed).await;
        call_node(&n, &mut c, rpc)
            .await
            .unwrap_or_else(|s| panic!("{allowed} calling {rpc:?}: {}", s.message()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_obeys_only_the_coordinator_its_configuration_names() {
    let mut n = one_node().await;
    let mut config = n.config.clone();
    config.federation.coordinator = who(Role::Coordinator, "62");
    n.relaunch(config, cdg_tests::test_today()).await;
    let mut nord = node_as(&n, who(Role::Coordinator, "59")).await;
    let refused = call_node(&n, &mut nord, NodeRpc::Execute).await;
    assert_refused(
        refused,
        who(Role::Coordinator, "59"),
        "urn:cdg-hdf:coordinator:62",
        "59",
    );
    let mut pas_de_calais = node_as(&n, who(Role::Coordinator, "62")).await;
    call_node(&n, &mut pas_de_calais, NodeRpc::Execute)
        .await
        .expect("the configured coordinator is answered");
}

#[derive(Debug, Clone, Copy)]
enum CoordinatorRpc {
    Submit,
    Run,
    WatchRun,
    Result,
    StreamResult,
    Decide,
    Study,
    AuditLog,
    Diffuse,
}

impl CoordinatorRpc {
    const ALL: [CoordinatorRpc; 9] = [
        CoordinatorRpc::Submit,
        CoordinatorRpc::Run,
        CoordinatorRpc::WatchRun,
        CoordinatorRpc::Result,
        CoordinatorRpc::StreamResult,
        CoordinatorRpc::Decide,
        CoordinatorRpc::Study,
        CoordinatorRpc::AuditLog,
        CoordinatorRpc::Diffuse,
    ];
}

async fn call_coordinator(
    c: &mut CoordinatorServiceClient<Channel>,
    rpc: CoordinatorRpc,
    study_id: &str,
) -> Result<(), Status> {
    use CoordinatorRpc::*;
    let (protocol_version, study_id) = (PROTOCOL_VERSION, study_id.to_string());
    let run = || RunStudyRequest {
        protocol_version,
        study_id: study_id.clone(),
    };
    let result = || GetResultRequest {
        protocol_version,
        study_id: study_id.clone(),
    };
    match rpc {
        Submit => {
            let study_toml = cdg_coordinator::study::DEMO_STUDY.to_string();
            c.submit_study(SubmitStudyRequest {
                protocol_version,
                study_toml,
            })
            .await
            .map(drop)
        }
        Run => c.run_study(run()).await.map(drop),
        WatchRun => {
            // A refusal comes as the stream's first message or instead of the stream.
            let mut stream = c.watch_study_run(run()).await?.into_inner();
            stream.message().await.map(drop)
        }
        Result => c.get_result(result()).await.map(drop),
        StreamResult => {
            let mut stream = c.stream_result(result()).await?.into_inner();
            stream.message().await.map(drop)
        }
        Decide => {
            let decision = Some(Default::default());
            let req = DecideStudyRequest {
                protocol_version,
                study_id: study_id.clone(),
                decision,
            };
            c.decide_study(req).await.map(drop)
        }
        Study => c
            .get_study(GetStudyRequest {
                protocol_version,
                study_id,
            })
            .await
            .map(drop),
        AuditLog => c
            .get_audit_log(AuditLogRequest {
                protocol_version,
                from_seq: 1,
                ..Default::default()
            })
            .await
            .map(drop),
        Diffuse => {
            let note = "diffusée".to_string();
            c.diffuse_study(DiffuseStudyRequest {
                protocol_version,
                study_id,
                note,
            })
            .await
            .map(drop)
        }
    }
}

async fn coordinator_as(url: &str, tls: &TlsFiles) -> CoordinatorServiceClient<Channel> {
    let endpoint = tls
        .client_endpoint(url, who(Role::Coordinator, "59"))
        .expect("an endpoint");
    CoordinatorServiceClient::new(
        endpoint
            .connect()
            .await
            .expect("the TLS handshake succeeds"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coordinator_refuses_federation_signed_identities_of_the_wrong_cdg_on_every_rpc() {
    let n = one_node().await;
    let dir = tempfile::tempdir().unwrap();
    let nodes = vec![(Cdg::Aisne, n.node.url())];
    let coordinator = start_coordinator(dir.path(), &n.pki, &nodes, 10).await;
    let url = coordinator.url();
    let analyst = identity(&n.pki, who(Role::ChargeDeMission, "59"));
    let study = cdg_tests::coordinator_client(&url, &analyst)
        .await
        .submit(cdg_coordinator::study::DEMO_STUDY.to_string())
        .await
        .expect("the chef de file's chargé.e de mission submits")
        .study_id;

    let analyst_only = "urn:cdg-hdf:charge-de-mission:59";
    let outsiders = "members: 02, 59, 60, 62, 80";
    for rpc in CoordinatorRpc::ALL {
        use CoordinatorRpc::*;
        // A chargé.e de mission of another member CDG runs no regional study.
        let expected = match rpc {
            Decide | AuditLog => "urn:cdg-hdf:director:<a member CDG>",
            _ => analyst_only,
        };
        let mut cases = vec![
            (who(Role::ChargeDeMission, "62"), expected),
            (who(Role::Director, "75"), outsiders),
            (who(Role::ChargeDeMission, "75"), outsiders),
            (who(Role::Node, "59"), expected),
        ];
        if matches!(rpc, Submit | Run | WatchRun | Diffuse) {
            cases.push((who(Role::Director, "02"), analyst_only));
        }
        for (presented, expected) in cases {
            let tls = signed_by_federation(&n.pki, presented, dir.path());
            let mut c = coordinator_as(&url, &tls).await;
            let case = format!("{presented} calling {rpc:?}");
            let outcome = call_coordinator(&mut c, rpc, &study).await;
            assert_refused(outcome, presented, expected, &case);
        }
    }
    // Nothing the refused callers did reached the log: only the one submission is there.
    let director = identity(&n.pki, who(Role::Director, "02"));
    let mut pages = cdg_tests::coordinator_client(&url, &director)
        .await
        .audit_log(1)
        .await
        .expect("a member director reads the log");
    let mut log = Vec::new();
    while let Some(page) = pages.message().await.expect("a page") {
        log.extend_from_slice(&page.log);
    }
    let text = String::from_utf8(log).unwrap();
    for refused in [
        "charge-de-mission:62",
        "director:75",
        "charge-de-mission:75",
        "node:59",
    ] {
        assert!(!text.contains(refused), "{refused} in the log: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_refuses_to_start_with_another_identity_than_its_configuration_names() {
    let n = one_node().await;
    let dir = tempfile::tempdir().unwrap();
    let nodes = vec![(Cdg::Aisne, n.node.url())];
    let mut config = cdg_tests::coordinator_config(dir.path(), &n.pki, &nodes, 10);
    config.tls = signed_by_federation(&n.pki, who(Role::Coordinator, "62"), dir.path());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = cdg_coordinator::server::run(config, listener, std::future::pending())
        .await
        .expect_err("a coordinator of CDG 62 is not the federation's");
    let message = format!("{err:#}");
    assert!(
        message.contains("urn:cdg-hdf:coordinator:59") && message.contains("coordinator of CDG 62"),
        "{message}"
    );
}
