//! Each dataset of the catalogue beyond agents, queried through a running coordinator and node
//! and compared with the synthetic file the node loaded (read here with the import's own
//! readers, which the node's tests check on their own, since the files are CSV, XLSX and
//! Parquet).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use cdg_coordinator::output::query_batch;
use cdg_node::config::{FLOOR_MIN_AGENTS, FLOOR_MIN_EMPLOYERS};
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::proto::v1::node_outcome::Status as OutcomeStatus;
use cdg_shared::query::{DIFFUSION_COLUMN, RELEASED};
use cdg_tests::{LAST_YEAR, OneNode, Running, identity, one_node, start_coordinator};

/// The default policy's largest noise on a count.
const MAX_NOISE: i64 = 4;

/// Rows and distinct units of the node's synthetic `dataset` file for the last year, by the
/// value of `column`.
fn counted_by(
    csv_dir: &Path,
    dataset: &str,
    column: &str,
    unit: &str,
) -> BTreeMap<String, (i64, BTreeSet<String>)> {
    let path = csv_dir.join(cdg_node::synth::file_name(dataset, LAST_YEAR));
    let bytes = std::fs::read(&path).unwrap();
    let headers = std::sync::Mutex::new(Vec::new());
    let map = |h: &[String]| {
        *headers.lock().unwrap() = h.to_vec();
        Ok((0..h.len()).collect())
    };
    let mut batches = Vec::new();
    let mut out = |b: RecordBatch| {
        batches.push(b);
        Ok(())
    };
    let options = cdg_read::ReadOptions::default();
    cdg_read::read(&path, &bytes, &options, &map, &mut out).unwrap();
    let headers = headers.into_inner().unwrap();
    let at = |name: &str| {
        let i = headers.iter().position(|h| h == name).expect(name);
        cdg_read::staged_column(i)
    };
    let (by, unit) = (at(column), at(unit));
    let mut counts: BTreeMap<String, (i64, BTreeSet<String>)> = BTreeMap::new();
    for b in &batches {
        let (by, unit) = (
            b.column_by_name(&by).unwrap().as_string::<i32>(),
            b.column_by_name(&unit).unwrap().as_string::<i32>(),
        );
        for row in 0..b.num_rows() {
            let entry = counts.entry(by.value(row).to_string()).or_default();
            entry.0 += 1;
            entry.1.insert(unit.value(row).to_string());
        }
    }
    counts
}

/// A coordinator for the one node: one per test, as it locks its state folder (a second one
/// started on the same folder while the first is still stopping would be refused).
async fn coordinator(n: &OneNode) -> Running {
    start_coordinator(n.dir.path(), &n.pki, &[(Cdg::Aisne, n.node.url())], 30).await
}

/// Runs a one-query study on `dataset`, counted by `by`, through `coordinator` and returns
/// the merged table.
async fn run(n: &OneNode, coordinator: &Running, dataset: &str, by: &str) -> RecordBatch {
    let me = identity(&n.pki, Principal::new(Role::ChargeDeMission, Cdg::Nord));
    let mut client = cdg_tests::coordinator_client(&coordinator.url(), &me).await;
    let study = format!(
        "title = \"{dataset}\"\npurpose = \"chaque source\"\ndiffusion = \"interne\"\n\
         departements = [\"02\"]\n\n[[query]]\nname = \"q\"\ndataset = \"{dataset}\"\n\
         group_by = [\"{by}\"]\nmeasures = [\"count\"]\nfilters = {{ annee = {LAST_YEAR} }}\n"
    );
    let id = client.submit(study).await.unwrap().study_id;
    cdg_tests::approve_as_directors(&coordinator.url(), &n.pki, &id, &[Cdg::Aisne]).await;
    let result = client.run(&id).await.unwrap();
    let outcome = &result.outcomes[0];
    assert_eq!(
        outcome.status,
        OutcomeStatus::Answered as i32,
        "{dataset}: {}",
        outcome.message
    );
    assert!(
        outcome
            .data_versions
            .iter()
            .any(|v| v.dataset == dataset && v.year == LAST_YEAR),
        "{dataset}: {:?}",
        outcome.data_versions
    );
    query_batch(&result.queries[0]).unwrap()
}

/// Checks each cell of CDG 02 against `expected`: released within the noise when it holds at
/// least `threshold` units, withheld otherwise. Returns how many were released.
fn check_cells(
    batch: &RecordBatch,
    by: &str,
    expected: &BTreeMap<String, (i64, BTreeSet<String>)>,
    threshold: usize,
) -> usize {
    let counts = batch
        .column_by_name("nombre")
        .unwrap()
        .as_primitive::<Int64Type>();
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
        let (truth, units) = &expected[text(by)];
        let diffusion = text(DIFFUSION_COLUMN);
        if diffusion == RELEASED {
            let got = counts.value(row);
            assert!(
                (got - truth).abs() <= MAX_NOISE && units.len() >= threshold,
                "{}: {got} released for {truth} rows of {} units in the file",
                text(by),
                units.len()
            );
            released += 1;
        } else {
            assert!(
                diffusion.starts_with("secret") && units.len() < threshold,
                "{}: {diffusion} for {} units",
                text(by),
                units.len()
            );
        }
    }
    released
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accidents_by_nature_match_the_rassct_file_the_node_loaded() {
    let n = one_node().await;
    let coordinator = coordinator(&n).await;
    let batch = run(&n, &coordinator, "accidents", "nature").await;
    let expected = counted_by(&n.csv_dir, "accidents", "nature", "agent_id");
    assert_eq!(expected.len(), 3, "every nature occurs: {expected:?}");
    let threshold = FLOOR_MIN_AGENTS as usize;
    assert!(
        check_cells(&batch, "nature", &expected, threshold) >= 1,
        "the accidents de service are released: {batch:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_seekers_and_concours_match_the_parquet_and_xlsx_files_the_node_loaded() {
    let n = one_node().await;
    let coordinator = coordinator(&n).await;
    let batch = run(&n, &coordinator, "demandes", "situation").await;
    let expected = counted_by(&n.csv_dir, "demandes", "situation", "demande_id");
    let threshold = FLOOR_MIN_AGENTS as usize;
    assert!(
        check_cells(&batch, "situation", &expected, threshold) >= 2,
        "{batch:?}"
    );

    let batch = run(&n, &coordinator, "concours", "categorie").await;
    let expected = counted_by(&n.csv_dir, "concours", "categorie", "session_id");
    let threshold = FLOOR_MIN_EMPLOYERS as usize;
    assert!(
        check_cells(&batch, "categorie", &expected, threshold) >= 1,
        "{batch:?}"
    );
}
