//! Fuzz target `node_answer`: see `cdg_fuzzing::node_answer`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cdg_fuzzing::node_answer(data));
