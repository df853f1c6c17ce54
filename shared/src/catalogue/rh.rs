//! The RSU side of the catalogue: employers, agents, their movements and absences.

use super::metiers::{FAMILLES_METIERS, METIER_PAR_CADRE};
use super::{
    ANNEE, Column, ColumnType as T, Dataset, Dimension, EMPLOYER_JOIN, EMPLOYEUR_REF, Join,
    Reference, Rule, Unit, code_dim, col, joined, measure,
};
use crate::codes;

/// The five-year age band of `<alias>.annee - <alias>.annee_naissance`.
macro_rules! age_band_sql {
    ($a:literal) => {
        concat!(
            "CASE WHEN ",
            $a,
            ".annee - ",
            $a,
            ".annee_naissance < 25 THEN '<25' ",
            "WHEN ",
            $a,
            ".annee - ",
            $a,
            ".annee_naissance < 30 THEN '25-29' ",
            "WHEN ",
            $a,
            ".annee - ",
            $a,
            ".annee_naissance < 35 THEN '30-34' ",
            "WHEN ",
            $a,
            ".annee - ",
            $a,
            ".annee_naissance < 40 THEN '35-39' ",
            "WHEN ",
            $a,
            ".annee - ",
            $a,
            ".annee_naissance < 45 THEN '40-44' ",
            "WHEN ",
            $a,
            ".annee - ",
            $a,
            ".annee_naissance < 50 THEN '45-49' ",
            "WHEN ",
            $a,
            ".annee - ",
            $a,
            ".annee_naissance < 55 THEN '50-54' ",
            "WHEN ",
            $a,
            ".annee - ",
            $a,
            ".annee_naissance < 60 THEN '55-59' ",
            "WHEN ",
            $a,
            ".annee - ",
            $a,
            ".annee_naissance < 65 THEN '60-64' ELSE '65+' END"
        )
    };
}

/// The dimensions describing an agent, read from the table aliased `$a`.
macro_rules! agent_dimensions {
    ($a:literal) => {
        [
            code_dim(
                "sexe",
                concat!($a, ".sexe"),
                codes::SEXES,
                "sexe de l'agent",
            ),
            code_dim(
                "tranche_age",
                age_band_sql!($a),
                codes::TRANCHES_AGE,
                "tranche d'âge de 5 ans au 31/12",
            ),
            code_dim(
                "categorie",
                concat!($a, ".categorie"),
                codes::CATEGORIES,
                "catégorie hiérarchique",
            ),
            code_dim(
                "filiere",
                concat!($a, ".filiere"),
                codes::FILIERES,
                "filière",
            ),
            code_dim(
                "statut",
                concat!($a, ".statut"),
                codes::STATUTS,
                "statut de l'agent",
            ),
            code_dim(
                "metier",
                concat!($a, ".metier"),
                FAMILLES_METIERS,
                "famille de métiers (répertoire des métiers territoriaux du CNFPT), \
                 d'après le cadre d'emplois",
            ),
        ]
    };
}

/// The dimensions describing the employer, read from `employeurs` aliased `e`.
pub(super) const EMPLOYER_DIMENSIONS: [Dimension; 2] = [
    code_dim(
        "type_employeur",
        "e.type_employeur",
        codes::TYPES_EMPLOYEUR,
        "type de l'employeur",
    ),
    code_dim(
        "tranche_effectif",
        "e.tranche_effectif",
        codes::TRANCHES_EFFECTIF,
        "tranche d'effectif de l'employeur au 31/12",
    ),
];

