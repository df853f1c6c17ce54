//! Directors' approvals: forged ones sent straight to a node by the coordinator's identity (what
//! a compromised coordinator could do), and the study lifecycle through the coordinator.

use std::time::{Duration, SystemTime};

use cdg_certs_dev::Validity;
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::proto::v1::SignedDecision;
use cdg_shared::proto::v1::node_outcome::Status as OutcomeStatus;
use cdg_shared::signing::{Decision, Signer};
use cdg_shared::study::Study;
use cdg_shared::tls::TlsFiles;
use cdg_tests::{
    OneNode, approval, as_role, execute, identity, one_node, query, start_coordinator, study_of,
    with_filters, year_filter,
};
use tonic::Code;

fn signer(n: &OneNode, who: Principal) -> Signer {
    Signer::from_files(&identity(&n.pki, who)).unwrap()
}

fn director(cdg: Cdg) -> Principal {
    Principal::new(Role::Director, cdg)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_refuses_every_forged_or_misplaced_approval() {
    let n = one_node().await;
    let q = with_filters(query("agents", &["sexe"]), year_filter());
    let study: Study = study_of(Cdg::Aisne, &q).unwrap();
    let digest = study.digest();
    let request = |study: &Study, approvals: Vec<SignedDecision>| {
        let mut r = execute(q.clone());
        r.study = study.canonical();
        r.approvals = approvals;
        r
    };
    let own = signer(&n, director(Cdg::Aisne));

    // An approval signed with another key than its certificate's.
    let mut wrong_key = own.decide(&digest, Decision::Approve, "").unwrap();
    wrong_key.signature = signer(&n, director(Cdg::Nord))
        .decide(&digest, Decision::Approve, "")
        .unwrap()
        .signature;
    // An expired certificate of the right director.
    let expired_dir = tempfile::tempdir().unwrap();
    let (cert, key) = (
        expired_dir.path().join("d.pem"),
        expired_dir.path().join("d.key"),
    );
    let day = Duration::from_secs(86_400);
    cdg_certs_dev::issue_leaf(
        n.pki.dir(),
        director(Cdg::Aisne),
        &cert,
        &key,
        Validity {
            not_before: SystemTime::now() - 30 * day,
            not_after: SystemTime::now() - day,
        },
    )
    .unwrap();
    let expired = Signer::from_files(&TlsFiles {
        ca: n.pki.ca_cert(),
        cert,
        key,
    })
    .unwrap();
    // A director of this CDG in another federation.
    let other_dir = tempfile::tempdir().unwrap();
    let other_pki = cdg_tests::pki(other_dir.path());
    let stranger = Signer::from_files(&identity(&other_pki, director(Cdg::Aisne))).unwrap();
    // Another study, and this one edited after approval.
    let mut other_q = q.clone();
    other_q.group_by = vec!["categorie".into()];
    let other_study = study_of(Cdg::Aisne, &other_q).unwrap();
    let mut edited = study.clone();
    edited.queries[0].query.group_by = vec!["statut".into()];

    let cases: Vec<(&str, cdg_shared::proto::v1::ExecuteRequest, &str)> = vec![
        ("no study", execute(q.clone()), "carries no study"),
        (
            "no approval",
            request(&study, vec![]),
            "no approval was sent",
        ),
        (
            "another CDG's director",
            request(&study, vec![approval(&n.pki, director(Cdg::Nord), &study)]),
            "director of another CDG",
        ),
        (
            "the chargé.e de mission signing",
            request(
                &study,
                vec![
                    signer(&n, Principal::new(Role::ChargeDeMission, Cdg::Nord))
                        .decide(&digest, Decision::Approve, "")
                        .unwrap(),
                ],
            ),
            "not a director",
        ),
        (
            "the wrong key",
            request(&study, vec![wrong_key]),
            "signature does not verify",
        ),
        (
            "an expired certificate",
            request(
                &study,
                vec![expired.decide(&digest, Decision::Approve, "").unwrap()],
            ),
            "not trusted",
        ),
        (
            "another federation's director",
            request(
                &study,
                vec![stranger.decide(&digest, Decision::Approve, "").unwrap()],
            ),
            "not trusted",
        ),
        (
            "an approval copied from another study",
            request(
                &study,
                vec![approval(&n.pki, director(Cdg::Aisne), &other_study)],
            ),
            "signed for another study",
        ),
        (
            "the study edited after approval",
            request(
                &edited,
                vec![approval(&n.pki, director(Cdg::Aisne), &study)],
            ),
            "not one of the queries",
        ),
        (
            "a rejection",
            request(
                &study,
                vec![own.decide(&digest, Decision::Reject, "").unwrap()],
            ),
            "not an approval",
        ),
    ];
    let mut c = as_role(&n, Principal::new(Role::Coordinator, Cdg::Nord)).await;
    for (case, request, expected) in cases {
        let status = c.execute(request).await.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{case}");
        assert!(
            status.message().contains(expected),
            "{case}: {}",
            status.message()
        );
    }
    // The same query, with its director's approval among forged ones: answered.
    let valid = request(
        &study,
        vec![
            approval(&n.pki, director(Cdg::Nord), &study),
            own.decide(&digest, Decision::Approve, "").unwrap(),
        ],
    );
    assert!(c.execute(valid).await.is_ok());
}

/// A coordinator knowing only `n`'s node (CDG 02), its state in a fresh folder, and the
/// chargé.e de mission's client to it.
async fn coordinator_over(
    n: &OneNode,
) -> (
    tempfile::TempDir,
    cdg_tests::Running,
    cdg_coordinator::client::CoordinatorClient,
) {
    let dir = tempfile::tempdir().unwrap();
    let coordinator =
        start_coordinator(dir.path(), &n.pki, &[(Cdg::Aisne, n.node.url())], 10).await;
    let me = identity(&n.pki, Principal::new(Role::ChargeDeMission, Cdg::Nord));
    let client = cdg_tests::coordinator_client(&coordinator.url(), &me).await;
    (dir, coordinator, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_study_runs_only_where_approved_and_never_while_in_question() {
    let n = one_node().await;
    let (dir, coordinator, mut client) = coordinator_over(&n).await;
    let url = coordinator.url();
    let study = cdg_coordinator::study::DEMO_STUDY.replace(
        "departements = [\"02\", \"59\", \"60\", \"62\", \"80\"]",
        "departements = [\"02\"]",
    );
    let id = client.submit(study).await.unwrap().study_id;
    let outcome = |r: &cdg_shared::proto::v1::StudyResult| r.outcomes[0].clone();

    // Not approved yet: the node is not even asked.
    let r = client.run(&id).await.unwrap();
    assert_eq!(outcome(&r).status, OutcomeStatus::Refused as i32);
    assert!(
        outcome(&r).message.contains("not approved"),
        "{}",
        outcome(&r).message
    );
    let err = client.diffuse(&id, "trop tôt").await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{}", err.message());

    let as_director = |cdg: Cdg| identity(&n.pki, director(cdg));
    let decide = |cdg: Cdg, d: Decision| {
        let (url, tls) = (url.clone(), as_director(cdg));
        let id = id.clone();
        async move {
            cdg_tests::coordinator_client(&url, &tls)
                .await
                .decide(&tls, &id, d, "comité technique")
                .await
        }
    };
    // Only the directors of the départements asked approve; nobody signs for another.
    let err = decide(Cdg::Nord, Decision::Approve).await.unwrap_err();
    assert!(err.to_string().contains("does not ask CDG 59"), "{err:#}");
    let (d02, d80) = (as_director(Cdg::Aisne), as_director(Cdg::Somme));
    let forwarded = Signer::from_files(&d80)
        .unwrap()
        .decide(&r.digest, Decision::Approve, "")
        .unwrap();
    let err = cdg_tests::coordinator_client(&url, &d02)
        .await
        .send_decision(&id, forwarded)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(err.message().contains("sent by"), "{}", err.message());
    let err = client
        .send_decision(&id, SignedDecision::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{}", err.message());

    let status = decide(Cdg::Aisne, Decision::Approve).await.unwrap();
    assert_eq!(
        (
            status.departements[0].decision.as_str(),
            status.decisions.len()
        ),
        ("approved", 1)
    );
    let r = client.run(&id).await.unwrap();
    assert_eq!(
        outcome(&r).status,
        OutcomeStatus::Answered as i32,
        "{}",
        outcome(&r).message
    );

    // In question: no run, for anybody, until the comité technique arbitrates, by 3 of its
    // directors' votes (the default rule); the questioner's vote is one of them at most.
    assert_eq!(
        decide(Cdg::Somme, Decision::Question).await.unwrap().state,
        "in question"
    );
    let err = client.run(&id).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("arbitrate"), "{}", err.message());
    let status = decide(Cdg::Somme, Decision::Arbitrate).await.unwrap();
    assert_eq!(
        (status.state.as_str(), status.arbitration_votes.len()),
        ("in question", 1)
    );
    let twice = decide(Cdg::Somme, Decision::Arbitrate).await.unwrap_err();
    assert!(format!("{twice:#}").contains("already voted"), "{twice:#}");
    let status = decide(Cdg::Nord, Decision::Arbitrate).await.unwrap();
    assert_eq!(
        (status.arbitration_votes.len(), status.arbitration_needed),
        (2, 3)
    );
    let err = client.run(&id).await.unwrap_err();
    assert!(err.message().contains("2 so far"), "{}", err.message());
    let status = decide(Cdg::Oise, Decision::Arbitrate).await.unwrap();
    assert_eq!(
        status.state, "completed",
        "settled by the third vote: run before, it may run again"
    );
    assert!(client.run(&id).await.is_ok());
    // Completed: its diffusion is recorded.
    let status = client
        .diffuse(&id, "rapport de l'observatoire")
        .await
        .unwrap();
    assert_eq!(status.state, "diffused");

    // Rejected: refused again, with the director's note.
    decide(Cdg::Aisne, Decision::Reject).await.unwrap();
    let r = client.run(&id).await.unwrap();
    assert_eq!(outcome(&r).status, OutcomeStatus::Refused as i32);
    assert!(
        outcome(&r)
            .message
            .contains("rejected by urn:cdg-hdf:director:02")
    );

    // Every decision is in the audit log, in order, with its signature.
    let log = std::fs::read_to_string(dir.path().join("coordinator/audit.log")).unwrap();
    let kinds: Vec<String> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["kind"].to_string())
        .filter(|k| k.contains("study.") && !k.contains("run"))
        .collect();
    assert_eq!(
        kinds,
        [
            "\"study.submitted\"",
            "\"study.approve\"",
            "\"study.question\"",
            "\"study.arbitrate\"",
            "\"study.arbitrate\"",
            "\"study.arbitrate\"",
            "\"study.arbitrated\"",
            "\"study.diffused\"",
            "\"study.reject\"",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_below_its_quorum_fails_naming_what_is_missing() {
    let n = one_node().await;
    // Only CDG 02's node is configured: CDG 62 is unreachable.
    let (_dir, coordinator, mut client) = coordinator_over(&n).await;
    let with_quorum = |q: &str| {
        cdg_coordinator::study::DEMO_STUDY.replace(
            "departements = [\"02\", \"59\", \"60\", \"62\", \"80\"]",
            &format!("departements = [\"02\", \"62\"]\nquorum = {q}"),
        )
    };
    let bad = client.submit(with_quorum("3")).await.unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().contains("quorum"), "{}", bad.message());

    let all = client
        .submit(with_quorum("\"tous\""))
        .await
        .unwrap()
        .study_id;
    let one = client.submit(with_quorum("1")).await.unwrap().study_id;
    for id in [&all, &one] {
        cdg_tests::approve_as_directors(
            &coordinator.url(),
            &n.pki,
            id,
            &[Cdg::Aisne, Cdg::PasDeCalais],
        )
        .await;
    }
    let err = client.run(&all).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("1 of 2") && err.message().contains("CDG 62"),
        "{}",
        err.message()
    );
    assert!(
        client.result(&all).await.is_err(),
        "no result is kept below the quorum"
    );
    let r = client.run(&one).await.unwrap();
    let answered: Vec<&str> = r
        .outcomes
        .iter()
        .filter(|o| o.status == OutcomeStatus::Answered as i32)
        .map(|o| o.cdg.as_str())
        .collect();
    assert_eq!(answered, ["02"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_directors_deciding_at_once_all_keep_their_decision() {
    let n = one_node().await;
    let (_dir, coordinator, mut client) = coordinator_over(&n).await;
    let url = coordinator.url();
    let id = client
        .submit(cdg_coordinator::study::DEMO_STUDY.to_string())
        .await
        .unwrap()
        .study_id;
    // Each director on their own connection, all sent together, several times over: without
    // serialized updates, the last write of the stored study dropped the others' decisions.
    for _ in 0..3 {
        let decisions = Cdg::ALL.map(|cdg| {
            let (url, tls, id) = (url.clone(), identity(&n.pki, director(cdg)), id.clone());
            tokio::spawn(async move {
                cdg_tests::coordinator_client(&url, &tls)
                    .await
                    .decide(&tls, &id, Decision::Approve, "en séance")
                    .await
            })
        });
        for d in decisions {
            d.await.unwrap().unwrap();
        }
    }
    let status = client.study(&id).await.unwrap();
    assert_eq!(status.decisions.len(), 15, "every decision is kept");
    assert!(
        status.departements.iter().all(|d| d.decision == "approved"),
        "{:?}",
        status.departements
    );
    assert_eq!(status.state, "approved");
}
