//! The catalogue of datasets a node holds: their stored columns (what an import reads and
//! checks), the dimensions studies may group by or filter on, and the measures they may sum or
//! average. `node/DATA-DICTIONARY.md` is generated from it (`cdg-node catalogue`).
//!
//! The node, the coordinator and the `cdg` client share it (it lives in `cdg-shared`), and its
//! [`VERSION`] and [`digest`] say which one a program runs: a node publishes them, and the
//! coordinator refuses to merge the answer of a node whose catalogue differs on the datasets a
//! query reads (`digest.rs`).
//!
//! Every SQL fragment here is a constant written by the project; queries only pick entries by
//! name, so no user text ever reaches SQL.

mod dictionary;
mod digest;
mod emploi;
mod enquetes;
mod metiers;
mod queries;
mod rh;
mod social;
mod validate;

pub use dictionary::data_dictionary;
pub use digest::{VERSION, dataset_digest, differences, digest, published};
pub use emploi::{CONCOURS, DEMANDES, OFFRES};
pub use enquetes::{ENQUETES, QUESTIONS, Question, SURVEYS, Survey};
pub use metiers::{FAMILLES_METIERS, METIER_PAR_CADRE, match_key, metier_of};
pub use queries::{Problem, check_query, did_you_mean, filter_value, known_dataset};
pub use rh::{ABSENCES, ACCIDENTS, AGENTS, EMPLOYEURS, MOUVEMENTS};
pub use social::{FORMATION, HANDICAP, HANDICAP_EMPLOYEURS, TAUX_LEGAL};
pub use validate::{check, check_built_in};

/// What one row of a dataset is about, and hence which threshold protects its cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Agents: cells need the policy's minimum of distinct agents.
    Agent,
    /// Employers: cells need the policy's minimum of distinct employers.
    Employeur,
    /// Job seekers: persons, protected like agents.
    Demandeur,
    /// Concours sessions: organised by the CDGs, protected like employers.
    Session,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Agent => "agent",
            Unit::Employeur => "employeur",
            Unit::Demandeur => "demandeur",
            Unit::Session => "session",
        }
    }

    /// Whether the unit is a person (protected by the agents threshold) rather than an
    /// organisation (protected by the employers threshold).
    pub fn is_person(self) -> bool {
        matches!(self, Unit::Agent | Unit::Demandeur)
    }
}

/// Type of a stored column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ColumnType {
    /// The slice's year (INTEGER); every row must carry the year being imported.
    Year,
    /// An INTEGER within a range.
    Int { min: i64, max: i64 },
    /// A DOUBLE within a range; decimal comma or point accepted on import.
    Decimal { min: f64, max: f64 },
    /// A DATE, written `AAAA-MM-JJ` or `JJ/MM/AAAA`; `in_year` requires the slice's year.
    Date { in_year: bool },
    /// A value from a code list.
    Code(&'static [&'static str]),
    /// A pseudonymous identifier: stored, never a dimension, never released.
    Identifier,
    /// A free-text attribute (e.g. cadre d'emplois): stored, not a dimension.
    Label,
    /// A code derived at import from the column `from` through `table` (source value, lower
    /// case, to code), never read from the file: a column of that name in a file is ignored.
    /// A source value the table does not have sends the row to quarantine, naming it.
    Derived {
        from: &'static str,
        table: &'static [(&'static str, &'static str)],
        codes: &'static [&'static str],
    },
}

impl ColumnType {
    /// The DuckDB type the column is stored as.
    pub fn sql_type(self) -> &'static str {
        match self {
            ColumnType::Year | ColumnType::Int { .. } => "INTEGER",
            ColumnType::Decimal { .. } => "DOUBLE",
            ColumnType::Date { .. } => "DATE",
            ColumnType::Code(_)
            | ColumnType::Identifier
            | ColumnType::Label
            | ColumnType::Derived { .. } => "VARCHAR",
        }
    }

    /// The codes of a code column, read or derived.
    pub fn codes(self) -> Option<&'static [&'static str]> {
        match self {
            ColumnType::Code(codes) | ColumnType::Derived { codes, .. } => Some(codes),
            _ => None,
        }
    }

    /// Longest accepted text, in bytes, for identifiers and labels.
    pub fn max_len(self) -> Option<usize> {
        match self {
            ColumnType::Identifier => Some(64),
            ColumnType::Label => Some(200),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
    /// An empty value is an error for a required column, a NULL for an optional one.
    pub required: bool,
    pub description: &'static str,
}

/// A required column.
pub const fn col(name: &'static str, ty: ColumnType, description: &'static str) -> Column {
    Column {
        name,
        ty,
        required: true,
        description,
    }
}

/// An optional column: an empty value is stored as NULL.
pub const fn opt(name: &'static str, ty: ColumnType, description: &'static str) -> Column {
    Column {
        name,
        ty,
        required: false,
        description,
    }
}

/// A check across the columns of one row, run by the import after each value is valid.
#[derive(Debug, Clone, Copy)]
pub enum Rule {
    /// `first` <= `then` when both are given (dates in order, présents <= inscrits ...).
    NotAfter {
        first: &'static str,
        then: &'static str,
    },
    /// `column` must hold one of the codes listed for the value of `by`.
    CodesBy {
        column: &'static str,
        by: &'static str,
        cases: &'static [(&'static str, &'static [&'static str])],
    },
    /// `column` is given exactly when `by` is `value` (e.g. a nomination date for a filled offer).
    GivenWhen {
        column: &'static str,
        by: &'static str,
        value: &'static str,
    },
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
    /// A personal attribute (health, discipline) whose value must not be learnt for a whole
    /// group: an answer where a group has all its units in one value of it is withheld.
    pub sensitive: bool,
}

