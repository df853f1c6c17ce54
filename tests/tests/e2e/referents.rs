//! Departmental observatories (convention, Art. 1 and 5): a CDG's référent writes and runs the
//! studies of its own département, approved by its own director alone, through the regional
//! coordinator; the result has no regional row; another CDG's référent is refused at each step.

use arrow::array::AsArray;
use cdg_coordinator::output::query_batch;
use cdg_coordinator::study::DEMO_STUDY;
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::proto::v1::node_outcome::Status as OutcomeStatus;
use cdg_shared::query::DEPARTEMENT_COLUMN;
use cdg_shared::tls::TlsFiles;
use cdg_tests::{approve_as_directors, coordinator_client, identity, one_node, start_coordinator};
use tonic::{Code, Status};

const ALL_FIVE: &str = "departements = [\"02\", \"59\", \"60\", \"62\", \"80\"]";

fn refused(outcome: Result<(), Status>, presented: &str, says: &str, case: &str) {
    let status = outcome.expect_err(case);
    assert_eq!(status.code(), Code::PermissionDenied, "{case}: {status:?}");
    let message = status.message();
    assert!(message.contains(presented), "{case}: {message}");
    assert!(message.contains(says), "{case}: {message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referent_runs_its_departements_study_and_another_cdgs_referent_is_refused() {
    let n = one_node().await;
    let dir = tempfile::tempdir().unwrap();
    let nodes = [(Cdg::Aisne, n.node.url())];
    let coordinator = start_coordinator(dir.path(), &n.pki, &nodes, 10).await;
    let url = coordinator.url();
    let referent = |cdg: Cdg| -> TlsFiles { identity(&n.pki, Principal::new(Role::Referent, cdg)) };
    let mut aisne = coordinator_client(&url, &referent(Cdg::Aisne)).await;
    let mut somme = coordinator_client(&url, &referent(Cdg::Somme)).await;
    let departmental = DEMO_STUDY.replace(ALL_FIVE, "departements = [\"02\"]");
    assert_ne!(
        departmental, DEMO_STUDY,
        "the demo study asks the five départements"
    );

    // A regional study is the chef de file's chargé.e de mission's, not a référent's.
    let regional = aisne.submit(DEMO_STUDY.to_string()).await.map(drop);
    refused(
        regional,
        "urn:cdg-hdf:referent:02",
        "02, 59, 60, 62, 80",
        "regional",
    );
    // Another CDG's référent submits nothing for Aisne.
    let foreign = somme.submit(departmental.clone()).await.map(drop);
    refused(
        foreign,
        "urn:cdg-hdf:referent:80",
        "departements 02",
        "foreign submit",
    );

    let id = aisne.submit(departmental).await.unwrap().study_id;
    // Its own director alone approves it.
    approve_as_directors(&url, &n.pki, &id, &[Cdg::Aisne]).await;
    let status = aisne.study(&id).await.unwrap();
    assert_eq!(status.state, "approved", "{status:?}");

    // Somme's référent neither runs, reads, lists nor diffuses Aisne's study.
    refused(
        somme.run(&id).await.map(drop),
        "referent:80",
        "departements 02",
        "run",
    );
    refused(
        somme.study(&id).await.map(drop),
        "referent:80",
        "departements 02",
        "read",
    );
    let diffused = somme.diffuse(&id, "publiée").await.map(drop);
    refused(diffused, "referent:80", "departements 02", "diffuse");
    assert!(
        somme.studies().await.unwrap().is_empty(),
        "Somme lists nothing of Aisne"
    );
    let notices = somme.notices().await.map(drop);
    refused(
        notices,
        "referent:80",
        "urn:cdg-hdf:director:<a member CDG>",
        "notices",
    );
    assert_eq!(aisne.studies().await.unwrap().len(), 1);

    let result = aisne
        .run(&id)
        .await
        .expect("Aisne's référent runs its study");
    assert_eq!(result.outcomes.len(), 1);
    assert_eq!(
        result.outcomes[0].status,
        OutcomeStatus::Answered as i32,
        "{:?}",
        result.outcomes[0]
    );
    refused(
        somme.result(&id).await.map(drop),
        "referent:80",
        "departements 02",
        "result",
    );
    // A study of one département has no Hauts-de-France row: every row is Aisne's.
    assert!(!result.queries.is_empty());
    for q in &result.queries {
        let batch = query_batch(q).unwrap();
        let column = batch.schema().index_of(DEPARTEMENT_COLUMN).unwrap();
        let deps = batch.column(column).as_string::<i32>();
        assert!(batch.num_rows() > 0, "{}", q.name);
        assert!(deps.iter().all(|d| d == Some("02")), "{}: {deps:?}", q.name);
    }
    aisne
        .diffuse(&id, "publiée par l'observatoire départemental")
        .await
        .unwrap();

    // The log says who ran it.
    let log = cdg_tests::audit_log_text(&url, &n.pki).await;
    let run = log
        .lines()
        .find(|l| l.contains("study.run.started"))
        .unwrap();
    assert!(run.contains("urn:cdg-hdf:referent:02"), "{run}");
    assert!(
        !log.contains("referent:80"),
        "nothing refused reached the log"
    );
}
