//! End-to-end tests: real servers on 127.0.0.1:0, real mutual TLS, real DuckDB files.
//! One test binary, one module per concern.

mod approvals;
mod attacks;
mod auditlog;
mod certificates;
mod client;
mod console;
mod convention;
mod crash;
mod datasets;
mod demo;
mod deploy;
mod faults;
mod governance;
mod identities;
mod indicators;
mod inference;
mod malformed;
mod onewriter;
mod operations;
mod policy;
mod referents;
mod report;
mod secure;
mod security;
mod sites;
mod startup;
mod study;
