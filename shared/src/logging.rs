//! Structured logs through `tracing`; the level comes from `RUST_LOG` (default `info`).
//! Logs carry identifiers and counts, never row-level data.

/// Installs the global subscriber, writing to standard error. Harmless if called twice.
/// Colours only on a terminal: journald and log files get plain text.
pub fn init(default_level: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}
