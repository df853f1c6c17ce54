//! The comité technique's rules (convention, Art. 4) end to end, with the directors' mail
//! received by a real SMTP server on loopback: an external study is announced to every
//! director and runs only once each was reached; a question is settled by a vote of the
//! comité, each vote mailed; a completed run is restituted to every director. A mail server
//! that is down blocks nothing that does not need it and loses no notice.

use cdg_coordinator::notices::MailConfig;
use cdg_coordinator::study::DEMO_STUDY;
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::signing::Decision;
use cdg_tests::web::{Mail, Smtp};
use cdg_tests::{
    approve_as_directors, coordinator_client, coordinator_config, free_address, identity, one_node,
    start_coordinator_with,
};
use tonic::Code;

const ALL_FIVE: &str = "departements = [\"02\", \"59\", \"60\", \"62\", \"80\"]";

fn address(cdg: Cdg) -> String {
    format!("direction@cdg{}.fr", cdg.code())
}

fn mail(port: u16) -> MailConfig {
    MailConfig {
        smtp_url: format!("smtp://127.0.0.1:{port}"),
        from: "Observatoire régional <observatoire@cdg59.fr>".into(),
        console_url: "http://127.0.0.1:7459".into(),
        retry_secs: 1,
        directors: Cdg::ALL.into_iter().map(|c| (c, address(c))).collect(),
    }
}

fn to(mails: &[Mail], cdg: Cdg, subject: &str) -> usize {
    mails
        .iter()
        .filter(|m| m.to == [address(cdg)] && m.subject.contains(subject))
        .count()
}

/// The demo study, asking `departements`, to be diffused beyond the five CDGs on `terms`.
fn external_study(departements: &str, terms: &str) -> String {
    DEMO_STUDY.replace(ALL_FIVE, departements).replace(
        "diffusion = \"interne\"",
        &format!("diffusion = \"externe\"\ndiffusion_terms = \"{terms}\""),
    )
}