impl Dimension {
    /// The same dimension, marked sensitive.
    pub const fn sensitive(self) -> Dimension {
        Dimension {
            sensitive: true,
            ..self
        }
    }
}

/// A dimension read from a code column of the dataset itself (`t.<name>`).
pub const fn code_dim(
    name: &'static str,
    sql: &'static str,
    codes: &'static [&'static str],
    description: &'static str,
) -> Dimension {
    Dimension {
        name,
        description,
        sql,
        values: Values::Codes(codes),
        sensitive: false,
    }
}

#[derive(Debug, Clone, Copy)]
pub struct MeasureColumn {
    pub name: &'static str,
    pub description: &'static str,
    pub sql: &'static str,
    /// The range of a computed measure's values (a column's range comes from its type).
    pub range: Option<(f64, f64)>,
}

impl MeasureColumn {
    /// An indicator: 1 or 0 (or empty), so that its mean is a share.
    pub const fn indicator(self) -> MeasureColumn {
        MeasureColumn {
            range: Some((0.0, 1.0)),
            ..self
        }
    }
}

/// A measure column studies may sum or average.
pub const fn measure(
    name: &'static str,
    sql: &'static str,
    description: &'static str,
) -> MeasureColumn {
    MeasureColumn {
        name,
        description,
        sql,
        range: None,
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Dataset {
    pub name: &'static str,
    pub description: &'static str,
    /// Which export the IT teams load it from.
    pub source: &'static str,
    /// Table the import fills.
    pub table: &'static str,
    pub columns: &'static [Column],
    pub rules: &'static [Rule],
    pub unit: Unit,
    /// SQL expression identifying the unit, counted distinct for the threshold.
    pub unit_sql: &'static str,
    /// The rows in the aggregate queries' FROM clause, as `t`.
    pub from_sql: &'static str,
    /// Tables joined to the rows for some dimensions (see [`Join`]).
    pub joins: &'static [Join],
    pub dimensions: &'static [Dimension],
    pub measures: &'static [MeasureColumn],
    /// Columns that identify a row within a year: a second row with the same values is a
    /// duplicate.
    pub key: &'static [&'static str],
    /// Columns whose value must exist in another dataset's column for the same year.
    pub references: &'static [Reference],
    /// Distinct units a cell needs at least, whatever the node's policy says (0: the policy's
    /// threshold for the unit alone). The observatory's surveys need 11 respondents.
    pub min_units: u32,
}

/// A table joined to a dataset's rows for the columns some dimensions read, as `alias`. The
/// join is a LEFT JOIN on the joined table's whole key (which imports keep unique), so it adds
/// columns and never changes the rows: a query naming none of its columns leaves it out, and
/// scans the rows alone.
#[derive(Debug, Clone, Copy)]
pub struct Join {
    pub alias: &'static str,
    /// `LEFT JOIN <table> <alias> ON ...`, on `t` only.
    pub sql: &'static str,
}

/// The join to the employer's row of the same year, as `e`.
pub const EMPLOYER_JOIN: Join = Join {
    alias: "e",
    sql: "LEFT JOIN employeurs e ON e.annee = t.annee AND e.employeur_id = t.employeur_id",
};

/// Whether `sql` reads a column of the table aliased `alias` (`alias.` not inside a name).
pub fn names_alias(sql: &str, alias: &str) -> bool {
    let pattern = format!("{alias}.");
    sql.match_indices(&pattern).any(|(at, _)| {
        sql[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'))
    })
}

/// `column` of this dataset must name an existing `target_column` of `target` (same year).
#[derive(Debug, Clone, Copy)]
pub struct Reference {
    pub column: &'static str,
    pub target: &'static str,
    pub target_column: &'static str,
}

/// The usual reference: the row's employer is in `employeurs` for the same year.
pub const EMPLOYEUR_REF: Reference = Reference {
    column: "employeur_id",
    target: "employeurs",
    target_column: "employeur_id",
};

impl Dataset {
    /// The stored column naming the unit (`unit_sql` without its table alias).
    pub fn unit_column(&self) -> &'static str {
        self.unit_sql.trim_start_matches("t.")
    }

    /// The columns an import reads from the file, in catalogue order (all but the derived).
    pub fn file_columns(&self) -> impl Iterator<Item = &'static Column> + use<> {
        self.columns
            .iter()
            .filter(|c| !matches!(c.ty, ColumnType::Derived { .. }))
    }

    pub fn column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn dimension(&self, name: &str) -> Option<&'static Dimension> {
        self.dimensions.iter().find(|d| d.name == name)
    }

    pub fn measure(&self, name: &str) -> Option<&'static MeasureColumn> {
        self.measures.iter().find(|m| m.name == name)
    }

    /// The FROM clause of a query made of the SQL fragments `used`: the rows and the joins
    /// whose columns a fragment reads.
    pub fn from_clause(&self, used: &[&str]) -> String {
        let mut from = self.from_sql.to_string();
        for join in self.joins {
            if used.iter().any(|sql| names_alias(sql, join.alias)) {
                from.push(' ');
                from.push_str(join.sql);
            }
        }
        from
    }

    /// The datasets an answer on this one is computed from: itself and, transitively, those
    /// its rows refer to (their columns are joined in as dimensions).
    pub fn reads(&self) -> Vec<&'static str> {
        let mut out = vec![self.name];
        let mut i = 0;
        while i < out.len() {
            if let Some(d) = dataset(out[i]) {
                for r in d.references {
                    if !out.contains(&r.target) {
                        out.push(r.target);
                    }
                }
            }
            i += 1;
        }
        out
    }

    pub fn dimension_names(&self) -> Vec<&'static str> {
        self.dimensions.iter().map(|d| d.name).collect()
    }

    /// The range of a measure's values: its own for a computed measure, its column's for a
    /// measure read from a numeric column; `None` when nothing bounds it.
    pub fn measure_range(&self, name: &str) -> Option<(f64, f64)> {
        let m = self.measure(name)?;
        if m.range.is_some() {
            return m.range;
        }
        let column = self.column(m.sql.strip_prefix("t.")?)?;
        match column.ty {
            ColumnType::Int { min, max } => Some((min as f64, max as f64)),
            ColumnType::Decimal { min, max } => Some((min, max)),
            _ => None,
        }
    }

    /// Whether a unit has at most one row in a year (its identifier is the key).
    pub fn one_row_per_unit(&self) -> bool {
        self.key == [self.unit_column()].as_slice()
    }

    pub fn measure_names(&self) -> Vec<&'static str> {
        self.measures.iter().map(|m| m.name).collect()
    }
}

