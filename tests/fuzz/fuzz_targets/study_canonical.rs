//! Fuzz target `study_canonical`: see `cdg_fuzzing::study_canonical`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cdg_fuzzing::study_canonical(data));
