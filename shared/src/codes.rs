//! Reference code lists of the node's datasets, with their French labels.
//!
//! The labels follow the nomenclatures of the rapport social unique (décret
//! n° 2020-1493 du 30 novembre 2020 and its arrêté of application, the DGCL's
//! RSU schema): they are what users read in the CSV files, in the database and
//! in the published tables, so they are kept exactly as written here (accents
//! included).

/// `sexe`: femme, homme.
pub const SEXES: &[&str] = &["F", "H"];

/// `categorie`: the three statutory catégories hiérarchiques.
pub const CATEGORIES: &[&str] = &["A", "B", "C"];

/// `filiere`: the ten filières of the fonction publique territoriale.
pub const FILIERES: &[&str] = &[
    "administrative",
    "technique",
    "culturelle",
    "sportive",
    "médico-sociale",
    "médico-technique",
    "sociale",
    "animation",
    "police municipale",
    "incendie et secours",
];

/// `statut`: fonctionnaires (titulaires, stagiaires) and contractuels.
pub const STATUTS: &[&str] = &[
    "fonctionnaire titulaire",
    "fonctionnaire stagiaire",
    "contractuel sur emploi permanent",
    "contractuel sur emploi non permanent",
];

/// Whether a `statut` label is one of the two contractuel statuts.
pub fn is_contractuel(statut: &str) -> bool {
    statut.starts_with("contractuel")
}

/// `temps_travail`: temps complet or temps non complet (a post created for
/// fewer than 35 hours a week).
pub const TEMPS_TRAVAIL: &[&str] = &["temps complet", "temps non complet"];

/// `type_employeur`: the kinds of collectivités and établissements publics.
pub const TYPES_EMPLOYEUR: &[&str] = &[
    "commune",
    "CCAS",
    "caisse des écoles",
    "communauté de communes",
    "communauté d'agglomération",
    "communauté urbaine",
    "métropole",
    "syndicat intercommunal",
    "syndicat mixte",
    "CIAS",
    "département",
    "région",
    "SDIS",
    "CDG",
    "OPH",
    "autre établissement public local",
];

/// `tranche_effectif`: headcount bands of an employer (agents at 31/12).
pub const TRANCHES_EFFECTIF: &[&str] = &[
    "1-9",
    "10-19",
    "20-49",
    "50-99",
    "100-349",
    "350-999",
    "1000 et plus",
];

/// The [`TRANCHES_EFFECTIF`] band of a headcount. A headcount of 0 falls in
/// the lowest band.
pub fn tranche_effectif(headcount: usize) -> &'static str {
    let i = match headcount {
        0..=9 => 0,
        10..=19 => 1,
        20..=49 => 2,
        50..=99 => 3,
        100..=349 => 4,
        350..=999 => 5,
        _ => 6,
    };
    TRANCHES_EFFECTIF[i]
}

/// `affiliation` to the CDG: obligatoire (fewer than 350 fonctionnaires),
/// volontaire, or non affilié.
pub const AFFILIATIONS: &[&str] = &["obligatoire", "volontaire", "non affilié"];

/// `tranche_age`: five-year bands of the age pyramid.
pub const TRANCHES_AGE: &[&str] = &[
    "<25", "25-29", "30-34", "35-39", "40-44", "45-49", "50-54", "55-59", "60-64", "65+",
];

/// The [`TRANCHES_AGE`] band of an age in years (at 31/12).
pub fn tranche_age(age: i32) -> &'static str {
    let i = if age < 25 {
        0
    } else if age >= 65 {
        9
    } else {
        // 25..=64 → 1..=8
        ((age - 25) / 5 + 1) as usize
    };
    TRANCHES_AGE[i]
}

/// `oui` / `non`, for yes-no columns.
pub const OUI_NON: &[&str] = &["oui", "non"];

/// `sens` of a mouvement: an arrival in or a departure from the employer.
pub const SENS_MOUVEMENT: &[&str] = &["arrivée", "départ"];

