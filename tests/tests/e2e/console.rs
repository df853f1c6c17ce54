//! The comité technique's console (`cdg console`) in a real browser: Debian's chromium, driven
//! through chromedriver. A director opens it with the one-time address, reads a study in plain
//! French, approves it with the keyboard, and the coordinator records the signed approval; the
//! results and the audit page follow. A non-director reads without forms and cannot approve;
//! a request without the token, with a spent token or from another Host is refused.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use cdg_coordinator::study::DEMO_STUDY;
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::tls::TlsFiles;
use cdg_tests::web::{Browser, http};
use cdg_tests::{binary, coordinator_client, identity, one_node, start_coordinator};
use fantoccini::{Locator, key::Key};
use tokio::io::AsyncBufReadExt;

/// `cdg console` run as its user would, for `tls`: the process and its one-time address.
async fn console(coordinator: &str, tls: &TlsFiles) -> (tokio::process::Child, String, SocketAddr) {
    let mut child = tokio::process::Command::new(binary("cdg"))
        .args(["--coordinator", coordinator, "--ca"])
        .arg(&tls.ca)
        .arg("--cert")
        .arg(&tls.cert)
        .arg("--key")
        .arg(&tls.key)
        .args(["console", "--no-open", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("cdg console starts");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the console prints its address")
        .unwrap()
        .unwrap();
    // The rest of its output is read as it comes, as a terminal would.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let address = first[first.find("http://").expect(&first)..]
        .trim()
        .to_string();
    let addr: SocketAddr = address["http://".len()..address.find("/?").unwrap()]
        .parse()
        .unwrap();
    (child, address, addr)
}

async fn text_of(b: &Browser) -> String {
    b.client
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_director_reads_and_approves_a_study_in_the_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let n = one_node().await;
    let dir = tempfile::tempdir().unwrap();
    let coordinator =
        start_coordinator(dir.path(), &n.pki, &[(Cdg::Aisne, n.node.url())], 10).await;
    let url = coordinator.url();
    let analyst = identity(&n.pki, Principal::new(Role::ChargeDeMission, Cdg::Nord));
    let mut client = coordinator_client(&url, &analyst).await;
    let study = DEMO_STUDY.replace(
        "departements = [\"02\", \"59\", \"60\", \"62\", \"80\"]",
        "departements = [\"02\"]",
    );
    let submitted = client.submit(study).await.unwrap();
    let id = submitted.study_id.clone();

    let director = identity(&n.pki, Principal::new(Role::Director, Cdg::Aisne));
    let (_console, address, addr) = console(&url, &director).await;

    // Without the token, nothing; another Host (a rebound DNS name), nothing.
    let (code, page) = http(addr, "GET", "/", &[], "").await;
    assert_eq!(code, 401, "{page}");
    assert!(page.contains("jeton"), "{page}");
    let path = &address[address.find("/?").unwrap()..];
    let (code, _) = http(addr, "GET", path, &[("Host", "evil.example:80")], "").await;
    assert_eq!(code, 403);

    // The director opens the printed address: the token is spent for a session cookie.
    let b = &browser.client;
    b.goto(&address).await.unwrap();
    assert_eq!(b.current_url().await.unwrap().path(), "/");
    let (code, page) = http(addr, "GET", path, &[], "").await;
    assert_eq!(code, 403, "a spent token opens nothing: {page}");
    let home = text_of(&browser).await;
    assert!(
        home.contains("Ce qui m'attend") && home.contains(&id),
        "{home}"
    );
    assert!(home.contains("← vous"), "{home}");

    // The study, in plain French, with the digest the director signs.
    b.find(Locator::LinkText(&id))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let page = text_of(&browser).await;
    assert!(page.contains("Nombre d'agents"), "{page}");
    assert!(page.contains(&submitted.digest), "{page}");
    assert!(page.contains("Règles de diffusion"), "{page}");
    // With the keyboard: type the note, Tab to "Approuver et signer", Enter.
    let note = b.find(Locator::Id("note")).await.unwrap();
    note.click().await.unwrap();
    note.send_keys("Accord du CDG 02 pour la Conférence")
        .await
        .unwrap();
    note.send_keys(&Key::Tab.to_string()).await.unwrap();
    let focused = b.active_element().await.unwrap();
    assert_eq!(
        focused.attr("id").await.unwrap().as_deref(),
        Some("approuver")
    );
    focused.send_keys(&Key::Enter.to_string()).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !text_of(&browser).await.contains("Vous avez approuvé") {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            text_of(&browser).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The coordinator holds the signed approval, by this director, over this digest.
    let status = client.study(&id).await.unwrap();
    assert_eq!(status.state, "approved");
    let decision = &status.decisions[0];
    assert_eq!(decision.decision, "approve");
    assert_eq!(decision.study_digest, submitted.digest);
    assert_eq!(decision.note, "Accord du CDG 02 pour la Conférence");
    assert_eq!(
        Principal::from_certificate_der(&decision.certificate).unwrap(),
        Principal::new(Role::Director, Cdg::Aisne)
    );

    // Run: the results page draws the report's charts; the audit page verifies the chain.
    client.run(&id).await.unwrap();
    b.goto(&format!("http://{addr}/etudes/{id}/resultats"))
        .await
        .unwrap();
    let charts = b.find_all(Locator::Css("svg.chart")).await.unwrap();
    assert!(!charts.is_empty(), "the results have charts");
    b.goto(&format!("http://{addr}/journal")).await.unwrap();
    let journal = text_of(&browser).await;
    assert!(journal.contains("chaîne intacte"), "{journal}");
    assert!(journal.contains("approbation signée"), "{journal}");

    // The chargé.e de mission's console: the same pages, no form, and no approval by POST.
    let (_other, address, other) = console(&url, &analyst).await;
    b.goto(&address).await.unwrap();
    b.goto(&format!("http://{other}/etudes/{id}"))
        .await
        .unwrap();
    assert!(text_of(&browser).await.contains("Lecture seule"));
    assert!(
        b.find(Locator::Id("approuver")).await.is_err(),
        "no approve button"
    );
    let name = format!("cdg_console_{}", other.port());
    let cookie = b.get_named_cookie(&name).await.unwrap();
    let cookie = format!("{name}={}", cookie.value());
    let form = format!("decision=approve&note=&digest={}&cle=x", submitted.digest);
    let (code, page) = http(
        other,
        "POST",
        &format!("/etudes/{id}/decision"),
        &[
            ("Cookie", &cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        &form,
    )
    .await;
    assert_eq!(code, 403, "{page}");
    assert!(page.contains("directeur"), "{page}");
    assert_eq!(
        client.study(&id).await.unwrap().decisions.len(),
        1,
        "nothing recorded"
    );
    browser.close().await;
}
