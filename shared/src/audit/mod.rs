//! An append-only, hash-chained audit log (one JSON object per line).
//!
//! Each entry carries the hash of the previous one, and its own hash covers the exact bytes of
//! its line and that link (`entry.rs`), so editing, deleting or reordering an entry breaks the
//! chain at a named place. An entry is written and fsynced before [`AuditLog::append`]
//! returns, so an action is never acknowledged before it is on disk. With a signer, every
//! append also writes a signed checkpoint of the chain head beside the log
//! (`<log>.checkpoints`): cutting entries off the end, which the chain alone cannot show, then
//! contradicts a checkpoint.
//!
//! A crash in the middle of a write leaves a torn last line: [`verify`] reports it and checks
//! everything before it; [`AuditLog::open`] moves it to `<log>.torn`, records that in a new
//! entry, and goes on (the torn entry's action was never acknowledged). A chain broken in the
//! middle is not appended to: `repair.rs` sets its broken tail aside, on an explicit order.
//!
//! Logs are read in pages (`pages.rs`, `wire.rs`) and verified as the pages come
//! (`reader.rs`), so that verifying never holds a whole log.

mod bound;
mod checkpoint;
mod entry;
mod kind;
mod pages;
mod reader;
pub mod repair;
mod verify;
mod wire;

#[cfg(test)]
mod tests;

pub use bound::{MAX_DETAILS, MAX_TEXT, bounded_details, bounded_text};
pub use checkpoint::{Checkpoint, CheckpointCheck, checkpoints_path, signed_line};
pub use entry::{AuditEntry, Format, GENESIS, LineError};
pub use kind::Kind;
pub use pages::{MAX_PAGE_BYTES, MAX_PAGE_ENTRIES, Page, PageLimits, Pager, Snapshot};
pub use reader::{LogReader, Summary, verify_log_file};
pub use verify::{Chain, Lines, Torn, Verified, verify, verify_file};
pub use wire::{PageStream, stream_pages};

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

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
    #[error(
        "audit log of {origin}: the pages stopped before the end of the log. The connection \
         was cut (try again), or the server is older than this client (before audit logs came \
         in pages: upgrade it)"
    )]
    Incomplete { origin: PathBuf },
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

impl AuditLog {
    /// Opens (or creates) the log, verifying the whole existing chain first: a broken log is not
    /// appended to.
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        Self::open_with(path, None, |_| {})
    }

    /// [`AuditLog::open`], and signs a checkpoint of the chain head with `signer` after every
    /// append. Hands every entry found (verified) to `on_entry`, so that callers need not read
    /// the log again.
    pub fn open_signed(
        path: &Path,
        signer: crate::signing::Signer,
        on_entry: impl FnMut(&AuditEntry),
    ) -> Result<AuditLog, AuditError> {
        Self::open_with(path, Some(signer), on_entry)
    }

    fn open_with(
        path: &Path,
        signer: Option<crate::signing::Signer>,
        mut on_entry: impl FnMut(&AuditEntry),
    ) -> Result<AuditLog, AuditError> {
        let io = |source| AuditError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let verified = if path.exists() {
            verify_file(path, |e| {
                on_entry(&e);
                Ok::<_, AuditError>(())
            })?
        } else {
            Verified {
                entries: 0,
                head: GENESIS.to_string(),
                torn: None,
            }
        };
        let torn_to = path.with_extension("log.torn");
        if let Some(torn) = &verified.torn {
            set_torn_aside(path, torn, &torn_to).map_err(io)?;
            tracing::warn!(
                path = %path.display(),
                bytes = torn.len,
                "audit log ended with a torn record (crash during a write); moved aside"
            );
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        let mut log = AuditLog {
            path: path.to_path_buf(),
            file,
            head: verified.head,
            next_seq: verified.entries + 1,
            checkpoints: signer.map(|s| checkpoint::Writer::new(path, s)),
        };
        if let Some(torn) = verified.torn {
            on_entry(&log.append(
                Kind::TornRecord.as_str(),
                "system",
                "",
                serde_json::json!({
                    "bytes": torn.len,
                    "moved_to": torn_to.display().to_string(),
                }),
            )?);
        }
        Ok(log)
    }

    /// Appends one entry and fsyncs it before returning it. Texts too long are cut, with a
    /// marker (`bound.rs`).
    pub fn append(
        &mut self,
        kind: &str,
        actor: &str,
        study_id: &str,
        details: serde_json::Value,
    ) -> Result<AuditEntry, AuditError> {
        let mut entries = self.append_all(vec![(kind, actor, study_id, details)])?;
        Ok(entries.remove(0))
    }

    /// Appends several entries, in order, with one write and one sync for all of them (a
    /// run's node outcomes): either all are durable when it returns, or none is counted.
    pub fn append_all(
        &mut self,
        entries: Vec<(&str, &str, &str, serde_json::Value)>,
    ) -> Result<Vec<AuditEntry>, AuditError> {
        let (mut head, mut seq) = (self.head.clone(), self.next_seq);
        let mut sealed = Vec::with_capacity(entries.len());
        let mut lines = Vec::new();
        for (kind, actor, study_id, details) in entries {
            let (entry, line) = AuditEntry {
                seq,
                time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                kind: bounded_text(kind),
                actor: bounded_text(actor),
                study_id: bounded_text(study_id),
                details: bounded_details(details),
                prev_hash: head,
                format: Format::default(),
                hash: String::new(),
            }
            .seal();
            lines.extend_from_slice(&line);
            lines.push(b'\n');
            head = entry.hash.clone();
            seq += 1;
            sealed.push(entry);
        }
        let io = |source| AuditError::Io {
            path: self.path.clone(),
            source,
        };
        self.file.write_all(&lines).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        self.head = head;
        self.next_seq = seq;
        if let Some(w) = &mut self.checkpoints {
            for entry in &sealed {
                w.write(entry)?;
            }
        }
        Ok(sealed)
    }

    /// Hash of the last entry (the chain head).
    pub fn head(&self) -> &str {
        &self.head
    }

    /// The log and its checkpoints as they are between two appends, to be read in pages.
    pub fn snapshot(&self) -> Result<Snapshot, AuditError> {
        Snapshot::now(&self.path).map_err(|source| AuditError::Io {
            path: self.path.clone(),
            source,
        })
    }
}

/// Moves a torn last line to `to` (appended, with an end of line) and cuts it off the log.
fn set_torn_aside(path: &Path, torn: &Torn, to: &Path) -> std::io::Result<()> {
    let mut bytes = Vec::new();
    let mut log = File::open(path)?;
    log.seek(std::io::SeekFrom::Start(torn.offset))?;
    log.read_to_end(&mut bytes)?;
    let mut aside = OpenOptions::new().create(true).append(true).open(to)?;
    aside.write_all(&bytes)?;
    aside.write_all(b"\n")?;
    aside.sync_all()?;
    let f = OpenOptions::new().write(true).open(path)?;
    f.set_len(torn.offset)?;
    f.sync_all()
}
