//! Import tests on real DuckDB files: valid, invalid and messy CSV exports.

use super::*;
use crate::catalogue::{AGENTS, EMPLOYEURS};

const EMPLOYEURS_CSV: &str = "annee;employeur_id;type_employeur;tranche_effectif;affiliation\r\n\
    2024;E0200001;commune;1-9;obligatoire\r\n\
    2024;E0200002;SDIS;1000 et plus;non affilié\r\n";

fn agents_csv(rows: &[&str]) -> String {
    let mut s = String::from(
        "\u{feff}annee;agent_id;employeur_id;statut;categorie;filiere;cadre_emplois;sexe;annee_naissance;temps_travail;etpr;remuneration_brute_annuelle\r\n",
    );
    for r in rows {
        s.push_str(r);
        s.push_str("\r\n");
    }
    s
}

const GOOD: &str = "2024;A0200001;E0200001;fonctionnaire titulaire;C;technique;adjoint technique;F;1980;temps complet;1,00;24 500,50";

fn setup() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("node.duckdb")).unwrap();
    std::fs::write(dir.path().join("employeurs.csv"), EMPLOYEURS_CSV).unwrap();
    import_file(
        &store,
        &EMPLOYEURS,
        2024,
        &dir.path().join("employeurs.csv"),
        &ImportOptions::default(),
    )
    .unwrap();
    (dir, store)
}

fn import(dir: &Path, store: &Store, text: &str) -> Result<ImportReport> {
    let path = dir.join("agents.csv");
    std::fs::write(&path, text).unwrap();
    import_file(store, &AGENTS, 2024, &path, &ImportOptions::default())
}

fn agent_versions(store: &Store) -> Vec<cdg_shared::proto::v1::DataVersion> {
    store
        .data_versions()
        .unwrap()
        .into_iter()
        .filter(|v| v.dataset == "agents")
        .collect()
}

#[test]
fn a_valid_file_loads_and_is_versioned() {
    let (dir, store) = setup();
    let second = GOOD
        .replace("A0200001", "A0200002")
        .replace("1,00;", "0.5;");
    let report = import(dir.path(), &store, &agents_csv(&[GOOD, &second])).unwrap();
    assert_eq!((report.rows_read, report.rows_loaded), (2, 2));
    let versions = agent_versions(&store);
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].digest, report.digest);
    assert_eq!(versions[0].source, "agents.csv");
    // A new import replaces the slice, it does not add to it.
    let report = import(dir.path(), &store, &agents_csv(&[GOOD])).unwrap();
    assert_eq!(report.rows_loaded, 1);
    assert_eq!(agent_versions(&store)[0].rows, 1);
}

