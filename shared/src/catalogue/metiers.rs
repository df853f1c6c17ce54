//! The métier of an agent, derived at import from their cadre d'emplois.
//!
//! The CNFPT's *répertoire des métiers territoriaux* (2019 edition, 251 métiers) groups the
//! métiers into six *champs d'action publique locale*: organisation et gestion des ressources;
//! social, santé publique; citoyenneté, éducation, culture et sport; aménagement et
//! développement durable des territoires; services techniques et environnement; sécurité
//! (<https://www.cnfpt.fr/evoluer/lemploi-fpt/repertoire-metiers/reperes-generaux-repertoire-metiers-territoriaux-edition-2019/national>).
//! An RSU export gives an agent's cadre d'emplois, not their métier, so `metier` holds the
//! family where the agents of that cadre mostly work, through [`METIER_PAR_CADRE`]. It is a
//! correspondence, not a statute: an adjoint administratif may work in a social service. The
//! comité technique amends it here, and the catalogue's digest changes with it, so no node
//! answers with another table than the coordinator's.
//!
//! A cadre d'emplois is matched by its [`match_key`]: without regard to case, accents, the
//! apostrophe used, spaces, plurals or the word "territorial", so that "Adjoints administratifs
//! territoriaux" is the adjoint administratif. One that is still not in the table sends the row
//! to quarantine, naming it: add it here, or correct the export.

/// The families of métiers (`metier` of agents and mouvements).
pub const FAMILLES_METIERS: &[&str] = &[
    "organisation et gestion des ressources",
    "social, santé publique",
    "citoyenneté, éducation, culture et sport",
    "aménagement et développement durable des territoires",
    "services techniques et environnement",
    "sécurité",
];

const RESSOURCES: &str = FAMILLES_METIERS[0];
const SOCIAL: &str = FAMILLES_METIERS[1];
const CITOYENNETE: &str = FAMILLES_METIERS[2];
const AMENAGEMENT: &str = FAMILLES_METIERS[3];
const TECHNIQUES: &str = FAMILLES_METIERS[4];
const SECURITE: &str = FAMILLES_METIERS[5];

/// Each cadre d'emplois of the statuts particuliers (lower case) and its family of métiers.
pub const METIER_PAR_CADRE: &[(&str, &str)] = &[
    ("adjoint administratif", RESSOURCES),
    ("rédacteur", RESSOURCES),
    ("attaché", RESSOURCES),
    ("administrateur", RESSOURCES),
    ("adjoint technique", TECHNIQUES),
    ("agent de maîtrise", TECHNIQUES),
    (
        "adjoint technique des établissements d'enseignement",
        CITOYENNETE,
    ),
    ("technicien", TECHNIQUES),
    ("ingénieur", AMENAGEMENT),
    ("ingénieur en chef", AMENAGEMENT),
    ("adjoint du patrimoine", CITOYENNETE),
    ("assistant de conservation", CITOYENNETE),
    ("assistant d'enseignement artistique", CITOYENNETE),
    ("bibliothécaire", CITOYENNETE),
    ("attaché de conservation", CITOYENNETE),
    ("professeur d'enseignement artistique", CITOYENNETE),
    ("conservateur", CITOYENNETE),
    ("opérateur des aps", CITOYENNETE),
    ("éducateur des aps", CITOYENNETE),
    ("conseiller des aps", CITOYENNETE),
    ("auxiliaire de puériculture", SOCIAL),
    ("auxiliaire de soins", SOCIAL),
    ("infirmier", SOCIAL),
    ("infirmier en soins généraux", SOCIAL),
    ("puéricultrice", SOCIAL),
    ("cadre de santé", SOCIAL),
    ("médecin", SOCIAL),
    ("psychologue", SOCIAL),
    ("technicien paramédical", SOCIAL),
    ("biologiste, vétérinaire et pharmacien", SOCIAL),
    ("agent social", SOCIAL),
    ("atsem", CITOYENNETE),
    ("moniteur-éducateur", SOCIAL),
    ("assistant socio-éducatif", SOCIAL),
    ("éducateur de jeunes enfants", SOCIAL),
    ("conseiller socio-éducatif", SOCIAL),
    ("adjoint d'animation", CITOYENNETE),
    ("animateur", CITOYENNETE),
    ("agent de police municipale", SECURITE),
    ("garde champêtre", SECURITE),
    ("chef de service de police municipale", SECURITE),
    ("directeur de police municipale", SECURITE),
    (
        "sapeur et caporal de sapeurs-pompiers professionnels",
        SECURITE,
    ),
    ("sous-officier de sapeurs-pompiers professionnels", SECURITE),
    ("lieutenant de sapeurs-pompiers professionnels", SECURITE),
    (
        "capitaine, commandant et lieutenant-colonel de sapeurs-pompiers professionnels",
        SECURITE,
    ),
    (
        "conseiller et colonel de sapeurs-pompiers professionnels",
        SECURITE,
    ),
    (
        "médecin et pharmacien de sapeurs-pompiers professionnels",
        SECURITE,
    ),
];

