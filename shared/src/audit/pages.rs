//! A log and its checkpoints read in pages from an entry on, as `GetAuditLog` streams them and
//! as `cdg audit --file` reads a file: the same pages either way, so that one reader verifies
//! both.
//!
//! A page holds the log's bytes as on disk, continuing the previous page's: it ends after a
//! whole entry, or inside an entry too long for one page. After each entry come the checkpoint
//! lines that vouch for it (or for an earlier one), so that a reader needs only the hashes of
//! the latest entries to check them. Checkpoints for entries the log does not hold (a log cut
//! short) come after the last entry, then a page marked `end`. A page holds at most
//! `max_entries` entries and about `max_bytes` bytes; one checkpoint line is cut at
//! [`MAX_CHECKPOINT_LINE`] bytes (a real one is about 1.5 KB).
//!
//! The files are read up to the lengths of a [`Snapshot`], taken while no entry is being
//! appended: entries appended during the reading are left for the next one.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Take};
use std::path::{Path, PathBuf};

use super::checkpoints_path;

/// Most entries a page holds, whatever the request asks.
pub const MAX_PAGE_ENTRIES: u32 = 1000;
/// About the most bytes a page holds, when the message limit (16 MiB by default) allows.
pub const MAX_PAGE_BYTES: usize = 1024 * 1024;
/// Longest checkpoint line sent whole.
pub const MAX_CHECKPOINT_LINE: usize = 64 * 1024;

/// One page (see the module's documentation).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub log: Vec<u8>,
    pub checkpoints: Vec<u8>,
    /// The last page: the log ends here.
    pub end: bool,
}

/// A log's files and their lengths at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub log: PathBuf,
    pub log_len: u64,
    pub checkpoints_len: u64,
}

impl Snapshot {
    /// The log at `log` and its checkpoints as they are now (missing files are empty). The
    /// caller makes sure no entry is being appended.
    pub fn now(log: &Path) -> std::io::Result<Snapshot> {
        let len = |p: &Path| match std::fs::metadata(p) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e),
        };
        Ok(Snapshot {
            log: log.to_path_buf(),
            log_len: len(log)?,
            checkpoints_len: len(&checkpoints_path(log))?,
        })
    }
}

/// Limits of one page.
#[derive(Debug, Clone, Copy)]
pub struct PageLimits {
    pub max_entries: u32,
    pub max_bytes: usize,
}

impl PageLimits {
    /// The server's limits, lowered to `max_entries` if the request asks (0: no wish), and a
    /// page's bytes to a quarter of `message_limit` if that is less than [`MAX_PAGE_BYTES`].
    pub fn asked(max_entries: u32, message_limit: usize) -> PageLimits {
        PageLimits {
            max_entries: match max_entries {
                0 => MAX_PAGE_ENTRIES,
                n => n.min(MAX_PAGE_ENTRIES),
            },
            max_bytes: MAX_PAGE_BYTES.min(message_limit / 4).max(1),
        }
    }
}

type Reader = BufReader<Take<File>>;

/// Reads a snapshot in pages; an iterator of pages, the last one marked `end`.
pub struct Pager {
    log: Option<Reader>,
    checkpoints: Option<Reader>,
    /// The next checkpoint line, read ahead, and the entry it vouches for (`None`: unreadable,
    /// sent at once for the reader to report).
    next_checkpoint: Option<(Option<u64>, Vec<u8>)>,
    /// The last entry whose line was read whole.
    done_seq: u64,
    from_seq: u64,
    limits: PageLimits,
    ended: bool,
}

fn open_taken(path: &Path, len: u64) -> std::io::Result<Option<Reader>> {
    if len == 0 {
        return Ok(None);
    }
    Ok(Some(BufReader::with_capacity(
        1 << 16,
        File::open(path)?.take(len),
    )))
}

/// Appends to `out` the bytes up to and including the next end of line, at most `limit` of
/// them. Returns how many were appended and whether they end the line.
fn read_line_part(
    r: &mut impl BufRead,
    limit: usize,
    out: &mut Vec<u8>,
) -> std::io::Result<(usize, bool)> {
    let mut read = 0;
    while read < limit {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok((read, false));
        }
        let room = buf.len().min(limit - read);
        let (n, whole) = match buf[..room].iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (room, false),
        };
        out.extend_from_slice(&buf[..n]);
        r.consume(n);
        read += n;
        if whole {
            return Ok((read, true));
        }
    }
    Ok((read, false))
}

