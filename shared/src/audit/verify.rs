//! Checking a log's chain entry by entry as its lines come, naming the first entry that breaks
//! it and how. Only the chain head and the next sequence number are kept, so a log of any
//! length is checked in the memory of its longest line.

use std::io::BufRead;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use super::AuditError;
use super::entry::{AuditEntry, Format, GENESIS, LineError};

/// The state of a chain being checked: what the next entry must say.
#[derive(Debug, Clone)]
pub struct Chain {
    origin: PathBuf,
    prev: String,
    next_seq: u64,
    /// An entry of the exact-bytes format was seen: every later one must be too.
    exact_seen: bool,
}

impl Chain {
    /// A chain from its first entry; `origin` names the log in errors.
    pub fn new(origin: &Path) -> Chain {
        Chain {
            origin: origin.to_path_buf(),
            prev: GENESIS.to_string(),
            next_seq: 1,
            exact_seen: false,
        }
    }

    /// Checks the next line (without its end of line) and returns its entry.
    pub fn check(&mut self, line: &[u8]) -> Result<AuditEntry, AuditError> {
        let line_no = self.next_seq;
        let entry = match AuditEntry::from_line(line) {
            Ok(e) => e,
            Err(LineError::NotAnEntry(e)) => {
                return Err(self.broken(format!("not an audit entry ({e}): the line was altered")));
            }
            Err(LineError::Edited { seq, prev_hash }) => {
                // Out of place is said first, as for an entry that matches its hash.
                self.in_place(seq, &prev_hash)?;
                return Err(self.broken(format!(
                    "entry {line_no}'s content does not match its hash: it was edited"
                )));
            }
        };
        self.in_place(entry.seq, &entry.prev_hash)?;
        match entry.format {
            Format::ExactBytes => self.exact_seen = true,
            Format::Reserialized if self.exact_seen => {
                return Err(self.broken(format!(
                    "entry {line_no} is in the old format (hash of the entry serialized again) \
                     after entries in the exact-bytes format: it was rewritten"
                )));
            }
            Format::Reserialized => {}
        }
        self.prev = entry.hash.clone();
        self.next_seq += 1;
        Ok(entry)
    }

    /// Checks that an entry claiming `seq` and `prev_hash` comes next.
    fn in_place(&self, seq: u64, prev_hash: &str) -> Result<(), AuditError> {
        let line_no = self.next_seq;
        if seq != line_no {
            return Err(self.broken(format!(
                "sequence number {seq} where {line_no} was expected: an entry was removed, \
                 inserted or moved"
            )));
        }
        if prev_hash != self.prev {
            return Err(self.broken(format!(
                "its prev_hash is not the hash of entry {}: that entry was altered, removed or \
                 reordered",
                line_no.saturating_sub(1)
            )));
        }
        Ok(())
    }

    fn broken(&self, reason: String) -> AuditError {
        AuditError::Broken {
            path: self.origin.clone(),
            line: self.next_seq,
            reason,
        }
    }

    /// Entries checked so far.
    pub fn entries(&self) -> u64 {
        self.next_seq - 1
    }

    /// The hash of the last entry checked (the chain head).
    pub fn head(&self) -> &str {
        &self.prev
    }
}

/// Puts lines back together from chunks cut anywhere.
#[derive(Debug, Default)]
pub struct Lines {
    partial: Vec<u8>,
}

impl Lines {
    /// Calls `f` with each line `chunk` completes (without its end of line).
    pub fn push<E>(
        &mut self,
        mut chunk: &[u8],
        mut f: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        while let Some(end) = chunk.iter().position(|&b| b == b'\n') {
            if self.partial.is_empty() {
                f(&chunk[..end])?;
            } else {
                self.partial.extend_from_slice(&chunk[..end]);
                let line = std::mem::take(&mut self.partial);
                f(&line)?;
            }
            chunk = &chunk[end + 1..];
        }
        self.partial.extend_from_slice(chunk);
        Ok(())
    }

    /// The bytes after the last end of line: a torn last line, or nothing.
    pub fn rest(self) -> Vec<u8> {
        self.partial
    }
}

/// A torn last line: bytes after the last end of line.
#[derive(Debug, Clone, PartialEq)]
pub struct Torn {
    /// Where the torn line starts (the length of the log without it).
    pub offset: u64,
    pub len: u64,
}

/// What a log file holds once checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verified {
    pub entries: u64,
    /// The chain head ([`GENESIS`] for an empty log).
    pub head: String,
    pub torn: Option<Torn>,
}

/// The error for a torn last line after `entries` good ones.
pub(crate) fn torn_error(origin: &Path, entries: u64, bytes: u64) -> AuditError {
    AuditError::Broken {
        path: origin.to_path_buf(),
        line: entries + 1,
        reason: format!(
            "torn final record ({bytes} bytes without an end of line): a crash during a write; \
             the {entries} entries before it verify"
        ),
    }
}

/// Calls `f` with the offset of each line of the file at `path`, the line without its end of
/// line, and whether it had one (only the last may not), until `f` breaks.
pub(crate) fn each_line<E: From<AuditError>>(
    path: &Path,
    mut f: impl FnMut(u64, &[u8], bool) -> Result<ControlFlow<()>, E>,
) -> Result<(), E> {
    let io = |source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    let mut line = Vec::new();
    let mut offset = 0u64;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(io)?;
        if n == 0 {
            return Ok(());
        }
        let complete = line.last() == Some(&b'\n');
        let text = &line[..n - usize::from(complete)];
        if f(offset, text, complete)?.is_break() {
            return Ok(());
        }
        offset += n as u64;
    }
}

/// Checks the chain of the log file at `path`, handing each entry to `on_entry`; a last line
/// without its end of line is reported as torn, not as a break (a crash during a write).
pub fn verify_file<E: From<AuditError>>(
    path: &Path,
    mut on_entry: impl FnMut(AuditEntry) -> Result<(), E>,
) -> Result<Verified, E> {
    let mut chain = Chain::new(path);
    let mut torn = None;
    each_line(path, |offset, line, complete| {
        if !complete {
            torn = Some(Torn {
                offset,
                len: line.len() as u64,
            });
            return Ok::<_, E>(ControlFlow::Break(()));
        }
        on_entry(chain.check(line)?)?;
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(Verified {
        entries: chain.entries(),
        head: chain.head().to_string(),
        torn,
    })
}

/// Verifies a log's chain strictly (a torn last line is reported too, with what verifies
/// before it) and returns its entries. Holds every entry: for tests and small logs; the audit
/// tools read through [`super::LogReader`] instead.
pub fn verify(path: &Path) -> Result<Vec<AuditEntry>, AuditError> {
    let mut entries = Vec::new();
    let verified = verify_file(path, |e| {
        entries.push(e);
        Ok::<_, AuditError>(())
    })?;
    match verified.torn {
        None => Ok(entries),
        Some(torn) => Err(torn_error(path, verified.entries, torn.len)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_cut_anywhere_come_back_whole() {
        let text = b"one\ntwo\nthree\nfour";
        for size in 1..text.len() {
            let mut lines = Lines::default();
            let mut got = Vec::new();
            for chunk in text.chunks(size) {
                lines
                    .push(chunk, |l| {
                        got.push(String::from_utf8(l.to_vec()).unwrap());
                        Ok::<_, ()>(())
                    })
                    .unwrap();
            }
            assert_eq!(got, ["one", "two", "three"]);
            assert_eq!(lines.rest(), b"four");
        }
    }
}
