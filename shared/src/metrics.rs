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
/// sharing it, and those named the same whatever the server (`cdg_...`) with
/// [`Metrics::unprefixed`].
pub struct Metrics {
    registry: Registry,
    prefix: String,
    pub rpc: RpcMetrics,
    /// What `GET /health` says: whether the server is fit to answer (a node outside the
    /// convention's term is not).
    pub serving: Serving,
}

/// Whether a server is fit to answer, as its management endpoint reports it (`GET /health`:
/// 200 SERVING or 503 NOT_SERVING with the reason), for container health checks and probes
/// that do not speak gRPC.
#[derive(Clone, Default)]
pub struct Serving(Arc<std::sync::Mutex<Option<String>>>);

impl Serving {
    /// Serving again.
    pub fn set_serving(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Not serving, for `reason`.
    pub fn set_not_serving(&self, reason: impl Into<String>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason.into());
    }

    /// The reason the server is not serving, if it is not.
    pub fn not_serving(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Metrics {
    pub fn new(prefix: &str) -> Metrics {
        let mut metrics = Metrics {
            registry: Registry::default(),
            prefix: prefix.to_string(),
            rpc: RpcMetrics {
                requests: Family::default(),
                latency: Family::new_with_constructor(|| {
                    // 1 ms to about 16 s.
                    Histogram::new(exponential_buckets(0.001, 2.0, 15))
                }),
            },
            serving: Serving::default(),
        };
        let rpc = metrics.rpc.clone();
        let registry = metrics.registry();
        registry.register(
            "grpc_requests",
            "gRPC requests served, by method and outcome (gRPC status)",
            rpc.requests,
        );
        registry.register(
            "grpc_request_duration_seconds",
            "Time to answer a gRPC request, by method and outcome",
            rpc.latency,
        );
        metrics
    }

    /// Where the server's own metrics go: their names start with its prefix.
    pub fn registry(&mut self) -> &mut Registry {
        self.registry.sub_registry_with_prefix(&self.prefix)
    }

    /// Where metrics named alike on every server go, e.g. `cdg_convention_days_left`.
    pub fn unprefixed(&mut self) -> &mut Registry {
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

/// Serves `GET /metrics` and `GET /health` on `listen` (plain HTTP: bind it to a local or
/// management address) until the process ends. Returns the bound address.
pub async fn serve(listen: SocketAddr, metrics: Arc<Metrics>) -> anyhow::Result<SocketAddr> {
    use axum::http::StatusCode;
    use axum::http::header::CONTENT_TYPE;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} for metrics (metrics_listen)"))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "metrics on http://{addr}/metrics");
    let serving = metrics.serving.clone();
    let render = move || {
        let metrics = Arc::clone(&metrics);
        async move {
            let kind = "application/openmetrics-text; version=1.0.0; charset=utf-8";
            ([(CONTENT_TYPE, kind)], metrics.render())
        }
    };
    let health = move || {
        let serving = serving.clone();
        async move {
            match serving.not_serving() {
                None => (StatusCode::OK, "SERVING\n".to_string()),
                Some(why) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("NOT_SERVING: {why}\n"),
                ),
            }
        }
    };
    let app = axum::Router::new()
        .route("/metrics", axum::routing::get(render))
        .route("/health", axum::routing::get(health))
        .fallback(|| async { (StatusCode::NOT_FOUND, "only GET /metrics and GET /health\n") });
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the metrics endpoint stopped");
        }
    });
    Ok(addr)
}
