//! The audit log as its keepers and readers use it: appends, tampering of every kind, crashes,
//! logs of the old format, pages, bounded texts, and a repair after two writers.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::*;
use crate::signing::TrustedSigners;

fn sample_log(dir: &Path) -> PathBuf {
    let path = dir.join("audit.log");
    let mut log = AuditLog::open(&path).unwrap();
    for i in 0..3 {
        log.append(
            "study.submitted",
            "urn:cdg-hdf:charge-de-mission:59",
            "s1",
            serde_json::json!({"i": i}),
        )
        .unwrap();
    }
    path
}

#[test]
fn chain_survives_reopen_and_detects_edits() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample_log(dir.path());
    let mut log = AuditLog::open(&path).unwrap();
    let fourth = log
        .append("x", "system", "", serde_json::json!({}))
        .unwrap();
    assert_eq!(fourth.seq, 4);
    assert_eq!(verify(&path).unwrap().len(), 4);

    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("\"i\":1", "\"i\":7", 1)).unwrap();
    let err = verify(&path).unwrap_err().to_string();
    assert!(err.contains("line 2") && err.contains("edited"), "{err}");

    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&path, format!("{}\n{}\n", lines[0], lines[2])).unwrap();
    let err = verify(&path).unwrap_err().to_string();
    assert!(err.contains("line 2") && err.contains("removed"), "{err}");
    assert!(
        AuditLog::open(&path).is_err(),
        "a broken log is not appended to"
    );
}

/// A log of 5 entries with signed checkpoints, and the CA that trusts its signer.
fn signed_log(dir: &Path) -> (PathBuf, TrustedSigners) {
    let (path, trusted, keys) = signer_in(dir);
    let mut log = AuditLog::open_signed(&path, signer(&keys), |_| {}).unwrap();
    for i in 0..5 {
        log.append("node.outcome", "system", "S-1", serde_json::json!({"i": i}))
            .unwrap();
    }
    (path, trusted)
}

/// Where a signed log goes in `dir`, the CA, and the signer's keys.
fn signer_in(dir: &Path) -> (PathBuf, TrustedSigners, crate::tls::TlsFiles) {
    crate::tls::install_crypto_provider();
    let files = crate::signing::test_director(dir);
    let trusted = TrustedSigners::from_ca_file(&files.ca).unwrap();
    (dir.join("audit.log"), trusted, files)
}

fn signer(keys: &crate::tls::TlsFiles) -> crate::signing::Signer {
    crate::signing::Signer::from_files(keys).unwrap()
}

/// Verifies the file with its checkpoints, as `cdg audit verify --file` does.
fn check(path: &Path, trusted: &TrustedSigners) -> Result<Summary, AuditError> {
    verify_log_file(path, trusted, |_| Ok::<_, AuditError>(()))
}

#[test]
fn every_kind_of_tampering_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (path, trusted) = signed_log(dir.path());
    assert_eq!(check(&path, &trusted).unwrap().checkpoints, 5);
    let original = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = original.lines().collect();
    let rewrite = |ls: Vec<&str>| std::fs::write(&path, ls.join("\n") + "\n").unwrap();

    // One flipped byte in entry 3.
    let mut bytes = original.clone().into_bytes();
    let at = original.find("\"i\":2").unwrap() + 4;
    bytes[at] = b'9';
    std::fs::write(&path, &bytes).unwrap();
    let err = check(&path, &trusted).unwrap_err().to_string();
    assert!(err.contains("line 3") && err.contains("edited"), "{err}");
    // Entry 2 deleted.
    rewrite(vec![lines[0], lines[2], lines[3], lines[4]]);
    let err = check(&path, &trusted).unwrap_err().to_string();
    assert!(err.contains("line 2") && err.contains("removed"), "{err}");
    // Entries 3 and 4 swapped.
    rewrite(vec![lines[0], lines[1], lines[3], lines[2], lines[4]]);
    let err = check(&path, &trusted).unwrap_err().to_string();
    assert!(err.contains("line 3"), "{err}");
    // The last two cut off: the chain holds, the checkpoints do not.
    rewrite(lines[..3].to_vec());
    assert_eq!(verify(&path).unwrap().len(), 3);
    let err = check(&path, &trusted).unwrap_err().to_string();
    assert!(
        err.contains("ends at entry 3") && err.contains("vouches for entry 4"),
        "{err}"
    );
}

