//! Prometheus metrics of a server: every gRPC request counted and timed by method and outcome,
//! plus what the node or coordinator registers of its own, served as text on a separate local
//! port (`metrics_listen`). Nothing here names an agent, an employer or a row: labels are
//! methods, status codes, rules, datasets and CDG codes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub use prometheus_client::metrics::gauge::Gauge;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    /// The gRPC method, e.g. `/cdg.observatoire.v1.NodeService/Execute`.
    pub method: String,
    /// The gRPC status: OK, PERMISSION_DENIED, ...
    pub outcome: String,
}

/// The request counters every server has.
#[derive(Clone)]
pub struct RpcMetrics {
    requests: Family<RpcLabels, Counter>,
    latency: Family<RpcLabels, Histogram>,
}

impl RpcMetrics {
    /// Counts one request of `method` that ended with `outcome` after `took`.
    pub fn observe(&self, method: &str, outcome: &str, took: Duration) {
        let labels = RpcLabels {
            method: method.to_string(),
            outcome: outcome.to_string(),
        };
        self.requests.get_or_create(&labels).inc();
        self.latency
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }
}

/// A registry with the request counters registered under `prefix` (`cdg_node`,
/// `cdg_coordinator`); register the server's own metrics with [`Metrics::registry`] before
/// sharing it.
pub struct Metrics {
    registry: Registry,
    pub rpc: RpcMetrics,
}

impl Metrics {
    pub fn new(prefix: &str) -> Metrics {
        let mut registry = Registry::with_prefix(prefix);
        let rpc = RpcMetrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(|| {
                // 1 ms to about 16 s.
                Histogram::new(exponential_buckets(0.001, 2.0, 15))
            }),
        };
        registry.register(
            "grpc_requests",
            "gRPC requests served, by method and outcome (gRPC status)",
            rpc.requests.clone(),
        );
        registry.register(
            "grpc_request_duration_seconds",
            "Time to answer a gRPC request, by method and outcome",
            rpc.latency.clone(),
        );
        Metrics { registry, rpc }
    }

    pub fn registry(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Serves `GET /metrics` on `listen` (plain HTTP: bind it to a local or management address)
/// until the process ends. Returns the bound address.
pub async fn serve(listen: SocketAddr, metrics: Arc<Metrics>) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} for metrics (metrics_listen)"))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "metrics on http://{addr}/metrics");
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let metrics = Arc::clone(&metrics);
            tokio::spawn(async move {
                // One small request per connection; anything slow or large is dropped.
                let mut buf = vec![0u8; 4096];
                let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf));
                let Ok(Ok(n)) = read.await else { return };
                let request = String::from_utf8_lossy(&buf[..n]);
                let path = request.split_whitespace().nth(1).unwrap_or("");
                let (status, kind, body) = if request.starts_with("GET ") && path == "/metrics" {
                    (
                        "200 OK",
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        metrics.render(),
                    )
                } else {
                    ("404 Not Found", "text/plain", "only GET /metrics\n".into())
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(body.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    Ok(addr)
}
