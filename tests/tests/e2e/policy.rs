//! The node's policy as its operator sets it, on a running node: the daily budget of released
//! cells, the overlap watch on families of equivalent queries, and whitelists of dimensions and
//! measures; and the complement rule of a filter on years, which the node settles from its
//! per-year totals.

use std::path::Path;

use cdg_node::config::NodeConfig;
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::proto::v1::{Aggregate, AggregateQuery, Measure};
use cdg_tests::{
    FIRST_YEAR, OneNode, as_role, describe, one_node, query, with_filters, year_filter,
};

fn measure(aggregate: Aggregate, column: &str) -> Measure {
    Measure {
        aggregate: aggregate as i32,
        column: column.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn equivalent_queries_on_one_small_group_are_refused_past_the_limit() {
    let n = one_node().await;
    let mut config = n.config.clone();
    // Every cell counts as small here, and three different queries reaching it are allowed.
    config.policy.overlap.small_group = 1_000_000;
    config.policy.overlap.flag_after = 2;
    config.policy.overlap.refuse_after = 3;
    let mut n = n;
    n.relaunch(config, cdg_tests::test_today()).await;
    let mut c = as_role(&n, Principal::new(Role::Coordinator, Cdg::Nord)).await;
    let ask = |extra: &[Measure], analyst: &str| {
        let mut q = with_filters(query("agents", &["sexe"]), year_filter());
        q.measures.extend(extra.iter().cloned());
        let mut request = n.approved(q);
        request.analyst = analyst.into();
        request
    };
    let alice = "urn:cdg-hdf:charge-de-mission:59";
    // The same two cells (women, men of the year), reached by different queries.
    let variants: Vec<Vec<Measure>> = [
        "etpr",
        "remuneration_brute_annuelle",
        "femme",
        "contractuel",
    ]
    .iter()
    .scan(Vec::new(), |acc: &mut Vec<Measure>, column| {
        acc.push(measure(Aggregate::Mean, column));
        Some(acc.clone())
    })
    .collect();
    let first = c
        .execute(ask(&[], alice))
        .await
        .unwrap()
        .into_inner()
        .arrow_ipc;
    for extra in &variants[..2] {
        c.execute(ask(extra, alice))
            .await
            .expect("within the limit");
    }
    let refused = c.execute(ask(&variants[2], alice)).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    assert!(
        refused.message().contains("overlap watch") && refused.message().contains("refuse_after"),
        "{}",
        refused.message()
    );
    // Repeating a query already answered teaches nothing new: still answered, identically.
    let again = c
        .execute(ask(&[], alice))
        .await
        .unwrap()
        .into_inner()
        .arrow_ipc;
    assert_eq!(again, first);
    // Another analyst has their own watch.
    assert!(
        c.execute(ask(&variants[2], "urn:cdg-hdf:director:80"))
            .await
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_narrowing_the_catalogue_is_enforced_and_published() {
    let n = one_node().await;
    let mut config = n.config.clone();
    config.policy.datasets.insert(
        "agents".into(),
        cdg_node::config::DatasetPolicy {
            dimensions: Some(vec!["annee".into(), "sexe".into(), "categorie".into()]),
            measures: Some(vec!["etpr".into()]),
        },
    );
    let mut n = n;
    n.relaunch(config, cdg_tests::test_today()).await;
    let mut c = as_role(&n, Principal::new(Role::Coordinator, Cdg::Nord)).await;
    let refused = c
        .execute(n.approved(query("agents", &["filiere"])))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    assert!(
        refused.message().contains("filiere")
            && refused.message().contains("annee, sexe, categorie"),
        "{}",
        refused.message()
    );
    let mut pay: AggregateQuery = query("agents", &["sexe"]);
    pay.measures
        .push(measure(Aggregate::Mean, "remuneration_brute_annuelle"));
    let refused = c.execute(n.approved(pay)).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    assert!(refused.message().contains("etpr"), "{}", refused.message());
    assert!(
        c.execute(n.approved(query("agents", &["categorie"])))
            .await
            .is_ok()
    );
    let agents = describe(&mut c)
        .await
        .datasets
        .into_iter()
        .find(|d| d.name == "agents")
        .unwrap();
    let dims: Vec<String> = agents.dimensions.into_iter().map(|d| d.name).collect();
    assert_eq!(dims, ["annee", "sexe", "categorie"]);
    assert_eq!(agents.measures, ["etpr"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analyst_past_the_daily_budget_is_refused_until_the_next_day() {
    let n = one_node().await;
    let mut config = n.config.clone();
    config.policy.max_cells_per_analyst_per_day = 10;
    let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 6, d).unwrap();
    let by_sexe = n.approved(with_filters(query("agents", &["sexe"]), year_filter()));
    let ask = |analyst: &str| {
        let mut request = by_sexe.clone();
        request.analyst = analyst.into();
        request
    };
    let (alice, bob) = (
        "urn:cdg-hdf:charge-de-mission:59",
        "urn:cdg-hdf:director:80",
    );
    let tls = cdg_tests::identity(&n.pki, Principal::new(Role::Coordinator, Cdg::Nord));
    let mut n = n;
    // The two sexes are two cells: five answers spend the budget of ten.
    n.relaunch(config.clone(), day(15)).await;
    let mut c = cdg_tests::node_client(&n.node.url(), &tls, Cdg::Aisne)
        .await
        .unwrap();
    for _ in 0..5 {
        c.execute(ask(alice)).await.expect("within the budget");
    }
    let status = c.execute(ask(alice)).await.unwrap_err();
    assert_eq!(
        status.code(),
        tonic::Code::ResourceExhausted,
        "{}",
        status.message()
    );
    assert!(
        status.message().contains(alice) && status.message().contains("10"),
        "{}",
        status.message()
    );
    assert!(
        c.execute(ask(bob)).await.is_ok(),
        "another analyst has their own budget"
    );
    // The count survives a restart; the next day starts afresh.
    n.relaunch(config.clone(), day(15)).await;
    let mut c = cdg_tests::node_client(&n.node.url(), &tls, Cdg::Aisne)
        .await
        .unwrap();
    assert!(
        c.execute(ask(alice)).await.is_err(),
        "the spent budget is on disk"
    );
    n.relaunch(config, day(16)).await;
    let mut c = cdg_tests::node_client(&n.node.url(), &tls, Cdg::Aisne)
        .await
        .unwrap();
    assert!(c.execute(ask(alice)).await.is_ok());
}

/// Adds a year of six agents (2022, before the harness's years), with its employers.
fn plant_a_small_year(config: &NodeConfig, csv_dir: &Path) {
    let store = cdg_node::store::Store::open(&config.database).unwrap();
    let to_2022 = |dataset: &'static cdg_node::catalogue::Dataset, rows: usize| {
        let from = csv_dir.join(format!("{}_{FIRST_YEAR}.csv", dataset.name));
        let text = std::fs::read_to_string(&from).unwrap();
        let mut lines = text.lines();
        let mut out = vec![lines.next().unwrap().to_string()];
        out.extend(
            lines
                .take(rows)
                .map(|l| l.replacen(&FIRST_YEAR.to_string(), "2022", 1)),
        );
        let path = csv_dir.join(format!("{}_2022.csv", dataset.name));
        std::fs::write(&path, out.join("\r\n") + "\r\n").unwrap();
        let report =
            cdg_node::ingest::import_file(&store, dataset, 2022, &path, &Default::default())
                .unwrap();
        assert_eq!(report.rows_quarantined, 0, "{}", report.summary());
    };
    to_2022(&cdg_node::catalogue::EMPLOYEURS, usize::MAX);
    to_2022(&cdg_node::catalogue::AGENTS, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_year_filter_leaving_a_small_year_out_is_refused() {
    let n = one_node().await;
    let by_sexe = |n: &OneNode, years: &[&str]| {
        let filters = vec![cdg_tests::filter("annee", years)];
        n.approved(with_filters(query("agents", &["sexe"]), filters))
    };
    let mut c = as_role(&n, Principal::new(Role::Coordinator, Cdg::Nord)).await;
    let both = ["2023", "2024"];
    assert!(
        c.execute(by_sexe(&n, &both)).await.is_ok(),
        "nothing left out"
    );
    drop(c);
    let n = n.restart(plant_a_small_year).await;
    let mut c = as_role(&n, Principal::new(Role::Coordinator, Cdg::Nord)).await;
    // Comparing 2023-2024 with every year would count the six agents of 2022.
    let status = c.execute(by_sexe(&n, &both)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    assert!(
        status.message().contains("complement rule") && status.message().contains("annee"),
        "{}",
        status.message()
    );
    // 2024 alone leaves out 2022 and the whole of 2023: answered.
    assert!(c.execute(by_sexe(&n, &["2024"])).await.is_ok());
}
