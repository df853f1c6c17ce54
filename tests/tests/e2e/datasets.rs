//! Each dataset of the catalogue, queried through a running coordinator and node and compared
//! with the synthetic file the node loaded (read here with the import's own
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

/// The rows of the node's synthetic `dataset` file for the last year, by column name.
fn file_rows(csv_dir: &Path, dataset: &str) -> Vec<BTreeMap<String, String>> {
    let path = csv_dir.join(cdg_synth::file_name(dataset, LAST_YEAR));
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
    let mut rows = Vec::new();
    for b in &batches {
        for row in 0..b.num_rows() {
            let value = |i: usize| {
                let column = b.column_by_name(&cdg_read::staged_column(i)).unwrap();
                if column.is_null(row) {
                    String::new()
                } else {
                    column.as_string::<i32>().value(row).to_string()
                }
            };
            rows.push(
                headers
                    .iter()
                    .enumerate()
                    .map(|(i, h)| (h.clone(), value(i)))
                    .collect(),
            );
        }
    }
    rows
}

/// Rows and distinct units (`unit` column) of `rows` by the key `key` gives a row (rows
/// without one are left out).
fn counted(
    rows: &[BTreeMap<String, String>],
    key: impl Fn(&BTreeMap<String, String>) -> Option<String>,
    unit: &str,
) -> BTreeMap<String, (i64, BTreeSet<String>)> {
    let mut counts: BTreeMap<String, (i64, BTreeSet<String>)> = BTreeMap::new();
    for r in rows {
        if let Some(k) = key(r) {
            let entry = counts.entry(k).or_default();
            entry.0 += 1;
            entry.1.insert(r[unit].clone());
        }
    }
    counts
}

/// Rows and distinct units of the node's synthetic `dataset` file for the last year, by the
/// value of `column`.
fn counted_by(
    csv_dir: &Path,
    dataset: &str,
    column: &str,
    unit: &str,
) -> BTreeMap<String, (i64, BTreeSet<String>)> {
    counted(
        &file_rows(csv_dir, dataset),
        |r| Some(r[column].clone()),
        unit,
    )
}

/// The family of métiers of each agent of the agents file, as the import derives it.
fn metier_by_agent(csv_dir: &Path) -> BTreeMap<String, String> {
    file_rows(csv_dir, "agents")
        .into_iter()
        .map(|r| {
            let metier = cdg_shared::catalogue::metier_of(&r["cadre_emplois"]).unwrap();
            (r["agent_id"].clone(), metier.to_string())
        })
        .collect()
}

/// A coordinator for the one node: one per test, as it locks its state folder (a second one
/// started on the same folder while the first is still stopping would be refused).
async fn coordinator(n: &OneNode) -> Running {
    start_coordinator(n.dir.path(), &n.pki, &[(Cdg::Aisne, n.node.url())], 30).await
}

/// Runs a one-query study on `dataset`, counted by `by`, through `coordinator` and returns
/// the merged table.
async fn run(n: &OneNode, coordinator: &Running, dataset: &str, by: &str) -> RecordBatch {
    run_filtered(n, coordinator, dataset, by, "").await
}