#[test]
fn bad_rows_are_named_and_nothing_is_replaced() {
    let (dir, store) = setup();
    import(dir.path(), &store, &agents_csv(&[GOOD])).unwrap();
    let before = agent_versions(&store);
    let cases = [
        (GOOD.replace(";F;", ";X;"), "sexe"),
        (GOOD.replace("1,00", "1,50"), "etpr"),
        (GOOD.replacen("2024", "2023", 1), "year 2023"),
        (GOOD.replace(";C;", ";;"), "empty value"),
        (GOOD.replace(";1980;", ";mil neuf cent;"), "annee_naissance"),
    ];
    for (row, expected) in cases {
        let err = import(dir.path(), &store, &agents_csv(&[GOOD, &row]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3") && err.contains(expected), "{err}");
        assert!(err.contains("nothing was loaded"), "{err}");
        assert_eq!(
            agent_versions(&store),
            before,
            "a failed import leaves the previous data"
        );
    }
}

#[test]
fn structural_problems_get_clear_errors() {
    let (dir, store) = setup();
    let no_column = agents_csv(&[GOOD]).replace(";etpr;", ";etp;");
    let err = import(dir.path(), &store, &no_column)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("missing column(s) etpr") && err.contains("expects annee, agent_id"),
        "{err}"
    );
    let err = import(dir.path(), &store, "").unwrap_err().to_string();
    assert!(err.contains("empty"), "{err}");
    let err = import(dir.path(), &store, &agents_csv(&["2024;A1;E0200001"]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("3 fields"), "{err}");
    let latin1 = b"ann\xe9e;agent_id\r\n2024;\xe9\r\n";
    std::fs::write(dir.path().join("latin1.csv"), latin1).unwrap();
    let err = import_file(
        &store,
        &AGENTS,
        2024,
        &dir.path().join("latin1.csv"),
        &ImportOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("missing column(s) employeur_id"), "{err}");
    assert!(agent_versions(&store).is_empty());
}

#[test]
fn a_few_bad_rows_are_quarantined_and_counted() {
    let (dir, store) = setup();
    let mut rows: Vec<String> = (0..39)
        .map(|i| GOOD.replace("A0200001", &format!("A02{i:05}")))
        .collect();
    let long = "x".repeat(1024 * 1024);
    rows.push(
        GOOD.replace("A0200001", "A0299999")
            .replace(";F;", &format!(";{long};")),
    );
    let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
    let report = import(dir.path(), &store, &agents_csv(&refs)).unwrap();
    assert_eq!(
        (
            report.rows_read,
            report.rows_loaded,
            report.rows_quarantined
        ),
        (40, 39, 1)
    );
    assert_eq!(
        report.rows_read,
        report.rows_loaded + report.rows_quarantined
    );
    assert_eq!(report.by_reason.get("sexe: hors liste"), Some(&1));
    assert!(
        report.summary().contains("1 quarantined"),
        "{}",
        report.summary()
    );
    let q = store.quarantine("agents", 2024).unwrap();
    assert_eq!(q.len(), 1);
    let (line, column, value, reason) = &q[0];
    assert_eq!(
        (*line, column.as_str(), reason.as_str()),
        (41, "sexe", "hors liste")
    );
    assert_eq!(value.len(), 200, "a huge field is kept cut, not whole");
    // With a zero tolerance the same file is refused and the loaded slice stays.
    let path = dir.path().join("agents.csv");
    let strict = ImportOptions {
        max_reject_ratio: 0.0,
        ..Default::default()
    };
    let err = import_file(&store, &AGENTS, 2024, &path, &strict)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("1 invalid row(s) of 40") && err.contains("nothing was loaded"),
        "{err}"
    );
    assert_eq!(agent_versions(&store)[0].rows, 39);
}

#[test]
fn rollback_puts_back_the_replaced_slice_and_can_be_undone() {
    let (dir, store) = setup();
    let err = store.rollback(&AGENTS, 2024).unwrap_err().to_string();
    assert!(err.contains("no previous version"), "{err}");
    let first = import(dir.path(), &store, &agents_csv(&[GOOD])).unwrap();
    assert!(
        store.rollback(&AGENTS, 2024).is_err(),
        "a single version has nothing before it"
    );
    let second_row = GOOD.replace("A0200001", "A0200002");
    let second = import(dir.path(), &store, &agents_csv(&[GOOD, &second_row])).unwrap();
    let back = store.rollback(&AGENTS, 2024).unwrap();
    assert_eq!(
        (back.digest.as_str(), back.rows),
        (first.digest.as_str(), 1)
    );
    let again = store.rollback(&AGENTS, 2024).unwrap();
    assert_eq!(
        (again.digest.as_str(), again.rows),
        (second.digest.as_str(), 2)
    );
    // After a rollback and a new import, rollback returns to what that import replaced.
    store.rollback(&AGENTS, 2024).unwrap();
    let third_row = GOOD.replace("A0200001", "A0200003");
    import(
        dir.path(),
        &store,
        &agents_csv(&[GOOD, &second_row, &third_row]),
    )
    .unwrap();
    let back = store.rollback(&AGENTS, 2024).unwrap();
    assert_eq!(back.digest, first.digest);
    let rows = crate::answering::aggregate(
        &store,
        &crate::compile::compile(
            &cdg_shared::query::AggregateQuery {
                dataset: "agents".into(),
                group_by: vec![],
                measures: vec![cdg_shared::query::Measure::count()],
                filters: vec![],
            },
            &Default::default(),
            &Default::default(),
        )
        .unwrap(),
        11,
    )
    .unwrap();
    assert_eq!(
        rows[0].units, 1,
        "the live table holds the rolled-back slice"
    );
}

#[test]
fn headers_are_matched_tolerantly_and_duplicates_and_unknown_employers_quarantined() {
    let (dir, store) = setup();
    let header = "\u{feff}Année;Agent ID;EMPLOYEUR-ID;Statut;Catégorie;Filière;Cadre d'emplois;\
                  Sexe;Année naissance;Temps travail;ETPR;Rémunération brute annuelle;Commentaire\r\n";
    let mut text = String::from(header);
    for i in 0..60 {
        text.push_str(&GOOD.replace("A0200001", &format!("A02{i:05}")));
        text.push_str(";ok\r\n");
    }
    text.push_str(&format!("{GOOD};copie\r\n").replace("A0200001", "A0200007"));
    text.push_str(
        &format!("{GOOD};?\r\n")
            .replace("E0200001", "E0299999")
            .replace("A0200001", "A0200099"),
    );
    let report = import(dir.path(), &store, &text).unwrap();
    assert_eq!(
        (
            report.rows_read,
            report.rows_loaded,
            report.rows_quarantined
        ),
        (62, 60, 2)
    );
    assert_eq!(report.ignored_columns, vec!["Commentaire".to_string()]);
    assert_eq!(
        report.by_reason.get("agent_id+employeur_id: doublon"),
        Some(&1)
    );
    assert_eq!(
        report.by_reason.get("employeur_id: référence inconnue"),
        Some(&1)
    );
    let q = store.quarantine("agents", 2024).unwrap();
    assert_eq!(q.iter().map(|r| r.0).collect::<Vec<_>>(), vec![62, 63]);

    // Agents of a year whose employers are not loaded: a clear error, not 100% quarantine.
    let path = dir.path().join("agents_2023.csv");
    std::fs::write(&path, agents_csv(&[&GOOD.replacen("2024", "2023", 1)])).unwrap();
    let err = import_file(&store, &AGENTS, 2023, &path, &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no employeurs loaded for 2023") && err.contains("first"),
        "{err}"
    );
}

mod derived;
mod formats;
mod rules;
mod synthetic;

#[test]
fn another_record_key_is_refused_once_data_are_keyed() {
    let (dir, store) = setup();
    let key_file = store.default_record_key_path();
    assert!(key_file.exists(), "the first import created the record key");
    let other = ImportOptions {
        record_key: Some("ff".repeat(32)),
        ..Default::default()
    };
    let path = dir.path().join("agents.csv");
    std::fs::write(&path, agents_csv(&[GOOD])).unwrap();
    let err = import_file(&store, &AGENTS, 2024, &path, &other)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("record key") && err.contains("backup"),
        "{err}"
    );
    assert!(agent_versions(&store).is_empty(), "nothing was loaded");
}

