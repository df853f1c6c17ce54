//! Signed checkpoints of a log's chain head, in `<log>.checkpoints` (one JSON object per line).
//!
//! A checkpoint says "entry `seq` has hash `hash`", signed with the key of the log keeper's
//! certificate. A log cut short no longer holds an entry a checkpoint vouches for; an edited one
//! holds another hash there.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{AuditEntry, AuditError};
use crate::signing::{Signer, TrustedSigners};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: u64,
    pub hash: String,
    /// RFC 3339, UTC.
    pub time: String,
    /// The signer's certificate (DER) and signature, hex.
    pub certificate: String,
    pub signature: String,
}

impl Checkpoint {
    fn payload(&self) -> Vec<u8> {
        format!(
            "cdg-hdf/audit-checkpoint/v1\n{}\n{}\n{}",
            self.seq, self.hash, self.time
        )
        .into_bytes()
    }
}

/// Where the checkpoints of the log at `log` are kept.
pub fn checkpoints_path(log: &Path) -> PathBuf {
    let mut name = log.as_os_str().to_owned();
    name.push(".checkpoints");
    name.into()
}

pub(crate) struct Writer {
    path: PathBuf,
    file: Option<File>,
    signer: Signer,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "checkpoints at {}", self.path.display())
    }
}

impl Writer {
    pub(crate) fn new(log: &Path, signer: Signer) -> Writer {
        Writer {
            path: checkpoints_path(log),
            file: None,
            signer,
        }
    }

    pub(crate) fn write(&mut self, head: &AuditEntry) -> Result<(), AuditError> {
        let io = |source| AuditError::Io {
            path: self.path.clone(),
            source,
        };
        let mut c = Checkpoint {
            seq: head.seq,
            hash: head.hash.clone(),
            time: head.time.clone(),
            certificate: hex::encode(self.signer.certificate()),
            signature: String::new(),
        };
        let signature = self
            .signer
            .sign_bytes(&c.payload())
            .map_err(|e| io(std::io::Error::other(e.to_string())))?;
        c.signature = hex::encode(signature);
        if self.file.is_none() {
            cut_torn_tail(&self.path).map_err(io)?;
            self.file = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)
                    .map_err(io)?,
            );
        }
        let file = self.file.as_mut().expect("opened above");
        let mut line = serde_json::to_vec(&c).expect("checkpoints always serialize");
        line.push(b'\n');
        file.write_all(&line).map_err(io)?;
        file.sync_data().map_err(io)
    }
}

/// A crash while writing a checkpoint leaves a line without its end: cut it off, so that the
/// next checkpoint starts on a line of its own. (The entry it was for is still covered by the
/// chain and the next checkpoint.)
fn cut_torn_tail(path: &Path) -> std::io::Result<()> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Ok(());
    }
    let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let f = OpenOptions::new().write(true).open(path)?;
    f.set_len(keep as u64)?;
    f.sync_all()
}

/// Checks every checkpoint of `text` against `entries` (a verified chain): trusted signer,
/// valid signature, and the entry it vouches for present with that hash. Returns how many
/// checkpoints were checked. A torn last checkpoint line (a crash) is ignored.
pub fn verify_checkpoints(
    entries: &[AuditEntry],
    text: &str,
    origin: &Path,
    trusted: &TrustedSigners,
) -> Result<usize, AuditError> {
    let mut checked = 0;
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let broken = |reason: String| AuditError::Broken {
            path: origin.to_path_buf(),
            line: i as u64 + 1,
            reason,
        };
        let c: Checkpoint = match serde_json::from_str(line) {
            Ok(c) => c,
            Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => break,
            Err(e) => return Err(broken(format!("not a checkpoint ({e})"))),
        };
        let certificate = hex::decode(&c.certificate).unwrap_or_default();
        let signature = hex::decode(&c.signature).unwrap_or_default();
        trusted
            .trusted_identity_for(&certificate, true)
            .map_err(|e| broken(format!("checkpoint signer: {e}")))?;
        crate::signing::verify_bytes(&certificate, &c.payload(), &signature)
            .map_err(|e| broken(format!("checkpoint of entry {}: {e}", c.seq)))?;
        match entries.get(c.seq.saturating_sub(1) as usize) {
            None => {
                return Err(broken(format!(
                    "the log ends at entry {} but a checkpoint signed at {} vouches for entry {}: \
                     the log was cut short",
                    entries.len(),
                    c.time,
                    c.seq
                )));
            }
            Some(e) if e.hash != c.hash => {
                return Err(broken(format!(
                    "entry {} does not have the hash its checkpoint of {} vouches for",
                    c.seq, c.time
                )));
            }
            Some(_) => checked += 1,
        }
    }
    Ok(checked)
}
