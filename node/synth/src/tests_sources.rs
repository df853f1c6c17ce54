//! Tests of the sources beyond the RSU's core (formation, handicap, the
//! surveys, the reçus-collés follow-up of the concours): consistency with the
//! agents and employers files and the figures they are calibrated on, read
//! back from the written files.

use std::collections::{BTreeMap, BTreeSet};

use super::test_support::*;
use super::*;
use cdg_shared::catalogue::{QUESTIONS, SURVEYS};
use cdg_shared::codes;

/// Nord at a fifth of its size (≈ 14,500 agents), three years.
fn nord(name: &str) -> (std::path::PathBuf, Vec<SynthFile>) {
    run(name, &spec(Cdg::Nord, 2022, 2024, 7, 0.2))
}

fn agents(dir: &std::path::Path, year: i32) -> Vec<Agent> {
    read_agents(&dir.join(file_name("agents", year)))
}

#[test]
fn training_is_of_agents_and_calibrated() {
    let (dir, _) = nord("formation");
    let agents = agents(&dir, 2024);
    let ids: BTreeSet<(&str, &str)> = agents
        .iter()
        .map(|a| (a.agent_id.as_str(), a.employeur_id.as_str()))
        .collect();
    let t = table(&dir, "formation", 2024);
    let (who, employer, ty, body, days) = (
        t.col("agent_id"),
        t.col("employeur_id"),
        t.col("type_formation"),
        t.col("organisme"),
        t.col("jours"),
    );
    let mut trained = BTreeSet::new();
    let mut total = 0.0;
    let mut by_type: BTreeMap<&str, f64> = BTreeMap::new();
    for r in &t.rows {
        assert!(
            ids.contains(&(r[who].as_str(), r[employer].as_str())),
            "{r:?}"
        );
        assert!(codes::TYPES_FORMATION.contains(&r[ty].as_str()));
        assert!(codes::ORGANISMES_FORMATION.contains(&r[body].as_str()));
        let d: f64 = r[days].replace(',', ".").parse().unwrap();
        assert!(d >= 0.5 && (d * 2.0).fract() == 0.0, "{d}");
        trained.insert(&r[who]);
        total += d;
        *by_type.entry(r[ty].as_str()).or_default() += d;
    }
    let per_agent = total / agents.len() as f64;
    let trained = trained.len() as f64 / agents.len() as f64 * 100.0;
    println!("formation: {per_agent:.2} days per agent, {trained:.1}% trained, {by_type:?}");
    assert_near("days per agent", per_agent, 2.5, 1.0);
    assert_near("% trained", trained, 40.0, 10.0);
    assert!(by_type["perfectionnement"] > total / 2.0);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn beneficiaries_are_agents_and_their_employers_declare_them() {
    let (dir, _) = nord("handicap");
    let agents = agents(&dir, 2024);
    let by_id: BTreeMap<(&str, &str), &Agent> = agents
        .iter()
        .map(|a| ((a.agent_id.as_str(), a.employeur_id.as_str()), a))
        .collect();
    let t = table(&dir, "handicap", 2024);
    let (who, employer, category) = (
        t.col("agent_id"),
        t.col("employeur_id"),
        t.col("categorie_beneficiaire"),
    );
    let mut per_employer: BTreeMap<&str, i64> = BTreeMap::new();
    let mut in_c = 0;
    for r in &t.rows {
        let a = by_id[&(r[who].as_str(), r[employer].as_str())];
        in_c += usize::from(a.categorie == "C");
        assert!(codes::CATEGORIES_BENEFICIAIRE.contains(&r[category].as_str()));
        *per_employer.entry(r[employer].as_str()).or_default() += 1;
    }
    let rate = t.rows.len() as f64 / agents.len() as f64 * 100.0;
    let in_c = in_c as f64 / t.rows.len() as f64 * 100.0;
    println!("handicap: {rate:.2}% of the agents, {in_c:.1}% of them in catégorie C");
    assert_near("% beneficiaries", rate, 6.5, 1.5);
    assert!(in_c > 80.0, "{in_c}");
    assert_near(
        "RQTH share",
        t.share("categorie_beneficiaire", "RQTH"),
        58.0,
        8.0,
    );

    let mut headcount: BTreeMap<&str, i64> = BTreeMap::new();
    for a in &agents {
        *headcount.entry(a.employeur_id.as_str()).or_default() += 1;
    }
    let e = table(&dir, "handicap_employeurs", 2024);
    let (id, effectif, declared) = (
        e.col("employeur_id"),
        e.col("effectif_total"),
        e.col("beneficiaires"),
    );
    let subject = headcount
        .values()
        .filter(|&&n| n >= i64::from(handicap::SUBJECT_FROM))
        .count();
    assert_eq!(e.rows.len(), subject);
    let (mut meeting, mut declared_total) = (0, 0);
    for r in &e.rows {
        let n: i64 = r[effectif].parse().unwrap();
        let b: i64 = r[declared].parse().unwrap();
        assert_eq!(n, headcount[r[id].as_str()]);
        assert_eq!(b, per_employer.get(r[id].as_str()).copied().unwrap_or(0));
        meeting += usize::from(b as f64 >= cdg_shared::catalogue::TAUX_LEGAL * n as f64);
        declared_total += b;
    }
    println!(
        "handicap_employeurs: {} employers, {:.0}% meet the 6% rate",
        e.rows.len(),
        meeting as f64 / e.rows.len() as f64 * 100.0
    );
    assert!(declared_total > 0 && meeting > 0 && meeting < e.rows.len());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn survey_answers_are_declared_and_answered_whole() {
    let (dir, _) = nord("enquetes");
    let employers = read_employeurs(&dir.join(file_name("employeurs", 2024)));
    let ids: BTreeSet<&str> = employers.iter().map(|e| e.id.as_str()).collect();
    let t = table(&dir, "enquetes", 2024);
    let (survey, employer, question, answer) = (
        t.col("enquete"),
        t.col("employeur_id"),
        t.col("question"),
        t.col("reponse"),
    );
    let mut answered: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for r in &t.rows {
        assert!(ids.contains(r[employer].as_str()));
        let s = SURVEYS
            .iter()
            .find(|s| s.code == r[survey])
            .expect("survey");
        assert!(s.questions.contains(&r[question].as_str()), "{r:?}");
        let q = QUESTIONS.iter().find(|q| q.code == r[question]).unwrap();
        assert!(q.answers.contains(&r[answer].as_str()), "{r:?}");
        *answered.entry((s.code, r[employer].as_str())).or_default() += 1;
    }
    for ((s, _), n) in &answered {
        let survey = SURVEYS.iter().find(|x| x.code == *s).unwrap();
        assert_eq!(
            *n,
            survey.questions.len(),
            "a respondent answers every question"
        );
    }
    let respondents = answered.keys().filter(|(s, _)| *s == "recrutement").count();
    let response = respondents as f64 / employers.len() as f64 * 100.0;
    let intention: Vec<&str> = t
        .rows
        .iter()
        .filter(|r| r[question] == "recrutement.intention")
        .map(|r| r[answer].as_str())
        .collect();
    let yes = intention.iter().filter(|a| **a == "oui").count() as f64;
    let yes = yes / intention.len() as f64 * 100.0;
    println!("enquetes: {response:.1}% of the employers respond, {yes:.1}% intend to recruit");
    assert_near("% respondents", response, 35.0, 12.0);
    assert_near("% intending to recruit", yes, 49.2, 6.0);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_laureats_follow_up_is_given_once_known() {
    let (dir, _) = nord("recus-colles");
    let (mut admis, mut waiting_two) = (0, 0);
    for year in [2022, 2023, 2024] {
        let t = table(&dir, "concours", year);
        let cols = [
            "admis",
            "recrutes_un_an",
            "en_attente_un_an",
            "en_attente_deux_ans",
        ]
        .map(|c| t.col(c));
        let voie = t.col("voie");
        for r in &t.rows {
            let given = [cols[1], cols[2], cols[3]].map(|c| !r[c].is_empty());
            let examen = r[voie] == "examen professionnel";
            // Known one year after (2022, 2023), two years after (2022), never for an examen.
            let expected = [year <= 2023, year <= 2023, year <= 2022].map(|k| k && !examen);
            assert_eq!(given, expected, "{year} {r:?}");
            if given[2] {
                let n = cols.map(|c| r[c].parse::<i64>().unwrap());
                assert!(n[1] + n[2] <= n[0] && n[3] <= n[2], "{r:?}");
                admis += n[0];
                waiting_two += n[3];
            }
        }
    }
    let share = waiting_two as f64 / admis as f64 * 100.0;
    println!("concours: {share:.1}% of the lauréats still waiting after two years");
    assert_near("% reçus-collés after two years", share, 16.0, 6.0);
    let _ = std::fs::remove_dir_all(dir);
}