#[test]
fn distinct_agents_are_counted_exactly_when_the_quick_bounds_straddle_the_threshold() {
    let (dir, store) = setup();
    let agent = |n: usize, employer: &str| {
        GOOD.replace("A0200001", &format!("A02{n:05}"))
            .replace("E0200001", employer)
    };
    let count_by_year = crate::compile::compile(
        &cdg_shared::query::AggregateQuery {
            dataset: "agents".into(),
            group_by: vec!["annee".into()],
            measures: vec![cdg_shared::query::Measure::count()],
            filters: vec![],
        },
        &Default::default(),
        &Default::default(),
    )
    .unwrap();
    assert!(count_by_year.exact_sql.is_some(), "one year per cell");
    // 10 agents, two of them with a second employer: 12 rows, 10 distinct agents.
    for (agents, expected) in [(10, 10), (11, 11)] {
        let mut rows: Vec<String> = (1..=agents).map(|n| agent(n, "E0200001")).collect();
        rows.extend((1..=2).map(|n| agent(n, "E0200002")));
        let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
        import(dir.path(), &store, &agents_csv(&rows)).unwrap();
        let cells = crate::answering::aggregate(&store, &count_by_year, 11).unwrap();
        assert_eq!(cells[0].units, expected, "{agents} agents");
        assert_eq!(cells[0].values[0].total, Some(agents as f64 + 2.0));
    }
}
