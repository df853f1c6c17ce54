//! Fuzz target `import_parquet`: see `cdg_fuzzing::import_parquet`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cdg_fuzzing::import_parquet(data));