/// Skips the rest of the current line.
fn skip_line(r: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                r.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = buf.len();
                r.consume(n);
            }
        }
    }
}

impl Pager {
    /// Pages of `snapshot` from entry `from_seq` (1 for the whole log) on.
    pub fn open(snapshot: &Snapshot, from_seq: u64, limits: PageLimits) -> std::io::Result<Pager> {
        let mut log = open_taken(&snapshot.log, snapshot.log_len)?;
        if let Some(r) = log.as_mut() {
            for _ in 1..from_seq {
                skip_line(r)?;
            }
        }
        Ok(Pager {
            log,
            checkpoints: open_taken(&checkpoints_path(&snapshot.log), snapshot.checkpoints_len)?,
            next_checkpoint: None,
            done_seq: from_seq.saturating_sub(1),
            from_seq: from_seq.max(1),
            limits,
            ended: false,
        })
    }

    /// The next checkpoint line vouching for an entry from `from_seq` on, read ahead.
    fn peek_checkpoint(&mut self) -> std::io::Result<Option<&(Option<u64>, Vec<u8>)>> {
        while self.next_checkpoint.is_none() {
            let Some(r) = self.checkpoints.as_mut() else {
                return Ok(None);
            };
            let mut line = Vec::new();
            let (n, whole) = read_line_part(r, MAX_CHECKPOINT_LINE, &mut line)?;
            if n == 0 {
                self.checkpoints = None;
                return Ok(None);
            }
            if !whole && line.len() == MAX_CHECKPOINT_LINE {
                skip_line(r)?;
                line.push(b'\n');
            }
            #[derive(serde::Deserialize)]
            struct Seq {
                seq: u64,
            }
            let seq = serde_json::from_slice::<Seq>(&line).ok().map(|s| s.seq);
            if seq.is_none_or(|s| s >= self.from_seq) {
                self.next_checkpoint = Some((seq, line));
            }
        }
        Ok(self.next_checkpoint.as_ref())
    }

    /// Moves the checkpoints due (vouching for entries up to `upto`, or all) into `page`
    /// while it has room. Returns whether some are left that are due.
    fn due_checkpoints(&mut self, page: &mut Page, upto: Option<u64>) -> std::io::Result<bool> {
        while let Some((seq, _)) = self.peek_checkpoint()? {
            if upto.is_some_and(|u| seq.is_some_and(|s| s > u)) {
                return Ok(false);
            }
            if page.log.len() + page.checkpoints.len() >= self.limits.max_bytes {
                return Ok(true);
            }
            let (_, line) = self.next_checkpoint.take().expect("peeked");
            page.checkpoints.extend_from_slice(&line);
        }
        Ok(false)
    }

    fn next_page(&mut self) -> std::io::Result<Page> {
        let mut page = Page::default();
        let mut entries = 0;
        // Checkpoints due that did not fit in the last page come first.
        if self.log.is_some() && self.due_checkpoints(&mut page, Some(self.done_seq))? {
            return Ok(page);
        }
        while let Some(log) = self.log.as_mut() {
            if entries >= self.limits.max_entries {
                return Ok(page);
            }
            let room = self
                .limits
                .max_bytes
                .saturating_sub(page.log.len() + page.checkpoints.len());
            if room == 0 {
                return Ok(page);
            }
            let (n, whole) = read_line_part(log, room, &mut page.log)?;
            if n == 0 {
                self.log = None;
                break;
            }
            if whole {
                entries += 1;
                self.done_seq += 1;
                if self.due_checkpoints(&mut page, Some(self.done_seq))? {
                    return Ok(page);
                }
            }
        }
        // The log is read: the checkpoints left vouch for entries it does not hold.
        if !self.due_checkpoints(&mut page, None)? {
            page.end = true;
            self.ended = true;
        }
        Ok(page)
    }
}

impl Iterator for Pager {
    type Item = std::io::Result<Page>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        let page = self.next_page();
        if page.is_err() {
            self.ended = true;
        }
        Some(page)
    }
}
