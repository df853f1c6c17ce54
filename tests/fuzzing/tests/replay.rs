//! Every input the fuzzers kept (`tests/fuzz/corpus/<target>/`), and every crash they found
//! once (`tests/fuzz/regressions/<target>/`), run again through its target on stable Rust: a
//! regression test of seconds. `cargo +nightly fuzz run` (README) grows the corpus.

use std::path::PathBuf;

fn inputs(folder: &str, target: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz")
        .join(folder)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    files.sort();
    files
}

#[test]
fn every_kept_fuzz_input_runs_through_its_target_without_panicking() {
    let mut total = 0;
    for (target, run) in cdg_fuzzing::TARGETS {
        let files = inputs("corpus", target);
        assert!(
            !files.is_empty(),
            "no corpus for {target}: run the fuzzer (README)"
        );
        for file in files.iter().chain(&inputs("regressions", target)) {
            let data = std::fs::read(file).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{target} panics on {}", file.display());
            total += 1;
        }
    }
    eprintln!("{total} fuzz inputs replayed");
}
