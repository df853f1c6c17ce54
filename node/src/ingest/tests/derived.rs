//! Values the import derives or declares: the agents' métier from their cadre d'emplois, and
//! the survey answers checked against the surveys the catalogue declares.

use super::*;
use crate::catalogue::ENQUETES;

fn lenient() -> ImportOptions {
    ImportOptions {
        max_reject_ratio: 0.9,
        ..Default::default()
    }
}

fn quarantined(store: &Store, dataset: &str) -> Vec<(i64, String, String, String)> {
    store.quarantine(dataset, 2024).unwrap()
}

#[test]
fn the_metier_is_derived_from_the_cadre_and_an_unknown_cadre_is_quarantined() {
    let (dir, store) = setup();
    let rows = [
        GOOD,
        // Case, spaces, plurals and "territorial" do not matter.
        "2024;A0200002;E0200001;fonctionnaire titulaire;A;administrative; Attachés  territoriaux ;F;1975;temps complet;1,00;40000",
        "2024;A0200003;E0200001;fonctionnaire titulaire;C;police municipale;agent de police municipale;H;1985;temps complet;1,00;28000",
        // Not a cadre d'emplois the correspondence knows.
        "2024;A0200004;E0200001;fonctionnaire titulaire;C;technique;jardinier en chef;H;1985;temps complet;1,00;25000",
    ];
    let path = dir.path().join("agents.csv");
    std::fs::write(&path, agents_csv(&rows)).unwrap();
    let report = import_file(&store, &AGENTS, 2024, &path, &lenient()).unwrap();
    assert_eq!((report.rows_loaded, report.rows_quarantined), (3, 1));
    assert_eq!(
        quarantined(&store, "agents"),
        [(
            5,
            "metier".to_string(),
            "jardinier en chef".to_string(),
            "sans correspondance".to_string()
        )]
    );
    let by_family = store
        .counts(
            "SELECT count(*) FILTER (WHERE metier = 'services techniques et environnement'), \
             count(*) FILTER (WHERE metier = 'organisation et gestion des ressources'), \
             count(*) FILTER (WHERE metier = 'sécurité'), count(*) FROM agents",
            &[],
        )
        .unwrap();
    assert_eq!(by_family, [1, 1, 1, 3]);
}

#[test]
fn survey_answers_must_be_declared_and_free_text_is_never_stored() {
    let (dir, store) = setup();
    let text = "annee;enquete;employeur_id;question;reponse;commentaire\n\
        2024;recrutement;E0200001;recrutement.intention;oui;Nous recrutons un agent d'entretien\n\
        2024;recrutement;E0200002;recrutement.intention;non;\n\
        2024;recrutement;E0200001;teletravail.ouvert;oui;\n\
        2024;recrutement;E0200002;recrutement.difficultes;peut-être;\n\
        2024;sondage;E0200001;recrutement.intention;oui;\n\
        2024;teletravail;E0200001;teletravail.ouvert;en projet;\n";
    let path = dir.path().join("enquetes.csv");
    std::fs::write(&path, text).unwrap();
    let report = import_file(&store, &ENQUETES, 2024, &path, &lenient()).unwrap();
    assert_eq!((report.rows_loaded, report.rows_quarantined), (3, 3));
    assert_eq!(report.ignored_columns, ["commentaire"]);
    let found = quarantined(&store, "enquetes");
    let expected = [
        // A question of another survey.
        (4, "question", "teletravail.ouvert", "incohérent"),
        // An answer code the question does not declare.
        (5, "reponse", "peut-être", "hors liste"),
        // A survey that is not declared.
        (6, "enquete", "sondage", "hors liste"),
    ];
    assert_eq!(found.len(), expected.len(), "{found:?}");
    for (got, want) in found.iter().zip(expected) {
        assert_eq!(
            (got.0, got.1.as_str(), got.2.as_str(), got.3.as_str()),
            want,
            "{found:?}"
        );
    }
    // The comment column is not in the table.
    let columns = store
        .counts(
            "SELECT count(*) FROM information_schema.columns WHERE column_name = 'commentaire'",
            &[],
        )
        .unwrap();
    assert_eq!(columns, [0]);
}

/// The import matches a cadre d'emplois in SQL exactly as `catalogue::match_key` does.
#[test]
fn the_sql_match_key_is_the_catalogues() {
    use crate::catalogue::{METIER_PAR_CADRE, match_key};
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let sql = format!("SELECT {}", super::super::validate::match_key_sql("?"));
    let variants = [
        "  Adjoints   administratifs territoriaux ",
        "Adjoint d’animation",
        "ATTACHÉ TERRITORIAL PRINCIPAL",
        "Éducateurs des APS",
        "Sous-officiers de sapeurs-pompiers professionnels",
        "Rédactrice territoriale",
        "agent de maîtrise",
    ];
    let keys = METIER_PAR_CADRE.iter().map(|(c, _)| *c);
    for s in keys.chain(variants) {
        let got: String = conn.query_row(&sql, [s], |r| r.get(0)).unwrap();
        assert_eq!(got, match_key(s), "{s:?}");
    }
}
