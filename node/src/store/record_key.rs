//! The record-key secret: a node's own random key, in a file beside its database, from which
//! every row's record key is computed at import (the cell key method, `disclosure/noise.rs`).
//! The database remembers the secret's fingerprint (`Store::bind_record_key`), so that a node
//! started with another secret is refused instead of giving every answer new noise.

use std::io::{Read, Write};
use std::path::Path;

use crate::error::{NodeError, Result};

/// Where a node keeps its record-key secret unless configured otherwise: beside its database,
/// as `<database>.record-key`.
pub fn default_path(database: &Path) -> std::path::PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".record-key");
    name.into()
}

/// The record-key secret in `path`, created (32 random bytes in hex, readable by the owner
/// only) when the file does not exist yet.
pub fn load(path: &Path) -> Result<String> {
    let fail =
        |e: std::io::Error| NodeError::Internal(format!("record key {}: {e}", path.display()));
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let key = text.trim().to_string();
            if key.len() < 32 || !key.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(NodeError::Internal(format!(
                    "record key {} is not a hex secret of at least 16 bytes; restore it from \
                     the backup (deleting it changes every answer's noise)",
                    path.display()
                )));
            }
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 32];
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(&mut bytes))
                .map_err(fail)?;
            let key = hex::encode(bytes);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(path).map_err(fail)?;
            file.write_all(key.as_bytes()).map_err(fail)?;
            file.sync_all().map_err(fail)?;
            tracing::info!(path = %path.display(), "record key created; back it up with the database");
            Ok(key)
        }
        Err(e) => Err(fail(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_key_is_created_once_private_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.duckdb.record-key");
        let key = load(&path).unwrap();
        assert_eq!(key.len(), 64);
        assert_eq!(load(&path).unwrap(), key, "read back, not recreated");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let other = load(&dir.path().join("other")).unwrap();
        assert_ne!(other, key, "each node draws its own");
        std::fs::write(&path, "not a key").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("restore it from the backup"), "{err}");
    }
}
