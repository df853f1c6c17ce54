//! Disclosure attacks on a running node over mutual TLS: what an analyst learns by repeating a
//! query, by reaching the same cell through other queries, by asking after a restart, a year
//! apart, or with a filter leaving a few out; forbidden statistics; the convention's dates; and
//! a property test on random queries. (Inference with planted targets: `inference.rs`.)

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use cdg_node::config::NodeConfig;
use cdg_shared::arrow_ipc;
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::query::RELEASED;
use cdg_tests::{
    LAST_YEAR, answer, as_role, count_by, describe, filter, one_node, query, read_agents,
    with_filters, year_filter,
};

/// Released cells of an answer: the `sexe` value to the published count.
fn by_sexe(ipc: &[u8]) -> BTreeMap<String, i64> {
    let (_, batches) = arrow_ipc::decode(ipc).unwrap();
    let batch: &RecordBatch = &batches[0];
    let sexe = batch.column_by_name("sexe").unwrap().as_string::<i32>();
    let status = batch
        .column_by_name("diffusion")
        .unwrap()
        .as_string::<i32>();
    let counts = batch
        .column_by_name("nombre")
        .unwrap()
        .as_primitive::<Int64Type>();
    (0..batch.num_rows())
        .filter(|&r| status.value(r) == RELEASED && !counts.is_null(r))
        .map(|r| (sexe.value(r).to_string(), counts.value(r)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeating_a_query_gives_the_same_bytes_so_averaging_learns_nothing() {
    let n = one_node().await;
    let q = with_filters(query("agents", &["sexe", "categorie"]), year_filter());
    let first = answer(&n, q.clone()).await;
    for _ in 0..100 {
        assert_eq!(
            answer(&n, q.clone()).await,
            first,
            "a repeated answer changed"
        );
    }
    // The average of the 100 answers is the first answer: still off the truth where noise fell.
    let (_, batches) = arrow_ipc::decode(&first).unwrap();
    let batch = &batches[0];
    let agents = read_agents(&n.csv_dir, LAST_YEAR);
    let truth = count_by(&agents, |a| (a.sexe.clone(), a.categorie.clone()));
    let (sexe, categorie) = (
        batch.column_by_name("sexe").unwrap().as_string::<i32>(),
        batch
            .column_by_name("categorie")
            .unwrap()
            .as_string::<i32>(),
    );
    let counts = batch
        .column_by_name("nombre")
        .unwrap()
        .as_primitive::<Int64Type>();
    let mut off = 0;
    for r in (0..batch.num_rows()).filter(|&r| !counts.is_null(r)) {
        let t = truth[&(sexe.value(r).to_string(), categorie.value(r).to_string())];
        assert!((counts.value(r) - t).abs() <= 4);
        off += usize::from(counts.value(r) != t);
    }
    assert!(
        off > 0,
        "no released cell carries noise: averaging would not be needed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_cell_reached_by_other_queries_has_the_same_value() {
    let n = one_node().await;
    let plain = by_sexe(&answer(&n, with_filters(query("agents", &["sexe"]), year_filter())).await);
    let with_year = by_sexe(
        &answer(
            &n,
            with_filters(query("agents", &["annee", "sexe"]), year_filter()),
        )
        .await,
    );
    let mut every_category = year_filter();
    every_category.push(filter("categorie", &["A", "B", "C"]));
    let all_categories =
        by_sexe(&answer(&n, with_filters(query("agents", &["sexe"]), every_category)).await);
    assert_eq!(plain.len(), 2);
    assert_eq!(plain, with_year, "grouping by the filtered year too");
    assert_eq!(plain, all_categories, "filtering on every catégorie");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_noise_is_published_the_key_is_not_and_a_restart_keeps_the_answers() {
    let n = one_node().await;
    let mut c = as_role(&n, Principal::new(Role::Director, Cdg::Aisne)).await;
    let described = describe(&mut c).await;
    let policy = described.policy.clone().unwrap();
    assert_eq!((policy.max_noise, policy.noise_variance), (4, 2.0));
    let key_path = n.config.record_key_path();
    let key = std::fs::read_to_string(&key_path).unwrap();
    assert_eq!(key.trim().len(), 64, "32 bytes in hex");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the record key is readable by the node only"
        );
    }
    assert!(!format!("{described:?}").contains(key.trim()));

    let q = with_filters(query("agents", &["sexe", "filiere"]), year_filter());
    let before = answer(&n, q.clone()).await;
    let n = n.restart(|_, _| ()).await;
    assert_eq!(answer(&n, q).await, before, "the same key after a restart");
}

/// Replaces the year's `autre` absences with 14 agents off one day each and one agent off the
/// whole year: a cell with enough agents, where one long sick leave is nearly the whole total.
fn plant_one_long_sick_leave(config: &NodeConfig, csv_dir: &Path) {
    let agents = std::fs::read_to_string(csv_dir.join(format!("agents_{LAST_YEAR}.csv"))).unwrap();
    let mut by_employer: BTreeMap<String, String> = BTreeMap::new();
    for line in agents.lines().skip(1) {
        let f: Vec<&str> = line.split(';').collect();
        by_employer
            .entry(f[2].to_string())
            .or_insert_with(|| f[1].to_string());
    }
    assert!(
        by_employer.len() >= 15,
        "the synthetic data has enough employers"
    );
    let path = csv_dir.join(format!("absences_{LAST_YEAR}.csv"));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out: Vec<String> = text
        .lines()
        .filter(|l| !l.contains(";autre;"))
        .map(str::to_string)
        .collect();
    for (i, (employer, agent)) in by_employer.iter().take(15).enumerate() {
        let days = if i == 0 { 366 } else { 1 };
        out.push(format!("{LAST_YEAR};{agent};{employer};autre;1;{days}"));
    }
    std::fs::write(&path, out.join("\r\n") + "\r\n").unwrap();
    let store = cdg_node::store::Store::open(&config.database).unwrap();
    cdg_node::ingest::import_file(
        &store,
        &cdg_node::catalogue::ABSENCES,
        LAST_YEAR,
        &path,
        &Default::default(),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_long_sick_leave_does_not_show_through_a_sum() {
    let n = one_node().await.restart(plant_one_long_sick_leave).await;

    let mut q = with_filters(query("absences", &["motif_absence"]), year_filter());
    let status_of_autre = |ipc: &[u8]| {
        let (_, batches) = arrow_ipc::decode(ipc).unwrap();
        let b = &batches[0];
        let motif = b
            .column_by_name("motif_absence")
            .unwrap()
            .as_string::<i32>();
        let status = b.column_by_name("diffusion").unwrap().as_string::<i32>();
        (0..b.num_rows())
            .find(|&r| motif.value(r) == "autre")
            .map(|r| status.value(r).to_string())
            .expect("an autre cell")
    };
    // Counting the 15 absent agents is fine...
    assert_eq!(status_of_autre(&answer(&n, q.clone()).await), RELEASED);
    // ...but their days would give away the long leave: the p% rule keeps the sum secret.
    q.measures.push(cdg_shared::proto::v1::Measure {
        aggregate: cdg_shared::proto::v1::Aggregate::Sum as i32,
        column: "jours_calendaires".into(),
    });
    assert_eq!(status_of_autre(&answer(&n, q).await), "secret: dominance");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_leaving_a_few_agents_out_is_refused() {
    let n = one_node().await;
    let agents = read_agents(&n.csv_dir, LAST_YEAR);
    let groups = count_by(&agents, |a| (a.filiere.clone(), a.categorie.clone()));
    // A filière with one small catégorie (1 to 10 agents) and a large rest.
    let ((filiere, small), _) = groups
        .iter()
        .find(|((f, _), n)| {
            (1..=10).contains(*n)
                && groups
                    .iter()
                    .filter(|((g, _), _)| g == f)
                    .map(|(_, m)| m)
                    .sum::<i64>()
                    > 40
        })
        .expect("the synthetic data has a small catégorie in some filière");
    let others: Vec<&str> = ["A", "B", "C"].into_iter().filter(|c| c != small).collect();
    let mut filters = year_filter();
    filters.push(filter("filiere", &[filiere]));
    filters.push(filter("categorie", &others));
    let mut c = as_role(&n, Principal::new(Role::Coordinator, Cdg::Nord)).await;
    // "Everybody in the filière but catégorie X", compared with "everybody in the filière",
    // would count catégorie X: refused, naming the rule and the filter.
    let status = c
        .execute(n.approved(with_filters(query("agents", &["sexe"]), filters)))
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        tonic::Code::PermissionDenied,
        "{}",
        status.message()
    );
    assert!(
        status.message().contains("complement rule") && status.message().contains("categorie"),
        "{}",
        status.message()
    );
    // The filière alone leaves out large groups (other filières, other years): answered.
    let mut filters = year_filter();
    filters.push(filter("filiere", &[filiere]));
    let answered = c
        .execute(n.approved(with_filters(query("agents", &["sexe"]), filters)))
        .await;
    assert!(answered.is_ok(), "{:?}", answered.err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_released_outside_the_convention_until_an_avenant() {
    let mut n = one_node().await;
    let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
    let q = with_filters(query("agents", &["sexe"]), year_filter());
    let mut config = n.config.clone();
    let tls = cdg_tests::identity(&n.pki, Principal::new(Role::Coordinator, Cdg::Nord));
    for today in [day(2022, 12, 31), day(2027, 1, 1)] {
        n.relaunch(config.clone(), today).await;
        let mut c = cdg_tests::node_client(&n.node.url(), &tls, Cdg::Aisne)
            .await
            .unwrap();
        let status = c.execute(n.approved(q.clone())).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{today}");
        assert!(
            status.message().contains("2023-01-01 to 2026-12-31")
                && status.message().contains("avenant"),
            "{}",
            status.message()
        );
        // Members can still read what the node would do.
        let described = describe(&mut c).await.policy.unwrap();
        assert_eq!(described.convention_end, "2026-12-31");
    }
    // The operator records the avenant: the node answers again.
    config
        .policy
        .convention
        .avenants
        .push(cdg_node::config::Avenant {
            end: "2029-12-31".into(),
            reference: "avenant n°1".into(),
        });
    n.relaunch(config, day(2027, 1, 1)).await;
    let mut c = cdg_tests::node_client(&n.node.url(), &tls, Cdg::Aisne)
        .await
        .unwrap();
    assert!(c.execute(n.approved(q)).await.is_ok());
    assert_eq!(
        describe(&mut c).await.policy.unwrap().convention_end,
        "2029-12-31"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_statistics_and_identifier_filters_are_refused() {
    let n = one_node().await;
    let mut c = as_role(&n, Principal::new(Role::Coordinator, Cdg::Nord)).await;
    let measure = |aggregate: i32, column: &str| cdg_shared::proto::v1::Measure {
        aggregate,
        column: column.into(),
    };
    let mut max_pay = query("agents", &["sexe"]);
    // No MIN, MAX or any other statistic than count, sum and mean exists on the wire.
    max_pay.measures = vec![measure(42, "remuneration_brute_annuelle")];
    let mut sum_of_ids = query("agents", &["sexe"]);
    sum_of_ids.measures = vec![measure(
        cdg_shared::proto::v1::Aggregate::Sum as i32,
        "agent_id",
    )];
    let one_employer = with_filters(
        query("agents", &["sexe"]),
        vec![filter("employeur_id", &["E0200001"])],
    );
    let one_agent = with_filters(
        query("agents", &["sexe"]),
        vec![filter("agent_id", &["A0200001"])],
    );
    for (q, culprit) in [
        (max_pay, "aggregate"),
        (sum_of_ids, "agent_id"),
        (one_employer, "employeur_id"),
        (one_agent, "agent_id"),
        (query("offres", &["employeur_id"]), "employeur_id"),
    ] {
        let status = c.execute(n.approved(q)).await.unwrap_err();
        assert_eq!(
            status.code(),
            tonic::Code::InvalidArgument,
            "{}",
            status.message()
        );
        assert!(
            status.message().contains(culprit),
            "{culprit}: {}",
            status.message()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_cell_a_year_apart_does_not_give_the_exact_change() {
    let n = one_node().await;
    let ipc = answer(&n, query("agents", &["annee", "filiere", "sexe"])).await;
    let (_, batches) = arrow_ipc::decode(&ipc).unwrap();
    let b = &batches[0];
    let text = |name: &str, r: usize| {
        b.column_by_name(name)
            .unwrap()
            .as_string::<i32>()
            .value(r)
            .to_string()
    };
    let counts = b
        .column_by_name("nombre")
        .unwrap()
        .as_primitive::<Int64Type>();
    let mut published: BTreeMap<(String, String, String), i64> = BTreeMap::new();
    for r in (0..b.num_rows()).filter(|&r| !counts.is_null(r)) {
        published.insert(
            (text("annee", r), text("filiere", r), text("sexe", r)),
            counts.value(r),
        );
    }
    let truth = |year: i32| {
        count_by(&read_agents(&n.csv_dir, year), |a| {
            (a.filiere.clone(), a.sexe.clone())
        })
    };
    let (before, after) = (truth(cdg_tests::FIRST_YEAR), truth(LAST_YEAR));
    let (mut pairs, mut blurred) = (0, 0);
    for ((filiere, sexe), now) in &after {
        let key = |y: i32| (y.to_string(), filiere.clone(), sexe.clone());
        let (Some(p_now), Some(p_then)) = (
            published.get(&key(LAST_YEAR)),
            published.get(&key(cdg_tests::FIRST_YEAR)),
        ) else {
            continue;
        };
        let true_change = now - before[&(filiere.clone(), sexe.clone())];
        let error = (p_now - p_then) - true_change;
        assert!(error.abs() <= 8, "two noises of at most 4 each");
        pairs += 1;
        blurred += usize::from(error != 0);
    }
    // Each year's cell has its own key (other agents, other record keys): the published change
    // is off the true one in most cells, so who joined or left cannot be read from it.
    assert!(pairs >= 6, "{pairs} cells released in both years");
    assert!(
        blurred * 4 >= pairs,
        "only {blurred} of {pairs} changes are blurred"
    );
}

/// The value of an agents dimension the test can compute from the generated file.
fn agent_dimension(a: &cdg_tests::AgentRow, name: &str) -> String {
    match name {
        "sexe" => a.sexe.clone(),
        "categorie" => a.categorie.clone(),
        "filiere" => a.filiere.clone(),
        "statut" => a.statut.clone(),
        _ => cdg_node::codes::tranche_age(a.annee - a.annee_naissance).to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_released_cell_of_random_queries_holds_1_to_10_agents() {
    let n = one_node().await;
    let agents = read_agents(&n.csv_dir, LAST_YEAR);
    let dims = ["sexe", "categorie", "filiere", "statut", "tranche_age"];
    // A small deterministic generator (64-bit LCG): the same 60 queries at every run.
    let mut state = 0x2026_u64;
    let mut next = |bound: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize % bound
    };
    let mut c = as_role(&n, Principal::new(Role::Coordinator, Cdg::Nord)).await;
    let (mut released, mut queries) = (0, 0);
    for _ in 0..60 {
        let mut group_by: Vec<&str> = Vec::new();
        for _ in 0..1 + next(3) {
            let d = dims[next(dims.len())];
            if !group_by.contains(&d) {
                group_by.push(d);
            }
        }
        let q = with_filters(query("agents", &group_by), year_filter());
        let Ok(answer) = c.execute(n.approved(q)).await else {
            continue; // refused by a rule before any cell: nothing released
        };
        queries += 1;
        let (_, batches) = arrow_ipc::decode(&answer.into_inner().arrow_ipc).unwrap();
        let b = &batches[0];
        let status = b.column_by_name("diffusion").unwrap().as_string::<i32>();
        let truth = count_by(&agents, |a| {
            group_by
                .iter()
                .map(|d| agent_dimension(a, d))
                .collect::<Vec<_>>()
        });
        for r in 0..b.num_rows() {
            let key: Vec<String> = group_by
                .iter()
                .map(|d| {
                    b.column_by_name(d)
                        .unwrap()
                        .as_string::<i32>()
                        .value(r)
                        .to_string()
                })
                .collect();
            if status.value(r) == RELEASED {
                released += 1;
                let agents_in_cell = truth.get(&key).copied().unwrap_or(0);
                assert!(
                    agents_in_cell >= 11,
                    "{group_by:?} {key:?}: {agents_in_cell} agents released"
                );
            }
        }
    }
    assert!(
        queries >= 50 && released > 100,
        "{queries} queries, {released} cells released"
    );
}
