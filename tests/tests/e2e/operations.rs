//! What a CDG's IT team relies on to run a node: the standard health and reflection services,
//! the metrics endpoint, certificates from an intermediate CA, and revoked certificates refused.

use cdg_certs_dev::Validity;
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::proto::PROTOCOL_VERSION;
use cdg_shared::proto::v1::DescribeRequest;
use cdg_shared::proto::v1::node_service_client::NodeServiceClient;
use cdg_shared::tls::TlsFiles;
use cdg_tests::{
    approved, http_get, identity, prepare_node, query, start_node, with_filters, year_filter,
};
use tonic::transport::Channel;

const NODE_SERVICE: &str = "cdg.observatoire.v1.NodeService";

async fn channel(url: &str, tls: &TlsFiles) -> Channel {
    tls.client_endpoint(url, Principal::new(Role::Node, Cdg::Aisne))
        .unwrap()
        .connect()
        .await
        .expect("mTLS connection")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_offers_health_reflection_metrics_and_refuses_revoked_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let pki = cdg_tests::pki(&dir.path().join("pki"));
    let (mut config, _) = prepare_node(dir.path(), &pki, Cdg::Aisne);
    // A second coordinator certificate, then revoked by the node's configuration.
    let (revoked_cert, revoked_key) = (dir.path().join("old.pem"), dir.path().join("old.key"));
    cdg_certs_dev::issue_leaf(
        pki.dir(),
        Principal::new(Role::Coordinator, Cdg::Nord),
        &revoked_cert,
        &revoked_key,
        Validity::starting_an_hour_ago(30).unwrap(),
    )
    .unwrap();
    let der = cdg_tests::pki::leaf_der(&revoked_cert);
    let (serial, _) = cdg_shared::revocation::identifiers(&der);
    config.revoked_certificates = vec![serial];
    let metrics_addr = cdg_tests::free_address();
    config.metrics_listen = Some(metrics_addr);
    let node = start_node(config).await;
    let url = node.url();
    let coordinator = identity(&pki, Principal::new(Role::Coordinator, Cdg::Nord));

    // grpc.health.v1: SERVING, overall and for the node's service.
    let mut health =
        tonic_health::pb::health_client::HealthClient::new(channel(&url, &coordinator).await);
    for service in ["", NODE_SERVICE] {
        let status = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(
            status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
            "{service:?}"
        );
    }

    // Server reflection lists the services.
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut reflection = ServerReflectionClient::new(channel(&url, &coordinator).await);
    let request = tonic_reflection::pb::v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = reflection
        .server_reflection_info(tokio_stream::once(request))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) =
        stream.message().await.unwrap().unwrap().message_response
    else {
        panic!("no service list");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [NODE_SERVICE, "grpc.health.v1.Health"] {
        assert!(names.iter().any(|n| n == expected), "{names:?}");
    }
    assert!(
        !names.iter().any(|n| n.contains("CoordinatorService")),
        "a node lists only what it serves: {names:?}"
    );

    // One answer and one refusal, then the metrics endpoint counts them.
    let mut client = NodeServiceClient::new(channel(&url, &coordinator).await);
    let q = with_filters(query("agents", &["sexe"]), year_filter());
    let first = client
        .execute(approved(&pki, Cdg::Aisne, q.clone()))
        .await
        .unwrap()
        .into_inner();
    // Asked again, the answer comes from the answer cache: the same bytes.
    let again = client
        .execute(approved(&pki, Cdg::Aisne, q.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.arrow_ipc, again.arrow_ipc);
    assert_eq!(first.data_versions, again.data_versions);
    let err = client.execute(cdg_tests::execute(q)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    let text = http_get(metrics_addr, "/metrics").await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    for line in [
        "cdg_node_grpc_requests_total{method=\"/cdg.observatoire.v1.NodeService/Execute\",outcome=\"Ok\"} 2",
        "cdg_node_grpc_requests_total{method=\"/cdg.observatoire.v1.NodeService/Execute\",outcome=\"PermissionDenied\"} 1",
        "cdg_node_answers_reused_total 1",
        "cdg_node_refusals_total{rule=\"not_approved\"} 1",
    ] {
        assert!(text.contains(line), "missing {line} in:\n{text}");
    }
    assert!(
        !text.contains("cdg_node_cells_released_total 0\n"),
        "{text}"
    );
    assert!(
        http_get(metrics_addr, "/")
            .await
            .starts_with("HTTP/1.1 404")
    );

    // A coordinator certificate from an intermediate CA is accepted.
    let from_intermediate = cdg_tests::pki::from_intermediate(&pki, dir.path());
    let mut client = NodeServiceClient::new(channel(&url, &from_intermediate).await);
    let described = client
        .describe(DescribeRequest {
            protocol_version: PROTOCOL_VERSION,
        })
        .await
        .expect("a certificate of an intermediate CA is accepted");
    assert_eq!(described.into_inner().cdg, "02");

    // The revoked one is refused, saying why; the node keeps serving the others.
    let revoked = TlsFiles {
        ca: pki.ca_cert(),
        cert: revoked_cert,
        key: revoked_key,
    };
    let mut client = NodeServiceClient::new(channel(&url, &revoked).await);
    let err = client
        .describe(DescribeRequest {
            protocol_version: PROTOCOL_VERSION,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    assert!(err.message().contains("revoked"), "{}", err.message());
    health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("still serving");
    node.stop().await;
}

/// The tool an IT team would reach for: grpcurl (installed from PyPI by the script when it is
/// not on PATH) lists the node's services and finds it SERVING.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcurl_lists_a_node_and_finds_it_serving() {
    let dir = tempfile::tempdir().unwrap();
    let pki = cdg_tests::pki(&dir.path().join("pki"));
    let (config, _) = prepare_node(dir.path(), &pki, Cdg::Aisne);
    let node = start_node(config).await;
    let coordinator = identity(&pki, Principal::new(Role::Coordinator, Cdg::Nord));
    let script =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/grpcurl-check.sh");
    let out = tokio::process::Command::new("bash")
        .arg(script)
        .arg(node.url().trim_start_matches("https://"))
        .arg(NODE_SERVICE)
        .args([&coordinator.ca, &coordinator.cert, &coordinator.key])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\"SERVING\""), "{stdout}");
    assert!(stdout.contains("grpc.health.v1.Health"), "{stdout}");
    node.stop().await;
}

/// A change of CA, as deploy/README.md describes it: with both CAs in its bundle, a node whose
/// certificate is still from the old CA accepts a coordinator already on the new one and the
/// approvals of directors of either; a coordinator of a third CA stays out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_ca_rotation_a_node_trusting_both_cas_accepts_members_of_either() {
    let dir = tempfile::tempdir().unwrap();
    let old = cdg_tests::pki(&dir.path().join("old"));
    let new = cdg_tests::pki(&dir.path().join("new"));
    let bundle = dir.path().join("bundle.pem");
    let both = std::fs::read_to_string(old.ca_cert()).unwrap()
        + &std::fs::read_to_string(new.ca_cert()).unwrap();
    std::fs::write(&bundle, both).unwrap();
    let (mut config, _) = prepare_node(dir.path(), &old, Cdg::Aisne);
    config.tls.ca = bundle.clone();
    let node = start_node(config).await;
    let url = node.url();

    let q = with_filters(query("agents", &["sexe"]), year_filter());
    for (pki, who) in [(&old, "old"), (&new, "new")] {
        let coordinator = TlsFiles {
            ca: bundle.clone(),
            ..identity(pki, Principal::new(Role::Coordinator, Cdg::Nord))
        };
        let mut client = NodeServiceClient::new(channel(&url, &coordinator).await);
        for directors in [&old, &new] {
            client
                .execute(approved(directors, Cdg::Aisne, q.clone()))
                .await
                .unwrap_or_else(|e| panic!("coordinator of the {who} CA: {e}"));
        }
    }
    let stranger = cdg_tests::pki(&dir.path().join("stranger"));
    let outsider = TlsFiles {
        ca: bundle,
        ..identity(&stranger, Principal::new(Role::Coordinator, Cdg::Nord))
    };
    // Refused at the handshake, or at the first call when the TLS stack reports it late.
    if let Ok(channel) = outsider
        .client_endpoint(&url, Principal::new(Role::Node, Cdg::Aisne))
        .unwrap()
        .connect()
        .await
    {
        let err = NodeServiceClient::new(channel)
            .describe(DescribeRequest {
                protocol_version: PROTOCOL_VERSION,
            })
            .await
            .expect_err("a coordinator of a CA outside the bundle is refused");
        // The connection is refused (a TLS alert, or closed), never answered by the service.
        assert!(
            matches!(
                err.code(),
                tonic::Code::Unknown | tonic::Code::Unavailable | tonic::Code::Cancelled
            ),
            "{err:?}"
        );
    }
    node.stop().await;
}
