//! What runs around every gRPC request a server receives, before its handler: a revoked client
//! certificate is refused (UNAUTHENTICATED), an identity of a CDG outside the federation is
//! refused (PERMISSION_DENIED), and the request is counted and timed by method and outcome. Installed with `Server::builder().layer(Guard::layer(...))`.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_util::future::BoxFuture;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};

use crate::federation::Federation;
use crate::identity::Principal;
use crate::metrics::RpcMetrics;
use crate::revocation::Revocation;

/// The layer's shared state.
#[derive(Clone, Default)]
pub struct Guard {
    pub revoked: Arc<Revocation>,
    pub metrics: Option<RpcMetrics>,
    /// Whose identities are members: any other is refused on every RPC.
    pub federation: Arc<Federation>,
}

impl Guard {
    /// Why a request with this client certificate is refused before its handler, if it is.
    fn refusal(&self, leaf: &[u8]) -> Option<tonic::Status> {
        if let Err(reason) = self.revoked.check(leaf) {
            return Some(tonic::Status::unauthenticated(format!(
                "{reason} by this server's configuration (revoked_certificates)"
            )));
        }
        // Handlers check roles (`Federation::require`); membership holds for every RPC, health
        // and reflection included, so it is checked here once. A leaf without an identity is
        // left to the handler, which names what is missing.
        let caller = Principal::from_certificate_der(leaf).ok()?;
        let refusal = self.federation.member(caller).err()?;
        Some(tonic::Status::permission_denied(refusal.to_string()))
    }
}

impl Guard {
    pub fn layer(self) -> GuardLayer {
        GuardLayer(self)
    }
}

#[derive(Clone)]
pub struct GuardLayer(Guard);

impl<S> tower::Layer<S> for GuardLayer {
    type Service = Guarded<S>;
    fn layer(&self, inner: S) -> Guarded<S> {
        Guarded {
            inner,
            guard: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Guarded<S> {
    inner: S,
    guard: Guard,
}

/// The gRPC status name of a response that carries one in its headers (trailers-only: every
/// error tonic returns); a response without one is a success whose status follows in trailers.
fn outcome<B>(response: &http::Response<B>) -> String {
    let code = response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .unwrap_or(0);
    format!("{:?}", tonic::Code::from_i32(code))
}

impl<S, B, RB> tower::Service<http::Request<B>> for Guarded<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    RB: Default + Send + 'static,
{
    type Response = http::Response<RB>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let started = Instant::now();
        let method = request.uri().path().to_string();
        let refused = request
            .extensions()
            .get::<TlsConnectInfo<TcpConnectInfo>>()
            .and_then(|info| info.peer_certs())
            .and_then(|certs| certs.first().cloned())
            .and_then(|leaf| self.guard.refusal(leaf.as_ref()));
        let metrics = self.guard.metrics.clone();
        let response = match refused {
            Some(status) => {
                tracing::warn!(method, reason = status.message(), "client refused");
                let response = status.into_http::<RB>();
                Box::pin(async move { Ok(response) }) as Self::Future
            }
            None => Box::pin(self.inner.call(request)),
        };
        Box::pin(async move {
            let result = response.await;
            if let Some(m) = metrics {
                let outcome = match &result {
                    Ok(r) => outcome(r),
                    Err(_) => "TransportError".to_string(),
                };
                m.observe(&method, &outcome, started.elapsed());
            }
            result
        })
    }
}
