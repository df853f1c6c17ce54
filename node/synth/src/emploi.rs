//! Métier tables shared by the job offers and the job seekers, indexed like
//! [`cdg_shared::codes::METIERS`]: which métier a post of a filière and catégorie
//! is published as, and what each métier's candidates look like.

/// Number of métiers in [`cdg_shared::codes::METIERS`].
pub const NM: usize = 26;

/// The métiers (index, weight) an offer for a post of `filiere` and
/// `categorie` is published as. `small` is a commune of fewer than 20
/// agents, where the secrétaire de mairie and the agent polyvalent en milieu
/// rural do most jobs. Médico-technique posts (technicien paramédical,
/// biologiste) have no métier of their own in the list: they are published
/// as the closest paramedical one, infirmier.
pub fn offer_metiers(filiere: u8, categorie: u8, small: bool) -> &'static [(u8, f64)] {
    match (filiere, categorie, small) {
        // administrative
        (0, 2, false) => &[(6, 30.0), (7, 12.0), (8, 8.0), (9, 12.0), (10, 38.0)],
        (0, 2, true) => &[(7, 60.0), (6, 15.0), (10, 15.0), (9, 10.0)],
        (0, 1, false) => &[(6, 15.0), (7, 15.0), (8, 28.0), (9, 22.0), (20, 20.0)],
        (0, 1, true) => &[(7, 75.0), (6, 10.0), (9, 15.0)],
        (0, _, false) => &[(25, 25.0), (20, 20.0), (8, 30.0), (9, 25.0)],
        (0, _, true) => &[(25, 60.0), (7, 40.0)],
        // technique
        (1, 2, false) => &[(0, 8.0), (1, 30.0), (2, 22.0), (3, 30.0), (4, 10.0)],
        (1, 2, true) => &[(0, 65.0), (1, 15.0), (2, 8.0), (3, 12.0)],
        (1, 1, false) => &[(18, 55.0), (17, 45.0)],
        (1, 1, true) => &[(17, 80.0), (18, 20.0)],
        (1, _, _) => &[(19, 60.0), (17, 40.0)],
        // culturelle
        (2, 2, _) => &[(21, 1.0)],
        (2, 1, _) => &[(21, 50.0), (22, 50.0)],
        (2, _, _) => &[(21, 45.0), (22, 55.0)],
        // sportive
        (3, _, _) => &[(23, 1.0)],
        // médico-sociale, médico-technique
        (4, 2, _) => &[(12, 55.0), (15, 45.0)],
        (4 | 5, _, _) => &[(13, 1.0)],
        // sociale
        (6, 2, _) => &[(11, 40.0), (4, 60.0)],
        (6, _, _) => &[(14, 1.0)],
        // animation, police municipale, incendie et secours
        (7, _, _) => &[(5, 1.0)],
        (8, _, _) => &[(16, 1.0)],
        _ => &[(24, 1.0)],
    }
}

/// What the candidates of a métier look like.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    /// Weights of the catégorie aimed at (A, B, C).
    pub categories: [f64; 3],
    /// Share of women among the candidates (before the overall shift).
    pub women: f64,
    /// CVs per offer relative to the average: below 1 for the métiers in
    /// tension, above 1 for the ones many people want (office jobs,
    /// communication, libraries).
    pub attract: f64,
    /// Reported in tension (HoRHizons barometer, FNCDG panoramas): filled less often and
    /// republished more.
    pub tension: bool,
}

const fn p(categories: [f64; 3], women: f64, attract: f64, tension: bool) -> Profile {
    Profile {
        categories,
        women,
        attract,
        tension,
    }
}

/// The profile of each métier, in [`cdg_shared::codes::METIERS`] order.
pub const PROFILES: [Profile; NM] = [
    p([0.0, 0.0, 1.0], 0.30, 0.6, true), // agent de services polyvalent en milieu rural
    p([0.0, 0.0, 1.0], 0.15, 1.5, false), // agent d'entretien des espaces verts
    p([0.0, 0.0, 1.0], 0.30, 1.1, false), // agent de propreté des espaces publics
    p([0.0, 0.0, 1.0], 0.75, 1.2, false), // agent de restauration
    p([0.0, 0.0, 1.0], 0.95, 1.4, false), // agent d'accompagnement à l'éducation de l'enfant
    p([0.0, 0.2, 0.8], 0.72, 0.8, true), // animateur enfance-jeunesse
    p([0.0, 0.3, 0.7], 0.88, 2.6, false), // assistant de gestion administrative
    p([0.05, 0.35, 0.6], 0.88, 0.4, true), // secrétaire de mairie
    p([0.15, 0.4, 0.45], 0.85, 2.0, false), // gestionnaire ressources humaines
    p([0.1, 0.4, 0.5], 0.80, 1.5, false), // gestionnaire comptable
    p([0.0, 0.0, 1.0], 0.85, 2.6, false), // chargé d'accueil
    p([0.0, 0.0, 1.0], 0.95, 0.6, true), // aide à domicile
    p([0.0, 0.0, 1.0], 0.90, 0.5, true), // aide-soignant
    p([0.75, 0.25, 0.0], 0.87, 0.4, true), // infirmier
    p([0.6, 0.4, 0.0], 0.88, 0.8, true), // travailleur social
    p([0.0, 0.0, 1.0], 0.97, 0.6, true), // auxiliaire de puériculture
    p([0.02, 0.1, 0.88], 0.22, 0.35, true), // policier municipal
    p([0.4, 0.6, 0.0], 0.15, 0.6, true), // responsable des services techniques
    p([0.0, 1.0, 0.0], 0.20, 0.8, false), // technicien bâtiment
    p([1.0, 0.0, 0.0], 0.30, 0.4, true), // ingénieur voirie et réseaux
    p([0.5, 0.5, 0.0], 0.70, 3.5, false), // chargé de communication
    p([0.25, 0.35, 0.4], 0.78, 2.8, false), // bibliothécaire
    p([0.5, 0.5, 0.0], 0.55, 1.5, false), // enseignant artistique
    p([0.1, 0.6, 0.3], 0.40, 1.6, false), // éducateur sportif
    p([0.08, 0.1, 0.82], 0.10, 0.8, false), // sapeur-pompier professionnel
    p([1.0, 0.0, 0.0], 0.45, 1.2, false), // directeur général des services
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::CATEGORIE_BY_FILIERE;
    use cdg_shared::codes::{CATEGORIES, FILIERES, METIERS};

    #[test]
    fn tables_match_the_code_lists() {
        assert_eq!(METIERS.len(), NM);
        assert_eq!(METIERS[7], "secrétaire de mairie");
        for f in 0..FILIERES.len() {
            for c in 0..CATEGORIES.len() {
                if CATEGORIE_BY_FILIERE[f][c] == 0.0 {
                    continue;
                }
                for small in [false, true] {
                    let list = offer_metiers(f as u8, c as u8, small);
                    assert!(!list.is_empty());
                    for &(m, w) in list {
                        assert!(usize::from(m) < NM && w > 0.0);
                        // Candidates of the métier may aim at the post's catégorie.
                        assert!(
                            PROFILES[usize::from(m)].categories[c] > 0.0,
                            "{} {} {}",
                            FILIERES[f],
                            CATEGORIES[c],
                            METIERS[usize::from(m)]
                        );
                    }
                }
            }
        }
    }
}
