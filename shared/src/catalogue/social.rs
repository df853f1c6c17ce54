//! The données sociales beyond the RSU's core: training (formation) and the employment of
//! disabled workers (Handitorial, the déclaration of the bénéficiaires de l'obligation
//! d'emploi).

use super::rh::{
    AGENT_ID, AGENT_JOIN, AGENT_REF, EMPLOYER_DIMENSIONS, EMPLOYEUR_ID, JOINED_AGENT_DIMENSIONS,
    YEAR,
};
use super::{
    ANNEE, ColumnType as T, Dataset, EMPLOYER_JOIN, EMPLOYEUR_REF, Rule, Unit, code_dim, col,
    joined, measure,
};
use crate::codes;

/// The legal employment rate of bénéficiaires de l'obligation d'emploi: 6 % of the effectif
/// total rémunéré (code du travail, art. L. 5212-2, applied to public employers of 20 agents
/// or more).
pub const TAUX_LEGAL: f64 = 0.06;

/// Training days of the year, one row per agent, employer, type of training and body.
pub const FORMATION: Dataset = Dataset {
    name: "formation",
    description: "jours de formation suivis dans l'année, un par agent, employeur, type de \
                  formation et organisme",
    source: "bilan social / RSU, formation (ou logiciel RH)",
    table: "formation",
    columns: &[
        YEAR,
        AGENT_ID,
        EMPLOYEUR_ID,
        col(
            "type_formation",
            T::Code(codes::TYPES_FORMATION),
            "type de formation",
        ),
        col(
            "organisme",
            T::Code(codes::ORGANISMES_FORMATION),
            "organisme de formation",
        ),
        col(
            "jours",
            T::Decimal {
                min: 0.5,
                max: 366.0,
            },
            "jours de formation dans l'année (par demi-journée)",
        ),
    ],
    rules: &[],
    unit: Unit::Agent,
    unit_sql: "t.agent_id",
    from_sql: "formation t",
    joins: &[AGENT_JOIN, EMPLOYER_JOIN],
    dimensions: &joined::<11>(&[
        &[
            ANNEE,
            code_dim(
                "type_formation",
                "t.type_formation",
                codes::TYPES_FORMATION,
                "type de formation",
            ),
            code_dim(
                "organisme",
                "t.organisme",
                codes::ORGANISMES_FORMATION,
                "organisme de formation",
            ),
        ],
        &JOINED_AGENT_DIMENSIONS,
        &EMPLOYER_DIMENSIONS,
    ]),
    measures: &[measure("jours", "t.jours", "jours de formation")],
    key: &["agent_id", "employeur_id", "type_formation", "organisme"],
    references: &[EMPLOYEUR_REF, AGENT_REF],
    min_units: 0,
};

/// The bénéficiaires de l'obligation d'emploi at 31/12: one row per agent who is one, with
/// the category they are counted in. Being in this dataset is health information, so the
/// category is a sensitive dimension.
pub const HANDICAP: Dataset = Dataset {
    name: "handicap",
    description: "bénéficiaires de l'obligation d'emploi au 31/12, un par agent et employeur",
    source: "Handitorial (déclaration des bénéficiaires de l'obligation d'emploi)",
    table: "handicap",
    columns: &[
        YEAR,
        AGENT_ID,
        EMPLOYEUR_ID,
        col(
            "categorie_beneficiaire",
            T::Code(codes::CATEGORIES_BENEFICIAIRE),
            "catégorie de bénéficiaire (la principale, pour un agent qui en relève de plusieurs)",
        ),
    ],
    rules: &[],
    unit: Unit::Agent,
    unit_sql: "t.agent_id",
    from_sql: "handicap t",
    joins: &[AGENT_JOIN, EMPLOYER_JOIN],
    dimensions: &joined::<10>(&[
        &[
            ANNEE,
            code_dim(
                "categorie_beneficiaire",
                "t.categorie_beneficiaire",
                codes::CATEGORIES_BENEFICIAIRE,
                "catégorie de bénéficiaire de l'obligation d'emploi",
            )
            .sensitive(),
        ],
        &JOINED_AGENT_DIMENSIONS,
        &EMPLOYER_DIMENSIONS,
    ]),
    measures: &[],
    key: &["agent_id", "employeur_id"],
    references: &[EMPLOYEUR_REF, AGENT_REF],
    min_units: 0,
};

/// An employer's headcount: the largest territorial employers have tens of thousands.
const HEADCOUNT: T = T::Int {
    min: 0,
    max: 1_000_000,
};

/// Each employer subject to the obligation (20 agents or more) and its declared figures, for
/// the legal rate: the unit is the employer. The number of beneficiaries is stored (the rate is
/// computed from it) but is not a measure: summed over a few employers it would count disabled
/// agents in groups smaller than the 11 agents the `handicap` dataset protects them with; their
/// numbers come from `handicap`.
pub const HANDICAP_EMPLOYEURS: Dataset = Dataset {
    name: "handicap_employeurs",
    description: "employeurs assujettis à l'obligation d'emploi (20 agents ou plus), un par \
                  employeur et année, avec leur effectif et leurs bénéficiaires déclarés",
    source: "Handitorial (déclaration annuelle de l'employeur)",
    table: "handicap_employeurs",
    columns: &[
        YEAR,
        EMPLOYEUR_ID,
        col(
            "effectif_total",
            HEADCOUNT,
            "effectif total rémunéré au 1er janvier, base de l'obligation",
        ),
        col(
            "beneficiaires",
            HEADCOUNT,
            "bénéficiaires de l'obligation d'emploi rémunérés au 1er janvier",
        ),
    ],
    rules: &[Rule::NotAfter {
        first: "beneficiaires",
        then: "effectif_total",
    }],
    unit: Unit::Employeur,
    unit_sql: "t.employeur_id",
    from_sql: "handicap_employeurs t",
    joins: &[EMPLOYER_JOIN],
    dimensions: &[ANNEE, EMPLOYER_DIMENSIONS[0], EMPLOYER_DIMENSIONS[1]],
    measures: &[
        measure(
            "effectif_total",
            "t.effectif_total",
            "effectif total rémunéré des employeurs assujettis",
        ),
        measure(
            "taux_emploi",
            "CASE WHEN t.effectif_total > 0 THEN t.beneficiaires / t.effectif_total END",
            "taux d'emploi direct de l'employeur (0 à 1; sa moyenne est celle des employeurs)",
        )
        .indicator(),
        measure(
            "obligation_atteinte",
            "CASE WHEN t.beneficiaires >= 0.06 * t.effectif_total THEN 1.0 ELSE 0.0 END",
            "1 quand l'employeur atteint le taux légal de 6 %, 0 sinon: sa moyenne est la part \
             des employeurs qui l'atteignent",
        )
        .indicator(),
    ],
    key: &["employeur_id"],
    references: &[EMPLOYEUR_REF],
    min_units: 0,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_obligation_measure_uses_the_legal_rate() {
        let m = HANDICAP_EMPLOYEURS.measure("obligation_atteinte").unwrap();
        assert!(m.sql.contains(&format!("{TAUX_LEGAL}")), "{}", m.sql);
    }
}
