//! Five nodes and a coordinator run a study; every released cell is checked against the
//! generated data, and cells of 1 to 10 agents must not be released.

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int64Type};
use cdg_coordinator::output::query_batch;
use cdg_coordinator::secure::SECURE;
use cdg_coordinator::study::DEMO_STUDY;
use cdg_coordinator::study::Study;
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::proto::v1::node_outcome::Status as OutcomeStatus;
use cdg_shared::query::{REGION, RELEASED};
use cdg_tests::{
    AgentRow, LAST_YEAR, count_by, identity, pki, prepare_node, read_agents, start_coordinator,
    start_node,
};

/// The default policy's largest noise on a count.
const MAX_NOISE: i64 = 4;

const DETAIL_QUERY: &str = r#"
[[query]]
name = "detail"
title = "Effectifs par filière, sexe et tranche d'âge"
dataset = "agents"
group_by = ["filiere", "sexe", "tranche_age"]
measures = ["count"]
filters = { annee = 2024 }
"#;

fn dimension(row: &AgentRow, name: &str) -> String {
    match name {
        "sexe" => row.sexe.clone(),
        "categorie" => row.categorie.clone(),
        "filiere" => row.filiere.clone(),
        "statut" => row.statut.clone(),
        "tranche_age" => cdg_node::codes::tranche_age(row.annee - row.annee_naissance).to_string(),
        other => panic!("the test does not know dimension {other}"),
    }
}

