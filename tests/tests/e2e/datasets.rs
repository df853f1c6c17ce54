//! Each dataset of the catalogue beyond agents, queried through a running coordinator and node
//! and compared with the synthetic file the node loaded.

use std::collections::{BTreeMap, BTreeSet};

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use cdg_coordinator::output::query_batch;
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::proto::v1::node_outcome::Status as OutcomeStatus;
use cdg_shared::query::{DIFFUSION_COLUMN, RELEASED};
use cdg_tests::{LAST_YEAR, identity, one_node, start_coordinator};

/// The default policy's largest noise on a count.
const MAX_NOISE: i64 = 4;

/// Rows and distinct agents of the node's synthetic `dataset` file for the last year, by
/// `column`.
fn counted_by(
    csv_dir: &std::path::Path,
    dataset: &str,
    column: &str,
) -> BTreeMap<String, (i64, BTreeSet<String>)> {
    let path = csv_dir.join(cdg_node::synth::file_name(dataset, LAST_YEAR));
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_path(&path)
        .expect("the synthetic file");
    let headers = reader.headers().unwrap().clone();
    let at = |name: &str| headers.iter().position(|h| h == name).expect(name);
    let (by, agent) = (at(column), at("agent_id"));
    let mut counts: BTreeMap<String, (i64, BTreeSet<String>)> = BTreeMap::new();
    for row in reader.records() {
        let row = row.unwrap();
        let entry = counts.entry(row[by].to_string()).or_default();
        entry.0 += 1;
        entry.1.insert(row[agent].to_string());
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accidents_by_nature_match_the_rassct_file_the_node_loaded() {
    let n = one_node().await;
    let coordinator =
        start_coordinator(n.dir.path(), &n.pki, &[(Cdg::Aisne, n.node.url())], 30).await;
    let me = identity(&n.pki, Principal::new(Role::ChargeDeMission, Cdg::Nord));
    let mut client = cdg_tests::coordinator_client(&coordinator.url(), &me).await;
    let study = format!(
        "title = \"Accidents\"\npurpose = \"santé et sécurité au travail\"\n\
         diffusion = \"interne\"\ndepartements = [\"02\"]\n\n[[query]]\nname = \"accidents\"\n\
         dataset = \"accidents\"\ngroup_by = [\"nature\"]\nmeasures = [\"count\"]\n\
         filters = {{ annee = {LAST_YEAR} }}\n"
    );
    let id = client.submit(study).await.unwrap().study_id;
    cdg_tests::approve_as_directors(&coordinator.url(), &n.pki, &id, &[Cdg::Aisne]).await;
    let result = client.run(&id).await.unwrap();
    let outcome = &result.outcomes[0];
    assert_eq!(
        outcome.status,
        OutcomeStatus::Answered as i32,
        "{}",
        outcome.message
    );
    assert!(
        outcome
            .data_versions
            .iter()
            .any(|v| v.dataset == "accidents" && v.year == LAST_YEAR),
        "{:?}",
        outcome.data_versions
    );

    let expected = counted_by(&n.csv_dir, "accidents", "nature");
    assert_eq!(expected.len(), 3, "every nature occurs: {expected:?}");
    let batch = query_batch(&result.queries[0]).unwrap();
    let counts = batch
        .column_by_name("nombre")
        .unwrap()
        .as_primitive::<Int64Type>();
    // Each nature is released, within the noise, when at least 11 agents had one, and withheld
    // under the threshold otherwise.
    let mut released = 0;
    for row in 0..batch.num_rows() {
        let text = |name: &str| {
            batch
                .column_by_name(name)
                .unwrap()
                .as_string::<i32>()
                .value(row)
        };
        if text("departement") != "02" {
            continue;
        }
        let (truth, agents) = &expected[text("nature")];
        let diffusion = text(DIFFUSION_COLUMN);
        if diffusion == RELEASED {
            let got = counts.value(row);
            assert!(
                (got - truth).abs() <= MAX_NOISE && agents.len() >= 11,
                "{}: {got} released for {truth} accidents of {} agents in the file",
                text("nature"),
                agents.len()
            );
            released += 1;
        } else {
            assert!(
                diffusion == "secret: seuil" && agents.len() < 11,
                "{}: {diffusion} for {} agents",
                text("nature"),
                agents.len()
            );
        }
    }
    assert!(
        released >= 1,
        "the accidents de service are released: {batch:?}"
    );
}
