//! What the node and the coordinator both need: the wire contract, the federation's identities
//! and mutual TLS, configuration loading, Arrow IPC, the query model, the catalogue of datasets
//! and the audit chain.

pub mod arrow_ipc;
pub mod audit;
pub mod bench;
pub mod catalogue;
pub mod cdg;
pub mod cellkey;
pub mod certcheck;
pub mod codes;
pub mod federation;
pub mod fields;
pub mod guard;
pub mod identity;
pub mod indicator;
pub mod lock;
pub mod logging;
pub mod metrics;
pub mod proto;
pub mod query;
pub mod revocation;
pub mod secure_sum;
pub mod serving;
pub mod settings;
pub mod signing;
pub mod study;
pub mod text;
pub mod tls;
