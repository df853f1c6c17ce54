//! Checking a log's chain, naming the first entry that breaks it and how.

use std::path::Path;

use super::{AuditEntry, AuditError, GENESIS};

/// A torn last line: bytes after the last newline that are not a whole entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Torn {
    /// Where the torn line starts (the length of the log without it).
    pub offset: u64,
    pub bytes: Vec<u8>,
}

/// The entries of a log whose chain holds, and a torn last line if there is one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verified {
    pub entries: Vec<AuditEntry>,
    pub torn: Option<Torn>,
}

/// Verifies a log strictly: a torn last line is reported too (with what verifies before it).
pub fn verify(path: &Path) -> Result<Vec<AuditEntry>, AuditError> {
    let verified = verify_file(path)?;
    match verified.torn {
        None => Ok(verified.entries),
        Some(torn) => Err(AuditError::Broken {
            path: path.to_path_buf(),
            line: verified.entries.len() as u64 + 1,
            reason: format!(
                "torn final record ({} bytes without an end of line): a crash during a write; \
                 the {} entries before it verify",
                torn.bytes.len(),
                verified.entries.len()
            ),
        }),
    }
}

pub(crate) fn verify_file(path: &Path) -> Result<Verified, AuditError> {
    let bytes = std::fs::read(path).map_err(|source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    verify_bytes(&bytes, path)
}

/// Verifies the text of a log (`origin` names it in errors).
pub fn verify_bytes(bytes: &[u8], origin: &Path) -> Result<Verified, AuditError> {
    let mut verified = Verified::default();
    let mut prev = GENESIS.to_string();
    let mut offset = 0usize;
    let mut line_no = 0u64;
    while offset < bytes.len() {
        line_no += 1;
        let (line, complete) = match bytes[offset..].iter().position(|&b| b == b'\n') {
            Some(end) => (&bytes[offset..offset + end], true),
            None => (&bytes[offset..], false),
        };
        let broken = |reason: String| AuditError::Broken {
            path: origin.to_path_buf(),
            line: line_no,
            reason,
        };
        let entry: AuditEntry = match serde_json::from_slice(line) {
            Ok(e) => e,
            Err(_) if !complete => {
                verified.torn = Some(Torn {
                    offset: offset as u64,
                    bytes: line.to_vec(),
                });
                break;
            }
            Err(e) => {
                return Err(broken(format!(
                    "not an audit entry ({e}): the line was altered"
                )));
            }
        };
        if entry.seq != line_no {
            return Err(broken(format!(
                "sequence number {} where {line_no} was expected: an entry was removed, inserted \
                 or moved",
                entry.seq
            )));
        }
        if entry.prev_hash != prev {
            return Err(broken(format!(
                "its prev_hash is not the hash of entry {}: that entry was altered, removed or \
                 reordered",
                line_no.saturating_sub(1)
            )));
        }
        if entry.compute_hash() != entry.hash {
            return Err(broken(format!(
                "entry {line_no}'s content does not match its hash: it was edited"
            )));
        }
        prev = entry.hash.clone();
        verified.entries.push(entry);
        offset += line.len() + usize::from(complete);
    }
    Ok(verified)
}