/// Waits until study `id`'s status satisfies `done` (30 s at most).
async fn until(
    client: &mut cdg_coordinator::client::CoordinatorClient,
    id: &str,
    what: &str,
    done: impl Fn(&cdg_shared::proto::v1::StudyStatus) -> bool,
) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !done(&client.study(id).await.unwrap()) {
        assert!(std::time::Instant::now() < deadline, "not {what}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A node of CDG 02 and a coordinator mailing the directors through `port`, with the
/// chargé.e de mission's client.
struct Mailing {
    n: cdg_tests::OneNode,
    _dir: tempfile::TempDir,
    _coordinator: cdg_tests::Running,
    url: String,
    client: cdg_coordinator::client::CoordinatorClient,
}

async fn mailing(port: u16) -> Mailing {
    let n = one_node().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = coordinator_config(dir.path(), &n.pki, &[(Cdg::Aisne, n.node.url())], 10);
    config.mail = Some(mail(port));
    let coordinator = start_coordinator_with(config).await;
    let url = coordinator.url();
    let analyst = identity(&n.pki, Principal::new(Role::ChargeDeMission, Cdg::Nord));
    let client = coordinator_client(&url, &analyst).await;
    Mailing {
        n,
        _dir: dir,
        _coordinator: coordinator,
        url,
        client,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_study_runs_once_announced_and_its_results_are_restituted_by_mail() {
    if !Smtp::available() {
        return;
    }
    // The mail server is down when the study is submitted.
    let port = free_address().port();
    // Every field bound: the coordinator and its folder live to the end of the test.
    let Mailing {
        n,
        _dir,
        _coordinator,
        url,
        mut client,
    } = mailing(port).await;
    let terms = "publication au rapport annuel de la Conférence régionale, tableaux agrégés";
    let external = external_study("departements = [\"02\", \"62\"]", terms);
    assert!(external.contains("externe"), "the demo study is internal");
    let id = client.submit(external).await.unwrap().study_id;
    approve_as_directors(&url, &n.pki, &id, &[Cdg::Aisne, Cdg::PasDeCalais]).await;

    // Nothing reached the directors of 59, 60 and 80: the run is refused, naming them.
    let refused = client.run(&id).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(
        refused.message().contains("CDG 59, 60, 80") && refused.message().contains("Art. 4"),
        "{}",
        refused.message()
    );
    // The notices wait, with the server's error, and are shown to the directors.
    let director = identity(&n.pki, Principal::new(Role::Director, Cdg::Somme));
    let mut somme = coordinator_client(&url, &director).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let waiting = loop {
        let n = somme.notices().await.unwrap();
        assert!(n.mail_configured);
        if n.notices.iter().all(|m| m.attempts >= 1) && !n.notices.is_empty() {
            break n.notices;
        }
        assert!(std::time::Instant::now() < deadline, "no attempt: {n:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    // Two "à examiner" (02, 62) and five announcements, none lost, none sent.
    assert_eq!(waiting.len(), 7, "{waiting:#?}");
    assert!(
        waiting
            .iter()
            .all(|m| m.sent_at.is_empty() && !m.last_error.is_empty())
    );

    // The mail server comes back: the retries deliver everything.
    let maildir = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(port, maildir.path());
    let mails = smtp
        .wait_for("announcement to the five directors", |m| {
            Cdg::ALL.iter().all(|&c| to(m, c, "étude externe") == 1)
        })
        .await;
    let announcement = mails.iter().find(|m| m.to == [address(Cdg::Oise)]).unwrap();
    assert!(announcement.body.contains(terms), "{}", announcement.body);
    assert!(
        announcement
            .body
            .contains(&format!("http://127.0.0.1:7459/etudes/{id}")),
        "{}",
        announcement.body
    );
    assert!(announcement.from.contains("observatoire@cdg59.fr"));
    smtp.wait_for("the two requests for a decision", |m| {
        to(m, Cdg::Aisne, "à examiner") == 1 && to(m, Cdg::PasDeCalais, "à examiner") == 1
    })
    .await;

    // Announced: on record, and the study runs.
    until(&mut client, &id, "recorded as announced", |s| {
        s.announcement_awaits.is_empty()
    })
    .await;
    let log = cdg_tests::audit_log_text(&url, &n.pki).await;
    let announced = log
        .lines()
        .find(|l| l.contains("\"study.announced\""))
        .unwrap();
    assert!(
        announced.contains("courriel") && announced.contains("lecture"),
        "the directors reached by mail, and by reading the study they signed: {announced}"
    );
    client.run(&id).await.expect("the announced study runs");

    // Restitution: every director receives the results, and that is on record.
    smtp.wait_for("the results for the five directors", |m| {
        Cdg::ALL
            .iter()
            .all(|&c| to(m, c, "Résultats de l'étude") == 1)
    })
    .await;
    until(&mut client, &id, "recorded as restituted", |s| {
        !s.restituted_at.is_empty()
    })
    .await;
    let log = cdg_tests::audit_log_text(&url, &n.pki).await;
    assert!(log.contains("\"study.restituted\""));
    let sent = somme.notices().await.unwrap().notices;
    assert!(sent.iter().all(|m| !m.sent_at.is_empty()), "{sent:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_is_settled_by_the_comites_vote_each_vote_mailed() {
    if !Smtp::available() {
        return;
    }
    let port = free_address().port();
    let maildir = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(port, maildir.path());
    // Every field bound: the coordinator and its folder live to the end of the test.
    let Mailing {
        n,
        _dir,
        _coordinator,
        url,
        mut client,
    } = mailing(port).await;
    let study = DEMO_STUDY.replace(ALL_FIVE, "departements = [\"02\"]");
    let id = client.submit(study).await.unwrap().study_id;
    approve_as_directors(&url, &n.pki, &id, &[Cdg::Aisne]).await;

    let decide = |cdg: Cdg, d: Decision, note: &'static str| {
        let (url, tls) = (
            url.clone(),
            identity(&n.pki, Principal::new(Role::Director, cdg)),
        );
        let id = id.clone();
        async move {
            coordinator_client(&url, &tls)
                .await
                .decide(&tls, &id, d, note)
                .await
        }
    };
    let question = "Les effectifs par filière du CDG 80 sont-ils comparables ?";
    decide(Cdg::Somme, Decision::Question, question)
        .await
        .unwrap();
    let mails = smtp
        .wait_for("the question to the five directors", |m| {
            Cdg::ALL.iter().all(|&c| to(m, c, "Arbitrage demandé") == 1)
        })
        .await;
    let q = mails
        .iter()
        .find(|m| m.subject.contains("Arbitrage"))
        .unwrap();
    assert!(
        q.body.contains(question) && q.body.contains("director:80"),
        "{}",
        q.body
    );

    // The questioner's vote alone never settles it, nor a second vote of the same director.
    decide(Cdg::Somme, Decision::Arbitrate, "").await.unwrap();
    let again = decide(Cdg::Somme, Decision::Arbitrate, "")
        .await
        .unwrap_err();
    assert!(format!("{again:#}").contains("already voted"), "{again:#}");
    decide(Cdg::Oise, Decision::Arbitrate, "").await.unwrap();
    assert_eq!(client.study(&id).await.unwrap().state, "in question");
    assert_eq!(
        client.run(&id).await.unwrap_err().code(),
        Code::FailedPrecondition
    );
    decide(Cdg::Nord, Decision::Arbitrate, "Arbitré en comité")
        .await
        .unwrap();
    assert_eq!(client.study(&id).await.unwrap().state, "approved");

    let mails = smtp
        .wait_for("three votes mailed to each director", |m| {
            Cdg::ALL.iter().all(|&c| to(m, c, "Vote d'arbitrage") == 3)
        })
        .await;
    let settled = mails
        .iter()
        .filter(|m| m.subject.contains("(3/3)"))
        .collect::<Vec<_>>();
    assert_eq!(settled.len(), 5, "the settling vote goes to every director");
    assert!(
        settled[0].body.contains("La question est levée"),
        "{}",
        settled[0].body
    );
    let log = cdg_tests::audit_log_text(&url, &n.pki).await;
    let arbitrated = log
        .lines()
        .find(|l| l.contains("\"study.arbitrated\""))
        .unwrap();
    for voter in ["director:80", "director:60", "director:59"] {
        assert!(arbitrated.contains(voter), "{arbitrated}");
    }
    client
        .run(&id)
        .await
        .expect("settled and approved: it runs");
    // A departmental study's results go to its own director.
    smtp.wait_for("the results for CDG 02's director", |m| {
        to(m, Cdg::Aisne, "Résultats de l'étude") == 1
    })
    .await;
    assert_eq!(to(&smtp.mails(), Cdg::Somme, "Résultats de l'étude"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announcement_owed_when_mail_is_configured_later_is_sent_at_restart() {
    if !Smtp::available() {
        return;
    }
    let n = one_node().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = coordinator_config(dir.path(), &n.pki, &[(Cdg::Aisne, n.node.url())], 10);
    // First without [mail]: the external study is owed to the five directors.
    let first = start_coordinator_with(config.clone()).await;
    let analyst = identity(&n.pki, Principal::new(Role::ChargeDeMission, Cdg::Nord));
    let study = external_study("departements = [\"02\"]", "rapport public");
    let id = coordinator_client(&first.url(), &analyst)
        .await
        .submit(study)
        .await
        .unwrap()
        .study_id;
    first.stop().await;
    // Restarted with [mail]: the announcement still owed is queued and delivered.
    let port = free_address().port();
    let maildir = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(port, maildir.path());
    config.mail = Some(mail(port));
    let second = start_coordinator_with(config).await;
    let mails = smtp
        .wait_for("the owed announcement", |m| {
            Cdg::ALL.iter().all(|&c| to(m, c, "étude externe") == 1)
        })
        .await;
    assert!(mails.iter().all(|m| m.body.contains(&id)));
    let mut client = coordinator_client(&second.url(), &analyst).await;
    until(&mut client, &id, "recorded as announced", |s| {
        s.announcement_awaits.is_empty()
    })
    .await;
}
