//! Fuzz target `node_response`: see `cdg_fuzzing::node_response`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cdg_fuzzing::node_response(data));
