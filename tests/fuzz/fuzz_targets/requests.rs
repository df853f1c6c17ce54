//! Fuzz target `requests`: see `cdg_fuzzing::requests`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cdg_fuzzing::requests(data));