fn text(batch: &RecordBatch, name: &str, row: usize) -> String {
    batch
        .column_by_name(name)
        .expect(name)
        .as_string::<i32>()
        .value(row)
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regional_study_matches_generated_data_and_hides_small_cells() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(&dir.path().join("certs"));
    let mut servers = Vec::new();
    let mut agents: BTreeMap<Cdg, Vec<AgentRow>> = BTreeMap::new();
    for cdg in Cdg::ALL {
        let (config, csv_dir) = prepare_node(dir.path(), &pki, cdg);
        agents.insert(cdg, read_agents(&csv_dir, LAST_YEAR));
        servers.push((cdg, start_node(config).await));
    }
    let addresses: Vec<(Cdg, String)> = servers.iter().map(|(c, s)| (*c, s.url())).collect();
    let coordinator = start_coordinator(dir.path(), &pki, &addresses, 30).await;
    let me = identity(&pki, Principal::new(Role::ChargeDeMission, Cdg::Nord));
    let mut client = cdg_tests::coordinator_client(&coordinator.url(), &me).await;

    let study = format!("{DEMO_STUDY}\n{DETAIL_QUERY}");
    let submitted = client.submit(study.clone()).await.unwrap();
    assert!(submitted.created);
    assert!(
        !client.submit(study).await.unwrap().created,
        "resubmitting gives the same study"
    );
    cdg_tests::approve_as_directors(&coordinator.url(), &pki, &submitted.study_id, &Cdg::ALL).await;
    let result = client.run(&submitted.study_id).await.unwrap();

    assert_eq!(result.outcomes.len(), 5);
    // The result keeps what it was run under: the five directors' signed approvals, and each
    // node's policy version.
    let trusted = cdg_shared::signing::TrustedSigners::from_ca_file(&pki.ca_cert()).unwrap();
    assert_eq!(result.approvals.len(), 5);
    for a in &result.approvals {
        assert_eq!(a.study_digest, result.digest);
        trusted.verify_decision(a).expect("a valid signed approval");
    }
    assert!(result.outcomes.iter().all(|o| o.policy_version.len() == 64));
    for o in &result.outcomes {
        assert_eq!(
            o.status,
            OutcomeStatus::Answered as i32,
            "CDG {}: {}",
            o.cdg,
            o.message
        );
        // The answer names the data versions it was computed on: the agents and the
        // employers they are joined to.
        for dataset in ["agents", "employeurs"] {
            assert!(
                o.data_versions
                    .iter()
                    .any(|v| v.dataset == dataset && v.year == LAST_YEAR && v.digest.len() == 64),
                "CDG {}: no {dataset} {LAST_YEAR} version in {:?}",
                o.cdg,
                o.data_versions
            );
        }
    }

    // The agents queries are checked cell by cell against the generated agents; the others
    // (mouvements, absences, offres) must come back from every département.
    let parsed = Study::from_toml(&format!("{DEMO_STUDY}\n{DETAIL_QUERY}")).unwrap();
    let on_agents = |name: &str| {
        parsed
            .queries
            .iter()
            .any(|q| q.name == name && q.query.dataset == "agents")
    };
    assert_eq!(result.queries.len(), parsed.queries.len());
    for q in result.queries.iter().filter(|q| !on_agents(&q.name)) {
        let batch = query_batch(q).unwrap();
        let answered: std::collections::BTreeSet<String> = (0..batch.num_rows())
            .map(|row| text(&batch, "departement", row))
            .collect();
        assert_eq!(
            answered.len(),
            6,
            "{}: five départements and the region",
            q.name
        );
    }
    let (mut released, mut suppressed, mut perturbed, mut secured) = (0, 0, 0, 0);
    // Regional cells every département withholds, yet published by secure aggregation.
    let mut everywhere = 0;
    for q in result.queries.iter().filter(|q| on_agents(&q.name)) {
        let batch = query_batch(q).unwrap();
        let dims: Vec<String> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .skip(1)
            .take_while(|n| n != "diffusion")
            .collect();
        let counts = batch
            .column_by_name("nombre")
            .expect("nombre")
            .as_primitive::<Int64Type>()
            .clone();
        let mut expected: BTreeMap<String, BTreeMap<Vec<String>, i64>> = BTreeMap::new();
        for (cdg, rows) in &agents {
            expected.insert(
                cdg.code().to_string(),
                count_by(rows, |r| {
                    dims.iter().map(|d| dimension(r, d)).collect::<Vec<_>>()
                }),
            );
        }
        let mut regional_from_released: BTreeMap<Vec<String>, i64> = BTreeMap::new();
        // The true counts of each regional cell's withheld départements.
        let mut hidden: BTreeMap<Vec<String>, Vec<i64>> = BTreeMap::new();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for row in 0..batch.num_rows() {
            let dep = text(&batch, "departement", row);
            let key: Vec<String> = dims.iter().map(|d| text(&batch, d, row)).collect();
            let status = text(&batch, "diffusion", row);
            if dep == REGION {
                continue;
            }
            *seen.entry(dep.clone()).or_default() += 1;
            let truth = expected[&dep].get(&key).copied().unwrap_or(0);
            assert!(
                truth > 0,
                "{}: cell {key:?} of {dep} does not exist in the data",
                q.name
            );
            if status == RELEASED {
                released += 1;
                assert!(
                    truth >= 11,
                    "{}: {dep} {key:?} released with {truth} agents",
                    q.name
                );
                // Released counts carry the cell key method's bounded noise.
                let published = counts.value(row);
                assert!(
                    (published - truth).abs() <= MAX_NOISE,
                    "{}: {dep} {key:?} published {published} for {truth}",
                    q.name
                );
                perturbed += usize::from(published != truth);
                *regional_from_released.entry(key).or_default() += published;
            } else {
                suppressed += 1;
                hidden.entry(key.clone()).or_default().push(truth);
                // Under 11 agents, or its perturbed count is (the threshold applies to both).
                assert!(
                    (1..=10 + MAX_NOISE).contains(&truth),
                    "{}: {dep} {key:?} suppressed with {truth} agents",
                    q.name
                );
                assert!(
                    counts.is_null(row),
                    "{}: a suppressed cell must carry no value",
                    q.name
                );
            }
        }
        for (dep, cells) in &expected {
            assert_eq!(
                seen.get(dep).copied().unwrap_or(0),
                cells.len(),
                "{}: every cell of {dep} is reported",
                q.name
            );
        }
        for row in 0..batch.num_rows() {
            if text(&batch, "departement", row) != REGION {
                continue;
            }
            let key: Vec<String> = dims.iter().map(|d| text(&batch, d, row)).collect();
            let total_truth: i64 = expected.values().filter_map(|m| m.get(&key)).sum();
            let from_released = regional_from_released.get(&key).copied().unwrap_or(0);
            match text(&batch, "diffusion", row).as_str() {
                RELEASED => {
                    assert_eq!(
                        counts.value(row),
                        from_released,
                        "{}: regional {key:?} adds the published départements",
                        q.name
                    );
                    assert!((from_released - total_truth).abs() <= 5 * MAX_NOISE);
                }
                "secret" => assert!(counts.is_null(row)),
                SECURE => {
                    // The withheld départements' cells, summed securely: the sum passes the
                    // threshold on the truth and carries its own bounded noise.
                    secured += 1;
                    let truths = &hidden[&key];
                    everywhere += usize::from(truths.len() == 5);
                    let hidden_truth: i64 = truths.iter().sum();
                    assert!(truths.len() >= 2, "{}: {key:?} summed alone", q.name);
                    assert!(
                        hidden_truth >= 11,
                        "{}: {key:?} sums {hidden_truth}",
                        q.name
                    );
                    let summed = counts.value(row) - from_released;
                    assert!(
                        (summed - hidden_truth).abs() <= MAX_NOISE,
                        "{}: {key:?} published {summed} for withheld cells of {hidden_truth}",
                        q.name
                    );
                    assert!(
                        (counts.value(row) - total_truth).abs() <= 5 * MAX_NOISE,
                        "{}: {key:?}",
                        q.name
                    );
                }
                _ => {
                    // Never a point: bounds, and the true total within them (up to the noise
                    // of the published départements).
                    assert!(
                        counts.is_null(row),
                        "{}: partial {key:?} is a point",
                        q.name
                    );
                    let low = cdg_tests::regional::value(
                        &batch,
                        batch.schema().index_of("nombre_borne_basse").unwrap(),
                        row,
                    )
                    .unwrap();
                    let high = cdg_tests::regional::value(
                        &batch,
                        batch.schema().index_of("nombre_borne_haute").unwrap(),
                        row,
                    );
                    let slack = (5 * MAX_NOISE) as f64;
                    assert!(
                        total_truth as f64 >= low - slack,
                        "{}: {key:?} below {low}",
                        q.name
                    );
                    assert!(high.is_none_or(|h| total_truth as f64 <= h + slack));
                }
            }
        }
        if q.name == "part_contractuels" {
            let shares = batch
                .column_by_name("moyenne_contractuel")
                .unwrap()
                .as_primitive::<Float64Type>()
                .clone();
            for row in 0..batch.num_rows() {
                let dep = text(&batch, "departement", row);
                let rows: Vec<&AgentRow> = if dep == REGION {
                    agents.values().flatten().collect()
                } else {
                    agents[&dep.parse::<Cdg>().unwrap()].iter().collect()
                };
                let share = rows
                    .iter()
                    .filter(|r| r.statut.starts_with("contractuel"))
                    .count() as f64
                    / rows.len() as f64;
                // Each département's sum of 0/1 moves by at most magnitude_noise (its largest
                // contribution being 1), its count by at most max_noise.
                let (n, d) = (rows.len() as f64, MAX_NOISE as f64);
                let k = if dep == REGION { 5.0 } else { 1.0 };
                let m = cdg_node::config::PolicyConfig::default()
                    .perturbation
                    .magnitude_noise;
                assert!(
                    (shares.value(row) - share).abs() <= k * (m + d) / (n - k * d),
                    "{dep}: share {} vs {share}",
                    shares.value(row)
                );
            }
        }
    }
    assert!(
        cdg_tests::regional::assert_no_recovery(&result) > 0,
        "some regional cells have a withheld département"
    );
    assert!(released > 100, "the study released {released} cells");
    // Withheld in two départements or more, yet safe for the region: published.
    assert!(secured > 0, "no regional cell was summed securely");
    assert!(
        everywhere > 0,
        "no cell withheld by all five départements was published ({secured} summed securely)"
    );
    assert!(
        perturbed > released / 4,
        "only {perturbed} of {released} released counts carry noise"
    );
    assert!(
        suppressed > 10,
        "the detailed query must meet small cells ({suppressed} suppressed)"
    );

    // The result is kept, and every director can read it.
    let director = identity(&pki, Principal::new(Role::Director, Cdg::Aisne));
    let mut as_director = cdg_tests::coordinator_client(&coordinator.url(), &director).await;
    let kept = as_director.result(&submitted.study_id).await.unwrap();
    assert_eq!(kept.queries, result.queries);
    let log = cdg_shared::audit::verify(&dir.path().join("coordinator").join("audit.log")).unwrap();
    let kinds: Vec<&str> = log.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "node.outcome").count(), 5);
    assert!(kinds.contains(&"study.submitted") && kinds.contains(&"study.run.completed"));
}
