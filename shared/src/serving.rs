//! What every server of the federation does the same way: bind (announcing the address), set up
//! mutual TLS, and stop on the operator's signal.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use crate::guard::{Guard, GuardLayer};
use crate::identity::Principal;
use crate::tls::TlsFiles;

/// A bound listening socket whose address is announced only once the server has checked
/// everything it needs (its certificate, its database and its locks): a supervisor that reads
/// the ready file may count on a server that is about to answer.
pub struct Bound {
    listener: TcpListener,
    ready_file: Option<PathBuf>,
}

impl From<TcpListener> for Bound {
    fn from(listener: TcpListener) -> Bound {
        Bound {
            listener,
            ready_file: None,
        }
    }
}

impl Bound {
    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Writes the bound address to the ready file, if any (atomically), and hands the socket
    /// over to serve it.
    pub fn announce(self) -> anyhow::Result<TcpListener> {
        if let Some(path) = &self.ready_file {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, self.listener.local_addr()?.to_string())
                .and_then(|()| std::fs::rename(&tmp, path))
                .with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(self.listener)
    }
}

/// Binds `listen`; the address goes to `ready_file` when the server announces itself
/// ([`Bound::announce`]), for supervisors and the demo to read.
pub async fn bind(listen: SocketAddr, ready_file: Option<&Path>) -> anyhow::Result<Bound> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    Ok(Bound {
        listener,
        ready_file: ready_file.map(Path::to_path_buf),
    })
}

/// The accepted connections of `listener`, without Nagle's algorithm. (`Server::tcp_nodelay`
/// applies only when tonic binds the socket itself; without this, every answer waited for the
/// client's delayed ACK, about 40 ms on Linux.)
pub fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// The server builder [`mtls_server`] returns: every request passes the [`Guard`] first.
pub type GuardedServer =
    Server<tower::layer::util::Stack<GuardLayer, tower::layer::util::Identity>>;

/// A gRPC server builder requiring client certificates from the federation CA, after checking
/// that our own certificate carries the identity `accept` approves of. `guard` refuses revoked
/// client certificates and counts requests.
pub fn mtls_server(
    tls: &TlsFiles,
    guard: Guard,
    accept: impl FnOnce(Principal) -> anyhow::Result<()>,
) -> anyhow::Result<(Principal, GuardedServer)> {
    let own = tls
        .own_principal()
        .context("reading this server's own certificate")?;
    accept(own)?;
    let config = tls.server_config().context("setting up TLS")?;
    let server = Server::builder()
        .tls_config(config)
        .context("setting up TLS")?
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .layer(guard.layer());
    Ok((own, server))
}

/// The standard services a server offers beside its own, so that `grpcurl` and monitoring
/// can list and probe it: `grpc.health.v1.Health` (SERVING, overall and for `service`, the
/// full name of the server's own service, until the server says otherwise through the
/// reporter) and server reflection (v1 and v1alpha).
pub async fn discovery(
    service: &str,
) -> anyhow::Result<(
    tonic_health::server::HealthReporter,
    tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>,
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection,
    >,
    tonic_reflection::server::v1alpha::ServerReflectionServer<
        impl tonic_reflection::server::v1alpha::ServerReflection,
    >,
)> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status(service, tonic_health::ServingStatus::Serving)
        .await;
    // The contract's file describes both services; list only the one this server offers.
    let builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name(service)
            .with_service_name("grpc.health.v1.Health")
    };
    let v1 = builder().build_v1().context("server reflection")?;
    let v1alpha = builder().build_v1alpha().context("server reflection")?;
    Ok((reporter, health, v1, v1alpha))
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
