//! Fault injection against real processes: nodes killed before and during a run, a node that
//! answers after the deadline, one that answers another schema, one whose certificate has
//! expired, and a user who gives up. Each test checks the per-département outcome, the quorum,
//! and that no regional cell lets a withheld département value be recovered.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use arrow::array::AsArray;
use cdg_coordinator::output::query_batch;
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::proto::v1::node_outcome::Status as OutcomeStatus;
use cdg_shared::proto::v1::{NodeOutcome, StudyResult};
use cdg_shared::query::{DIFFUSION_COLUMN, REGION};
use cdg_tests::process::{Misbehaviour, NodeProcess, fake_node};
use cdg_tests::regional::assert_no_recovery;
use cdg_tests::{
    coordinator_client, coordinator_config, identity, pki, prepare_node, start_coordinator,
    start_coordinator_with, start_node,
};

/// The demo study, asked of `cdgs`, with an optional quorum.
pub(crate) fn study(cdgs: &[Cdg], quorum: Option<usize>) -> String {
    let list: Vec<String> = cdgs.iter().map(|c| format!("\"{}\"", c.code())).collect();
    let text = cdg_coordinator::study::DEMO_STUDY.replace(
        "departements = [\"02\", \"59\", \"60\", \"62\", \"80\"]",
        &format!("departements = [{}]", list.join(", ")),
    );
    match quorum {
        Some(q) => format!("quorum = {q}\n{text}"),
        None => text,
    }
}

pub(crate) fn outcome(result: &StudyResult, cdg: Cdg) -> &NodeOutcome {
    result
        .outcomes
        .iter()
        .find(|o| o.cdg == cdg.code())
        .expect("an outcome for every département asked")
}

