//! Fuzz target `audit_log`: see `cdg_fuzzing::audit_log`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cdg_fuzzing::audit_log(data));
