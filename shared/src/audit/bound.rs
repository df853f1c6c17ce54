//! What one audit entry keeps of the text it is given: a log that stores a 10 MB query name
//! in full fills up at once. Texts are cut, never refused (the action, often a refusal, must
//! still be logged), and a cut says so in the entry itself, with the full length and digest of
//! what was there.
//!
//! - A string longer than [`MAX_TEXT`] bytes keeps its first [`MAX_TEXT`] bytes (whole
//!   characters), followed by ` [cut by the audit log: N bytes in all, sha256 H]`.
//! - Details still longer than [`MAX_DETAILS`] bytes once serialized (many strings) are
//!   replaced by `{"cut_by_audit_log": {"bytes": N, "sha256": H}}`.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Longest string kept whole in an entry, bytes.
pub const MAX_TEXT: usize = 4096;
/// Longest details kept, bytes of JSON.
pub const MAX_DETAILS: usize = 64 * 1024;

/// `text`, cut to [`MAX_TEXT`] bytes with a marker when longer.
pub fn bounded_text(text: &str) -> String {
    if text.len() <= MAX_TEXT {
        return text.to_string();
    }
    format!(
        "{} [cut by the audit log: {} bytes in all, sha256 {}]",
        crate::text::prefix(text, MAX_TEXT),
        text.len(),
        hex::encode(Sha256::digest(text.as_bytes()))
    )
}

/// `details` with every string bounded, and replaced by a marker if still too long.
pub fn bounded_details(details: Value) -> Value {
    let details = cut_strings(details);
    let bytes = serde_json::to_vec(&details).expect("JSON values always serialize");
    if bytes.len() <= MAX_DETAILS {
        return details;
    }
    serde_json::json!({"cut_by_audit_log": {
        "bytes": bytes.len(),
        "sha256": hex::encode(Sha256::digest(&bytes)),
    }})
}

fn cut_strings(value: Value) -> Value {
    match value {
        Value::String(s) if s.len() > MAX_TEXT => Value::String(bounded_text(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(cut_strings).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (bounded_text(&k), cut_strings(v)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_text_is_cut_on_a_character_with_its_length_and_digest() {
        let long = "é".repeat(MAX_TEXT); // two bytes each
        let cut = bounded_text(&long);
        assert!(cut.starts_with(&"é".repeat(MAX_TEXT / 2)));
        assert!(
            cut.contains(&format!("{} bytes in all", 2 * MAX_TEXT)),
            "{cut}"
        );
        assert!(cut.len() < MAX_TEXT + 120);
        assert_eq!(bounded_text("court"), "court");
    }

    #[test]
    fn details_of_many_texts_become_one_marker() {
        let big = serde_json::json!({"name": "x".repeat(10 * 1024 * 1024)});
        let cut = bounded_details(big);
        assert!(
            cut["name"]
                .as_str()
                .unwrap()
                .contains("10485760 bytes in all")
        );
        let many: Vec<String> = (0..100).map(|_| "y".repeat(MAX_TEXT)).collect();
        let cut = bounded_details(serde_json::json!({ "many": many }));
        assert!(cut["cut_by_audit_log"]["bytes"].as_u64().unwrap() > MAX_DETAILS as u64);
    }
}