pub(crate) fn status(result: &StudyResult, cdg: Cdg) -> OutcomeStatus {
    OutcomeStatus::try_from(outcome(result, cdg).status).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_killed_before_and_during_a_run_are_named_and_the_quorum_holds() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("certs"));
    let mut nodes: Vec<NodeProcess> = [Cdg::Aisne, Cdg::Oise, Cdg::Somme]
        .into_iter()
        .map(|cdg| NodeProcess::start(dir.path(), prepare_node(dir.path(), &pki, cdg).0))
        .collect();
    let addresses: Vec<(Cdg, String)> = nodes.iter().map(|n| (n.cdg, n.url.clone())).collect();
    let mut config = coordinator_config(dir.path(), &pki, &addresses, 30);
    let metrics = cdg_tests::free_address();
    config.metrics_listen = Some(metrics);
    let coordinator = start_coordinator_with(config).await;
    let url = coordinator.url();
    let me = identity(&pki, Principal::new(Role::ChargeDeMission, Cdg::Nord));
    let mut client = coordinator_client(&url, &me).await;
    let all = [Cdg::Aisne, Cdg::Oise, Cdg::Somme];

    // CDG 80 is down before the run; CDG 60 dies after its first answer.
    nodes[2].kill();
    let id = client.submit(study(&all, None)).await.unwrap().study_id;
    cdg_tests::approve_as_directors(&url, &pki, &id, &all).await;
    let mut steps = Vec::new();
    let oise = &mut nodes[1];
    let result = client
        .watch_run(&id, |p| {
            steps.push((p.cdg.clone(), p.step.clone()));
            if p.cdg == "60" && p.step == "answered" && p.queries_done == 1 {
                oise.kill();
            }
        })
        .await
        .unwrap();

    assert_eq!(status(&result, Cdg::Aisne), OutcomeStatus::Answered);
    assert!(!outcome(&result, Cdg::Aisne).policy_version.is_empty());
    let somme = outcome(&result, Cdg::Somme);
    assert_eq!(status(&result, Cdg::Somme), OutcomeStatus::Unreachable);
    assert!(
        somme.message.contains("after 3 attempts"),
        "{}",
        somme.message
    );
    assert!(
        steps.contains(&("80".into(), "retrying".into())),
        "progress shows the retries"
    );
    let oise_outcome = outcome(&result, Cdg::Oise);
    assert_eq!(
        status(&result, Cdg::Oise),
        OutcomeStatus::Unreachable,
        "{}",
        oise_outcome.message
    );
    assert!(steps.contains(&("60".into(), "answered".into())));
    assert!(steps.contains(&("60".into(), "failed".into())));
    // The regional rows say who is missing, and nothing withheld can be recovered.
    for q in &result.queries {
        let batch = query_batch(q).unwrap();
        let dep = batch.column(0).as_string::<i32>();
        let diffusion = batch
            .column_by_name(DIFFUSION_COLUMN)
            .unwrap()
            .as_string::<i32>();
        for r in (0..batch.num_rows()).filter(|&r| dep.value(r) == REGION) {
            assert!(diffusion.value(r).ends_with("sans réponse de: 60, 80"));
        }
        assert!((0..batch.num_rows()).all(|r| dep.value(r) == "02" || dep.value(r) == REGION));
    }
    assert_no_recovery(&result);

    // The coordinator's metrics tell the monitoring which nodes it could not reach.
    let text = cdg_tests::http_get(metrics, "/metrics").await;
    for line in [
        "cdg_coordinator_node_reachable{cdg=\"02\"} 1",
        "cdg_coordinator_node_reachable{cdg=\"60\"} 0",
        "cdg_coordinator_node_reachable{cdg=\"80\"} 0",
        "cdg_coordinator_node_outcomes_total{cdg=\"02\",status=\"answered\"} 1",
        "cdg_coordinator_node_outcomes_total{cdg=\"80\",status=\"unreachable\"} 1",
        "cdg_coordinator_grpc_requests_total{method=\"/cdg.observatoire.v1.CoordinatorService/SubmitStudy\",outcome=\"Ok\"} 1",
    ] {
        assert!(text.contains(line), "missing {line} in:\n{text}");
    }

    // With a quorum of 2, one answering département is not enough: the run fails, naming
    // what is missing.
    let id = client.submit(study(&all, Some(2))).await.unwrap().study_id;
    cdg_tests::approve_as_directors(&url, &pki, &id, &all).await;
    let err = client.run(&id).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    let message = err.message();
    assert!(
        message.contains("quorum not reached: 1 of 3")
            && message.contains("CDG 60")
            && message.contains("CDG 80"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_wrong_schema_and_expired_nodes_each_get_their_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("certs"));
    // CDG 02: a real node process. CDG 60: answers another schema. CDG 80: answers after the
    // deadline. CDG 62: a real node whose certificate expired yesterday. CDG 59: answers from
    // another catalogue.
    let aisne = NodeProcess::start(dir.path(), prepare_node(dir.path(), &pki, Cdg::Aisne).0);
    let other = fake_node(&pki, Cdg::Oise, Misbehaviour::OtherSchema).await;
    let older = fake_node(&pki, Cdg::Nord, Misbehaviour::OtherCatalogue).await;
    let slow = fake_node(
        &pki,
        Cdg::Somme,
        Misbehaviour::Slow(Duration::from_secs(20)),
    )
    .await;
    let (mut config, _) = prepare_node(dir.path(), &pki, Cdg::PasDeCalais);
    let day = Duration::from_secs(86_400);
    let (cert, key) = (
        dir.path().join("expired.pem"),
        dir.path().join("expired.key"),
    );
    cdg_certs_dev::issue_leaf(
        pki.dir(),
        Principal::new(Role::Node, Cdg::PasDeCalais),
        &cert,
        &key,
        cdg_certs_dev::Validity {
            not_before: SystemTime::now() - 30 * day,
            not_after: SystemTime::now() - day,
        },
    )
    .unwrap();
    config.tls.cert = cert;
    config.tls.key = key;
    let expired = start_node(config).await;
    let nodes = [
        (Cdg::Aisne, aisne.url.clone()),
        (Cdg::Nord, older.server.url()),
        (Cdg::Oise, other.server.url()),
        (Cdg::PasDeCalais, expired.url()),
        (Cdg::Somme, slow.server.url()),
    ];
    let coordinator = start_coordinator(dir.path(), &pki, &nodes, 1).await;
    let url = coordinator.url();
    let me = identity(&pki, Principal::new(Role::ChargeDeMission, Cdg::Nord));
    let mut client = coordinator_client(&url, &me).await;
    let asked: Vec<Cdg> = nodes.iter().map(|n| n.0).collect();
    let id = client.submit(study(&asked, None)).await.unwrap().study_id;
    cdg_tests::approve_as_directors(&url, &pki, &id, &asked).await;
    let result = client.run(&id).await.unwrap();

    assert_eq!(status(&result, Cdg::Aisne), OutcomeStatus::Answered);
    let o = outcome(&result, Cdg::Oise);
    assert_eq!(
        status(&result, Cdg::Oise),
        OutcomeStatus::Incompatible,
        "{}",
        o.message
    );
    assert!(
        o.message.contains("autre: Utf8") && o.message.contains("expected"),
        "{}",
        o.message
    );
    // Nothing of the node on another catalogue is merged, and the difference is named.
    let o = outcome(&result, Cdg::Nord);
    assert_eq!(
        status(&result, Cdg::Nord),
        OutcomeStatus::Incompatible,
        "{}",
        o.message
    );
    assert!(
        o.message.contains("another catalogue")
            && o.message.contains("the node runs catalogue \"2027.01\"")
            && o.message.contains("is defined otherwise"),
        "{}",
        o.message
    );
    let o = outcome(&result, Cdg::Somme);
    assert_eq!(
        status(&result, Cdg::Somme),
        OutcomeStatus::TimedOut,
        "{}",
        o.message
    );
    let o = outcome(&result, Cdg::PasDeCalais);
    assert_eq!(
        status(&result, Cdg::PasDeCalais),
        OutcomeStatus::Unreachable,
        "{}",
        o.message
    );
    assert!(
        o.message.to_lowercase().contains("expired"),
        "{}",
        o.message
    );
    // The late node's call was abandoned when its deadline passed, not left running.
    let start = Instant::now();
    while !slow.abandoned.load(Ordering::SeqCst) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the late call is still running"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Only CDG 02's cells are in the tables.
    for q in &result.queries {
        let batch = query_batch(q).unwrap();
        let dep = batch.column(0).as_string::<i32>();
        assert!((0..batch.num_rows()).all(|r| dep.value(r) == "02" || dep.value(r) == REGION));
    }
    assert_no_recovery(&result);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_who_gives_up_cancels_the_run_down_to_the_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("certs"));
    let slow = fake_node(
        &pki,
        Cdg::Somme,
        Misbehaviour::Slow(Duration::from_secs(60)),
    )
    .await;
    let coordinator =
        start_coordinator(dir.path(), &pki, &[(Cdg::Somme, slow.server.url())], 120).await;
    let url = coordinator.url();
    let me = identity(&pki, Principal::new(Role::ChargeDeMission, Cdg::Nord));
    let mut client = coordinator_client(&url, &me).await;
    let id = client
        .submit(study(&[Cdg::Somme], None))
        .await
        .unwrap()
        .study_id;
    cdg_tests::approve_as_directors(&url, &pki, &id, &[Cdg::Somme]).await;
    let (asked, mut asked_rx) = tokio::sync::mpsc::unbounded_channel();
    let run_id = id.clone();
    let run = tokio::spawn(async move {
        client
            .watch_run(&run_id, |p| {
                let _ = asked.send(p.step.clone());
            })
            .await
    });
    assert_eq!(asked_rx.recv().await.as_deref(), Some("asking"));
    let start = Instant::now();
    while !slow.received.load(Ordering::SeqCst) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the node was never asked"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    run.abort(); // the user presses Ctrl-C
    let log = dir.path().join("coordinator/audit.log");
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("\"study.run.cancelled\"") && slow.abandoned.load(Ordering::SeqCst) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the run was not cancelled down to the node: cancellation logged {}, node call \
             abandoned {}",
            text.contains("\"study.run.cancelled\""),
            slow.abandoned.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Cancelled, the study can run again (the slow node still holds it up, so a short wait).
    let mut again = coordinator_client(&url, &me).await;
    let status = again.study(&id).await.unwrap();
    assert_ne!(status.state, "running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_above_the_message_limit_is_refused_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("certs"));
    let (mut config, _) = prepare_node(dir.path(), &pki, Cdg::Aisne);
    // 16 KiB are kept for the rest of the response: about 1 KB is left for the table.
    config.limits.max_message_bytes = 17 * 1024;
    let node = start_node(config).await;
    let tls = identity(&pki, Principal::new(Role::Coordinator, Cdg::Nord));
    let mut client = cdg_tests::node_client(&node.url(), &tls, Cdg::Aisne)
        .await
        .unwrap();
    let q = cdg_tests::query("agents", &["categorie", "filiere", "sexe"]);
    let err = client
        .execute(cdg_tests::approved(&pki, Cdg::Aisne, q))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted);
    assert!(
        err.message().contains("limits.max_message_bytes"),
        "{}",
        err.message()
    );
    // A small answer still goes through: the node is fine.
    let small = cdg_tests::query("agents", &["sexe"]);
    client
        .execute(cdg_tests::approved(&pki, Cdg::Aisne, small))
        .await
        .unwrap();
}
