//! Fuzz target `import_csv`: see `cdg_fuzzing::import_csv`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cdg_fuzzing::import_csv(data));
