//! `cdg study new`: a study file to start from, written from the catalogue so that it passes
//! `cdg study check` as it is. Each query lists, in comments, what its dataset offers: the
//! dimensions (with their values) to group by or filter on, and the measures to sum or average.

use std::fmt::Write;

use cdg_shared::catalogue::{self, Dataset, Values};

/// The study file for `datasets` (one query each); unknown names are refused, naming the
/// catalogue's datasets.
pub fn study_template(datasets: &[String], year: i32) -> Result<String, String> {
    let mut out = String::from(
        "# Study file. Check it with `cdg study check FILE`, try it on synthetic data with\n\
         # `cdg-dev try FILE`, then submit it with `cdg study submit FILE`.\n\n\
         title = \"Titre de l'étude\"\n\
         purpose = \"À quoi elle sert (par exemple : Conférence régionale de l'emploi)\"\n\
         # interne: kept within the comité; externe needs diffusion_terms.\n\
         diffusion = \"interne\"\n\
         departements = [\"02\", \"59\", \"60\", \"62\", \"80\"]\n",
    );
    let mut seen = Vec::new();
    for name in datasets {
        let d = catalogue::known_dataset(name).map_err(|p| p.to_string())?;
        // A dataset named twice gets one query (query names are unique).
        if !seen.contains(&d.name) {
            seen.push(d.name);
            query_template(&mut out, d, year);
        }
    }
    Ok(out)
}

fn query_template(out: &mut String, d: &Dataset, year: i32) {
    let _ = writeln!(out, "\n# {}: {}.", d.name, d.description);
    let least = if d.min_units > 0 {
        format!("at least {}", d.min_units)
    } else {
        "enough".to_string()
    };
    let _ = writeln!(
        out,
        "# Each cell needs {least} distinct units ({}) to be released.",
        d.unit.as_str()
    );
    out.push_str("# Dimensions (group_by and filters, at most 4 together):\n");
    for dim in d.dimensions {
        let values = match dim.values {
            Values::Years => "années chargées".to_string(),
            Values::Codes(codes) if codes.len() > 6 => {
                format!("{}, … ({} valeurs)", codes[..5].join(", "), codes.len())
            }
            Values::Codes(codes) => codes.join(", "),
        };
        let _ = writeln!(out, "#   {}: {} ({values})", dim.name, dim.description);
    }
    if d.measures.is_empty() {
        out.push_str("# Measures: count only.\n");
    } else {
        out.push_str("# Measures (\"sum(name)\", \"mean(name)\", besides \"count\"):\n");
        for m in d.measures {
            let _ = writeln!(out, "#   {}: {}", m.name, m.description);
        }
    }
    let group_by = d
        .dimensions
        .iter()
        .find(|dim| dim.name != "annee" && !dim.sensitive)
        .map_or(String::new(), |dim| format!("\"{}\"", dim.name));
    let measures = match d.measures.first() {
        Some(m) => format!("\"count\", \"sum({})\"", m.name),
        None => "\"count\"".to_string(),
    };
    let _ = write!(
        out,
        "[[query]]\nname = \"{name}\"\ntitle = \"{name} par {by} en {year}\"\n\
         dataset = \"{name}\"\ngroup_by = [{group_by}]\nmeasures = [{measures}]\n\
         filters = {{ annee = {year} }}\n",
        name = d.name,
        by = group_by.trim_matches('"'),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdg_shared::study::Study;

    #[test]
    fn every_dataset_has_a_template_that_passes_the_check() {
        let all: Vec<String> = catalogue::dataset_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        let text = study_template(&all, 2024).unwrap();
        let study = Study::from_toml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(study.queries.len(), all.len());
        assert!(text.contains("#   metier: famille de métiers"), "{text}");
        let twice = study_template(&["agents".to_string(), "agents".to_string()], 2024).unwrap();
        assert_eq!(Study::from_toml(&twice).unwrap().queries.len(), 1);
        let err = study_template(&["agent".to_string()], 2024).unwrap_err();
        assert!(err.contains("did you mean \"agents\"?"), "{err}");
    }
}