/// `motif` of an arrival (the RSU's motifs d'arrivée).
pub const MOTIFS_ARRIVEE: &[&str] = &[
    "concours",
    "recrutement direct",
    "mutation",
    "détachement entrant",
    "intégration directe",
    "réintégration",
    "transfert de compétences",
    "recrutement contractuel",
    "contrat aidé ou apprentissage",
];

/// `motif` of a departure (the RSU's motifs de départ).
pub const MOTIFS_DEPART: &[&str] = &[
    "retraite",
    "mutation",
    "détachement sortant",
    "disponibilité",
    "démission",
    "rupture conventionnelle",
    "fin de contrat",
    "licenciement",
    "décès",
    "transfert de compétences",
    "autre",
];

/// Every `motif` of a mouvement: [`MOTIFS_ARRIVEE`] then the departure-only ones.
pub const MOTIFS_MOUVEMENT: &[&str] = &union::<18>(MOTIFS_ARRIVEE, MOTIFS_DEPART);

/// The codes of `a`, then those of `b` that `a` does not have. `N` is their number: a wrong
/// `N` stops the build.
const fn union<const N: usize>(a: &[&'static str], b: &[&'static str]) -> [&'static str; N] {
    let mut out = [""; N];
    let mut n = 0;
    while n < a.len() {
        out[n] = a[n];
        n += 1;
    }
    let mut j = 0;
    while j < b.len() {
        if !contains(a, b[j]) {
            out[n] = b[j];
            n += 1;
        }
        j += 1;
    }
    assert!(n == N, "union::<N>: N is not the number of distinct codes");
    out
}

pub(crate) const fn contains(list: &[&str], code: &str) -> bool {
    let mut i = 0;
    while i < list.len() {
        if same(list[i], code) {
            return true;
        }
        i += 1;
    }
    false
}

