//! The catalogue of datasets a node holds: their stored columns (what an import reads), the
//! dimensions studies may group by or filter on, and the measures they may sum or average.
//!
//! Every SQL fragment here is a constant written by the project; queries only pick entries by
//! name, so no user text ever reaches SQL.

use crate::codes;

/// What one row of a dataset counts, and hence which threshold protects its cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Agent,
    Employeur,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Agent => "agent",
            Unit::Employeur => "employeur",
        }
    }
}

/// Type of a stored column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ColumnType {
    /// A year (INTEGER between 1900 and 2100).
    Year,
    /// An INTEGER within a range.
    Int { min: i64, max: i64 },
    /// A DOUBLE within a range; decimal comma or point accepted on import.
    Decimal { min: f64, max: f64 },
    /// A value from a code list.
    Code(&'static [&'static str]),
    /// A pseudonymous identifier: stored, never a dimension, never released.
    Identifier,
    /// A free-text attribute (e.g. cadre d'emplois): stored, not a dimension.
    Label,
}

#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
}

/// How the allowed values of a dimension are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Values {
    Codes(&'static [&'static str]),
    Years,
}

#[derive(Debug, Clone, Copy)]
pub struct Dimension {
    pub name: &'static str,
    pub description: &'static str,
    /// SQL expression over the dataset's FROM clause.
    pub sql: &'static str,
    pub values: Values,
}

#[derive(Debug, Clone, Copy)]
pub struct MeasureColumn {
    pub name: &'static str,
    pub description: &'static str,
    pub sql: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub struct Dataset {
    pub name: &'static str,
    pub description: &'static str,
    /// Table the import fills.
    pub table: &'static str,
    pub columns: &'static [Column],
    pub unit: Unit,
    /// SQL expression identifying the unit, counted distinct for the threshold.
    pub unit_sql: &'static str,
    /// FROM clause of the aggregate queries.
    pub from_sql: &'static str,
    pub dimensions: &'static [Dimension],
    pub measures: &'static [MeasureColumn],
    /// Columns that identify a row within a year: a second row with the same values is a
    /// duplicate.
    pub key: &'static [&'static str],
    /// Columns whose value must exist in another dataset's column for the same year.
    pub references: &'static [Reference],
}

/// `column` of this dataset must name an existing `target_column` of `target` (same year).
#[derive(Debug, Clone, Copy)]
pub struct Reference {
    pub column: &'static str,
    pub target: &'static str,
    pub target_column: &'static str,
}

impl Dataset {
    pub fn dimension(&self, name: &str) -> Option<&'static Dimension> {
        self.dimensions.iter().find(|d| d.name == name)
    }

    pub fn measure(&self, name: &str) -> Option<&'static MeasureColumn> {
        self.measures.iter().find(|m| m.name == name)
    }

    pub fn dimension_names(&self) -> Vec<&'static str> {
        self.dimensions.iter().map(|d| d.name).collect()
    }

    pub fn measure_names(&self) -> Vec<&'static str> {
        self.measures.iter().map(|m| m.name).collect()
    }
}

const ANNEE: Dimension = Dimension {
    name: "annee",
    description: "année de référence (situation au 31/12)",
    sql: "t.annee",
    values: Values::Years,
};

const AGE_SQL: &str = "CASE WHEN t.annee - t.annee_naissance < 25 THEN '<25' \
     WHEN t.annee - t.annee_naissance < 30 THEN '25-29' \
     WHEN t.annee - t.annee_naissance < 35 THEN '30-34' \
     WHEN t.annee - t.annee_naissance < 40 THEN '35-39' \
     WHEN t.annee - t.annee_naissance < 45 THEN '40-44' \
     WHEN t.annee - t.annee_naissance < 50 THEN '45-49' \
     WHEN t.annee - t.annee_naissance < 55 THEN '50-54' \
     WHEN t.annee - t.annee_naissance < 60 THEN '55-59' \
     WHEN t.annee - t.annee_naissance < 65 THEN '60-64' ELSE '65+' END";

pub const EMPLOYEURS: Dataset = Dataset {
    name: "employeurs",
    description: "employeurs territoriaux (collectivités et établissements), un par an",
    table: "employeurs",
    columns: &[
        Column {
            name: "annee",
            ty: ColumnType::Year,
        },
        Column {
            name: "employeur_id",
            ty: ColumnType::Identifier,
        },
        Column {
            name: "type_employeur",
            ty: ColumnType::Code(codes::TYPES_EMPLOYEUR),
        },
        Column {
            name: "tranche_effectif",
            ty: ColumnType::Code(codes::TRANCHES_EFFECTIF),
        },
        Column {
            name: "affiliation",
            ty: ColumnType::Code(codes::AFFILIATIONS),
        },
    ],
    unit: Unit::Employeur,
    unit_sql: "t.employeur_id",
    from_sql: "employeurs t",
    dimensions: &[
        ANNEE,
        Dimension {
            name: "type_employeur",
            description: "type de collectivité ou d'établissement",
            sql: "t.type_employeur",
            values: Values::Codes(codes::TYPES_EMPLOYEUR),
        },
        Dimension {
            name: "tranche_effectif",
            description: "tranche d'effectif de l'employeur au 31/12",
            sql: "t.tranche_effectif",
            values: Values::Codes(codes::TRANCHES_EFFECTIF),
        },
        Dimension {
            name: "affiliation",
            description: "affiliation au CDG",
            sql: "t.affiliation",
            values: Values::Codes(codes::AFFILIATIONS),
        },
    ],
    measures: &[],
    key: &["employeur_id"],
    references: &[],
};

