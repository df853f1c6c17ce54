//! Tests of the generator, checking what the written files say.

use std::collections::{BTreeMap, BTreeSet};

use super::test_support::*;
use super::*;
use cdg_shared::codes;

#[test]
fn same_spec_same_bytes_other_seed_other_data() {
    let s = spec(Cdg::Aisne, 2022, 2023, 11, 0.05);
    let (d1, f1) = run("det1", &s);
    let (d2, f2) = run("det2", &s);
    let (d3, f3) = run("det3", &SynthSpec { seed: 12, ..s });
    assert_eq!(f1.len(), 2 * DATASETS.len());
    for ((a, b), c) in f1.iter().zip(&f2).zip(&f3) {
        assert_eq!(a.path.file_name(), b.path.file_name());
        assert_eq!(a.rows, b.rows);
        let (ba, bb, bc) = (
            std::fs::read(&a.path).expect("read"),
            std::fs::read(&b.path).expect("read"),
            std::fs::read(&c.path).expect("read"),
        );
        assert_eq!(ba, bb, "{:?} differs between runs", a.path);
        assert_ne!(ba, bc, "{:?} same with another seed", a.path);
    }
    for d in [d1, d2, d3] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn files_follow_the_french_excel_format() {
    let (dir, files) = run("format", &spec(Cdg::Somme, 2024, 2024, 3, 0.05));
    assert_eq!(files[0].path, dir.join(file_name("employeurs", 2024)));
    assert_eq!(file_name("agents", 2024), "agents_2024.csv");
    for f in files
        .iter()
        .filter(|f| f.path.extension().is_some_and(|e| e == "csv") && f.dataset != "offres")
    {
        let text = std::fs::read_to_string(&f.path).expect("utf-8");
        assert!(text.ends_with("\r\n"));
        assert_eq!(text.matches("\r\n").count() as u64, f.rows + 1);
        assert_eq!(text.matches('\n').count() as u64, f.rows + 1);
        assert!(!text.contains('"'), "no field needs quoting");
    }
    let agents = std::fs::read_to_string(&files[1].path).expect("read");
    assert!(agents.starts_with("annee;agent_id;employeur_id;statut;"));
    assert!(agents.contains("médico-sociale") || agents.contains("adjoint"));
    // The offers are in Windows-1252, as emploi-territorial exports them.
    let offres = std::fs::read(dir.join(file_name("offres", 2024))).expect("read");
    assert!(std::str::from_utf8(&offres).is_err());
    let (text, _, lossy) = encoding_rs::WINDOWS_1252.decode(&offres);
    assert!(!lossy && text.contains("é") && text.ends_with("\r\n"));
    assert!(text.starts_with("annee;offre_id;employeur_id;date_publication;"));
    assert_eq!(text.matches("\r\n").count(), text.matches('\n').count());
    // Parquet and XLSX by their magic numbers.
    let parquet = std::fs::read(dir.join(file_name("demandes", 2024))).expect("read");
    assert!(parquet.starts_with(b"PAR1") && parquet.ends_with(b"PAR1"));
    let xlsx = std::fs::read(dir.join(file_name("concours", 2024))).expect("read");
    assert!(xlsx.starts_with(b"PK"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn population_is_consistent_and_calibrated() {
    let s = spec(Cdg::Nord, 2020, 2024, 2024, 0.2);
    let (dir, files) = run("calib", &s);
    assert_eq!(files.len(), 5 * DATASETS.len());
    let expected = 169_000.0 * Cdg::Nord.agent_share() * 0.2;
    let mut previous: Option<BTreeSet<String>> = None;
    for year in 2020..=2024 {
        let agents = read_agents(&dir.join(file_name("agents", year)));
        let employeurs = read_employeurs(&dir.join(file_name("employeurs", year)));
        let rows = files
            .iter()
            .find(|f| f.dataset == "agents" && f.year == year)
            .map(|f| f.rows);
        assert_eq!(rows, Some(agents.len() as u64));
        // Size: the target in the first year, then a drift under 1% a year.
        let tol = if year == 2020 {
            0.001
        } else {
            0.01 * f64::from(year - 2020)
        };
        assert!(
            (agents.len() as f64 / expected - 1.0).abs() <= tol + 1e-9,
            "{year}"
        );

        // Employers: unique ids, each present every year.
        let emp: BTreeMap<&str, &Employeur> =
            employeurs.iter().map(|e| (e.id.as_str(), e)).collect();
        assert_eq!(emp.len(), employeurs.len());
        assert!(
            employeurs
                .iter()
                .all(|e| e.annee == year && e.id.len() == 8 && e.id.starts_with("E59"))
        );
        let count = |t: &str| employeurs.iter().filter(|e| e.type_employeur == t).count();
        for t in ["département", "SDIS", "CDG", "région", "métropole"] {
            assert_eq!(count(t), 1, "{t}");
        }
        assert!(count("commune") > 200);

        // Agents: unique per year, each with an existing employer.
        let ids: BTreeSet<String> = agents.iter().map(|a| a.agent_id.clone()).collect();
        assert_eq!(ids.len(), agents.len(), "(annee, agent_id) unique");
        let mut headcount: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for a in &agents {
            assert_eq!(a.annee, year);
            assert!(a.agent_id.len() == 10 && a.agent_id.starts_with("A59"));
            assert!(
                emp.contains_key(a.employeur_id.as_str()),
                "{}",
                a.employeur_id
            );
            let h = headcount.entry(a.employeur_id.as_str()).or_default();
            h.0 += 1;
            if !codes::is_contractuel(&a.statut) {
                h.1 += 1;
            }
            assert!(codes::STATUTS.contains(&a.statut.as_str()));
            assert!(codes::SEXES.contains(&a.sexe.as_str()));
            assert!(codes::cadres_emplois(&a.filiere, &a.categorie).contains(&a.cadre.as_str()));
            assert!(a.etpr > 0.0 && a.etpr <= 1.0);
            if a.temps == "temps non complet" {
                assert!(a.etpr < 1.0);
            } else {
                assert_eq!(a.temps, "temps complet");
            }
            assert!(a.pay > 0.0);
            if a.filiere == "incendie et secours" {
                assert_eq!(emp[a.employeur_id.as_str()].type_employeur, "SDIS");
            }
        }
        // Bands and affiliation follow the agents file.
        for e in &employeurs {
            let (n, fonct) = headcount.get(e.id.as_str()).copied().unwrap_or_default();
            assert!(n >= 1, "{} has no agent", e.id);
            assert_eq!(e.tranche, codes::tranche_effectif(n), "{}", e.id);
            assert_eq!(e.affiliation == "obligatoire", fonct < 350, "{}", e.id);
            assert!(codes::AFFILIATIONS.contains(&e.affiliation.as_str()));
        }
        // Most of last year's agents are still here.
        if let Some(prev) = &previous {
            let kept = prev.intersection(&ids).count() as f64 / prev.len() as f64;
            println!("{year} kept {:.1}% of {} agents", kept * 100.0, year - 1);
            assert!(kept > 0.85 && kept < 0.97, "kept {kept}");
        }
        previous = Some(ids);

        if year == 2020 || year == 2024 {
            check_calibration(&agents);
            check_pay(&agents);
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn every_cdg_is_calibrated() {
    for cdg in [Cdg::Aisne, Cdg::Oise, Cdg::PasDeCalais, Cdg::Somme] {
        let (dir, _) = run(
            &format!("cdg{}", cdg.code()),
            &spec(cdg, 2023, 2023, 5, 1.0),
        );
        let agents = read_agents(&dir.join(file_name("agents", 2023)));
        let expected = 169_000.0 * cdg.agent_share();
        assert!((agents.len() as f64 / expected - 1.0).abs() < 0.001);
        assert!(
            agents
                .iter()
                .all(|a| a.agent_id.starts_with(&format!("A{}", cdg.code())))
        );
        check_calibration(&agents);
        let employeurs = read_employeurs(&dir.join(file_name("employeurs", 2023)));
        assert!(employeurs.iter().all(|e| e.type_employeur != "région"));
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn rejects_bad_specs() {
    let dir = out_dir("bad");
    for s in [
        spec(Cdg::Nord, 2024, 2020, 1, 1.0),
        spec(Cdg::Nord, 2020, 2024, 1, 0.0),
        spec(Cdg::Nord, 2020, 2024, 1, f64::NAN),
        spec(Cdg::Nord, 2020, 2024, 1, 1000.0),
    ] {
        let err = generate(&s, &dir).expect_err("invalid spec");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }
}

/// Nord at scale 1.0 over 5 years has the real département's size (≈ 72,700 agents a year).
/// Generation speed is measured by the benchmarks, not asserted here.
#[test]
fn nord_full_scale_five_years_has_the_real_size() {
    let (dir, files) = run("full-scale", &spec(Cdg::Nord, 2020, 2024, 1, 1.0));
    let rows: u64 = files
        .iter()
        .filter(|f| f.dataset == "agents")
        .map(|f| f.rows)
        .sum();
    assert!((355_000..375_000).contains(&rows), "{rows}");
    let _ = std::fs::remove_dir_all(dir);
}
