//! Structured logs through `tracing`; the level comes from `RUST_LOG` (default `info`).
//! Logs carry identifiers and counts, never row-level data.

/// Installs the global subscriber, writing to standard error. Harmless if called twice.
pub fn init(default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
