//! Fuzz target `import_xlsx`: see `cdg_fuzzing::import_xlsx`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cdg_fuzzing::import_xlsx(data));
