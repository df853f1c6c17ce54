//! One audit entry and its line: how a new entry is written, its hash covering the exact bytes
//! of its line, and how a line of either format is checked against the hash it carries.
//!
//! Entries written before exact-bytes hashing ([`Format::Reserialized`], lines without a
//! `format` key) hashed the entry serialized again by serde_json, so a change that serializing
//! again undoes (a space, the order of keys) did not show. A new entry ([`Format::ExactBytes`])
//! ends with its hash (`..."format":2,"hash":"<64 hex>"}`), and that hash is SHA-256 of the
//! line as written with the hash value left empty (`..."hash":""}`): any changed byte shows.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How an entry's hash is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub enum Format {
    /// Version 1: the hash of the entry serialized again with an empty hash. Such lines carry
    /// no `format` key.
    #[default]
    Reserialized,
    /// Version 2: the hash of the line's own bytes with the hash value left empty.
    ExactBytes,
}

impl Format {
    fn is_reserialized(&self) -> bool {
        *self == Format::Reserialized
    }
}

impl From<Format> for u32 {
    fn from(f: Format) -> u32 {
        match f {
            Format::Reserialized => 1,
            Format::ExactBytes => 2,
        }
    }
}

impl TryFrom<u32> for Format {
    type Error = String;
    fn try_from(v: u32) -> Result<Format, String> {
        match v {
            1 => Ok(Format::Reserialized),
            2 => Ok(Format::ExactBytes),
            n => Err(format!(
                "entry format {n} is newer than this program: upgrade it to read this log"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    pub seq: u64,
    /// RFC 3339, UTC.
    pub time: String,
    /// What happened: `study.submitted`, `study.run.started`, `node.answered`, ...
    pub kind: String,
    /// Who did it: an identity URI, or `system`.
    pub actor: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub study_id: String,
    pub details: serde_json::Value,
    pub prev_hash: String,
    #[serde(default, skip_serializing_if = "Format::is_reserialized")]
    pub format: Format,
    pub hash: String,
}

impl AuditEntry {
    /// An entry of `kind` on `study_id` by `system`, outside any chain (first, unhashed): what
    /// the tests of the tools that read entries feed them.
    pub fn unsealed(kind: &str, study_id: &str, details: serde_json::Value) -> AuditEntry {
        AuditEntry {
            seq: 1,
            time: "2026-06-15T10:00:00.000Z".into(),
            kind: kind.into(),
            actor: "system".into(),
            study_id: study_id.into(),
            details,
            prev_hash: String::new(),
            format: Format::default(),
            hash: String::new(),
        }
    }
}

/// Why a line is not a valid entry.
#[derive(Debug, Clone, PartialEq)]
pub enum LineError {
    /// Not the JSON of an entry (the parser's words).
    NotAnEntry(String),
    /// Its content does not match its hash; where it claims to be in the chain.
    Edited { seq: u64, prev_hash: String },
}

/// What a written line ends with, around the 64 hex digits of its hash.
const HASH_KEY: &[u8] = b"\"hash\":\"";
const LINE_END: &[u8] = b"\"}";

impl AuditEntry {
    /// Seals a new entry: sets its format and hash, and returns it with its line (without the
    /// end of line), whose bytes the hash covers.
    pub fn seal(mut self) -> (AuditEntry, Vec<u8>) {
        self.format = Format::ExactBytes;
        self.hash = String::new();
        let mut line = serde_json::to_vec(&self).expect("audit entries always serialize");
        debug_assert!(
            line.ends_with(b"\"hash\":\"\"}"),
            "the hash is the last key"
        );
        let hash = hex::encode(Sha256::digest(&line));
        line.truncate(line.len() - LINE_END.len());
        line.extend_from_slice(hash.as_bytes());
        line.extend_from_slice(LINE_END);
        self.hash = hash;
        (self, line)
    }

    /// Reads a line (without its end of line) and checks it against its hash.
    pub fn from_line(line: &[u8]) -> Result<AuditEntry, LineError> {
        let entry: AuditEntry =
            serde_json::from_slice(line).map_err(|e| LineError::NotAnEntry(e.to_string()))?;
        let computed = match entry.format {
            Format::Reserialized => Some(entry.reserialized_hash()),
            Format::ExactBytes => exact_hash(line, &entry.hash),
        };
        if computed.as_deref() == Some(entry.hash.as_str()) {
            Ok(entry)
        } else {
            Err(LineError::Edited {
                seq: entry.seq,
                prev_hash: entry.prev_hash,
            })
        }
    }

    /// The hash of version 1: the entry serialized again, its hash empty.
    fn reserialized_hash(&self) -> String {
        let mut unhashed = self.clone();
        unhashed.hash = String::new();
        let body = serde_json::to_vec(&unhashed).expect("audit entries always serialize");
        hex::encode(Sha256::digest(body))
    }
}

/// The hash of version 2 of a line that ends with `"hash":"<claimed>"}`: SHA-256 of the line
/// with the hash value left empty. `None` when the line does not end that way.
fn exact_hash(line: &[u8], claimed: &str) -> Option<String> {
    let before = line
        .strip_suffix(LINE_END)?
        .strip_suffix(claimed.as_bytes())?;
    if claimed.len() != 64 || !before.ends_with(HASH_KEY) {
        return None;
    }
    let mut digest = Sha256::new();
    digest.update(before);
    digest.update(LINE_END);
    Some(hex::encode(digest.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_entry() -> (AuditEntry, Vec<u8>) {
        AuditEntry {
            seq: 1,
            time: "2026-06-15T10:00:00.000Z".into(),
            kind: "study.submitted".into(),
            actor: "system".into(),
            study_id: "S-0123456789ab".into(),
            details: serde_json::json!({"a": 1, "b": "x y"}),
            prev_hash: GENESIS.into(),
            format: Format::Reserialized,
            hash: String::new(),
        }
        .seal()
    }

    #[test]
    fn a_sealed_line_verifies_and_ends_with_its_hash() {
        let (entry, line) = new_entry();
        assert_eq!(AuditEntry::from_line(&line).unwrap(), entry);
        let text = String::from_utf8(line).unwrap();
        assert!(text.ends_with(&format!("\"format\":2,\"hash\":\"{}\"}}", entry.hash)));
    }

    #[test]
    fn a_byte_that_serializing_again_would_hide_breaks_a_new_entry() {
        let (_, line) = new_entry();
        let text = String::from_utf8(line).unwrap();
        let spaced = text.replacen("\"a\":1", "\"a\": 1", 1);
        let reordered = text.replacen("\"a\":1,\"b\":\"x y\"", "\"b\":\"x y\",\"a\":1", 1);
        for changed in [spaced, reordered] {
            assert_ne!(changed, text);
            assert!(
                matches!(
                    AuditEntry::from_line(changed.as_bytes()),
                    Err(LineError::Edited { seq: 1, .. })
                ),
                "{changed}"
            );
        }
    }

    #[test]
    fn a_key_added_or_repeated_is_not_an_entry() {
        let (_, line) = new_entry();
        let text = String::from_utf8(line).unwrap();
        for changed in [
            text.replacen("{", "{\"approved\":true,", 1),
            text.replacen("{", "{\"seq\":9,", 1),
        ] {
            assert!(matches!(
                AuditEntry::from_line(changed.as_bytes()),
                Err(LineError::NotAnEntry(_))
            ));
        }
    }
}