/// The family of métiers of a cadre d'emplois, as the import derives it.
pub fn metier_of(cadre: &str) -> Option<&'static str> {
    let key = match_key(cadre);
    METIER_PAR_CADRE
        .iter()
        .find(|(c, _)| match_key(c) == key)
        .map(|(_, m)| *m)
}

/// What a derived column's source value is matched by: lower case without accents, `’` as
/// `'`, single spaces, without the word "territorial" (any form), and each word of four
/// letters or more without a final `s`. The import computes the same in SQL
/// (`ingest::validate::match_key_sql`), and a test holds the two together.
pub fn match_key(s: &str) -> String {
    let folded: String = s
        .trim()
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| {
            if c == '’' {
                '\''
            } else {
                crate::text::unaccented(c)
            }
        })
        .collect();
    let spaced = folded.split_whitespace().collect::<Vec<_>>().join(" ");
    // Words are runs of [a-z0-9_], as a regular expression's \b sees them.
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(spaced.len());
    let mut rest = spaced.as_str();
    while let Some(c) = rest.chars().next() {
        let len = rest.find(|c: char| !is_word(c)).unwrap_or(rest.len());
        if len == 0 {
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let (word, after) = rest.split_at(len);
        rest = after;
        let stem = word.strip_suffix('s').filter(|stem| {
            stem.len() >= 3
                && stem[stem.len() - 3..]
                    .bytes()
                    .all(|b| b.is_ascii_lowercase())
        });
        if matches!(
            word,
            "territorial" | "territoriale" | "territoriales" | "territoriaux"
        ) {
            out.truncate(out.trim_end().len());
        } else {
            out.push_str(stem.unwrap_or(word));
        }
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::{CATEGORIES, FILIERES, cadres_emplois};

    #[test]
    fn every_cadre_of_the_statuts_has_a_family() {
        for f in FILIERES {
            for c in CATEGORIES {
                for cadre in cadres_emplois(f, c) {
                    assert!(metier_of(cadre).is_some(), "{cadre} has no métier");
                }
            }
        }
        assert_eq!(metier_of("  Adjoint Administratif "), Some(RESSOURCES));
        assert_eq!(
            metier_of("Adjoints  administratifs territoriaux"),
            Some(RESSOURCES)
        );
        assert_eq!(metier_of("Adjoint d’animation"), Some(CITOYENNETE));
        assert_eq!(metier_of("Éducateurs des APS"), Some(CITOYENNETE));
        assert_eq!(metier_of("ATSEM"), Some(CITOYENNETE));
        assert_eq!(metier_of("jardinier"), None);
    }

    #[test]
    fn the_table_is_lower_case_without_duplicates() {
        for (i, (cadre, _)) in METIER_PAR_CADRE.iter().enumerate() {
            assert_eq!(*cadre, cadre.to_lowercase());
            let key = match_key(cadre);
            assert!(
                !METIER_PAR_CADRE[..i]
                    .iter()
                    .any(|(c, _)| match_key(c) == key),
                "{cadre}"
            );
        }
        // A key, not a text: "sous" loses its s like any plural, on both sides.
        assert_eq!(
            match_key("Sous-officiers  de sapeurs-pompiers"),
            "sou-officier de sapeur-pompier"
        );
        assert_eq!(match_key("Opérateur des APS"), "operateur des aps");
        assert_eq!(match_key("Rédacteurs territoriaux"), "redacteur");
    }
}
