//! One writer per state: an OS lock on a lock file (`flock` on Linux, through
//! [`std::fs::File::try_lock`]) held for as long as a process writes the state. A second
//! process (a coordinator started by mistake on the same `state_dir`, or a repair while the
//! server runs) is refused, with the holder's pid, which the lock file holds. The OS lets go
//! of the lock when its holder dies, however it dies: no stale lock to clean.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
    path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{what} is already in use: {path} is locked by another process ({holder}). Two \
         processes writing it would break its audit chain. Stop that process first, then try \
         again"
    )]
    Held {
        what: String,
        path: PathBuf,
        holder: Holder,
    },
    #[error("cannot lock {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Who holds a lock, as its file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    Pid(u32),
    /// The file does not say (yet): its holder is just starting.
    Unknown,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Holder::Pid(pid) => write!(f, "pid {pid}"),
            Holder::Unknown => write!(f, "pid not written yet"),
        }
    }
}

impl StateLock {
    /// Takes the lock at `path` (creating the file) and writes this process's pid in it;
    /// `what` names the state in the refusal, e.g. "the coordinator's state_dir /var/lib/x".
    pub fn acquire(path: &Path, what: &str) -> Result<StateLock, LockError> {
        let io = |source| LockError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let holder = match file.read_to_string(&mut text) {
                    Ok(_) => text.trim().parse().map_or(Holder::Unknown, Holder::Pid),
                    Err(_) => Holder::Unknown,
                };
                return Err(LockError::Held {
                    what: what.to_string(),
                    path: path.to_path_buf(),
                    holder,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        file.sync_data().map_err(io)?;
        Ok(StateLock {
            _file: file,
            path: path.to_path_buf(),
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid_until_it_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.lock");
        let first = StateLock::acquire(&path, "the test state").unwrap();
        let err = StateLock::acquire(&path, "the test state").unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, LockError::Held { holder: Holder::Pid(p), .. } if p == std::process::id()),
            "{text}"
        );
        assert!(
            text.contains("the test state") && text.contains("Stop that process"),
            "{text}"
        );
        drop(first);
        StateLock::acquire(&path, "the test state").unwrap();
    }
}
