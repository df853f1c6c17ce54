//! Matching the header row of an export to the catalogue's column names.

use std::collections::HashMap;

use cdg_shared::text;

use crate::catalogue::Dataset;

/// Where each dataset column is in the file, and the file's columns the dataset does not have.
pub struct Mapped {
    pub positions: Vec<usize>,
    pub ignored: Vec<String>,
}

/// Maps a header row to the dataset's columns; a missing or repeated column is an error that
/// names it and lists what the dataset expects.
pub fn map(dataset: &Dataset, headers: &[String]) -> Result<Mapped, String> {
    let normalized: Vec<String> = headers.iter().map(|h| normalize_header(h)).collect();
    let expected: Vec<&str> = dataset.file_columns().map(|c| c.name).collect();
    // One pass, whatever the number of columns a file declares.
    let mut first_at: HashMap<&str, usize> = HashMap::new();
    for (i, name) in normalized.iter().enumerate() {
        if name.is_empty() {
            continue;
        }
        if let Some(first) = first_at.insert(name, i) {
            return Err(format!(
                "columns {} and {} of the header both name {}; keep one",
                first + 1,
                i + 1,
                text::quote(name)
            ));
        }
    }
    let mut positions = Vec::with_capacity(expected.len());
    let mut missing = Vec::new();
    for name in &expected {
        match normalized.iter().position(|h| h == name) {
            Some(p) => positions.push(p),
            None => missing.push(*name),
        }
    }
    let unknown: Vec<String> = headers
        .iter()
        .zip(&normalized)
        .filter(|(_, n)| !n.is_empty() && !expected.contains(&n.as_str()))
        .map(|(h, _)| text::bounded(h.trim(), text::QUOTED_BYTES).into_owned())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "missing column(s) {}{}; dataset {} expects {}",
            missing.join(", "),
            if unknown.is_empty() {
                String::new()
            } else {
                format!(" (unknown column(s) found: {})", some_of(&unknown))
            },
            dataset.name,
            expected.join(", ")
        ));
    }
    Ok(Mapped {
        positions,
        ignored: unknown,
    })
}

/// The first few of `names`, and how many there are in all when that is more.
pub fn some_of(names: &[String]) -> String {
    const SHOWN: usize = 12;
    let mut listed = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        listed.push_str(&format!(", … ({} in all)", names.len()));
    }
    listed
}

/// Header matching tolerates case, accents, spaces, hyphens and apostrophes:
/// "Année", "ANNEE" and " annee " all name `annee`; "Cadre d'emplois" names `cadre_emplois`.
pub fn normalize_header(h: &str) -> String {
    let mut out = String::with_capacity(h.len());
    for c in h
        .trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .flat_map(char::to_lowercase)
    {
        let c = match text::unaccented(c) {
            ' ' | '-' | '\'' | '’' | '.' => '_',
            c => c,
        };
        if !(c == '_' && (out.is_empty() || out.ends_with('_'))) {
            out.push(c);
        }
    }
    // Linking words do not distinguish columns: "Année de naissance" is `annee_naissance`.
    out.split('_')
        .filter(|w| !w.is_empty() && !matches!(*w, "d" | "de" | "du" | "des" | "l" | "la" | "le"))
        .collect::<Vec<_>>()
        .join("_")
}

#[cfg(test)]
mod tests {
    use super::normalize_header;

    #[test]
    fn headers_as_french_tools_write_them() {
        for (raw, expected) in [
            ("\u{feff}Année", "annee"),
            (" ETPR ", "etpr"),
            ("Cadre d'emplois", "cadre_emplois"),
            ("Année de naissance", "annee_naissance"),
            ("Rémunération brute annuelle", "remuneration_brute_annuelle"),
            ("type-employeur", "type_employeur"),
            ("Tranche  d’effectif", "tranche_effectif"),
        ] {
            assert_eq!(normalize_header(raw), expected, "{raw:?}");
        }
    }
}