pub(super) const YEAR: Column = col("annee", T::Year, "année de référence (situation au 31/12)");
pub(super) const EMPLOYEUR_ID: Column = col(
    "employeur_id",
    T::Identifier,
    "pseudonyme de l'employeur (hachage salé du SIRET, commun aux cinq CDG)",
);
pub(super) const AGENT_ID: Column = col(
    "agent_id",
    T::Identifier,
    "pseudonyme de l'agent, propre au nœud",
);
const STATUT: Column = col("statut", T::Code(codes::STATUTS), "statut de l'agent");
const CATEGORIE: Column = col(
    "categorie",
    T::Code(codes::CATEGORIES),
    "catégorie hiérarchique",
);
const FILIERE: Column = col("filiere", T::Code(codes::FILIERES), "filière");
const SEXE: Column = col("sexe", T::Code(codes::SEXES), "sexe (F, H)");
const ANNEE_NAISSANCE: Column = col(
    "annee_naissance",
    T::Int {
        min: 1930,
        max: 2015,
    },
    "année de naissance (l'âge n'est publié que par tranche de 5 ans)",
);
const CADRE_EMPLOIS: Column = col("cadre_emplois", T::Label, "cadre d'emplois (libellé)");
const METIER: Column = col(
    "metier",
    T::Derived {
        from: "cadre_emplois",
        table: METIER_PAR_CADRE,
        codes: FAMILLES_METIERS,
    },
    "famille de métiers, dérivée à l'import du cadre d'emplois (table de correspondance du \
     catalogue)",
);

pub const EMPLOYEURS: Dataset = Dataset {
    name: "employeurs",
    description: "employeurs territoriaux (collectivités et établissements), un par an",
    source: "bilan social / RSU, fiche employeur",
    table: "employeurs",
    columns: &[
        YEAR,
        EMPLOYEUR_ID,
        col(
            "type_employeur",
            T::Code(codes::TYPES_EMPLOYEUR),
            "type de collectivité ou d'établissement",
        ),
        col(
            "tranche_effectif",
            T::Code(codes::TRANCHES_EFFECTIF),
            "tranche d'effectif au 31/12",
        ),
        col(
            "affiliation",
            T::Code(codes::AFFILIATIONS),
            "affiliation au CDG",
        ),
    ],
    rules: &[],
    unit: Unit::Employeur,
    unit_sql: "t.employeur_id",
    from_sql: "employeurs t",
    joins: &[],
    dimensions: &[
        ANNEE,
        code_dim(
            "type_employeur",
            "t.type_employeur",
            codes::TYPES_EMPLOYEUR,
            "type de collectivité ou d'établissement",
        ),
        code_dim(
            "tranche_effectif",
            "t.tranche_effectif",
            codes::TRANCHES_EFFECTIF,
            "tranche d'effectif de l'employeur au 31/12",
        ),
        code_dim(
            "affiliation",
            "t.affiliation",
            codes::AFFILIATIONS,
            "affiliation au CDG",
        ),
    ],
    measures: &[],
    key: &["employeur_id"],
    references: &[],
    min_units: 0,
};

const AGENT_DIMENSIONS: [Dimension; 6] = agent_dimensions!("t");

pub const AGENTS: Dataset = Dataset {
    name: "agents",
    description: "agents territoriaux au 31/12, un par agent, employeur et année",
    source: "bilan social / RSU, données individuelles agents",
    table: "agents",
    columns: &[
        YEAR,
        AGENT_ID,
        EMPLOYEUR_ID,
        STATUT,
        CATEGORIE,
        FILIERE,
        CADRE_EMPLOIS,
        METIER,
        SEXE,
        ANNEE_NAISSANCE,
        col(
            "temps_travail",
            T::Code(codes::TEMPS_TRAVAIL),
            "temps complet ou non complet",
        ),
        col(
            "etpr",
            T::Decimal { min: 0.0, max: 1.0 },
            "équivalent temps plein rémunéré sur l'année (0 à 1)",
        ),
        col(
            "remuneration_brute_annuelle",
            T::Decimal {
                min: 0.0,
                max: 1_000_000.0,
            },
            "rémunération brute annuelle en euros",
        ),
    ],
    rules: &[],
    unit: Unit::Agent,
    unit_sql: "t.agent_id",
    from_sql: "agents t",
    joins: &[EMPLOYER_JOIN],
    dimensions: &joined::<10>(&[
        &[
            ANNEE,
            code_dim(
                "temps_travail",
                "t.temps_travail",
                codes::TEMPS_TRAVAIL,
                "temps complet ou non complet",
            ),
        ],
        &AGENT_DIMENSIONS,
        &EMPLOYER_DIMENSIONS,
    ]),
    measures: &[
        measure("etpr", "t.etpr", "équivalent temps plein rémunéré"),
        measure(
            "remuneration_brute_annuelle",
            "t.remuneration_brute_annuelle",
            "rémunération brute annuelle (euros)",
        ),
        measure(
            "contractuel",
            "CASE WHEN t.statut LIKE 'contractuel%' THEN 1.0 ELSE 0.0 END",
            "1 pour un agent contractuel, 0 sinon: sa moyenne est la part des contractuels",
        )
        .indicator(),
        measure(
            "femme",
            "CASE WHEN t.sexe = 'F' THEN 1.0 ELSE 0.0 END",
            "1 pour une femme, 0 sinon: sa moyenne est la part des femmes",
        )
        .indicator(),
    ],
    key: &["agent_id", "employeur_id"],
    references: &[EMPLOYEUR_REF],
    min_units: 0,
};

