//! A whole observatory network on one machine, for the people who develop and try it:
//! development certificates, synthetic data loaded through the real import, five nodes (or a
//! hundred) and the coordinator as separate processes on loopback. `cdg-dev demo` runs the
//! key-figures study on it, `cdg-dev try` an analyst's own study, `cdg-dev bench` measures it.
//!
//! A crate of its own so that the `cdg` client and the servers never link the development PKI
//! (`cdg-certs-dev`) nor the process supervisor's Unix signals.

pub mod bench;
pub mod demo;
pub mod localnet;
pub mod supervisor;
