//! The coordinator run by CDG 59: accepts studies from the chargé.e de mission, fans their
//! queries out to the nodes over mutual TLS, merges the answers into regional tables, keeps the
//! results and an audit log. Also the `cdg` command-line client. The local network, the demo and
//! the benchmarks are in `cdg-devnet` (`coordinator/devnet`), so the client links no development PKI.

mod access;
pub mod audit_tools;
pub mod bounds;
pub mod chunks;
pub mod client;
pub mod config;
pub mod console;
pub mod coordinator;
pub mod crosscheck;
pub mod decisions;
pub mod error;
pub mod export;
pub mod fanout;
pub mod indicators;
pub mod informing;
pub mod merge;
pub mod metrics;
pub mod notices;
pub mod output;
pub mod pivot;
pub mod plain;
pub mod progress;
pub mod report;
mod runs;
pub mod secure;
pub mod server;
pub mod service;
pub mod state;
pub mod study;
pub mod template;
pub mod workbook;
