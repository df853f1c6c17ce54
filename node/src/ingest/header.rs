//! Matching the header row of an export to the catalogue's column names.

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
    let expected: Vec<&str> = dataset.columns.iter().map(|c| c.name).collect();
    for (i, name) in normalized.iter().enumerate() {
        if let Some(j) = normalized[i + 1..]
            .iter()
            .position(|n| n == name && !n.is_empty())
        {
            return Err(format!(
                "columns {} and {} of the header both name {name:?}; keep one",
                i + 1,
                i + j + 2
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
        .map(|(h, _)| h.trim().to_string())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "missing column(s) {}{}; dataset {} expects {}",
            missing.join(", "),
            if unknown.is_empty() {
                String::new()
            } else {
                format!(" (unknown column(s) found: {})", unknown.join(", "))
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
        let c = match c {
            'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
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
