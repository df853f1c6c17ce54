use super::*;

fn names(d: &Dataset) -> Vec<&'static str> {
    d.columns.iter().map(|c| c.name).collect()
}

#[test]
fn every_name_a_dataset_uses_is_one_of_its_columns() {
    for d in DATASETS {
        let cols = names(d);
        assert_eq!(cols[0], "annee", "{}: annee comes first", d.name);
        for k in d.key {
            assert!(cols.contains(k), "{}: key {k}", d.name);
        }
        for r in d.references {
            assert!(
                cols.contains(&r.column),
                "{}: reference {}",
                d.name,
                r.column
            );
            let target = dataset(r.target).expect("reference target");
            assert!(target.column(r.target_column).is_some());
            let (mine, theirs) = (
                DATASETS.iter().position(|x| x.name == d.name),
                DATASETS.iter().position(|x| x.name == target.name),
            );
            assert!(theirs < mine, "{} must load after {}", d.name, target.name);
        }
        for rule in d.rules {
            let used = match *rule {
                Rule::NotAfter { first, then } => vec![first, then],
                Rule::CodesBy { column, by, .. } => vec![column, by],
                Rule::GivenWhen { column, by, .. } => vec![column, by],
            };
            for c in used {
                assert!(cols.contains(&c), "{}: rule on {c}", d.name);
            }
        }
    }
}

#[test]
fn identifiers_are_never_dimensions_or_measures() {
    for d in DATASETS {
        for c in d.columns.iter().filter(|c| c.ty == ColumnType::Identifier) {
            assert!(d.dimension(c.name).is_none(), "{}.{}", d.name, c.name);
            assert!(d.measure(c.name).is_none(), "{}.{}", d.name, c.name);
            for dim in d.dimensions {
                assert!(
                    !dim.sql.contains(c.name),
                    "{}: dimension {} reads identifier {}",
                    d.name,
                    dim.name,
                    c.name
                );
            }
        }
    }
}

#[test]
fn the_data_dictionary_in_the_repository_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../node/DATA-DICTIONARY.md");
    let written = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        written == data_dictionary(),
        "{path} is out of date: run `cdg-node catalogue > node/DATA-DICTIONARY.md`"
    );
}

#[test]
fn answers_name_the_datasets_they_read() {
    assert_eq!(EMPLOYEURS.reads(), ["employeurs"]);
    assert_eq!(AGENTS.reads(), ["agents", "employeurs"]);
    assert_eq!(ABSENCES.reads(), ["absences", "employeurs", "agents"]);
    assert_eq!(DEMANDES.reads(), ["demandes"]);
}
