//! The differencing guard: a secure sum over participants P is refused if the same cell (same
//! dataset, filters, grouping and values) was summed before over P plus or minus exactly one
//! département. The difference of the two would be that département's withheld cell, blurred
//! only by two draws of noise. Typical cases: the same study run with and without one
//! département, or a run where one node left the second round.
//!
//! Both sides keep one. The coordinator's (`secure-sums.jsonl` in its state folder) withholds
//! such a sum from the result. Each node's (`<database>.secure-sums.jsonl`) refuses to contribute
//! to it, so that a coordinator that skipped its own guard still learns no département's cell.
//! One line per cell and participant set, appended and fsynced before the sum is released or
//! the contribution sent: a crash loses no record. A torn last line is ignored when read.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::cdg::Cdg;
use crate::query::AggregateQuery;
use sha2::{Digest, Sha256};

/// The reason a guarded sum stays secret, as the log and the tables say it.
pub const DIFFERENCING: &str = "secret: différenciation (somme voisine déjà publiée)";

pub struct Guard {
    path: PathBuf,
    published: Mutex<BTreeMap<String, BTreeSet<Vec<Cdg>>>>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Line {
    cell: String,
    participants: Vec<Cdg>,
}

/// Names a cell of a query, whatever its measures.
pub fn cell_name(query: &AggregateQuery, dims: &[String]) -> String {
    let mut shape = query.clone();
    shape.measures.clear();
    let text = serde_json::to_string(&(shape, dims)).unwrap_or_default();
    hex::encode(Sha256::digest(text.as_bytes()))
}

impl Guard {
    /// The guard of the sums recorded so far in the file `path` (created when first needed).
    pub fn open(path: &Path) -> anyhow::Result<Guard> {
        let path = path.to_path_buf();
        let mut published: BTreeMap<String, BTreeSet<Vec<Cdg>>> = BTreeMap::new();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                for line in text.lines() {
                    // A torn last line (a crash while writing) is no publication.
                    if let Ok(l) = serde_json::from_str::<Line>(line) {
                        published.entry(l.cell).or_default().insert(l.participants);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(anyhow::anyhow!("reading {}: {e}", path.display())),
        }
        Ok(Guard {
            path,
            published: Mutex::new(published),
        })
    }

    /// Whether a sum of `cell` over `participants` may be published, given those published
    /// before and `pending` (about to be, in the same run).
    pub fn allows(&self, cell: &str, participants: &[Cdg], pending: &[(String, Vec<Cdg>)]) -> bool {
        let Ok(published) = self.published.lock() else {
            return false;
        };
        let mine: BTreeSet<Cdg> = participants.iter().copied().collect();
        let apart = |other: &Vec<Cdg>| {
            let other: BTreeSet<Cdg> = other.iter().copied().collect();
            mine.symmetric_difference(&other).count() == 1
        };
        !published
            .get(cell)
            .is_some_and(|sets| sets.iter().any(apart))
            && !pending.iter().any(|(c, p)| c == cell && apart(p))
    }

    /// Records the sums about to be published, durably. Blocking.
    pub fn record(&self, sums: &[(String, Vec<Cdg>)]) -> anyhow::Result<()> {
        if sums.is_empty() {
            return Ok(());
        }
        let mut published = self
            .published
            .lock()
            .map_err(|_| anyhow::anyhow!("the secure-sum guard's lock is poisoned"))?;
        let mut text = String::new();
        for (cell, participants) in sums {
            text.push_str(&serde_json::to_string(&Line {
                cell: cell.clone(),
                participants: participants.clone(),
            })?);
            text.push('\n');
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        for (cell, participants) in sums {
            published
                .entry(cell.clone())
                .or_default()
                .insert(participants.clone());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sum_one_departement_away_from_a_published_one_is_refused_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secure-sums.jsonl");
        let guard = Guard::open(&path).unwrap();
        let three = vec![Cdg::Aisne, Cdg::Oise, Cdg::Somme];
        assert!(guard.allows("c", &three, &[]));
        let pending = [("c".to_string(), three.clone())];
        assert!(
            !guard.allows("c", &three[..2], &pending),
            "one less, in the same run"
        );
        guard.record(&pending).unwrap();
        assert!(
            guard.allows("c", &three, &[]),
            "the same sum again reveals nothing new"
        );
        let reopened = Guard::open(&path).unwrap();
        assert!(!reopened.allows("c", &three[..2], &[]), "one less");
        let more = [three.clone(), vec![Cdg::Nord]].concat();
        assert!(!reopened.allows("c", &more, &[]), "one more");
        assert!(
            reopened.allows("c", &[Cdg::Aisne, Cdg::Nord, Cdg::Somme], &[]),
            "one swapped"
        );
        assert!(reopened.allows("other", &three[..2], &[]), "another cell");
    }
}