#[test]
fn a_torn_last_record_is_reported_then_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let (path, trusted) = signed_log(dir.path());
    // A crash in the middle of writing a sixth entry.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(b"{\"seq\":6,\"time\":\"2026-").unwrap();
    drop(f);
    for err in [
        verify(&path).unwrap_err().to_string(),
        check(&path, &trusted).unwrap_err().to_string(),
    ] {
        assert!(
            err.contains("line 6") && err.contains("torn") && err.contains("5 entries before it"),
            "{err}"
        );
    }
    // Reopening keeps the five, sets the torn bytes aside and says so in entry 6.
    drop(AuditLog::open(&path).unwrap());
    let entries = verify(&path).unwrap();
    assert_eq!(entries.len(), 6);
    assert_eq!(entries[5].kind, "audit.torn_record");
    assert!(path.with_extension("log.torn").is_file());
    assert_eq!(check(&path, &trusted).unwrap().checkpoints, 5);
}

/// Written by the code before exact-bytes hashing (serialized again), four entries with
/// escapes, non-ASCII text, big and floating numbers.
const FORMAT_1: &str = include_str!("fixtures/format1.log");

#[test]
fn a_log_of_the_old_format_still_verifies_and_goes_on_in_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    std::fs::write(&path, FORMAT_1).unwrap();
    let old = verify(&path).unwrap();
    assert_eq!(old.len(), 4);
    assert!(old.iter().all(|e| e.format == Format::Reserialized));
    let mut log = AuditLog::open(&path).unwrap();
    let fifth = log
        .append("x", "system", "", serde_json::json!({"a": 1}))
        .unwrap();
    assert_eq!((fifth.seq, fifth.format), (5, Format::ExactBytes));
    assert_eq!(fifth.prev_hash, old[3].hash);
    assert_eq!(verify(&path).unwrap().len(), 5);

    // What serializing again hides in an old entry, the new one shows.
    let text = std::fs::read_to_string(&path).unwrap();
    let spaced = text.replacen("\"zeta\":1", "\"zeta\": 1", 1);
    std::fs::write(&path, &spaced).unwrap();
    assert_eq!(verify(&path).unwrap().len(), 5, "the old format's weakness");
    let spaced = text.replacen("{\"a\":1}", "{\"a\": 1}", 1);
    std::fs::write(&path, &spaced).unwrap();
    let err = verify(&path).unwrap_err().to_string();
    assert!(err.contains("line 5") && err.contains("edited"), "{err}");
}

#[test]
fn an_old_format_entry_after_new_ones_is_a_rewrite() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample_log(dir.path());
    // Entry 4 written in the old format, chained correctly after three new ones.
    let head = verify(&path).unwrap().pop().unwrap().hash;
    let old: AuditEntry = serde_json::from_str(FORMAT_1.lines().next().unwrap()).unwrap();
    let mut rewritten = AuditEntry {
        seq: 4,
        prev_hash: head,
        hash: String::new(),
        ..old
    };
    let body = serde_json::to_vec(&rewritten).unwrap();
    rewritten.hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(body));
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    writeln!(f, "{}", serde_json::to_string(&rewritten).unwrap()).unwrap();
    let err = verify(&path).unwrap_err().to_string();
    assert!(
        err.contains("line 4") && err.contains("old format"),
        "{err}"
    );
}

/// Reads `path` in pages of `limits` from `from_seq`, as a client of `GetAuditLog` does.
fn pages_of(path: &Path, from_seq: u64, limits: PageLimits) -> Vec<Page> {
    let snapshot = Snapshot::now(path).unwrap();
    Pager::open(&snapshot, from_seq, limits)
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn a_log_read_in_small_pages_verifies_as_the_whole_file_does() {
    let dir = tempfile::tempdir().unwrap();
    let (path, trusted) = signed_log(dir.path());
    let whole = check(&path, &trusted).unwrap();
    for limits in [
        PageLimits::asked(2, usize::MAX),
        PageLimits {
            max_entries: 1000,
            max_bytes: 100,
        },
        PageLimits {
            max_entries: 1,
            max_bytes: 1,
        },
    ] {
        let pages = pages_of(&path, 1, limits);
        assert!(pages.len() >= 3, "{limits:?}");
        assert!(pages.last().unwrap().end && pages.iter().filter(|p| p.end).count() == 1);
        let mut reader = LogReader::new(&path, &trusted);
        let mut seqs = Vec::new();
        for page in &pages {
            reader
                .page(page, |e| {
                    seqs.push(e.seq);
                    Ok::<_, AuditError>(())
                })
                .unwrap();
        }
        assert_eq!(reader.finish().unwrap(), whole, "{limits:?}");
        assert_eq!(seqs, [1, 2, 3, 4, 5]);
    }
    // From entry 4: its line and the next, with their checkpoints only.
    let pages = pages_of(&path, 4, PageLimits::asked(0, usize::MAX));
    let log: Vec<u8> = pages.iter().flat_map(|p| p.log.clone()).collect();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        log,
        text.lines()
            .skip(3)
            .collect::<Vec<_>>()
            .join("\n")
            .into_bytes()
            .into_iter()
            .chain([b'\n'])
            .collect::<Vec<_>>()
    );
    let checkpoints: Vec<u8> = pages.iter().flat_map(|p| p.checkpoints.clone()).collect();
    assert_eq!(checkpoints.iter().filter(|&&b| b == b'\n').count(), 2);
}

