//! Tests of the datasets derived from the simulation (mouvements, absences,
//! offres, demandes, concours): consistency with the agents and employers
//! files, and the calibration figures, read back from the written files.

use std::collections::{BTreeMap, BTreeSet};

use super::test_support::*;
use super::*;
use cdg_shared::codes;

/// Nord at a fifth of its size (≈ 14,500 agents), two years.
fn nord(name: &str) -> (std::path::PathBuf, Vec<SynthFile>) {
    run(name, &spec(Cdg::Nord, 2023, 2024, 7, 0.2))
}

/// Agents of a year by id: (employer, statut, sexe, birth).
fn agents_by_id(dir: &std::path::Path, year: i32) -> BTreeMap<String, Agent> {
    read_agents(&dir.join(file_name("agents", year)))
        .into_iter()
        .map(|a| (a.agent_id.clone(), a))
        .collect()
}

fn employer_ids(dir: &std::path::Path, year: i32) -> BTreeSet<String> {
    read_employeurs(&dir.join(file_name("employeurs", year)))
        .into_iter()
        .map(|e| e.id)
        .collect()
}

#[test]
fn files_come_in_load_order() {
    let (dir, files) = run("order", &spec(Cdg::Somme, 2023, 2024, 3, 0.05));
    let got: Vec<(i32, &str)> = files.iter().map(|f| (f.year, f.dataset)).collect();
    let want: Vec<(i32, &str)> = [2023, 2024]
        .iter()
        .flat_map(|&y| DATASETS.iter().map(move |&d| (y, d)))
        .collect();
    assert_eq!(got, want);
    let catalogue: Vec<&str> = cdg_shared::catalogue::DATASETS
        .iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(DATASETS.as_slice(), catalogue.as_slice());
    for f in &files {
        assert_eq!(f.path, dir.join(file_name(f.dataset, f.year)));
        assert!(f.rows > 0, "{:?} is empty", f.path);
        assert_eq!(table(&dir, f.dataset, f.year).rows.len() as u64, f.rows);
    }
    assert_eq!(file_name("demandes", 2024), "demandes_2024.parquet");
    assert_eq!(file_name("concours", 2024), "concours_2024.xlsx");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn mouvements_follow_the_population() {
    let (dir, _) = nord("mouvements");
    check_mouvements(&dir, 2024);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn absences_are_calibrated() {
    let (dir, _) = nord("absences");
    for year in [2023, 2024] {
        check_absences(&dir, year);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn offres_are_calibrated() {
    let (dir, _) = nord("offres");
    for year in [2023, 2024] {
        check_offres(&dir, year);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn demandes_are_calibrated() {
    let (dir, _) = nord("demandes");
    for year in [2023, 2024] {
        check_demandes(&dir, year);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn concours_are_calibrated() {
    let (dir, _) = run("concours", &spec(Cdg::Nord, 2023, 2024, 7, 1.0));
    for year in [2023, 2024] {
        check_concours(&dir, year);
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Movements of `year` against the agents of `year - 1` and `year`.
fn check_mouvements(dir: &std::path::Path, year: i32) {
    let previous = agents_by_id(dir, year - 1);
    let agents = agents_by_id(dir, year);
    let employers = employer_ids(dir, year);
    let t = table(dir, "mouvements", year);
    let (id, agent, employer, sens, motif) = (
        t.col("mouvement_id"),
        t.col("agent_id"),
        t.col("employeur_id"),
        t.col("sens"),
        t.col("motif"),
    );
    let ids: BTreeSet<&str> = t.values("mouvement_id").into_iter().collect();
    assert_eq!(ids.len(), t.rows.len(), "mouvement_id unique");
    let (mut arrivals, mut departures, mut retirements, mut contractuels) = (0, 0, 0, 0);
    for r in &t.rows {
        assert!(r[id].starts_with('M') && r[id].ends_with(|c: char| c.is_ascii_digit()));
        assert_eq!(r[t.col("annee")], year.to_string());
        assert_eq!(chrono::Datelike::year(&date(&r[t.col("date_effet")])), year);
        assert!(employers.contains(&r[employer]));
        assert!(codes::STATUTS.contains(&r[t.col("statut")].as_str()));
        let birth: i32 = r[t.col("annee_naissance")].parse().expect("year");
        if r[sens] == "arrivée" {
            arrivals += 1;
            assert!(
                codes::MOTIFS_ARRIVEE.contains(&r[motif].as_str()),
                "{}",
                r[motif]
            );
            // Arrivals are at their employer on 31/12, as they arrived.
            let a = &agents[&r[agent]];
            assert_eq!(a.employeur_id, r[employer]);
            assert_eq!(a.naissance, birth);
            if codes::is_contractuel(&r[t.col("statut")]) {
                contractuels += 1;
            }
        } else {
            assert_eq!(r[sens], "départ");
            departures += 1;
            assert!(
                codes::MOTIFS_DEPART.contains(&r[motif].as_str()),
                "{}",
                r[motif]
            );
            // Departures were at that employer the year before, and are gone from it.
            let before = &previous[&r[agent]];
            assert_eq!(before.employeur_id, r[employer]);
            assert_eq!(
                (before.naissance, before.sexe.as_str()),
                (birth, &*r[t.col("sexe")])
            );
            // Still here only after a mutation to another employer of the département.
            if let Some(now) = agents.get(&r[agent]) {
                assert_eq!(r[motif], "mutation");
                assert_ne!(now.employeur_id, r[employer]);
            }
            if r[motif] == "retraite" {
                retirements += 1;
                assert!(year - birth >= 55);
            }
        }
    }
    let n = agents.len() as f64;
    let pct = |x: usize| x as f64 / n * 100.0;
    println!(
        "{year}: arrivals {:.1}%, departures {:.1}%, retirements {:.2}% of agents; contractuels {:.1}% of arrivals",
        pct(arrivals),
        pct(departures),
        pct(retirements),
        contractuels as f64 / arrivals as f64 * 100.0
    );
    assert!((7.0..15.0).contains(&pct(arrivals)));
    assert!((7.0..15.0).contains(&pct(departures)));
    assert_near("retirements", pct(retirements), 3.0, 1.0);
    assert_near(
        "contractuels among arrivals",
        contractuels as f64 / arrivals as f64 * 100.0,
        51.0,
        5.0,
    );
}

/// Absences of `year`: references, rules and calibration.
fn check_absences(dir: &std::path::Path, year: i32) {
    let agents = agents_by_id(dir, year);
    let t = table(dir, "absences", year);
    let (agent, employer, motif) = (
        t.col("agent_id"),
        t.col("employeur_id"),
        t.col("motif_absence"),
    );
    let (arrets, jours) = (t.ints("nb_arrets"), t.ints("jours_calendaires"));
    let mut keys = BTreeSet::new();
    let mut by_motif: BTreeMap<&str, i64> = BTreeMap::new();
    let mut by_agent: BTreeMap<&str, i64> = BTreeMap::new();
    for (i, r) in t.rows.iter().enumerate() {
        assert!(keys.insert((&r[agent], &r[motif])), "key unique");
        let a = &agents[&r[agent]];
        assert_eq!(a.employeur_id, r[employer]);
        assert!(codes::MOTIFS_ABSENCE.contains(&r[motif].as_str()));
        assert!(1 <= arrets[i] && arrets[i] <= jours[i] && jours[i] <= 366);
        *by_motif.entry(&r[motif]).or_default() += jours[i];
        *by_agent.entry(&r[agent]).or_default() += jours[i];
    }
    assert!(
        by_agent.values().all(|&d| d <= 366),
        "at most a year per agent"
    );
    let total: i64 = by_motif.values().sum();
    let n = agents.len() as f64;
    let per_agent = total as f64 / n;
    let rate = total as f64 / (n * f64::from(formats::days_in_year(year))) * 100.0;
    let etpr: f64 = agents.values().map(|a| a.etpr).sum();
    let rate_etpr = total as f64 / (etpr * 365.0) * 100.0;
    let none = (1.0 - by_agent.len() as f64 / n) * 100.0;
    let share = |ms: &[&str]| {
        ms.iter()
            .map(|m| by_motif.get(m).copied().unwrap_or(0))
            .sum::<i64>() as f64
            / total as f64
            * 100.0
    };
    let mo = share(&["maladie ordinaire"]);
    let long = share(&["longue maladie", "longue durée"]);
    let accidents = share(&[
        "accident de service",
        "accident de trajet",
        "maladie professionnelle",
    ]);
    let other = share(&["maternité, paternité, adoption", "autre"]);
    println!(
        "{year}: {per_agent:.1} days per agent, {rate:.2}% of agent-days, {rate_etpr:.2}% of ETPR-days, \
         {none:.1}% never absent; maladie ordinaire {mo:.1}%, longue maladie/durée {long:.1}%, \
         accidents/MP {accidents:.1}%, maternité/autre {other:.1}%"
    );
    assert!((27.0..=35.0).contains(&per_agent), "{per_agent}");
    assert!((8.5..=10.0).contains(&rate), "{rate}");
    assert!((40.0..=50.0).contains(&none), "{none}");
    assert_near("maladie ordinaire", mo, 55.0, 5.0);
    assert_near("longue maladie and longue durée", long, 28.0, 5.0);
    assert_near("accidents", accidents, 15.0, 4.0);
    assert!((1.0..=8.0).contains(&other), "{other}");
    // Rising with age.
    let mean_days = |lo: i32, hi: i32| {
        let ids: Vec<&Agent> = agents
            .values()
            .filter(|a| (lo..hi).contains(&(year - a.naissance)))
            .collect();
        ids.iter()
            .map(|a| by_agent.get(a.agent_id.as_str()).copied().unwrap_or(0))
            .sum::<i64>() as f64
            / ids.len() as f64
    };
    let (young, old) = (mean_days(18, 35), mean_days(55, 68));
    println!("{year}: {young:.1} days under 35, {old:.1} days from 55");
    assert!(old > 2.0 * young);
}

/// Offers of `year`: references, rules and calibration.
fn check_offres(dir: &std::path::Path, year: i32) {
    let agents = agents_by_id(dir, year).len() as f64;
    let employers = employer_ids(dir, year);
    let t = table(dir, "offres", year);
    let ids: BTreeSet<&str> = t.values("offre_id").into_iter().collect();
    assert_eq!(ids.len(), t.rows.len(), "offre_id unique");
    let c = |n: &str| t.col(n);
    for r in &t.rows {
        assert!(employers.contains(&r[c("employeur_id")]));
        let publication = date(&r[c("date_publication")]);
        assert_eq!(chrono::Datelike::year(&publication), year);
        assert!(date(&r[c("date_limite_candidature")]) >= publication);
        let filled = r[c("statut_offre")] == "pourvue";
        assert_eq!(!r[c("date_nomination")].is_empty(), filled);
        assert_eq!(!r[c("type_nomination")].is_empty(), filled);
        if filled {
            let nomination = date(&r[c("date_nomination")]);
            assert!(nomination >= publication && chrono::Datelike::year(&nomination) == year);
            assert!(codes::TYPES_NOMINATION.contains(&r[c("type_nomination")].as_str()));
            if r[c("type_nomination")] == "contractuel" {
                assert_eq!(r[c("ouvert_contractuels")], "oui");
            }
        }
        // The métier is one a post of the filière and catégorie is published as.
        let f = codes::FILIERES
            .iter()
            .position(|x| *x == r[c("filiere")])
            .expect("filière");
        let k = codes::CATEGORIES
            .iter()
            .position(|x| *x == r[c("categorie")])
            .expect("catégorie");
        let m = codes::METIERS
            .iter()
            .position(|x| *x == r[c("metier")])
            .expect("métier");
        assert!(
            [false, true]
                .iter()
                .any(|&small| emploi::offer_metiers(f as u8, k as u8, small)
                    .iter()
                    .any(|&(x, _)| usize::from(x) == m)),
            "{} for {} {}",
            r[c("metier")],
            r[c("filiere")],
            r[c("categorie")]
        );
    }
    let n = t.rows.len() as f64;
    let per_100 = n / agents * 100.0;
    let statut = |s: &str| t.share("statut_offre", s);
    let filled = statut("pourvue") / (statut("pourvue") + statut("non pourvue")) * 100.0;
    let nominations: Vec<&str> = t
        .values("type_nomination")
        .into_iter()
        .filter(|v| !v.is_empty())
        .collect();
    let contractuels = nominations.iter().filter(|&&v| v == "contractuel").count() as f64
        / nominations.len() as f64
        * 100.0;
    let cat_c = t.share("categorie", "C");
    let non_complet = t.share("temps_travail", "temps non complet");
    println!(
        "{year}: {per_100:.2} offers per 100 agents; pourvue {filled:.1}% of decided; \
         publiée {:.1}%, annulée {:.1}%; contractuels {contractuels:.1}% of nominations; \
         C {cat_c:.1}%; temps non complet {non_complet:.1}%",
        statut("publiée"),
        statut("annulée")
    );
    assert_near("offers per 100 agents", per_100, 11.5, 0.6);
    assert_near("pourvue among decided offers", filled, 83.0, 3.0);
    assert_near("contractuels among nominations", contractuels, 51.0, 4.0);
    assert!(statut("publiée") < 15.0 && (1.5..5.0).contains(&statut("annulée")));
    assert!((55.0..75.0).contains(&cat_c));
    assert!((10.0..30.0).contains(&non_complet));
}

/// CVs of `year` against the offers of the year.
fn check_demandes(dir: &std::path::Path, year: i32) {
    let offres = table(dir, "offres", year);
    let offers = offres.rows.len();
    let code = &offres.rows[0][offres.col("offre_id")][1..3];
    let t = table(dir, "demandes", year);
    let ids: BTreeSet<&str> = t.values("demande_id").into_iter().collect();
    assert_eq!(ids.len(), t.rows.len(), "demande_id unique");
    for r in &t.rows {
        assert_eq!(r[t.col("annee")], year.to_string());
        assert_eq!(chrono::Datelike::year(&date(&r[t.col("date_depot")])), year);
        assert!(r[t.col("date_depot")].contains('-'), "ISO dates");
    }
    let per_offer = t.rows.len() as f64 / offers as f64;
    let women = t.share("sexe", "F");
    let own = t.share("departement_residence", code);
    let bac = t.share("niveau_diplome", "bac");
    let above = 100.0 - bac - t.share("niveau_diplome", "infra-bac");
    let seekers = t.share("situation", "demandeur d'emploi");
    let public = t.share("situation", "agent de la fonction publique");
    let laureats = t.share("laureat_concours", "oui");
    println!(
        "{year}: {per_offer:.2} CVs per offer; women {women:.1}%; own département {own:.1}%; \
         bac {bac:.1}%, above {above:.1}%; job seekers {seekers:.1}%, fonction publique \
         {public:.1}%; laureates {laureats:.1}%"
    );
    assert_near("CVs per offer", per_offer, 1.5, 0.1);
    assert_near("women", women, 67.0, 4.0);
    assert!((75.0..85.0).contains(&own));
    assert!(bac < 27.0 && above > 40.0);
    assert_near("job seekers", seekers, 50.0, 5.0);
    assert_near("fonction publique", public, 30.0, 5.0);
    assert!((4.0..15.0).contains(&laureats));
    // Métiers in tension get fewer CVs per offer than the others.
    let count = |t: &Table, tension: bool| {
        t.values("metier")
            .iter()
            .filter(|m| {
                let i = codes::METIERS.iter().position(|x| x == *m).expect("métier");
                emploi::PROFILES[i].tension == tension
            })
            .count() as f64
    };
    let ratio = |tension| count(&t, tension) / count(&offres, tension);
    println!(
        "{year}: CVs per offer {:.2} in tension, {:.2} otherwise",
        ratio(true),
        ratio(false)
    );
    assert!(ratio(true) < 1.0 && ratio(false) > 1.5);
}

/// Concours sessions of `year`.
fn check_concours(dir: &std::path::Path, year: i32) {
    let t = table(dir, "concours", year);
    let ids: BTreeSet<&str> = t.values("session_id").into_iter().collect();
    assert_eq!(ids.len(), t.rows.len(), "session_id unique");
    let (postes, inscrits, presents, admis) = (
        t.ints("postes_ouverts"),
        t.ints("inscrits"),
        t.ints("presents"),
        t.ints("admis"),
    );
    let voies = t.values("voie");
    let (mut p_sum, mut a_sum) = (0, 0);
    for (i, r) in t.rows.iter().enumerate() {
        assert!(admis[i] <= presents[i] && presents[i] <= inscrits[i]);
        assert!(
            codes::cadres_emplois(&r[t.col("filiere")], &r[t.col("categorie")])
                .contains(&r[t.col("cadre_emplois")].as_str())
        );
        if voies[i] == "examen professionnel" {
            assert_eq!(postes[i], 0);
        } else {
            assert!(postes[i] >= 1 && admis[i] <= postes[i]);
            p_sum += postes[i];
            a_sum += admis[i];
        }
    }
    let presence =
        presents.iter().sum::<i64>() as f64 / inscrits.iter().sum::<i64>() as f64 * 100.0;
    let filled = a_sum as f64 / p_sum as f64 * 100.0;
    println!(
        "{year}: {} sessions, {} posts, {} inscrits, presence {presence:.1}%, admis {filled:.1}% of posts",
        t.rows.len(),
        p_sum,
        inscrits.iter().sum::<i64>()
    );
    assert!((15..=60).contains(&t.rows.len()));
    assert!((55.0..=65.0).contains(&presence));
    assert!((90.0..=100.0).contains(&filled));
}
