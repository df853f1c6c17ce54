//! A CDG's node: keeps the CDG's HR data in its own DuckDB file and answers only aggregated,
//! disclosure-controlled queries, over gRPC with mutual TLS, to the federation's coordinator.

pub mod answering;
pub mod approval;
pub mod audit;
pub mod bench;
/// The catalogue and its code lists live in `cdg-shared`, which the coordinator and the client
/// read too; the node's code names them as its own.
pub use cdg_shared::{catalogue, codes};
pub mod columns;
pub mod compile;
pub mod config;
pub mod convention;
pub mod disclosure;
pub mod error;
pub mod ingest;
pub mod metrics;
pub mod server;
pub mod service;
pub mod store;
