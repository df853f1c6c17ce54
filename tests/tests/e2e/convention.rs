//! The convention's end (Art. 6) is never a silent stop: a running node counts the days left in
//! a metric and warns in its log from 60 days before, reports NOT_SERVING once the term has
//! passed, and comes back once its operator records the avenant with `cdg-node avenant`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::tls::TlsFiles;
use cdg_tests::{binary, http_get, one_node, prepare_node, query, with_filters, year_filter};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const NODE_SERVICE: &str = "cdg.observatoire.v1.NodeService";

fn day(text: &str) -> chrono::NaiveDate {
    text.parse().unwrap()
}

/// The node's health, overall and for its service.
async fn health(url: &str, tls: &TlsFiles) -> Vec<i32> {
    let channel = tls
        .client_endpoint(url, Principal::new(Role::Node, Cdg::Aisne))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = HealthClient::new(channel);
    let mut statuses = Vec::new();
    for service in ["", NODE_SERVICE] {
        let request = HealthCheckRequest {
            service: service.into(),
        };
        statuses.push(client.check(request).await.unwrap().into_inner().status);
    }
    statuses
}

/// Waits (10 s at most) until the node's metrics say `expected` days are left: the node
/// counts them as it starts serving, after the test harness sees its port open.
async fn days_left(metrics: std::net::SocketAddr, expected: i64) -> String {
    let wanted = format!("cdg_convention_days_left {expected}");
    let start = Instant::now();
    loop {
        if tokio::net::TcpStream::connect(metrics).await.is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no metrics endpoint"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let text = http_get(metrics, "/metrics").await;
        let line = text
            .lines()
            .find(|l| l.starts_with("cdg_convention_days_left "))
            .unwrap_or_default()
            .to_string();
        if line == wanted || start.elapsed() > Duration::from_secs(10) {
            return line;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn avenant(config: &std::path::Path, end: &str, reference: &str) -> std::process::Output {
    Command::new(binary("cdg-node"))
        .args(["avenant", "--config"])
        .arg(config)
        .args(["--end", end, "--reference", reference])
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_end_of_the_term_is_counted_then_not_serving_until_an_avenant_is_recorded() {
    let mut n = one_node().await;
    let metrics = cdg_tests::free_address();
    let mut config = n.config.clone();
    config.metrics_listen = Some(metrics);
    let coordinator = cdg_tests::identity(&n.pki, Principal::new(Role::Coordinator, Cdg::Nord));
    let serving = ServingStatus::Serving as i32;
    let not_serving = ServingStatus::NotServing as i32;

    n.relaunch(config.clone(), day("2026-11-20")).await;
    assert_eq!(days_left(metrics, 41).await, "cdg_convention_days_left 41");
    assert_eq!(
        health(&n.node.url(), &coordinator).await,
        [serving, serving]
    );

    // A new port: the first node's endpoint lives as long as the test's runtime.
    let metrics = cdg_tests::free_address();
    config.metrics_listen = Some(metrics);
    n.relaunch(config.clone(), day("2027-01-01")).await;
    assert_eq!(days_left(metrics, -1).await, "cdg_convention_days_left -1");
    assert_eq!(
        health(&n.node.url(), &coordinator).await,
        [not_serving, not_serving]
    );
    let q = with_filters(query("agents", &["sexe"]), year_filter());
    let mut c = cdg_tests::node_client(&n.node.url(), &coordinator, Cdg::Aisne)
        .await
        .unwrap();
    let refused = c.execute(n.approved(q.clone())).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(
        refused.message().contains("cdg-node avenant"),
        "{}",
        refused.message()
    );

    // The operator's file, with their comments: the command keeps them and adds the avenant.
    let path = n.dir.path().join("node-02.toml");
    let text = format!(
        "# Nœud du CDG 02 : ne pas modifier sans le DSI.\n{}",
        toml::to_string(&config).unwrap()
    );
    std::fs::write(&path, &text).unwrap();
    let earlier = avenant(&path, "2026-06-30", "avenant n°0");
    assert!(!earlier.status.success());
    let said = String::from_utf8_lossy(&earlier.stderr);
    assert!(said.contains("already runs until 2026-12-31"), "{said}");
    let blank = avenant(&path, "2029-12-31", "  ");
    assert!(!blank.status.success());
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        text,
        "a refused avenant changes nothing"
    );

    let recorded = avenant(
        &path,
        "2029-12-31",
        "avenant n°1, comité technique du 2026-12-15",
    );
    let said = String::from_utf8_lossy(&recorded.stdout);
    assert!(
        recorded.status.success(),
        "{}",
        String::from_utf8_lossy(&recorded.stderr)
    );
    assert!(
        said.contains("until 2029-12-31") && said.contains("Restart"),
        "{said}"
    );
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(
        written.starts_with("# Nœud du CDG 02 : ne pas modifier sans le DSI.\n"),
        "{written}"
    );
    let renewed = cdg_node::config::NodeConfig::load(&path).unwrap();
    assert_eq!(renewed.policy.convention.avenants.len(), 1);

    let metrics = cdg_tests::free_address();
    let mut renewed = renewed;
    renewed.metrics_listen = Some(metrics);
    n.relaunch(renewed, day("2027-01-01")).await;
    assert_eq!(
        health(&n.node.url(), &coordinator).await,
        [serving, serving]
    );
    assert_eq!(
        days_left(metrics, 1095).await,
        "cdg_convention_days_left 1095"
    );
    let mut c = cdg_tests::node_client(&n.node.url(), &coordinator, Cdg::Aisne)
        .await
        .unwrap();
    c.execute(n.approved(q))
        .await
        .expect("answered under the avenant");
}

#[test]
fn a_node_warns_in_its_log_when_the_end_is_less_than_sixty_days_away() {
    let dir = tempfile::tempdir().unwrap();
    let pki = cdg_tests::pki(&dir.path().join("certs"));
    let (mut config, _) = prepare_node(dir.path(), &pki, Cdg::Aisne);
    let today = chrono::Utc::now().date_naive();
    config.policy.convention.end = (today + chrono::Days::new(30)).to_string();
    let path = dir.path().join("node.toml");
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    let ready = dir.path().join("ready");
    let child = Command::new(binary("cdg-node"))
        .args(["serve", "--config"])
        .arg(&path)
        .arg("--ready-file")
        .arg(&ready)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !ready.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the node did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("WARN")
            && log.contains("the convention ends in 30 days")
            && log.contains("cdg-node avenant"),
        "{log}"
    );
}
