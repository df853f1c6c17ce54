//! An append-only, hash-chained audit log (one JSON object per line).
//!
//! Each entry carries the hash of the previous one, and its own hash covers its content and that
//! link, so editing, deleting or reordering an entry breaks the chain at a named place. An entry
//! is written and fsynced before [`AuditLog::append`] returns, so an action is never acknowledged
//! before it is on disk.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    /// RFC 3339, UTC.
    pub time: String,
    /// What happened: `study.submitted`, `study.run.started`, `node.answered`, ...
    pub kind: String,
    /// Who did it: an identity URI, or `system`.
    pub actor: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub study_id: String,
    pub details: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEntry {
    fn compute_hash(&self) -> String {
        let mut unhashed = self.clone();
        unhashed.hash = String::new();
        let body = serde_json::to_vec(&unhashed).expect("audit entries always serialize");
        hex::encode(Sha256::digest(body))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("audit log {path}, line {line}: {reason}")]
    Broken {
        path: PathBuf,
        line: u64,
        reason: String,
    },
}

/// An open audit log, positioned after its last (verified) entry.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: File,
    head: String,
    next_seq: u64,
}

impl AuditLog {
    /// Opens (or creates) the log, verifying the whole existing chain first: a broken log is not
    /// appended to.
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        let io = |source| AuditError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let entries = if path.exists() {
            verify(path)?
        } else {
            Vec::new()
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        let (head, next_seq) = entries
            .last()
            .map(|e| (e.hash.clone(), e.seq + 1))
            .unwrap_or_else(|| (GENESIS.to_string(), 1));
        Ok(AuditLog {
            path: path.to_path_buf(),
            file,
            head,
            next_seq,
        })
    }

    /// Appends one entry and fsyncs it before returning it.
    pub fn append(
        &mut self,
        kind: &str,
        actor: &str,
        study_id: &str,
        details: serde_json::Value,
    ) -> Result<AuditEntry, AuditError> {
        let mut entry = AuditEntry {
            seq: self.next_seq,
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            kind: kind.to_string(),
            actor: actor.to_string(),
            study_id: study_id.to_string(),
            details,
            prev_hash: self.head.clone(),
            hash: String::new(),
        };
        entry.hash = entry.compute_hash();
        let mut line = serde_json::to_vec(&entry).expect("audit entries always serialize");
        line.push(b'\n');
        let io = |source| AuditError::Io {
            path: self.path.clone(),
            source,
        };
        self.file.write_all(&line).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        self.head = entry.hash.clone();
        self.next_seq += 1;
        Ok(entry)
    }

    /// Hash of the last entry (the chain head).
    pub fn head(&self) -> &str {
        &self.head
    }
}

/// Reads and verifies a whole log, returning its entries or the first place the chain breaks.
pub fn verify(path: &Path) -> Result<Vec<AuditEntry>, AuditError> {
    let file = File::open(path).map_err(|source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut entries: Vec<AuditEntry> = Vec::new();
    let mut prev = GENESIS.to_string();
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let line_no = index as u64 + 1;
        let broken = |reason: String| AuditError::Broken {
            path: path.to_path_buf(),
            line: line_no,
            reason,
        };
        let line = line.map_err(|e| broken(e.to_string()))?;
        let entry: AuditEntry = serde_json::from_str(&line).map_err(|e| {
            broken(format!(
                "not an audit entry ({e}); the line was altered or truncated"
            ))
        })?;
        if entry.seq != line_no {
            return Err(broken(format!(
                "sequence number {} where {line_no} was expected: an entry was removed or inserted",
                entry.seq
            )));
        }
        if entry.prev_hash != prev {
            return Err(broken(format!(
                "prev_hash does not match the previous entry's hash: entry {} was altered, removed or reordered",
                line_no.saturating_sub(1)
            )));
        }
        if entry.compute_hash() != entry.hash {
            return Err(broken(format!(
                "entry {line_no}'s content does not match its hash: it was edited"
            )));
        }
        prev = entry.hash.clone();
        entries.push(entry);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_log(dir: &Path) -> PathBuf {
        let path = dir.join("audit.log");
        let mut log = AuditLog::open(&path).unwrap();
        for i in 0..3 {
            log.append(
                "study.submitted",
                "urn:cdg-hdf:charge-de-mission:59",
                "s1",
                serde_json::json!({"i": i}),
            )
            .unwrap();
        }
        path
    }

    #[test]
    fn chain_survives_reopen_and_detects_edits() {
        let dir = tempfile::tempdir().unwrap();
        let path = sample_log(dir.path());
        let mut log = AuditLog::open(&path).unwrap();
        assert_eq!(
            log.append("x", "system", "", serde_json::json!({}))
                .unwrap()
                .seq,
            4
        );
        assert_eq!(verify(&path).unwrap().len(), 4);

        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replacen("\"i\":1", "\"i\":7", 1)).unwrap();
        let err = verify(&path).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("edited"), "{err}");

        let lines: Vec<&str> = text.lines().collect();
        std::fs::write(&path, format!("{}\n{}\n", lines[0], lines[2])).unwrap();
        let err = verify(&path).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("removed"), "{err}");
        assert!(
            AuditLog::open(&path).is_err(),
            "a broken log is not appended to"
        );
    }
}
