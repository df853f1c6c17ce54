//! Signed checkpoints of a log's chain head, in `<log>.checkpoints` (one JSON object per line).
//!
//! A checkpoint says "entry `seq` has hash `hash`", signed with the key of the log keeper's
//! certificate. A log cut short no longer holds an entry a checkpoint vouches for; an edited one
//! holds another hash there.

use std::collections::VecDeque;
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
        let line = signed_line(head, &self.signer).map_err(io)?;
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
        file.write_all(&line).map_err(io)?;
        file.sync_data().map_err(io)
    }
}

/// The checkpoint line (with its end of line) vouching for `head`, signed by `signer`.
pub fn signed_line(head: &AuditEntry, signer: &Signer) -> std::io::Result<Vec<u8>> {
    let mut c = Checkpoint {
        seq: head.seq,
        hash: head.hash.clone(),
        time: head.time.clone(),
        certificate: hex::encode(signer.certificate()),
        signature: String::new(),
    };
    let signature = signer
        .sign_bytes(&c.payload())
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    c.signature = hex::encode(signature);
    let mut line = serde_json::to_vec(&c).expect("checkpoints always serialize");
    line.push(b'\n');
    Ok(line)
}

/// A crash while writing a checkpoint leaves a line without its end: cut it off, so that the
/// next checkpoint starts on a line of its own. (The entry it was for is still covered by the
/// chain and the next checkpoint.)
fn cut_torn_tail(path: &Path) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    // Read backwards from the end, a block at a time, to the last end of line.
    let mut end = f.metadata()?.len();
    let mut block = [0u8; 4096];
    let mut keep = 0;
    let mut first = true;
    while end > 0 {
        let start = end.saturating_sub(block.len() as u64);
        let n = (end - start) as usize;
        f.seek(SeekFrom::Start(start))?;
        f.read_exact(&mut block[..n])?;
        if first && block[n - 1] == b'\n' {
            return Ok(());
        }
        first = false;
        if let Some(i) = block[..n].iter().rposition(|&b| b == b'\n') {
            keep = start + i as u64 + 1;
            break;
        }
        end = start;
    }
    if first {
        return Ok(()); // empty
    }
    f.set_len(keep)?;
    f.sync_all()
}

/// Entries whose hashes are kept for the checkpoints that follow them. A checkpoint arrives
/// right after the entry it vouches for (see `pages.rs`), so a window of one page is enough.
const WINDOW: usize = 4096;

/// Checks checkpoints one by one against the entries of a chain as they come: trusted signer,
/// valid signature, and the entry vouched for present with that hash. Keeps the hashes of the
/// last [`WINDOW`] entries and the certificates already found trusted, nothing else.
pub struct CheckpointCheck<'a> {
    origin: PathBuf,
    trusted: &'a TrustedSigners,
    /// Hashes of the last entries, the last one being entry `last_seq`.
    recent: VecDeque<String>,
    last_seq: u64,
    line: u64,
    checked: u64,
    /// Certificates (hex, as in the lines) that chain to the CA.
    trusted_certificates: Vec<String>,
}

impl<'a> CheckpointCheck<'a> {
    /// `origin` names the checkpoints in errors.
    pub fn new(origin: &Path, trusted: &'a TrustedSigners) -> CheckpointCheck<'a> {
        CheckpointCheck {
            origin: origin.to_path_buf(),
            trusted,
            recent: VecDeque::with_capacity(WINDOW),
            last_seq: 0,
            line: 0,
            checked: 0,
            trusted_certificates: Vec::new(),
        }
    }

    /// Notes an entry of the chain (in order).
    pub fn entry(&mut self, e: &AuditEntry) {
        if self.recent.len() == WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(e.hash.clone());
        self.last_seq = e.seq;
    }

    /// Checks the next checkpoint line (without its end of line).
    pub fn check(&mut self, line: &[u8]) -> Result<(), AuditError> {
        self.line += 1;
        let c: Checkpoint = serde_json::from_slice(line)
            .map_err(|e| self.broken(format!("not a checkpoint ({e})")))?;
        let hex_field = |field: &str, text: &str| {
            hex::decode(text).map_err(|e| self.broken(format!("checkpoint {field}: not hex ({e})")))
        };
        let certificate = hex_field("certificate", &c.certificate)?;
        let signature = hex_field("signature", &c.signature)?;
        if !self.trusted_certificates.contains(&c.certificate) {
            self.trusted
                .trusted_identity_for(&certificate, true)
                .map_err(|e| self.broken(format!("checkpoint signer: {e}")))?;
            if self.trusted_certificates.len() == 16 {
                self.trusted_certificates.remove(0);
            }
            self.trusted_certificates.push(c.certificate.clone());
        }
        crate::signing::verify_bytes(&certificate, &c.payload(), &signature)
            .map_err(|e| self.broken(format!("checkpoint of entry {}: {e}", c.seq)))?;
        if c.seq > self.last_seq {
            return Err(self.broken(format!(
                "the log ends at entry {} but a checkpoint signed at {} vouches for entry {}: \
                 the log was cut short",
                self.last_seq, c.time, c.seq
            )));
        }
        // The window holds consecutive entries, the last one `last_seq`.
        let back = (self.last_seq - c.seq) as usize;
        let kept = back
            .checked_add(1)
            .and_then(|n| self.recent.len().checked_sub(n))
            .and_then(|i| self.recent.get(i));
        match kept {
            None => Err(self.broken(format!(
                "the checkpoint of entry {} comes after entry {}: checkpoints were reordered, or \
                 two processes wrote this log",
                c.seq, self.last_seq
            ))),
            Some(hash) if *hash != c.hash => Err(self.broken(format!(
                "entry {} does not have the hash its checkpoint of {} vouches for",
                c.seq, c.time
            ))),
            Some(_) => {
                self.checked += 1;
                Ok(())
            }
        }
    }

    fn broken(&self, reason: String) -> AuditError {
        AuditError::Broken {
            path: self.origin.clone(),
            line: self.line,
            reason,
        }
    }

    /// How many checkpoints were checked.
    pub fn checked(&self) -> u64 {
        self.checked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_checkpoint_line_is_cut_off_whatever_its_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c");
        for (text, kept) in [
            ("", ""),
            ("a\nb\n", "a\nb\n"),
            ("a\nb\ntorn", "a\nb\n"),
            ("torn", ""),
        ] {
            std::fs::write(&path, text).unwrap();
            cut_torn_tail(&path).unwrap();
            assert_eq!(std::fs::read_to_string(&path).unwrap(), kept, "{text:?}");
        }
        let long = format!("a\n{}", "x".repeat(10_000));
        std::fs::write(&path, &long).unwrap();
        cut_torn_tail(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\n");
        cut_torn_tail(&dir.path().join("none")).unwrap();
    }
}