const MOUVEMENT_AGENT_DIMENSIONS: [Dimension; 6] = agent_dimensions!("t");

pub const MOUVEMENTS: Dataset = Dataset {
    name: "mouvements",
    description: "arrivées et départs d'agents dans l'année, un par mouvement",
    source: "bilan social / RSU, mouvements (ou logiciel RH)",
    table: "mouvements",
    columns: &[
        YEAR,
        col("mouvement_id", T::Identifier, "identifiant du mouvement"),
        AGENT_ID,
        EMPLOYEUR_ID,
        col(
            "date_effet",
            T::Date { in_year: true },
            "date d'effet de l'arrivée ou du départ (dans l'année)",
        ),
        col(
            "sens",
            T::Code(codes::SENS_MOUVEMENT),
            "arrivée dans l'employeur ou départ",
        ),
        col(
            "motif",
            T::Code(codes::MOTIFS_MOUVEMENT),
            "motif de l'arrivée ou du départ (liste selon le sens)",
        ),
        STATUT,
        CATEGORIE,
        FILIERE,
        CADRE_EMPLOIS,
        METIER,
        SEXE,
        ANNEE_NAISSANCE,
    ],
    rules: &[Rule::CodesBy {
        column: "motif",
        by: "sens",
        cases: &[
            ("arrivée", codes::MOTIFS_ARRIVEE),
            ("départ", codes::MOTIFS_DEPART),
        ],
    }],
    unit: Unit::Agent,
    unit_sql: "t.agent_id",
    from_sql: "mouvements t",
    joins: &[EMPLOYER_JOIN],
    dimensions: &joined::<11>(&[
        &[
            ANNEE,
            code_dim("sens", "t.sens", codes::SENS_MOUVEMENT, "arrivée ou départ"),
            code_dim(
                "motif",
                "t.motif",
                codes::MOTIFS_MOUVEMENT,
                "motif du mouvement",
            )
            .sensitive(),
        ],
        &MOUVEMENT_AGENT_DIMENSIONS,
        &EMPLOYER_DIMENSIONS,
    ]),
    measures: &[],
    key: &["mouvement_id"],
    references: &[EMPLOYEUR_REF],
    min_units: 0,
};

/// The dimensions of the agent a row is about, read from their joined row (`AGENT_JOIN`).
pub(super) const JOINED_AGENT_DIMENSIONS: [Dimension; 6] = agent_dimensions!("a");

/// The row's agent is in `agents` for the same year.
pub(super) const AGENT_REF: Reference = Reference {
    column: "agent_id",
    target: "agents",
    target_column: "agent_id",
};

/// The join to the agent's row of the same year and employer, as `a`, for the dimensions of
/// the agent a row is about.
pub(super) const AGENT_JOIN: Join = Join {
    alias: "a",
    sql: "LEFT JOIN agents a ON a.annee = t.annee AND a.agent_id = t.agent_id \
          AND a.employeur_id = t.employeur_id",
};

