//! What every server of the federation does the same way: bind (announcing the address), set up
//! mutual TLS, and stop on the operator's signal.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tonic::transport::Server;

use crate::identity::Principal;
use crate::tls::TlsFiles;

/// Binds `listen` and, if asked, writes the bound address to `ready_file` (atomically), for
/// supervisors and the demo to read.
pub async fn bind(listen: SocketAddr, ready_file: Option<&Path>) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    if let Some(path) = ready_file {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, listener.local_addr()?.to_string())
            .and_then(|()| std::fs::rename(&tmp, path))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(listener)
}

/// A gRPC server builder requiring client certificates from the federation CA, after checking
/// that our own certificate carries the identity `accept` approves of.
pub fn mtls_server(
    tls: &TlsFiles,
    accept: impl FnOnce(Principal) -> anyhow::Result<()>,
) -> anyhow::Result<(Principal, Server)> {
    let own = tls
        .own_principal()
        .context("reading this server's own certificate")?;
    accept(own)?;
    let config = tls.server_config().context("setting up TLS")?;
    let server = Server::builder()
        .tls_config(config)
        .context("setting up TLS")?
        .tcp_nodelay(true)
        .http2_keepalive_interval(Some(Duration::from_secs(30)));
    Ok((own, server))
}

/// The caller of a request, from its verified client certificate, recorded in the current span
/// (a `caller` field), once the request's protocol version is checked.
#[allow(clippy::result_large_err)]
pub fn caller<T>(
    request: &tonic::Request<T>,
    protocol_version: u32,
) -> Result<Principal, tonic::Status> {
    let caller = crate::tls::peer_principal(request)?;
    tracing::Span::current().record("caller", caller.uri());
    crate::proto::check_protocol_version(protocol_version)?;
    Ok(caller)
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
///
/// The handlers are installed when this function is called, not when the future is first
/// polled: a supervisor that reads the ready file (or the demo's banner) and sends SIGTERM at
/// once must find them in place, or the process would die without stopping its children.
/// Must be called from inside a Tokio runtime.
pub fn signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            let wait = |s: std::io::Result<tokio::signal::unix::Signal>| async move {
                match s {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(interrupt) => tracing::info!("SIGINT received, stopping"),
                _ = wait(terminate) => tracing::info!("SIGTERM received, stopping"),
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("Ctrl-C received, stopping");
    }
}
