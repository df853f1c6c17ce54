//! Which catalogue a program runs: a version people read, and digests that machines compare.
//! A dataset's digest covers everything the catalogue says of it (columns, types, code lists,
//! rules, unit, dimensions and their SQL, measures, key, references), so that two programs
//! built from different catalogues disagree on the digest of every dataset that changed.

use sha2::{Digest, Sha256};

use super::{DATASETS, Dataset, dataset};
use crate::proto::v1;

/// The catalogue's version, raised with every change to a dataset's definition.
pub const VERSION: &str = "2026.12-3";

/// SHA-256 (hex) of everything the catalogue says of `d`.
///
/// The definition is hashed through its `Debug` form, which lists every field, code list and
/// SQL fragment: the digest changes whenever any of them does. (It may also change with the
/// compiler's `Debug` layout, which only ever makes a difference where there is none: a
/// refusal that a rebuild of both sides clears, never a merge of tables that differ.)
pub fn dataset_digest(d: &Dataset) -> String {
    hex::encode(Sha256::digest(format!("{d:?}").as_bytes()))
}

/// This program's catalogue, as a node publishes it (computed once).
pub fn published() -> v1::Catalogue {
    static PUBLISHED: std::sync::LazyLock<v1::Catalogue> = std::sync::LazyLock::new(compute);
    PUBLISHED.clone()
}

fn compute() -> v1::Catalogue {
    let datasets: Vec<v1::DatasetDigest> = DATASETS
        .iter()
        .map(|d| v1::DatasetDigest {
            name: d.name.to_string(),
            digest: dataset_digest(d),
        })
        .collect();
    let mut whole = Sha256::new();
    for d in &datasets {
        whole.update(d.name.as_bytes());
        whole.update(b"=");
        whole.update(d.digest.as_bytes());
        whole.update(b"\n");
    }
    v1::Catalogue {
        version: VERSION.to_string(),
        digest: hex::encode(whole.finalize()),
        datasets,
    }
}

/// The SHA-256 (hex) of this program's whole catalogue.
pub fn digest() -> String {
    published().digest
}

/// How `theirs` (a node's catalogue) differs from this program's on the datasets an answer on
/// `dataset` reads (itself and those it joins), one sentence each; empty when they agree.
pub fn differences(theirs: Option<&v1::Catalogue>, dataset_name: &str) -> Vec<String> {
    let Some(theirs) = theirs else {
        return vec![
            "it does not say which catalogue it runs (a release from before catalogue \
             digests): upgrade it"
                .into(),
        ];
    };
    let reads = dataset(dataset_name).map_or_else(|| vec![dataset_name], |d| d.reads());
    let mut out = Vec::new();
    for name in reads {
        let mine = dataset(name).map(dataset_digest);
        let other = theirs
            .datasets
            .iter()
            .find(|d| d.name == name)
            .map(|d| d.digest.as_str());
        match (mine.as_deref(), other) {
            (Some(a), Some(b)) if a == b => {}
            (Some(_), Some(_)) => out.push(format!(
                "dataset {name} is defined otherwise (its columns, codes, dimensions or \
                 measures differ)"
            )),
            (Some(_), None) => out.push(format!("dataset {name} is missing from the node's")),
            (None, Some(_)) => {
                out.push(format!("dataset {name} is missing from the coordinator's"))
            }
            (None, None) => {}
        }
    }
    if !out.is_empty() {
        let said = |v: &str, d: &str| {
            format!(
                "catalogue {} (digest {})",
                crate::text::quote(v),
                crate::text::prefix(d, 12)
            )
        };
        out.insert(
            0,
            format!(
                "the node runs {}, the coordinator {}",
                said(&theirs.version, &theirs.digest),
                said(VERSION, &digest())
            ),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_catalogue_has_no_difference_and_a_changed_dataset_is_named() {
        let mine = published();
        assert_eq!(mine.datasets.len(), DATASETS.len());
        assert!(differences(Some(&mine), "agents").is_empty());

        // A node whose employeurs differ: agents joins employeurs, so an agents query is
        // refused; a dataset that reads neither is not.
        let mut theirs = mine.clone();
        let employeurs = theirs.datasets.iter_mut().find(|d| d.name == "employeurs");
        employeurs.unwrap().digest = "0".repeat(64);
        theirs.digest = "1".repeat(64);
        let said = differences(Some(&theirs), "agents");
        assert_eq!(said.len(), 2, "{said:?}");
        assert!(said[0].contains(&format!("\"{VERSION}\"")), "{said:?}");
        assert!(
            said[1].contains("dataset employeurs is defined otherwise"),
            "{said:?}"
        );
        assert!(differences(Some(&theirs), "demandes").is_empty());

        theirs.datasets.retain(|d| d.name != "agents");
        let said = differences(Some(&theirs), "agents");
        assert!(
            said.iter()
                .any(|s| s == "dataset agents is missing from the node's")
        );
        assert_eq!(differences(None, "agents").len(), 1);
    }

    #[test]
    fn every_dataset_has_its_own_digest() {
        let mut digests: Vec<String> = DATASETS.iter().map(|d| dataset_digest(d)).collect();
        digests.sort();
        digests.dedup();
        assert_eq!(digests.len(), DATASETS.len());
    }
}
