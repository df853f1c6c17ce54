//! Crash-safe file writing: every file goes to a temporary name in its final folder, created
//! with its final permissions, then is renamed into place.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::profile::random_bytes;

/// Permissions of a file to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Readable by everyone (certificates, README): 0644.
    Public,
    /// Readable by the owner only (private keys): 0600.
    Secret,
}

impl Mode {
    fn bits(self) -> u32 {
        match self {
            Mode::Public => 0o644,
            Mode::Secret => 0o600,
        }
    }
}

/// A file to write.
#[derive(Debug)]
pub(crate) struct Pending {
    pub path: PathBuf,
    pub contents: String,
    pub mode: Mode,
}

impl Pending {
    pub fn new(path: PathBuf, contents: String, mode: Mode) -> Self {
        Pending {
            path,
            contents,
            mode,
        }
    }
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Writes `file` to a fresh temporary name next to its destination and returns that name.
fn stage(file: &Pending) -> Result<PathBuf, Error> {
    let name = file.path.file_name().ok_or_else(|| {
        Error::write(
            &file.path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"),
        )
    })?;
    let mut nonce = [0u8; 8];
    random_bytes(&mut nonce)?;
    let nonce: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = parent_of(&file.path).join(format!(".{}.{nonce}.tmp", name.to_string_lossy()));

    let result = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(file.mode.bits())
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(file.contents.as_bytes())?;
            f.sync_all()
        });
    match result {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(Error::write(&file.path, e))
        }
    }
}

fn remove_all(tmps: &[PathBuf]) {
    for tmp in tmps {
        let _ = fs::remove_file(tmp);
    }
}

/// Writes every file: first all of them to temporary names, then renames them all into place,
/// then syncs their folders. A crash never leaves a half-written file under a final name; on
/// error the temporary files are removed.
pub(crate) fn write_all(files: &[Pending]) -> Result<(), Error> {
    let mut staged = Vec::with_capacity(files.len());
    for file in files {
        match stage(file) {
            Ok(tmp) => staged.push(tmp),
            Err(e) => {
                remove_all(&staged);
                return Err(e);
            }
        }
    }
    for (i, (tmp, file)) in staged.iter().zip(files).enumerate() {
        if let Err(e) = fs::rename(tmp, &file.path) {
            remove_all(&staged[i..]);
            return Err(Error::write(&file.path, e));
        }
    }
    let mut dirs: Vec<&Path> = files.iter().map(|f| parent_of(&f.path)).collect();
    dirs.sort();
    dirs.dedup();
    for dir in dirs {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::write(dir, e))?;
    }
    Ok(())
}
