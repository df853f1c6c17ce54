//! The one error type of this crate.

use std::io;
use std::path::{Path, PathBuf};

/// Everything that can go wrong while generating or issuing development certificates.
///
/// Every variant that concerns a file names it, so that the message alone tells what to fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Some of the files `generate` would write already exist and `force` was not set.
    #[error(
        "{} already holds development PKI files ({}); use --force to replace them, or choose another folder",
        .dir.display(),
        file_names(.files)
    )]
    AlreadyExists {
        /// The output folder.
        dir: PathBuf,
        /// The files found there that would have been replaced.
        files: Vec<PathBuf>,
    },

    /// The output folder cannot be created.
    #[error("cannot create folder {}: {source}", .path.display())]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// The underlying I/O error.
        source: io::Error,
    },

    /// A file cannot be written (or its temporary copy renamed into place).
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        /// The file that was being written.
        path: PathBuf,
        /// The underlying I/O error.
        source: io::Error,
    },

    /// A file cannot be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The file that was being read.
        path: PathBuf,
        /// The underlying I/O error.
        source: io::Error,
    },

    /// The CA certificate or key found on disk cannot be used to sign certificates.
    #[error("{} cannot be used as the federation CA: {reason}", .path.display())]
    BadCa {
        /// The offending file (`ca.pem` or `ca.key`).
        path: PathBuf,
        /// Why it was rejected.
        reason: String,
    },

    /// Key generation or certificate signing failed.
    #[error("cannot create the {what}: {source}")]
    Certificate {
        /// What was being created, e.g. "certificate for urn:cdg-hdf:node:59".
        what: String,
        /// The underlying rcgen error.
        source: rcgen::Error,
    },

    /// The requested validity period is empty or cannot be represented in a certificate.
    #[error("invalid validity period: {0}")]
    InvalidValidity(String),

    /// The operating system's random number generator failed.
    #[error("cannot draw random bytes from the operating system: {0}")]
    Random(String),
}

/// Lists files by their name (they all live in the folder the message already names).
fn file_names(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|f| {
            f.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| f.display().to_string())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Error {
    pub(crate) fn write(path: &Path, source: io::Error) -> Self {
        Error::Write {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn read(path: &Path, source: io::Error) -> Self {
        Error::Read {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn certificate(what: impl Into<String>, source: rcgen::Error) -> Self {
        Error::Certificate {
            what: what.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn already_exists_names_the_files_and_the_way_out() {
        let err = Error::AlreadyExists {
            dir: PathBuf::from("/tmp/pki"),
            files: vec![
                PathBuf::from("/tmp/pki/ca.pem"),
                PathBuf::from("/tmp/pki/node-59.key"),
            ],
        };
        let msg = err.to_string();
        assert!(msg.contains("/tmp/pki"), "{msg}");
        assert!(msg.contains("ca.pem, node-59.key"), "{msg}");
        assert!(
            msg.contains("use --force to replace them, or choose another folder"),
            "{msg}"
        );
    }
}
