use super::*;

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
