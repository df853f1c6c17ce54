//! Fuzz target `study_toml`: see `cdg_fuzzing::study_toml`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cdg_fuzzing::study_toml(data));