pub const AGENTS: Dataset = Dataset {
    name: "agents",
    description: "agents territoriaux au 31/12, un par agent, employeur et année",
    table: "agents",
    columns: &[
        Column {
            name: "annee",
            ty: ColumnType::Year,
        },
        Column {
            name: "agent_id",
            ty: ColumnType::Identifier,
        },
        Column {
            name: "employeur_id",
            ty: ColumnType::Identifier,
        },
        Column {
            name: "statut",
            ty: ColumnType::Code(codes::STATUTS),
        },
        Column {
            name: "categorie",
            ty: ColumnType::Code(codes::CATEGORIES),
        },
        Column {
            name: "filiere",
            ty: ColumnType::Code(codes::FILIERES),
        },
        Column {
            name: "cadre_emplois",
            ty: ColumnType::Label,
        },
        Column {
            name: "sexe",
            ty: ColumnType::Code(codes::SEXES),
        },
        Column {
            name: "annee_naissance",
            ty: ColumnType::Int {
                min: 1930,
                max: 2015,
            },
        },
        Column {
            name: "temps_travail",
            ty: ColumnType::Code(codes::TEMPS_TRAVAIL),
        },
        Column {
            name: "etpr",
            ty: ColumnType::Decimal { min: 0.0, max: 1.0 },
        },
        Column {
            name: "remuneration_brute_annuelle",
            ty: ColumnType::Decimal {
                min: 0.0,
                max: 1_000_000.0,
            },
        },
    ],
    unit: Unit::Agent,
    unit_sql: "t.agent_id",
    from_sql: "agents t LEFT JOIN employeurs e ON e.annee = t.annee AND e.employeur_id = t.employeur_id",
    dimensions: &[
        ANNEE,
        Dimension {
            name: "sexe",
            description: "sexe de l'agent",
            sql: "t.sexe",
            values: Values::Codes(codes::SEXES),
        },
        Dimension {
            name: "tranche_age",
            description: "tranche d'âge de 5 ans au 31/12",
            sql: AGE_SQL,
            values: Values::Codes(codes::TRANCHES_AGE),
        },
        Dimension {
            name: "categorie",
            description: "catégorie hiérarchique",
            sql: "t.categorie",
            values: Values::Codes(codes::CATEGORIES),
        },
        Dimension {
            name: "filiere",
            description: "filière",
            sql: "t.filiere",
            values: Values::Codes(codes::FILIERES),
        },
        Dimension {
            name: "statut",
            description: "statut de l'agent",
            sql: "t.statut",
            values: Values::Codes(codes::STATUTS),
        },
        Dimension {
            name: "temps_travail",
            description: "temps complet ou non complet",
            sql: "t.temps_travail",
            values: Values::Codes(codes::TEMPS_TRAVAIL),
        },
        Dimension {
            name: "type_employeur",
            description: "type de l'employeur de l'agent",
            sql: "e.type_employeur",
            values: Values::Codes(codes::TYPES_EMPLOYEUR),
        },
        Dimension {
            name: "tranche_effectif",
            description: "tranche d'effectif de l'employeur de l'agent",
            sql: "e.tranche_effectif",
            values: Values::Codes(codes::TRANCHES_EFFECTIF),
        },
    ],
    measures: &[
        MeasureColumn {
            name: "etpr",
            description: "équivalent temps plein rémunéré",
            sql: "t.etpr",
        },
        MeasureColumn {
            name: "remuneration_brute_annuelle",
            description: "rémunération brute annuelle (euros)",
            sql: "t.remuneration_brute_annuelle",
        },
        MeasureColumn {
            name: "contractuel",
            description: "1 pour un agent contractuel, 0 sinon: sa moyenne est la part des contractuels",
            sql: "CASE WHEN t.statut LIKE 'contractuel%' THEN 1.0 ELSE 0.0 END",
        },
        MeasureColumn {
            name: "femme",
            description: "1 pour une femme, 0 sinon: sa moyenne est la part des femmes",
            sql: "CASE WHEN t.sexe = 'F' THEN 1.0 ELSE 0.0 END",
        },
    ],
    key: &["agent_id", "employeur_id"],
    references: &[Reference {
        column: "employeur_id",
        target: "employeurs",
        target_column: "employeur_id",
    }],
};

/// Every dataset, in load order (employers before the agents that refer to them).
pub const DATASETS: &[&Dataset] = &[&EMPLOYEURS, &AGENTS];

pub fn dataset(name: &str) -> Option<&'static Dataset> {
    DATASETS.iter().copied().find(|d| d.name == name)
}

pub fn dataset_names() -> Vec<&'static str> {
    DATASETS.iter().map(|d| d.name).collect()
}
