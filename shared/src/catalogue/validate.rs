//! The catalogue's consistency, checked when a node or the coordinator starts (and by the
//! tests): a catalogue entry that names a column it does not have, a code column or dimension
//! without codes, a measure or dimension on an identifier, a reference to a missing dataset or
//! a duplicate name stops the program with the entry's name, before any data is read.

use super::{ColumnType, Dataset, Rule, Values};

/// Every problem of `datasets`, in catalogue order, each naming its dataset and entry; `Ok`
/// when there is none.
pub fn check(datasets: &[&Dataset]) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    for (i, d) in datasets.iter().enumerate() {
        let mut say = |what: String| problems.push(format!("dataset {}: {what}", d.name));
        if datasets[..i].iter().any(|e| e.name == d.name) {
            say("declared twice".into());
        }
        if d.columns.first().map(|c| c.ty) != Some(ColumnType::Year) {
            say("its first column must be the year (annee)".into());
        }
        for (j, c) in d.columns.iter().enumerate() {
            if d.columns[..j].iter().any(|e| e.name == c.name) {
                say(format!("column {} is declared twice", c.name));
            }
            if c.ty.codes().is_some_and(|codes| codes.is_empty()) {
                say(format!("column {} has an empty code list", c.name));
            }
            if let ColumnType::Derived { from, table, codes } = c.ty {
                let source = d.columns.iter().find(|x| x.name == from);
                if !source.is_some_and(|x| !matches!(x.ty, ColumnType::Derived { .. })) {
                    say(format!(
                        "column {} is derived from {from}, which is not one of the columns \
                         it reads",
                        c.name
                    ));
                }
                for (value, code) in table.iter().filter(|(_, code)| !codes.contains(code)) {
                    say(format!(
                        "column {}: {value} maps to {code}, which is not one of its codes",
                        c.name
                    ));
                }
            }
        }
        let has = |name: &str| d.column(name).is_some();
        for k in d.key {
            if !has(k) {
                say(format!("key column {k} is not one of its columns"));
            }
        }
        if !has(d.unit_column()) {
            say(format!("its unit {} is not one of its columns", d.unit_sql));
        }
        for rule in d.rules {
            let used = match *rule {
                Rule::NotAfter { first, then } => [first, then],
                Rule::CodesBy { column, by, .. } | Rule::GivenWhen { column, by, .. } => {
                    [column, by]
                }
            };
            for c in used.into_iter().filter(|c| !has(c)) {
                say(format!("a rule names {c}, which is not one of its columns"));
            }
        }
        for r in d.references {
            if !has(r.column) {
                say(format!(
                    "reference from {}, which is not one of its columns",
                    r.column
                ));
            }
            match datasets[..i].iter().find(|e| e.name == r.target) {
                Some(t) if t.column(r.target_column).is_some() => {}
                Some(_) => say(format!(
                    "reference to {}.{}, which {} does not have",
                    r.target, r.target_column, r.target
                )),
                None => say(format!(
                    "reference to dataset {}, which is not declared before it",
                    r.target
                )),
            }
        }
        for (j, dim) in d.dimensions.iter().enumerate() {
            if d.dimensions[..j].iter().any(|e| e.name == dim.name) {
                say(format!("dimension {} is declared twice", dim.name));
            }
            if matches!(dim.values, Values::Codes(codes) if codes.is_empty()) {
                say(format!("dimension {} has no code list", dim.name));
            }
        }
        for (j, m) in d.measures.iter().enumerate() {
            if d.measures[..j].iter().any(|e| e.name == m.name) {
                say(format!("measure {} is declared twice", m.name));
            }
        }
        for id in d.columns.iter().filter(|c| c.ty == ColumnType::Identifier) {
            let reads_id = |sql: &str| reads_column(sql, id.name);
            for dim in d.dimensions.iter().filter(|x| reads_id(x.sql)) {
                say(format!(
                    "dimension {} reads identifier {}",
                    dim.name, id.name
                ));
            }
            for m in d.measures.iter().filter(|x| reads_id(x.sql)) {
                say(format!("measure {} reads identifier {}", m.name, id.name));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// The catalogue built into this program, checked: `Err` holds the message a program that
/// refuses to start prints, naming every inconsistent entry.
pub fn check_built_in() -> Result<(), String> {
    check(super::DATASETS).map_err(|problems| {
        format!(
            "the catalogue built into this program (version {}) is inconsistent, so it does not \
             start; fix these entries in shared/src/catalogue/: {}",
            super::VERSION,
            problems.join("; ")
        )
    })
}

/// Whether `sql` names `column` (as a whole name, not inside a longer one).
fn reads_column(sql: &str, column: &str) -> bool {
    let name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    sql.match_indices(column).any(|(at, _)| {
        let before = sql[..at].chars().next_back();
        let after = sql[at + column.len()..].chars().next();
        !before.is_some_and(name) && !after.is_some_and(name)
    })
}

#[cfg(test)]
mod tests {
    use super::super::{
        AGENTS, Column, ColumnType as T, DATASETS, EMPLOYEURS, Reference, code_dim, col, measure,
    };
    use super::*;

    #[test]
    fn the_catalogue_is_consistent() {
        assert_eq!(check(DATASETS), Ok(()));
    }

    #[test]
    fn each_inconsistent_entry_is_named() {
        const YEAR: Column = col("annee", T::Year, "année");
        const ID: Column = col("employeur_id", T::Identifier, "id");
        const BAD: Dataset = Dataset {
            name: "essai",
            columns: &[YEAR, ID, ID, col("nature", T::Code(&[]), "nature")],
            key: &["employeur_id", "numero"],
            dimensions: &[code_dim("type", "t.type", &[], "type")],
            measures: &[measure("n", "t.employeur_id", "n")],
            references: &[Reference {
                column: "employeur_id",
                target: "absente",
                target_column: "x",
            }],
            ..EMPLOYEURS
        };
        let bad = BAD;
        let problems = check(&[&EMPLOYEURS, &bad]).unwrap_err();
        for expected in [
            "dataset essai: column employeur_id is declared twice",
            "dataset essai: column nature has an empty code list",
            "dataset essai: key column numero is not one of its columns",
            "dataset essai: dimension type has no code list",
            "dataset essai: measure n reads identifier employeur_id",
            "dataset essai: reference to dataset absente, which is not declared before it",
        ] {
            assert!(
                problems.iter().any(|p| p == expected),
                "{expected}: {problems:?}"
            );
        }
        // A reference to a dataset declared after it is refused too (the load order).
        let problems = check(&[&AGENTS, &EMPLOYEURS]).unwrap_err();
        assert!(problems[0].starts_with("dataset agents: reference to dataset employeurs"));
    }

    #[test]
    fn a_column_is_read_by_its_whole_name() {
        assert!(reads_column("t.agent_id", "agent_id"));
        assert!(!reads_column("t.agent_ids", "agent_id"));
        assert!(!reads_column("t.sub_agent_id", "agent_id"));
    }
}
