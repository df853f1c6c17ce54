//! Check-time refusals of indicators, and their place in the signed encoding.

use crate::study::Study;

const QUERIES: &str = r#"
title = "t"
purpose = "p"
diffusion = "interne"

[[query]]
name = "offres_metier"
dataset = "offres"
group_by = ["metier"]
measures = ["count"]
filters = { annee = 2024 }

[[query]]
name = "demandes_metier"
dataset = "demandes"
group_by = ["metier"]
measures = ["count"]
filters = { annee = 2024 }

[[query]]
name = "effectifs"
dataset = "agents"
group_by = ["annee", "sexe"]
measures = ["count", "sum(etpr)"]
filters = { annee = [2020, 2024] }
"#;

fn refused(indicator: &str) -> String {
    let text = format!("{QUERIES}\n[[indicator]]\n{indicator}");
    match Study::from_toml(&text) {
        Ok(_) => panic!("accepted: {indicator}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn each_kind_of_mistake_is_refused_naming_it() {
    let e = refused(
        "name = \"tension\"\nkind = \"ratio\"\nnumerator = \"demande_metier.count\"\ndenominator = \"offres_metier.count\"",
    );
    assert!(
        e.contains("indicator \"tension\"")
            && e.contains(
                "no query is named \"demande_metier\", did you mean \"demandes_metier\"?"
            ),
        "{e}"
    );
    let e = refused(
        "name = \"tension\"\nkind = \"ratio\"\nnumerator = \"demandes_metier.sum(etpr)\"\ndenominator = \"offres_metier.count\"",
    );
    assert!(e.contains("has no measure \"sum(etpr)\""), "{e}");
    let e = refused("name = \"t\"\nkind = \"ration\"\nof = \"effectifs.count\"");
    assert!(
        e.contains("unknown kind \"ration\", did you mean \"ratio\"?"),
        "{e}"
    );
    let e = refused("name = \"p\"\nkind = \"share\"\nof = \"effectifs.count\"\nwithin = [\"sex\"]");
    assert!(
        e.contains("`within` names \"sex\"") && e.contains("did you mean \"sexe\""),
        "{e}"
    );
    let e = refused(
        "name = \"r\"\nkind = \"rate\"\nnumerator = \"demandes_metier.count\"\ndenominator = \"offres_metier.count\"",
    );
    assert!(e.contains("per agent-year"), "{e}");
    let e = refused(
        "name = \"r\"\nkind = \"ratio\"\nnumerator = \"offres_metier.count\"\ndenominator = \"effectifs.count\"",
    );
    assert!(e.contains("is split by \"annee\""), "{e}");
    let e = refused("name = \"i\"\nkind = \"index\"\nof = \"effectifs.count\"\nbase = 2022");
    assert!(e.contains("base year 2022 is not among the years"), "{e}");
    let e = refused("name = \"i\"\nkind = \"index\"\nof = \"offres_metier.count\"\nbase = 2024");
    assert!(e.contains("grouped by \"annee\""), "{e}");
    let e =
        refused("name = \"effectifs\"\nkind = \"index\"\nof = \"effectifs.count\"\nbase = 2020");
    assert!(e.contains("names two tables"), "{e}");
    let e = refused("name = \"i\"\nkind = \"index\"\nof = \"effectifs.count\"");
    assert!(e.contains("needs `base"), "{e}");
    let e = refused(
        "name = \"i\"\nkind = \"ratio\"\nnumerator = \"effectifs.count\"\ndenominator = \"effectifs.count\"\nscale = \"1/0\"",
    );
    assert!(e.contains("scale must be a finite number"), "{e}");
}

#[test]
fn indicators_are_signed_with_the_study_and_leave_older_digests_alone() {
    let plain = Study::from_toml(QUERIES).unwrap();
    assert!(
        !String::from_utf8(plain.canonical())
            .unwrap()
            .contains("indicators")
    );
    let with = Study::from_toml(&format!(
        "{QUERIES}\n[[indicator]]\nname = \"tension\"\ntitle = \"Demandes par offre\"\nkind = \"ratio\"\nnumerator = \"demandes_metier.count\"\ndenominator = \"offres_metier.count\"\nscale = \"100/365\"\n"
    ))
    .unwrap();
    assert_ne!(plain.digest(), with.digest());
    let back: Study = serde_json::from_slice(&with.canonical()).unwrap();
    assert_eq!(back, with);
    assert_eq!(back.digest(), with.digest());
    let super::IndicatorKind::Ratio { scale, .. } = &with.indicators[0].kind else {
        panic!("a ratio");
    };
    assert!((scale.0 - 100.0 / 365.0).abs() < 1e-15);
}
