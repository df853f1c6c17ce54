//! Studies (defined in `cdg_shared::study`, since nodes check them too).

pub use cdg_shared::study::*;

/// The key-figures study (`coordinator/studies/chiffres-cles.toml`): the one `cdg-dev demo` runs,
/// and the examples and tests start from.
pub const DEMO_STUDY: &str = include_str!("../studies/chiffres-cles.toml");

/// Reads and checks a study file: its text as written, and the study. The error names the file
/// and what the catalogue refuses in it.
pub fn read_file(file: &std::path::Path) -> anyhow::Result<(String, Study)> {
    use anyhow::Context;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let study =
        Study::from_toml(&text).with_context(|| format!("{} would be refused", file.display()))?;
    Ok((text, study))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO: &str = DEMO_STUDY;

    #[test]
    fn demo_study_parses_and_digest_is_stable() {
        let s = Study::from_toml(DEMO).unwrap();
        assert_eq!(s.queries.len(), 7);
        assert_eq!(s.departements.len(), 5);
        assert_eq!(s.queries[0].query.filters[0].values, vec!["2024"]);
        let again = Study::from_toml(&DEMO.replace(
            "departements = [\"02\", \"59\", \"60\", \"62\", \"80\"]",
            "",
        ))
        .unwrap();
        assert_eq!(
            s.digest(),
            again.digest(),
            "default départements are the five"
        );
        let other = Study::from_toml(&DEMO.replace("annee = 2024", "annee = 2023")).unwrap();
        assert_ne!(s.digest(), other.digest());
    }

    /// The Conférence pack: every study of `coordinator/studies/` passes the catalogue's check
    /// and keeps to the dimension limit.
    #[test]
    fn every_study_of_the_pack_is_valid() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/studies");
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let study = Study::from_toml(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            assert!(!study.queries.is_empty());
            names.push(path.file_stem().unwrap().to_string_lossy().into_owned());
        }
        names.sort();
        assert_eq!(
            names,
            [
                "absenteisme",
                "chiffres-cles",
                "concours",
                "departs-retraite",
                "evolution-effectifs",
                "metiers-en-tension",
                "nature-des-recrutements",
                "pyramide-des-ages",
                "secteurs-qui-recrutent",
                "sources-sociales",
                "turnover",
            ]
        );
    }

    #[test]
    fn clear_errors() {
        let err = Study::from_toml("title = 1").unwrap_err().to_string();
        assert!(
            err.contains("title") || err.contains("invalid type"),
            "{err}"
        );
        let err = Study::from_toml(&DEMO.replace("\"interne\"", "\"externe\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("diffusion_terms"), "{err}");
        let err = Study::from_toml(&DEMO.replace("[\"count\"]", "[\"max(etpr)\"]"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("max(etpr)"), "{err}");
        let err = Study::from_toml(&DEMO.replace("\"80\"", "\"99\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("99"), "{err}");
        // What the catalogue does not have is named before anyone is asked to approve.
        let err = Study::from_toml(&DEMO.replace("\"tranche_age\"]", "\"age\"]"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("pyramide_des_ages") && err.contains("unknown dimension \"age\""),
            "{err}"
        );
        let err = Study::from_toml(&DEMO.replace("annee = 2024 }", "annee = 2024, sexe = \"X\" }"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown value \"X\""), "{err}");
    }

    /// A study file of the accepted size (256 KiB) can hold one enormous line or name: the
    /// error says where and what, quoting at most a short part of it.
    #[test]
    fn errors_quote_only_the_start_of_a_long_value() {
        let huge = "é".repeat(100_000);
        let cases = [
            // toml's own message would repeat the whole line.
            (
                DEMO.replace("diffusion = \"interne\"", &format!("diffusion = {huge}")),
                "line 6, column 13",
            ),
            (
                DEMO.replace("\"pyramide_des_ages\"", &format!("\"{huge}\"")),
                "(200000 bytes)",
            ),
            (
                DEMO.replace("[\"count\"]", &format!("[\"max({huge})\"]")),
                "bad measure \"max(éé",
            ),
            (
                DEMO.replace("annee = 2024", &format!("\"{huge}\" = []")),
                "has no value",
            ),
            (
                DEMO.replace("title = \"Chiffres", &format!("title = \"{huge}")),
                "field `title` is 200",
            ),
        ];
        for (text, expected) in cases {
            let err = Study::from_toml(&text).unwrap_err().to_string();
            assert!(
                err.len() < 1024,
                "{} bytes: {}",
                err.len(),
                cdg_shared::text::prefix(&err, 200)
            );
            assert!(err.contains(expected), "{err}");
        }
    }
}
