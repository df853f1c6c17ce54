//! Starting the node's gRPC server over mutual TLS.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use cdg_shared::identity::Role;
use cdg_shared::proto::v1::node_service_server::NodeServiceServer;
use cdg_shared::serving::Bound;

use crate::config::NodeConfig;

/// The node's gRPC service, as health and reflection name it.
const NODE_SERVICE: &str = "cdg.observatoire.v1.NodeService";
use crate::answering::{Answering, Clock, system_clock};
use crate::service::NodeServiceImpl;
use crate::store::Store;

/// Serves the node on `listener` until `shutdown` completes. The rustls crypto provider must be
/// installed first (`cdg_shared::tls::install_crypto_provider`).
pub async fn run(
    config: NodeConfig,
    listener: impl Into<Bound>,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    run_with_clock(config, listener, shutdown, system_clock()).await
}

/// [`run`] with the node's idea of today given (tests move it around the convention's dates).
pub async fn run_with_clock(
    config: NodeConfig,
    listener: impl Into<Bound>,
    shutdown: impl Future<Output = ()> + Send,
    clock: Clock,
) -> anyhow::Result<()> {
    let listener = listener.into();
    crate::catalogue::check_built_in().map_err(anyhow::Error::msg)?;
    let revoked = Arc::new(config.revocation()?);
    let mut metrics = cdg_shared::metrics::Metrics::new("cdg_node");
    let node_metrics = crate::metrics::NodeMetrics::default();
    node_metrics.register(&mut metrics);
    let days_left = cdg_shared::metrics::Gauge::default();
    metrics.unprefixed().register(
        "cdg_convention_days_left",
        "Days until the last day of the convention's validity, avenants included (Art. 6); \
         negative once it has passed, when the node releases nothing",
        days_left.clone(),
    );
    let (convention, watch_clock) = (config.policy.convention.clone(), clock.clone());
    let serving = metrics.serving.clone();
    let guard = cdg_shared::guard::Guard {
        revoked: Arc::clone(&revoked),
        metrics: Some(metrics.rpc.clone()),
        federation: Arc::new(config.federation.clone()),
    };
    if let Some(listen) = config.metrics_listen {
        cdg_shared::metrics::serve(listen, Arc::new(metrics)).await?;
    }
    let (_, mut server) = cdg_shared::serving::mtls_server(&config.tls, guard, |own| {
        anyhow::ensure!(
            own.role == Role::Node && own.cdg == config.cdg,
            "the certificate {} is for {own}, but this node is configured as CDG {}: use the node certificate of CDG {}",
            config.tls.cert.display(),
            config.cdg,
            config.cdg
        );
        Ok(())
    })?;
    let database = config.database.clone();
    let (connections, threads) = (config.limits.connections(), config.limits.duckdb_threads);
    let store = tokio::task::spawn_blocking(move || {
        let mut store = Store::open(&database)?;
        store.widen(connections)?;
        if let Some(threads) = threads {
            store.set_threads(threads)?;
        }
        anyhow::Ok(store)
    })
    .await
    .context("opening the database")??;
    let record_key = crate::store::record_key::load(&config.record_key_path())?;
    store.bind_record_key(&record_key)?;
    let max = config.limits.max_message_bytes;
    let addr = listener.local_addr()?;
    let trusted = cdg_shared::signing::TrustedSigners::from_ca_file(&config.tls.ca)
        .context("reading the federation CA for approvals")?
        .revoking(revoked);
    let approvals = crate::approval::ApprovalCheck::new(trusted, config.cdg);
    let signer = cdg_shared::signing::Signer::from_files(&config.tls)
        .context("reading the node's key to sign audit checkpoints")?;
    let audit = crate::audit::NodeAudit::open(&config.audit_log_path(), signer)?;
    // A second copy of the key signs the node's key offers in secure aggregations.
    let offers = cdg_shared::signing::Signer::from_files(&config.tls)
        .context("reading the node's key to sign its secure-aggregation key offers")?;
    let answering = Arc::new(
        Answering::new(
            Arc::new(store),
            config.policy.clone(),
            config.limits.clone(),
            approvals,
            clock,
        )?
        .with_rounds(
            offers,
            cdg_shared::secure_sum::guard::Guard::open(&config.secure_sums_path())?,
        ),
    );
    // The in-memory copy is read before the node announces itself, so that no first query
    // waits for it (and no worker holds the database once the server stops). A failure is
    // not fatal: each query tries again for its dataset, and says why if it fails.
    let warming = answering.clone();
    let start = std::time::Instant::now();
    match tokio::task::spawn_blocking(move || warming.warm()).await {
        Ok(Ok(())) => tracing::info!(
            seconds = start.elapsed().as_secs_f64(),
            "in-memory copy of the data read"
        ),
        Ok(Err(e)) => tracing::warn!(error = %e, "reading the in-memory copy failed"),
        Err(e) => tracing::warn!(error = %e, "reading the in-memory copy failed"),
    }
    let service = NodeServiceServer::new(NodeServiceImpl::new(
        Arc::new(config),
        answering,
        audit,
        node_metrics,
    ))
    .max_decoding_message_size(max)
    .max_encoding_message_size(max);
    let (reporter, health, reflection, reflection_alpha) =
        cdg_shared::serving::discovery(NODE_SERVICE).await?;
    crate::convention::Watch {
        convention: convention.clone(),
        clock: watch_clock,
        days_left,
        health: reporter,
        service: NODE_SERVICE,
        serving,
    }
    .spawn()
    .await;
    // Everything is checked and open: now the ready file may announce the node.
    let listener = listener.announce()?;
    tracing::info!(%addr, "node listening (mTLS)");
    server
        .add_service(health)
        .add_service(reflection)
        .add_service(reflection_alpha)
        .add_service(service)
        .serve_with_incoming_shutdown(cdg_shared::serving::incoming(listener), shutdown)
        .await
        .context("serving")?;
    tracing::info!("node stopped");
    Ok(())
}