/// [`run`] with more `filters` (TOML key-value pairs, each followed by a comma).
async fn run_filtered(
    n: &OneNode,
    coordinator: &Running,
    dataset: &str,
    by: &str,
    filters: &str,
) -> RecordBatch {
    let me = identity(&n.pki, Principal::new(Role::ChargeDeMission, Cdg::Nord));
    let mut client = cdg_tests::coordinator_client(&coordinator.url(), &me).await;
    let study = format!(
        "title = \"{dataset}\"\npurpose = \"chaque source\"\ndiffusion = \"interne\"\n\
         departements = [\"02\"]\n\n[[query]]\nname = \"q\"\ndataset = \"{dataset}\"\n\
         group_by = [\"{by}\"]\nmeasures = [\"count\"]\nfilters = {{ {filters} annee = {LAST_YEAR} }}\n"
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
/// least `threshold` units, withheld otherwise (or when the noise on its rows may have taken
/// it under the threshold). Returns how many were released.
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
            // Under the threshold, or so near it that the noise on the rows took it under.
            let near = truth - MAX_NOISE < threshold as i64;
            assert!(
                diffusion.starts_with("secret") && (units.len() < threshold || near),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_and_movements_by_metier_follow_their_cadres_d_emplois() {
    let n = one_node().await;
    let coordinator = coordinator(&n).await;
    let threshold = FLOOR_MIN_AGENTS as usize;
    let agents = file_rows(&n.csv_dir, "agents");
    let family = |r: &BTreeMap<String, String>| {
        cdg_shared::catalogue::metier_of(&r["cadre_emplois"]).map(str::to_string)
    };
    let expected = counted(&agents, family, "agent_id");
    assert!(expected.len() >= 5, "{expected:?}");
    let batch = run(&n, &coordinator, "agents", "metier").await;
    assert!(
        check_cells(&batch, "metier", &expected, threshold) >= 4,
        "{batch:?}"
    );

    let moves = file_rows(&n.csv_dir, "mouvements");
    let expected = counted(&moves, family, "agent_id");
    let batch = run(&n, &coordinator, "mouvements", "metier").await;
    assert!(
        check_cells(&batch, "metier", &expected, threshold) >= 2,
        "{batch:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn employers_absences_and_offers_match_the_files_the_node_loaded() {
    let n = one_node().await;
    let coordinator = coordinator(&n).await;
    let employers = FLOOR_MIN_EMPLOYERS as usize;
    let batch = run(&n, &coordinator, "employeurs", "type_employeur").await;
    let expected = counted_by(&n.csv_dir, "employeurs", "type_employeur", "employeur_id");
    assert!(
        check_cells(&batch, "type_employeur", &expected, employers) >= 2,
        "{batch:?}"
    );

    let batch = run(&n, &coordinator, "absences", "motif_absence").await;
    let expected = counted_by(&n.csv_dir, "absences", "motif_absence", "agent_id");
    let agents = FLOOR_MIN_AGENTS as usize;
    assert!(
        check_cells(&batch, "motif_absence", &expected, agents) >= 2,
        "{batch:?}"
    );

    // Offers protect their employers.
    let batch = run(&n, &coordinator, "offres", "nature").await;
    let expected = counted_by(&n.csv_dir, "offres", "nature", "employeur_id");
    assert!(
        check_cells(&batch, "nature", &expected, employers) >= 1,
        "{batch:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn training_and_disabled_workers_match_the_files_the_node_loaded() {
    let n = one_node().await;
    let coordinator = coordinator(&n).await;
    let threshold = FLOOR_MIN_AGENTS as usize;
    let batch = run(&n, &coordinator, "formation", "type_formation").await;
    let expected = counted_by(&n.csv_dir, "formation", "type_formation", "agent_id");
    assert!(
        check_cells(&batch, "type_formation", &expected, threshold) >= 2,
        "{batch:?}"
    );

    // The beneficiaries by the métier of their agent's row (joined at the node).
    let metier = metier_by_agent(&n.csv_dir);
    let rows = file_rows(&n.csv_dir, "handicap");
    let expected = counted(&rows, |r| metier.get(&r["agent_id"]).cloned(), "agent_id");
    let batch = run(&n, &coordinator, "handicap", "metier").await;
    assert!(
        check_cells(&batch, "metier", &expected, threshold) >= 1,
        "{batch:?}"
    );

    // The employers subject to the obligation, by their size band (joined from employeurs).
    let band: BTreeMap<String, String> = file_rows(&n.csv_dir, "employeurs")
        .into_iter()
        .map(|r| (r["employeur_id"].clone(), r["tranche_effectif"].clone()))
        .collect();
    let rows = file_rows(&n.csv_dir, "handicap_employeurs");
    let expected = counted(
        &rows,
        |r| band.get(&r["employeur_id"]).cloned(),
        "employeur_id",
    );
    let batch = run(&n, &coordinator, "handicap_employeurs", "tranche_effectif").await;
    let threshold = FLOOR_MIN_EMPLOYERS as usize;
    assert!(
        check_cells(&batch, "tranche_effectif", &expected, threshold) >= 1,
        "{batch:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survey_answers_are_released_from_eleven_respondents_only() {
    let n = one_node().await;
    let coordinator = coordinator(&n).await;
    // Seven answers among a few dozen respondents: some are given by fewer than eleven.
    let question = "recrutement.famille_difficile";
    let rows = file_rows(&n.csv_dir, "enquetes");
    let expected = counted(
        &rows,
        |r| (r["question"] == question).then(|| r["reponse"].clone()),
        "employeur_id",
    );
    let filter = format!("question = \"{question}\",");
    let batch = run_filtered(&n, &coordinator, "enquetes", "reponse", &filter).await;
    // Eleven respondents, although the policy asks only FLOOR_MIN_EMPLOYERS employers.
    let threshold = cdg_shared::catalogue::ENQUETES.min_units as usize;
    assert!(threshold > FLOOR_MIN_EMPLOYERS as usize);
    assert!(
        check_cells(&batch, "reponse", &expected, threshold) >= 1,
        "{batch:?}"
    );
    // Those answers were withheld (checked above), though the policy alone would release them.
    let small = expected
        .values()
        .filter(|(_, units)| (FLOOR_MIN_EMPLOYERS as usize..threshold).contains(&units.len()))
        .count();
    assert!(
        small >= 1,
        "no answer between the two thresholds: {expected:?}"
    );
}