pub const ABSENCES: Dataset = Dataset {
    name: "absences",
    description: "jours d'absence de l'année, un par agent, employeur et motif",
    source: "bilan social / RSU, absences (ou logiciel RH)",
    table: "absences",
    columns: &[
        YEAR,
        AGENT_ID,
        EMPLOYEUR_ID,
        col(
            "motif_absence",
            T::Code(codes::MOTIFS_ABSENCE),
            "motif de l'absence",
        ),
        col(
            "nb_arrets",
            T::Int { min: 1, max: 366 },
            "nombre d'arrêts dans l'année",
        ),
        col(
            "jours_calendaires",
            T::Int { min: 1, max: 366 },
            "jours calendaires d'absence dans l'année",
        ),
    ],
    rules: &[Rule::NotAfter {
        first: "nb_arrets",
        then: "jours_calendaires",
    }],
    unit: Unit::Agent,
    unit_sql: "t.agent_id",
    from_sql: "absences t",
    joins: &[AGENT_JOIN, EMPLOYER_JOIN],
    dimensions: &joined::<10>(&[
        &[
            ANNEE,
            code_dim(
                "motif_absence",
                "t.motif_absence",
                codes::MOTIFS_ABSENCE,
                "motif de l'absence",
            )
            .sensitive(),
        ],
        &JOINED_AGENT_DIMENSIONS,
        &EMPLOYER_DIMENSIONS,
    ]),
    measures: &[
        measure(
            "jours_calendaires",
            "t.jours_calendaires",
            "jours calendaires d'absence",
        ),
        measure("nb_arrets", "t.nb_arrets", "nombre d'arrêts"),
    ],
    key: &["agent_id", "employeur_id", "motif_absence"],
    references: &[EMPLOYEUR_REF, AGENT_REF],
    min_units: 0,
};

/// The RASSCT's accidents: one row per accident de service, accident de trajet or maladie
/// professionnelle declared in the year, with or without time off work.
pub const ACCIDENTS: Dataset = Dataset {
    name: "accidents",
    description: "accidents de service, de trajet et maladies professionnelles déclarés dans l'année, \
                  un par accident",
    source: "RASSCT (rapport annuel sur la santé, la sécurité et les conditions de travail)",
    table: "accidents",
    columns: &[
        YEAR,
        col(
            "accident_id",
            T::Identifier,
            "identifiant de l'accident dans l'export",
        ),
        AGENT_ID,
        EMPLOYEUR_ID,
        col(
            "nature",
            T::Code(codes::NATURES_ACCIDENT),
            "nature de l'accident",
        ),
        col(
            "jours_arret",
            T::Int { min: 0, max: 366 },
            "jours d'arrêt dans l'année (0 : sans arrêt)",
        ),
    ],
    rules: &[],
    unit: Unit::Agent,
    unit_sql: "t.agent_id",
    from_sql: "accidents t",
    joins: &[AGENT_JOIN, EMPLOYER_JOIN],
    dimensions: &joined::<11>(&[
        &[
            ANNEE,
            code_dim(
                "nature",
                "t.nature",
                codes::NATURES_ACCIDENT,
                "nature de l'accident",
            )
            .sensitive(),
            code_dim(
                "arret",
                "CASE WHEN t.jours_arret > 0 THEN 'avec arrêt' ELSE 'sans arrêt' END",
                codes::ARRETS,
                "accident avec ou sans arrêt de travail",
            ),
        ],
        &JOINED_AGENT_DIMENSIONS,
        &EMPLOYER_DIMENSIONS,
    ]),
    measures: &[
        measure("jours_arret", "t.jours_arret", "jours d'arrêt dans l'année"),
        measure(
            "avec_arret",
            "CASE WHEN t.jours_arret > 0 THEN 1 ELSE 0 END",
            "1 pour un accident avec arrêt (sa moyenne est la part des accidents avec arrêt)",
        )
        .indicator(),
    ],
    key: &["accident_id"],
    references: &[EMPLOYEUR_REF, AGENT_REF],
    min_units: 0,
};
