//! Dates, optional columns, cross-column rules and references of the other datasets.

use super::*;
use crate::catalogue::{ABSENCES, CONCOURS, MOUVEMENTS, OFFRES};

fn load(dir: &Path, store: &Store, dataset: &'static Dataset, text: &str) -> ImportReport {
    let path = dir.join(format!("{}.csv", dataset.name));
    std::fs::write(&path, text).unwrap();
    let lenient = ImportOptions {
        max_reject_ratio: 0.9,
        ..Default::default()
    };
    import_file(store, dataset, 2024, &path, &lenient).unwrap()
}

fn reasons(store: &Store, dataset: &str) -> Vec<(i64, String, String)> {
    store
        .quarantine(dataset, 2024)
        .unwrap()
        .into_iter()
        .map(|(line, column, _, reason)| (line, column, reason))
        .collect()
}

#[test]
fn offers_dates_and_nominations_follow_the_rules() {
    let (dir, store) = setup();
    let header = "annee;offre_id;employeur_id;date_publication;date_limite_candidature;nature;\
                  categorie;filiere;metier;temps_travail;ouvert_contractuels;statut_offre;\
                  nb_republications;date_nomination;type_nomination";
    let rows = [
        // 2: filled, French dates: fine.
        "2024;O1;E0200001;15/03/2024;15/04/2024;vacance;C;technique;agent de restauration;temps complet;oui;pourvue;0;01/06/2024;contractuel",
        // 3: not filled, empty optional columns: fine.
        "2024;O2;E0200001;2024-05-02;2024-06-01;création;B;administrative;secrétaire de mairie;temps complet;non;non pourvue;2;;",
        // 4: deadline before publication.
        "2024;O3;E0200001;2024-05-02;2024-04-01;création;B;administrative;secrétaire de mairie;temps complet;non;non pourvue;0;;",
        // 5: filled without a nomination date.
        "2024;O4;E0200001;2024-05-02;2024-06-01;création;B;administrative;secrétaire de mairie;temps complet;non;pourvue;0;;mutation",
        // 6: published another year.
        "2024;O5;E0200001;2023-12-30;2024-01-30;création;B;administrative;secrétaire de mairie;temps complet;non;publiée;0;;",
        // 7: not a date.
        "2024;O6;E0200001;le 3 mai;2024-06-01;création;B;administrative;secrétaire de mairie;temps complet;non;publiée;0;;",
        // 8: unknown employer.
        "2024;O7;E9999999;2024-05-02;2024-06-01;création;B;administrative;secrétaire de mairie;temps complet;non;publiée;0;;",
    ];
    let report = load(
        dir.path(),
        &store,
        &OFFRES,
        &format!("{header}\n{}\n", rows.join("\n")),
    );
    assert_eq!(
        (
            report.rows_read,
            report.rows_loaded,
            report.rows_quarantined
        ),
        (7, 2, 5)
    );
    assert_eq!(
        reasons(&store, "offres"),
        [
            (
                4,
                "date_publication, date_limite_candidature".to_string(),
                "ordre".to_string()
            ),
            (5, "date_nomination".to_string(), "incohérent".to_string()),
            (6, "date_publication".to_string(), "autre année".to_string()),
            (
                7,
                "date_publication".to_string(),
                "pas une date".to_string()
            ),
            (
                8,
                "employeur_id".to_string(),
                "référence inconnue".to_string()
            ),
        ]
    );
}

#[test]
fn movements_absences_and_concours_rules() {
    let (dir, store) = setup();
    import(dir.path(), &store, &agents_csv(&[GOOD])).unwrap();
    let header = "annee;mouvement_id;agent_id;employeur_id;date_effet;sens;motif;statut;categorie;filiere;cadre_emplois;sexe;annee_naissance";
    let text = format!(
        "{header}\n\
         2024;M1;A0200001;E0200001;2024-09-01;arrivée;mutation;fonctionnaire titulaire;C;technique;adjoint technique;F;1980\n\
         2024;M2;A0200009;E0200001;2024-10-01;départ;retraite;fonctionnaire titulaire;C;technique;agent de maîtrise;H;1960\n\
         2024;M3;A0200009;E0200001;2024-10-01;arrivée;retraite;fonctionnaire titulaire;C;technique;adjoint technique;H;1960\n\
         2024;M1;A0200010;E0200001;2024-11-01;départ;démission;fonctionnaire titulaire;C;technique;adjoint technique;H;1990\n"
    );
    let report = load(dir.path(), &store, &MOUVEMENTS, &text);
    assert_eq!((report.rows_loaded, report.rows_quarantined), (2, 2));
    assert_eq!(
        reasons(&store, "mouvements"),
        [
            (4, "motif".to_string(), "incohérent".to_string()),
            (5, "mouvement_id".to_string(), "doublon".to_string()),
        ]
    );
    let header = "annee;agent_id;employeur_id;motif_absence;nb_arrets;jours_calendaires";
    let text = format!(
        "{header}\n2024;A0200001;E0200001;maladie ordinaire;2;9\n\
         2024;A0200001;E0200001;longue maladie;3;2\n\
         2024;A0299999;E0200001;maladie ordinaire;1;1\n"
    );
    let report = load(dir.path(), &store, &ABSENCES, &text);
    assert_eq!((report.rows_loaded, report.rows_quarantined), (1, 2));
    assert_eq!(
        reasons(&store, "absences"),
        [
            (
                3,
                "nb_arrets, jours_calendaires".to_string(),
                "ordre".to_string()
            ),
            (4, "agent_id".to_string(), "référence inconnue".to_string()),
        ]
    );
    let header = "annee;session_id;cadre_emplois;filiere;categorie;voie;postes_ouverts;inscrits;\
                  presents;admis;recrutes_un_an;en_attente_un_an;en_attente_deux_ans";
    let text = format!(
        "{header}\n2024;C1;rédacteur;administrative;B;externe;20;400;250;20;14;5;2\n\
         2024;C2;rédacteur;administrative;B;interne;10;100;120;10;;;\n\
         2024;C3;rédacteur;administrative;B;troisième voie;5;50;40;5;6;;\n\
         2024;C4;attaché;administrative;A;externe;5;50;40;5;2;2;3\n\
         2024;C5;attaché;administrative;A;interne;5;50;40;5;;;\n"
    );
    let report = load(dir.path(), &store, &CONCOURS, &text);
    // The follow-up is optional (C5 has none yet); it never exceeds the lauréats, and no more
    // wait after two years than after one.
    assert_eq!((report.rows_loaded, report.rows_quarantined), (2, 3));
    assert_eq!(
        reasons(&store, "concours"),
        [
            (3, "presents, inscrits".to_string(), "ordre".to_string()),
            (4, "recrutes_un_an, admis".to_string(), "ordre".to_string()),
            (
                5,
                "en_attente_deux_ans, en_attente_un_an".to_string(),
                "ordre".to_string()
            ),
        ]
    );
}