/// The `annee` dimension every dataset has.
pub const ANNEE: Dimension = Dimension {
    name: "annee",
    description: "année de référence",
    sql: "t.annee",
    values: Values::Years,
    sensitive: false,
};

/// The dimensions of `parts` in order, as one array: `N` is their number (a wrong `N` stops
/// the build). Datasets about an agent list their own, then the agent's and the employer's.
pub const fn joined<const N: usize>(parts: &[&[Dimension]]) -> [Dimension; N] {
    let mut out = [ANNEE; N];
    let (mut n, mut i) = (0, 0);
    while i < parts.len() {
        let mut j = 0;
        while j < parts[i].len() {
            out[n] = parts[i][j];
            n += 1;
            j += 1;
        }
        i += 1;
    }
    assert!(n == N, "joined::<N>: N is not the number of dimensions");
    out
}

/// Every dataset, in load order (a dataset comes after those its rows refer to).
pub const DATASETS: &[&Dataset] = &[
    &EMPLOYEURS,
    &AGENTS,
    &MOUVEMENTS,
    &ABSENCES,
    &ACCIDENTS,
    &FORMATION,
    &HANDICAP,
    &HANDICAP_EMPLOYEURS,
    &OFFRES,
    &DEMANDES,
    &CONCOURS,
    &ENQUETES,
];

pub fn dataset(name: &str) -> Option<&'static Dataset> {
    DATASETS.iter().copied().find(|d| d.name == name)
}

pub fn dataset_names() -> Vec<&'static str> {
    DATASETS.iter().map(|d| d.name).collect()
}

#[cfg(test)]
mod tests;
