//! The entry points of the fuzz targets. Each takes untrusted bytes the way the network or an
//! import takes them (a study file, a study's canonical encoding, a node's Arrow answer, a gRPC
//! request, an audit log, a CSV, XLSX or Parquet export) and must return, whatever the bytes, without panicking: every failure is an
//! error value. `tests/fuzz` runs them under libFuzzer (`cargo +nightly fuzz run`), and
//! `tests/replay.rs` runs every file of their corpus on stable, as a regression test.

mod answer;
mod import;
mod requests;

use std::path::Path;

pub use answer::{node_answer, node_response};
pub use import::{import_csv, import_parquet, import_xlsx};
pub use requests::requests;

use cdg_shared::study::Study;

/// A fuzz target: its name (the folder of its corpus) and its entry point.
pub type Target = (&'static str, fn(&[u8]));

/// Every target, by the name of its corpus folder (`tests/fuzz/corpus/<name>`).
pub const TARGETS: [Target; 9] = [
    ("study_toml", study_toml),
    ("study_canonical", study_canonical),
    ("node_answer", node_answer),
    ("node_response", node_response),
    ("requests", requests),
    ("audit_log", audit_log),
    ("import_csv", import_csv),
    ("import_xlsx", import_xlsx),
    ("import_parquet", import_parquet),
];

/// A study file as the chargé.e de mission submits it: parsed, normalized, and its canonical
/// encoding read back to the same study and digest.
pub fn study_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(study) = Study::from_toml(text) {
        let canonical = study.canonical();
        let again: Study = serde_json::from_slice(&canonical)
            .unwrap_or_else(|e| panic!("a canonical encoding that does not read back: {e}"));
        assert_eq!(
            again.digest(),
            study.digest(),
            "the digest changed on the way back"
        );
        assert_eq!(
            again.canonical(),
            canonical,
            "the canonical encoding is not stable"
        );
    }
}

/// A study's canonical encoding as a node receives it with a query: read, re-encoded, and its
/// id and digest computed.
pub fn study_canonical(data: &[u8]) {
    if let Ok(study) = serde_json::from_slice::<Study>(data) {
        let _ = (study.canonical() == data, study.digest(), study.id());
        for query in &study.queries {
            let _ = query.query.result_schema();
        }
    }
}

/// An audit log as `cdg audit verify` reads it: lines put back together from chunks, each
/// checked against the chain of those before it.
pub fn audit_log(data: &[u8]) {
    let mut chain = cdg_shared::audit::Chain::new(Path::new("fuzzed.audit.log"));
    let mut lines = cdg_shared::audit::Lines::default();
    // Cut where a page of GetAuditLog might end, to go through the reassembly too.
    let (first, second) = data.split_at(data.len() / 2);
    let mut check = |line: &[u8]| chain.check(line).map(drop);
    let _ = lines
        .push(first, &mut check)
        .and_then(|()| lines.push(second, &mut check));
}