const fn same(x: &str, y: &str) -> bool {
    let (x, y) = (x.as_bytes(), y.as_bytes());
    if x.len() != y.len() {
        return false;
    }
    let mut i = 0;
    while i < x.len() {
        if x[i] != y[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// `motif_absence`: the motifs of the RSU's absences.
pub const MOTIFS_ABSENCE: &[&str] = &[
    "maladie ordinaire",
    "longue maladie",
    "longue durée",
    "accident de service",
    "accident de trajet",
    "maladie professionnelle",
    "maternité, paternité, adoption",
    "autre",
];

/// `nature` of an accident in the RASSCT: the three motifs of the absences that it details.
pub const NATURES_ACCIDENT: &[&str] = &[
    "accident de service",
    "accident de trajet",
    "maladie professionnelle",
];

/// Whether an accident stopped work (the `arret` dimension of `accidents`).
pub const ARRETS: &[&str] = &["avec arrêt", "sans arrêt"];

/// `type_formation`: the kinds of training of the fonction publique territoriale (loi
/// n° 84-594 of 12 July 1984, art. 1, and décret n° 2008-512): formations d'intégration and de
/// professionnalisation (statutory), de perfectionnement, de préparation aux concours et
/// examens, and those taken on the compte personnel de formation.
pub const TYPES_FORMATION: &[&str] = &[
    "intégration",
    "professionnalisation",
    "perfectionnement",
    "préparation aux concours",
    "CPF",
];

/// `organisme` that gave a training: the CNFPT, another body, or the employer itself.
pub const ORGANISMES_FORMATION: &[&str] = &["CNFPT", "autre organisme", "interne"];

/// `categorie_beneficiaire`: why an agent is a bénéficiaire de l'obligation d'emploi
/// (code du travail, art. L. 5212-13; for public employers, agents reclassés and holders of an
/// allocation temporaire d'invalidité count too, as the FIPHFP's declaration lists them).
pub const CATEGORIES_BENEFICIAIRE: &[&str] = &[
    "RQTH",
    "rente AT-MP",
    "pension d'invalidité",
    "allocation temporaire d'invalidité",
    "carte mobilité inclusion",
    "AAH",
    "agent reclassé",
    "autre",
];

/// `nature` of a job offer: a new post or a vacant one (décret 2018-1351, item 2).
pub const NATURES_OFFRE: &[&str] = &["création", "vacance"];

/// `statut_offre`: where the offer ended up at the end of the year.
pub const STATUTS_OFFRE: &[&str] = &["publiée", "pourvue", "non pourvue", "annulée"];

/// `type_nomination` of a filled offer.
pub const TYPES_NOMINATION: &[&str] = &[
    "lauréat de concours",
    "mutation",
    "détachement",
    "intégration directe",
    "contractuel",
];

/// `metier`: a short list of the territorial métiers the observatory follows (CNFPT
/// répertoire des métiers, the most frequent and the ones reported in tension).
pub const METIERS: &[&str] = &[
    "agent de services polyvalent en milieu rural",
    "agent d'entretien des espaces verts",
    "agent de propreté des espaces publics",
    "agent de restauration",
    "agent d'accompagnement à l'éducation de l'enfant",
    "animateur enfance-jeunesse",
    "assistant de gestion administrative",
    "secrétaire de mairie",
    "gestionnaire ressources humaines",
    "gestionnaire comptable",
    "chargé d'accueil",
    "aide à domicile",
    "aide-soignant",
    "infirmier",
    "travailleur social",
    "auxiliaire de puériculture",
    "policier municipal",
    "responsable des services techniques",
    "technicien bâtiment",
    "ingénieur voirie et réseaux",
    "chargé de communication",
    "bibliothécaire",
    "enseignant artistique",
    "éducateur sportif",
    "sapeur-pompier professionnel",
    "directeur général des services",
];

/// `situation` of a job seeker when they registered.
pub const SITUATIONS_DEMANDEUR: &[&str] = &[
    "demandeur d'emploi",
    "agent de la fonction publique",
    "salarié du privé",
    "étudiant",
    "autre",
];

/// `niveau_diplome` of a job seeker.
pub const NIVEAUX_DIPLOME: &[&str] = &["infra-bac", "bac", "bac+2", "bac+3", "bac+5 et plus"];

/// `voie` of a concours session.
pub const VOIES_CONCOURS: &[&str] = &[
    "externe",
    "interne",
    "troisième voie",
    "concours unique",
    "examen professionnel",
];

/// The cadres d'emplois of a filière in a catégorie (the statuts particuliers of the
/// fonction publique territoriale).
///
/// Returns an empty slice for a pair that has no cadre d'emplois (animation A,
/// médico-technique C) or for an unknown label; the synthetic generator never
/// produces such pairs. Médico-sociale B is the legacy catégorie B cadre of
/// infirmiers territoriaux; the catégorie A nurses are "infirmier en soins
/// généraux".
pub fn cadres_emplois(filiere: &str, categorie: &str) -> &'static [&'static str] {
    match (filiere, categorie) {
        ("administrative", "C") => &["adjoint administratif"],
        ("administrative", "B") => &["rédacteur"],
        ("administrative", "A") => &["attaché", "administrateur"],
        ("technique", "C") => &[
            "adjoint technique",
            "agent de maîtrise",
            "adjoint technique des établissements d'enseignement",
        ],
        ("technique", "B") => &["technicien"],
        ("technique", "A") => &["ingénieur", "ingénieur en chef"],
        ("culturelle", "C") => &["adjoint du patrimoine"],
        ("culturelle", "B") => &[
            "assistant de conservation",
            "assistant d'enseignement artistique",
        ],
        ("culturelle", "A") => &[
            "bibliothécaire",
            "attaché de conservation",
            "professeur d'enseignement artistique",
            "conservateur",
        ],
        ("sportive", "C") => &["opérateur des APS"],
        ("sportive", "B") => &["éducateur des APS"],
        ("sportive", "A") => &["conseiller des APS"],
        ("médico-sociale", "C") => &["auxiliaire de puériculture", "auxiliaire de soins"],
        ("médico-sociale", "B") => &["infirmier"],
        ("médico-sociale", "A") => &[
            "infirmier en soins généraux",
            "puéricultrice",
            "cadre de santé",
            "médecin",
            "psychologue",
        ],
        ("médico-technique", "B") => &["technicien paramédical"],
        ("médico-technique", "A") => &["biologiste, vétérinaire et pharmacien"],
        ("sociale", "C") => &["agent social", "ATSEM"],
        ("sociale", "B") => &["moniteur-éducateur"],
        ("sociale", "A") => &[
            "assistant socio-éducatif",
            "éducateur de jeunes enfants",
            "conseiller socio-éducatif",
        ],
        ("animation", "C") => &["adjoint d'animation"],
        ("animation", "B") => &["animateur"],
        ("police municipale", "C") => &["agent de police municipale", "garde champêtre"],
        ("police municipale", "B") => &["chef de service de police municipale"],
        ("police municipale", "A") => &["directeur de police municipale"],
        ("incendie et secours", "C") => &[
            "sapeur et caporal de sapeurs-pompiers professionnels",
            "sous-officier de sapeurs-pompiers professionnels",
        ],
        ("incendie et secours", "B") => &["lieutenant de sapeurs-pompiers professionnels"],
        ("incendie et secours", "A") => &[
            "capitaine, commandant et lieutenant-colonel de sapeurs-pompiers professionnels",
            "conseiller et colonel de sapeurs-pompiers professionnels",
            "médecin et pharmacien de sapeurs-pompiers professionnels",
        ],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contractuel_statuts() {
        let flags: Vec<bool> = STATUTS.iter().map(|s| is_contractuel(s)).collect();
        assert_eq!(flags, [false, false, true, true]);
    }

    #[test]
    fn headcount_bands() {
        assert_eq!(tranche_effectif(0), "1-9");
        assert_eq!(tranche_effectif(1), "1-9");
        assert_eq!(tranche_effectif(9), "1-9");
        assert_eq!(tranche_effectif(10), "10-19");
        assert_eq!(tranche_effectif(49), "20-49");
        assert_eq!(tranche_effectif(50), "50-99");
        assert_eq!(tranche_effectif(349), "100-349");
        assert_eq!(tranche_effectif(350), "350-999");
        assert_eq!(tranche_effectif(999), "350-999");
        assert_eq!(tranche_effectif(1000), "1000 et plus");
        assert_eq!(tranche_effectif(100_000), "1000 et plus");
    }

    #[test]
    fn age_bands() {
        assert_eq!(tranche_age(18), "<25");
        assert_eq!(tranche_age(24), "<25");
        assert_eq!(tranche_age(25), "25-29");
        assert_eq!(tranche_age(29), "25-29");
        assert_eq!(tranche_age(30), "30-34");
        assert_eq!(tranche_age(47), "45-49");
        assert_eq!(tranche_age(64), "60-64");
        assert_eq!(tranche_age(65), "65+");
        assert_eq!(tranche_age(70), "65+");
        for age in 0..100 {
            assert!(TRANCHES_AGE.contains(&tranche_age(age)));
        }
    }

    #[test]
    fn cadres_cover_the_usual_pairs() {
        for f in FILIERES {
            for c in CATEGORIES {
                let cadres = cadres_emplois(f, c);
                let impossible =
                    (*f == "animation" && *c == "A") || (*f == "médico-technique" && *c == "C");
                assert_eq!(cadres.is_empty(), impossible, "{f} {c}");
            }
        }
        assert_eq!(
            cadres_emplois("administrative", "C"),
            ["adjoint administratif"]
        );
        assert!(cadres_emplois("sociale", "C").contains(&"ATSEM"));
        assert!(cadres_emplois("inconnue", "A").is_empty());
    }
}
