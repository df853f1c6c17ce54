//! Loading a whole folder of exports named `<dataset>_<year>.<csv|xlsx|parquet>` (as
//! `cdg-node synth` writes them), in an order that respects references: year by year, each
//! year's datasets in catalogue order.

use std::path::{Path, PathBuf};

use super::{ImportOptions, ImportReport, import_file};
use crate::catalogue::{self, Dataset};
use crate::error::{NodeError, Result};
use crate::store::Store;

/// A file of the folder and the slice it holds.
#[derive(Debug, Clone)]
pub struct FolderFile {
    pub dataset: &'static Dataset,
    pub year: i32,
    pub path: PathBuf,
}

/// The loadable files of `dir` in load order, and the names of the files it skips.
pub fn plan(dir: &Path) -> Result<(Vec<FolderFile>, Vec<String>)> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| NodeError::Import(format!("cannot list {}: {e}", dir.display())))?;
    let (mut files, mut skipped) = (Vec::new(), Vec::new());
    for entry in entries {
        let path = entry
            .map_err(|e| NodeError::Import(format!("cannot list {}: {e}", dir.display())))?
            .path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match slice_of(&name) {
            Some((dataset, year)) if path.is_file() => files.push(FolderFile {
                dataset,
                year,
                path,
            }),
            _ => skipped.push(name),
        }
    }
    let order = |d: &Dataset| catalogue::DATASETS.iter().position(|x| x.name == d.name);
    files.sort_by_key(|f| (f.year, order(f.dataset)));
    if let Some(w) = files
        .windows(2)
        .find(|w| (w[0].dataset.name, w[0].year) == (w[1].dataset.name, w[1].year))
    {
        return Err(NodeError::Import(format!(
            "{} and {} hold the same slice ({} {}); keep one",
            w[0].path.display(),
            w[1].path.display(),
            w[0].dataset.name,
            w[0].year
        )));
    }
    skipped.sort();
    Ok((files, skipped))
}

/// `agents_2024.csv` → (agents, 2024).
fn slice_of(name: &str) -> Option<(&'static Dataset, i32)> {
    let (stem, ext) = name.rsplit_once('.')?;
    super::Format::parse(ext)?;
    let (dataset, year) = stem.rsplit_once('_')?;
    let year = year.parse().ok().filter(|y| (1990..=2100).contains(y))?;
    Some((catalogue::dataset(dataset)?, year))
}

/// Imports every file of the plan in order, calling `done` after each. Stops at the first
/// failure: the files before it stay loaded (each is its own transaction), none after it is.
pub fn import_all(
    store: &Store,
    files: &[FolderFile],
    options: &ImportOptions,
    mut done: impl FnMut(&ImportReport),
) -> Result<Vec<ImportReport>> {
    let mut reports = Vec::with_capacity(files.len());
    for f in files {
        let report = import_file(store, f.dataset, f.year, &f.path, options).map_err(|e| {
            NodeError::Import(format!(
                "{e}\nstopped at {}: the files before it are loaded, none after it",
                f.path.display()
            ))
        })?;
        done(&report);
        reports.push(report);
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_ordered_by_year_then_references() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "absences_2024.csv",
            "agents_2024.xlsx",
            "employeurs_2024.csv",
            "agents_2023.parquet",
            "employeurs_2023.csv",
            "notes.txt",
            "agents_24.csv",
        ] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let (files, skipped) = plan(dir.path()).unwrap();
        let order: Vec<String> = files
            .iter()
            .map(|f| format!("{} {}", f.dataset.name, f.year))
            .collect();
        assert_eq!(
            order,
            [
                "employeurs 2023",
                "agents 2023",
                "employeurs 2024",
                "agents 2024",
                "absences 2024"
            ]
        );
        assert_eq!(skipped, ["agents_24.csv", "notes.txt"]);
        std::fs::write(dir.path().join("agents_2024.csv"), "").unwrap();
        let err = plan(dir.path()).unwrap_err().to_string();
        assert!(err.contains("same slice (agents 2024)"), "{err}");
    }
}
