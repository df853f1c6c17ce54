//! Reading a log page by page as the pages arrive, and verifying it on the way: the chain, then
//! the checkpoints. Only the chain head, the hashes of the latest entries and the line being
//! put together are kept, so a log of a million entries is verified in the memory of a page.

use std::path::{Path, PathBuf};

use super::checkpoint::CheckpointCheck;
use super::pages::{Page, PageLimits, Pager, Snapshot};
use super::verify::{Chain, Lines, torn_error};
use super::{AuditEntry, AuditError, checkpoints_path};
use crate::signing::TrustedSigners;

/// What a verified log holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub entries: u64,
    /// Checkpoints checked.
    pub checkpoints: u64,
    /// The hash of the last entry.
    pub head: String,
}

/// Verifies the pages of one log, in order.
pub struct LogReader<'a> {
    origin: PathBuf,
    lines: Lines,
    checkpoint_lines: Lines,
    chain: Chain,
    checkpoints: CheckpointCheck<'a>,
    ended: bool,
}

impl<'a> LogReader<'a> {
    /// `origin` names the log in errors (a file, or `coordinator`); checkpoints must chain to
    /// `trusted`.
    pub fn new(origin: &Path, trusted: &'a TrustedSigners) -> LogReader<'a> {
        LogReader {
            origin: origin.to_path_buf(),
            lines: Lines::default(),
            checkpoint_lines: Lines::default(),
            chain: Chain::new(origin),
            checkpoints: CheckpointCheck::new(&checkpoints_path(origin), trusted),
            ended: false,
        }
    }

    /// Verifies the next page, handing each entry to `on_entry` once its chain holds.
    pub fn page<E: From<AuditError>>(
        &mut self,
        page: &Page,
        mut on_entry: impl FnMut(AuditEntry) -> Result<(), E>,
    ) -> Result<(), E> {
        let (chain, checkpoints) = (&mut self.chain, &mut self.checkpoints);
        self.lines.push(&page.log, |line| {
            let entry = chain.check(line)?;
            checkpoints.entry(&entry);
            on_entry(entry)
        })?;
        self.checkpoint_lines
            .push(&page.checkpoints, |line| checkpoints.check(line))?;
        self.ended |= page.end;
        Ok(())
    }

    /// After the last page: the log's summary, or why it is incomplete. A torn last
    /// checkpoint line (a crash) is ignored; a torn last entry is reported.
    pub fn finish(self) -> Result<Summary, AuditError> {
        if !self.ended {
            return Err(AuditError::Incomplete {
                origin: self.origin,
            });
        }
        let rest = self.lines.rest();
        if !rest.is_empty() {
            return Err(torn_error(
                &self.origin,
                self.chain.entries(),
                rest.len() as u64,
            ));
        }
        Ok(Summary {
            entries: self.chain.entries(),
            checkpoints: self.checkpoints.checked(),
            head: self.chain.head().to_string(),
        })
    }
}

/// Verifies the log file at `path` and its checkpoints beside it, in the pages a server would
/// send, handing each entry to `on_entry`.
pub fn verify_log_file<E: From<AuditError>>(
    path: &Path,
    trusted: &TrustedSigners,
    mut on_entry: impl FnMut(AuditEntry) -> Result<(), E>,
) -> Result<Summary, E> {
    let io = |source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    };
    let snapshot = Snapshot::now(path).map_err(io)?;
    let mut reader = LogReader::new(path, trusted);
    for page in Pager::open(&snapshot, 1, PageLimits::asked(0, usize::MAX)).map_err(io)? {
        reader.page(&page.map_err(io)?, &mut on_entry)?;
    }
    Ok(reader.finish()?)
}
