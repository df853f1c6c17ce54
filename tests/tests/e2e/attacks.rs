//! Disclosure attacks on a running node over mutual TLS: what an analyst learns by repeating a
//! query, by reaching the same cell through other queries, or by asking after a restart.
//! (Attack classes of handbook/PRIVACY.md; more come with the full policy.)

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use cdg_shared::arrow_ipc;
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::proto::v1::{AggregateQuery, Filter};
use cdg_shared::query::RELEASED;
use cdg_tests::{
    LAST_YEAR, OneNode, as_role, count_by, describe, execute, one_node, query, read_agents,
    start_node,
};

fn filter(dimension: &str, values: &[&str]) -> Filter {
    Filter {
        dimension: dimension.into(),
        values: values.iter().map(|v| v.to_string()).collect(),
    }
}

fn with_filters(mut q: AggregateQuery, filters: Vec<Filter>) -> AggregateQuery {
    q.filters = filters;
    q
}

async fn answer(n: &OneNode, q: AggregateQuery) -> Vec<u8> {
    let mut c = as_role(n, Principal::new(Role::Coordinator, Cdg::Nord)).await;
    c.execute(execute(q))
        .await
        .expect("an answer")
        .into_inner()
        .arrow_ipc
}

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

fn year_filter() -> Vec<Filter> {
    vec![filter("annee", &[&LAST_YEAR.to_string()])]
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
    let policy = described.policy.unwrap();
    assert_eq!((policy.max_noise, policy.noise_variance), (4, 2.0));
    let key_path = n.config.record_key.clone().unwrap();
    let key = std::fs::read_to_string(&key_path).unwrap();
    assert_eq!(key.trim().len(), 64, "32 random bytes in hex");
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
    let OneNode {
        dir,
        pki,
        config,
        csv_dir,
        node,
    } = n;
    node.stop().await;
    let n = OneNode {
        node: start_node(config.clone()).await,
        dir,
        pki,
        config,
        csv_dir,
    };
    assert_eq!(answer(&n, q).await, before, "the same key after a restart");
}
