//! An append-only, hash-chained audit log (one JSON object per line).
//!
//! Each entry carries the hash of the previous one, and its own hash covers its content and that
//! link, so editing, deleting or reordering an entry breaks the chain at a named place. An entry
//! is written and fsynced before [`AuditLog::append`] returns, so an action is never acknowledged
//! before it is on disk. With a signer, every append also writes a signed checkpoint of the
//! chain head beside the log (`<log>.checkpoints`): cutting entries off the end, which the chain
//! alone cannot show, then contradicts a checkpoint.
//!
//! A crash in the middle of a write leaves a torn last line: [`verify`] reports it and checks
//! everything before it; [`AuditLog::open`] moves it to `<log>.torn`, records that in a new
//! entry, and goes on (the torn entry's action was never acknowledged).

mod checkpoint;
mod verify;

pub use checkpoint::{Checkpoint, checkpoints_path, verify_checkpoints};
pub use verify::{Verified, verify, verify_bytes};

use std::fs::{File, OpenOptions};
use std::io::Write;
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
    pub(crate) fn compute_hash(&self) -> String {
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
    checkpoints: Option<checkpoint::Writer>,
}

/// A log's bytes and its checkpoints' (empty when a file does not exist yet).
pub fn read_with_checkpoints(path: &Path) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let read = |p: &Path| match std::fs::read(p) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    };
    Ok((read(path)?, read(&checkpoints_path(path))?))
}

impl AuditLog {
    /// Opens (or creates) the log, verifying the whole existing chain first: a broken log is not
    /// appended to.
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        Self::open_with(path, None).map(|(log, _)| log)
    }

    /// [`AuditLog::open`], and signs a checkpoint of the chain head with `signer` after every
    /// append. Also returns the entries found (verified), so that callers need not read the
    /// log again.
    pub fn open_signed(
        path: &Path,
        signer: crate::signing::Signer,
    ) -> Result<(AuditLog, Vec<AuditEntry>), AuditError> {
        Self::open_with(path, Some(signer))
    }

    fn open_with(
        path: &Path,
        signer: Option<crate::signing::Signer>,
    ) -> Result<(AuditLog, Vec<AuditEntry>), AuditError> {
        let io = |source| AuditError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let verified = if path.exists() {
            verify::verify_file(path)?
        } else {
            Verified::default()
        };
        if let Some(torn) = &verified.torn {
            // The torn line's action was never acknowledged: keep its bytes aside, cut it off.
            let mut aside = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path.with_extension("log.torn"))
                .map_err(io)?;
            aside.write_all(&torn.bytes).map_err(io)?;
            aside.write_all(b"\n").map_err(io)?;
            aside.sync_all().map_err(io)?;
            let f = OpenOptions::new().write(true).open(path).map_err(io)?;
            f.set_len(torn.offset).map_err(io)?;
            f.sync_all().map_err(io)?;
            tracing::warn!(
                path = %path.display(),
                bytes = torn.bytes.len(),
                "audit log ended with a torn record (crash during a write); moved aside"
            );
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        let (head, next_seq) = verified
            .entries
            .last()
            .map(|e| (e.hash.clone(), e.seq + 1))
            .unwrap_or_else(|| (GENESIS.to_string(), 1));
        let mut log = AuditLog {
            path: path.to_path_buf(),
            file,
            head,
            next_seq,
            checkpoints: signer.map(|s| checkpoint::Writer::new(path, s)),
        };
        let mut entries = verified.entries;
        if let Some(torn) = verified.torn {
            entries.push(log.append(
                "audit.torn_record",
                "system",
                "",
                serde_json::json!({
                    "bytes": torn.bytes.len(),
                    "moved_to": path.with_extension("log.torn").display().to_string(),
                }),
            )?);
        }
        Ok((log, entries))
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
        if let Some(w) = &mut self.checkpoints {
            w.write(&entry)?;
        }
        Ok(entry)
    }

    /// Hash of the last entry (the chain head).
    pub fn head(&self) -> &str {
        &self.head
    }
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

    /// A log of 5 entries with signed checkpoints, and the CA that trusts its signer.
    fn signed_log(dir: &Path) -> (PathBuf, crate::signing::TrustedSigners) {
        crate::tls::install_crypto_provider();
        let files = crate::signing::test_director(dir);
        let signer = crate::signing::Signer::from_files(&files).unwrap();
        let path = dir.join("audit.log");
        let (mut log, _) = AuditLog::open_signed(&path, signer).unwrap();
        for i in 0..5 {
            log.append("node.outcome", "system", "S-1", serde_json::json!({"i": i}))
                .unwrap();
        }
        let trusted = crate::signing::TrustedSigners::from_ca_file(&files.ca).unwrap();
        (path, trusted)
    }

    fn check(path: &Path, trusted: &crate::signing::TrustedSigners) -> Result<usize, AuditError> {
        let entries = verify(path)?;
        let checkpoints = std::fs::read_to_string(checkpoints_path(path)).unwrap();
        verify_checkpoints(&entries, &checkpoints, path, trusted)
    }

    #[test]
    fn every_kind_of_tampering_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let (path, trusted) = signed_log(dir.path());
        assert_eq!(check(&path, &trusted).unwrap(), 5);
        let original = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = original.lines().collect();
        let rewrite = |ls: Vec<&str>| std::fs::write(&path, ls.join("\n") + "\n").unwrap();

        // One flipped byte in entry 3.
        let mut bytes = original.clone().into_bytes();
        let at = original.find("\"i\":2").unwrap() + 4;
        bytes[at] = b'9';
        std::fs::write(&path, &bytes).unwrap();
        let err = check(&path, &trusted).unwrap_err().to_string();
        assert!(err.contains("line 3") && err.contains("edited"), "{err}");
        // Entry 2 deleted.
        rewrite(vec![lines[0], lines[2], lines[3], lines[4]]);
        let err = check(&path, &trusted).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("removed"), "{err}");
        // Entries 3 and 4 swapped.
        rewrite(vec![lines[0], lines[1], lines[3], lines[2], lines[4]]);
        let err = check(&path, &trusted).unwrap_err().to_string();
        assert!(err.contains("line 3"), "{err}");
        // The last two cut off: the chain holds, the checkpoints do not.
        rewrite(lines[..3].to_vec());
        assert_eq!(verify(&path).unwrap().len(), 3);
        let err = check(&path, &trusted).unwrap_err().to_string();
        assert!(
            err.contains("ends at entry 3") && err.contains("vouches for entry 4"),
            "{err}"
        );
    }

    #[test]
    fn a_torn_last_record_is_reported_then_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let (path, trusted) = signed_log(dir.path());
        // A crash in the middle of writing a sixth entry.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"seq\":6,\"time\":\"2026-").unwrap();
        drop(f);
        let err = verify(&path).unwrap_err().to_string();
        assert!(
            err.contains("line 6")
                && err.contains("torn")
                && err.contains("5 entries before it verify"),
            "{err}"
        );
        // Reopening keeps the five, sets the torn bytes aside and says so in entry 6.
        let log = AuditLog::open(&path).unwrap();
        drop(log);
        let entries = verify(&path).unwrap();
        assert_eq!(entries.len(), 6);
        assert_eq!(entries[5].kind, "audit.torn_record");
        assert!(path.with_extension("log.torn").is_file());
        assert_eq!(check(&path, &trusted).unwrap(), 5);
    }
}