#[test]
fn pages_that_stop_before_the_end_are_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let (path, trusted) = signed_log(dir.path());
    let pages = pages_of(&path, 1, PageLimits::asked(2, usize::MAX));
    let mut reader = LogReader::new(Path::new("coordinator"), &trusted);
    for page in &pages[..pages.len() - 1] {
        reader.page(page, |_| Ok::<_, AuditError>(())).unwrap();
    }
    let err = reader.finish().unwrap_err().to_string();
    assert!(
        err.contains("coordinator") && err.contains("stopped before the end"),
        "{err}"
    );
}

#[test]
fn a_ten_megabyte_text_is_kept_cut_with_its_length_and_digest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut log = AuditLog::open(&path).unwrap();
    let name = "q".repeat(10 * 1024 * 1024);
    let e = log
        .append(
            "execute.refused",
            "system",
            &name,
            serde_json::json!({"query_name": name}),
        )
        .unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() < 3 * MAX_TEXT as u64);
    let kept = e.details["query_name"].as_str().unwrap();
    assert!(
        kept.contains("cut by the audit log: 10485760 bytes in all"),
        "{kept:.80}"
    );
    assert!(e.study_id.contains("10485760 bytes in all"));
    assert_eq!(verify(&path).unwrap().len(), 1);
}

#[test]
fn two_writers_break_the_chain_and_a_repair_sets_the_tail_aside() {
    let dir = tempfile::tempdir().unwrap();
    let (path, trusted, keys) = signer_in(dir.path());
    let mut first = AuditLog::open_signed(&path, signer(&keys), |_| {}).unwrap();
    first
        .append("study.submitted", "system", "S-1", serde_json::json!({}))
        .unwrap();
    // A second process opens the same log: both believe they append entry 2.
    let mut second = AuditLog::open_signed(&path, signer(&keys), |_| {}).unwrap();
    for i in 0..3 {
        first
            .append("a", "system", "", serde_json::json!({ "i": i }))
            .unwrap();
        second
            .append("b", "system", "", serde_json::json!({ "i": i }))
            .unwrap();
    }
    drop((first, second));
    let err = AuditLog::open(&path).unwrap_err().to_string();
    assert!(
        err.contains("line 3") && err.contains("sequence number 2"),
        "{err}"
    );

    let plan = repair::plan(&path).unwrap().expect("a break");
    assert_eq!((plan.line, plan.kept, plan.tail.lines), (3, 2, 5));
    // The second writer's checkpoints of entries 2 to 4, and the first one's of 3 and 4.
    assert_eq!(plan.checkpoints.lines, 5);
    let text = plan.describe();
    assert!(
        text.contains("Entries 1 to 2 verify and stay") && text.contains("5 lines"),
        "{text}"
    );
    let (tail_to, tail_sha) = (plan.tail.to.clone(), plan.tail.sha256.clone());
    let repaired = plan.apply(Some(signer(&keys))).unwrap();
    assert_eq!(
        (repaired.seq, repaired.kind.as_str()),
        (3, "audit.repaired")
    );
    assert_eq!(repaired.details["log_set_aside"]["sha256"], tail_sha);
    let aside = std::fs::read(&tail_to).unwrap();
    assert_eq!(
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&aside)),
        tail_sha
    );
    assert_eq!(aside.iter().filter(|&&b| b == b'\n').count(), 5);
    // The log, its checkpoints included, verifies; the server may append again.
    assert_eq!(check(&path, &trusted).unwrap().entries, 3);
    assert!(repair::plan(&path).unwrap().is_none());
}
