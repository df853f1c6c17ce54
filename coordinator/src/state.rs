//! The coordinator's files: submitted studies and kept results, written atomically under
//! `state_dir` so a crash never leaves half a file; and the lock (`coordinator.lock`) that
//! keeps a second process from writing them, the audit log above all.

use std::io::Write;
use std::path::{Path, PathBuf};

use cdg_shared::proto::v1::StudyResult;
use prost::Message;
use serde::{Deserialize, Serialize};

use crate::study::Study;

/// A submitted study as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredStudy {
    pub id: String,
    pub digest: String,
    /// Identity URI of the submitter.
    pub submitted_by: String,
    pub submitted_at: String,
    pub study: Study,
    /// Directors' verified decisions, in the order received.
    #[serde(default)]
    pub decisions: Vec<crate::decisions::StoredDecision>,
    /// When the results were recorded as diffused, and the note given.
    #[serde(default)]
    pub diffused: Option<(String, String)>,
    /// An external study's announcement to the comité technique (Art. 4).
    #[serde(default, skip_serializing_if = "crate::informing::Informing::is_empty")]
    pub announcement: crate::informing::Informing,
    /// The last run's results restituted to the directors (Art. 4).
    #[serde(default, skip_serializing_if = "crate::informing::Informing::is_empty")]
    pub restitution: crate::informing::Informing,
}

pub struct StateDir {
    root: PathBuf,
    _lock: cdg_shared::lock::StateLock,
}

pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    // A name of its own per write: two writers never share a temporary file.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("{}.{n}.tmp", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// Reads and decodes `path`; `None` when there is no such file (or no valid path).
fn read_optional<T>(
    path: Option<PathBuf>,
    decode: impl FnOnce(&[u8]) -> Result<T, String>,
) -> std::io::Result<Option<T>> {
    let Some(path) = path else {
        return Ok(None);
    };
    match std::fs::read(&path) {
        Ok(bytes) => decode(&bytes)
            .map(Some)
            .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn valid_id(id: &str) -> bool {
    id.len() == 14 && id.starts_with("S-") && id[2..].chars().all(|c| c.is_ascii_hexdigit())
}

impl StateDir {
    /// Opens the folder, creating it if needed, and locks it for this process: a second
    /// coordinator (or a repair) on the same folder is refused, naming this one's pid.
    pub fn open(root: &Path) -> anyhow::Result<StateDir> {
        use anyhow::Context;
        for sub in ["studies", "results"] {
            std::fs::create_dir_all(root.join(sub))
                .with_context(|| format!("creating {}", root.join(sub).display()))?;
        }
        let lock = cdg_shared::lock::StateLock::acquire(
            &root.join("coordinator.lock"),
            &format!("the coordinator's state_dir {}", root.display()),
        )?;
        Ok(StateDir {
            root: root.to_path_buf(),
            _lock: lock,
        })
    }

    /// `notices.json`: the mails to the directors, sent or waiting.
    pub fn notices_path(&self) -> PathBuf {
        self.root.join("notices.json")
    }

    pub fn audit_log_path(&self) -> PathBuf {
        self.root.join("audit.log")
    }

    fn study_path(&self, id: &str) -> Option<PathBuf> {
        valid_id(id).then(|| self.root.join("studies").join(format!("{id}.json")))
    }

    fn result_path(&self, id: &str) -> Option<PathBuf> {
        valid_id(id).then(|| self.root.join("results").join(format!("{id}.pb")))
    }

    /// Whether study `id` has a kept result (without reading it).
    pub fn has_result(&self, id: &str) -> bool {
        self.result_path(id).is_some_and(|p| p.is_file())
    }

    pub fn load_study(&self, id: &str) -> std::io::Result<Option<StoredStudy>> {
        read_optional(self.study_path(id), |bytes| {
            serde_json::from_slice(bytes).map_err(|e| e.to_string())
        })
    }

    /// Every stored study, in no particular order.
    pub fn list_studies(&self) -> std::io::Result<Vec<StoredStudy>> {
        let mut studies = Vec::new();
        for entry in std::fs::read_dir(self.root.join("studies"))? {
            let name = entry?.file_name();
            let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            if let Some(study) = self.load_study(id)? {
                studies.push(study);
            }
        }
        Ok(studies)
    }

    pub fn save_study(&self, study: &StoredStudy) -> std::io::Result<()> {
        let path = self
            .study_path(&study.id)
            .ok_or_else(|| std::io::Error::other("bad study id"))?;
        write_atomic(
            &path,
            &serde_json::to_vec_pretty(study).map_err(std::io::Error::other)?,
        )
    }

    pub fn load_result(&self, id: &str) -> std::io::Result<Option<StudyResult>> {
        read_optional(self.result_path(id), |bytes| {
            StudyResult::decode(bytes).map_err(|e| e.to_string())
        })
    }

    pub fn save_result(&self, result: &StudyResult) -> std::io::Result<()> {
        let path = self
            .result_path(&result.study_id)
            .ok_or_else(|| std::io::Error::other("bad study id"))?;
        write_atomic(&path, &result.encode_to_vec())
    }
}
