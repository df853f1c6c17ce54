//! Matching the header row of an export to the catalogue's column names.

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
