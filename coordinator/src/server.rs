//! Starting the coordinator's gRPC server over mutual TLS.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use cdg_shared::proto::v1::coordinator_service_server::CoordinatorServiceServer;
use cdg_shared::serving::Bound;

use crate::config::CoordinatorConfig;
use crate::coordinator::Coordinator;
use crate::service::CoordinatorServiceImpl;

/// Serves the coordinator on `listener` until `shutdown` completes. The rustls crypto provider
/// must be installed first.
pub async fn run(
    config: CoordinatorConfig,
    listener: impl Into<Bound>,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let coordinator = Arc::new(Coordinator::new(&config)?);
    serve(coordinator, config, listener, shutdown).await
}

/// Serves an opened coordinator (its state and audit log already checked and recovered, so
/// that announcing readiness before this is honest).
pub async fn serve(
    coordinator: Arc<Coordinator>,
    config: CoordinatorConfig,
    listener: impl Into<Bound>,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let listener = listener.into();
    if let Some(mail) = config.mail.clone() {
        coordinator.requeue_missing()?;
        tokio::spawn(crate::notices::mail::deliver(coordinator.clone(), mail));
    }
    let mut metrics = cdg_shared::metrics::Metrics::new("cdg_coordinator");
    coordinator.metrics.register(&mut metrics);
    let guard = cdg_shared::guard::Guard {
        revoked: Arc::new(config.revocation()?),
        metrics: Some(metrics.rpc.clone()),
        federation: Arc::new(config.federation.clone()),
    };
    if let Some(listen) = config.metrics_listen {
        cdg_shared::metrics::serve(listen, Arc::new(metrics)).await?;
    }
    let (_, mut server) = cdg_shared::serving::mtls_server(&config.tls, guard, |own| {
        anyhow::ensure!(
            own == config.federation.coordinator,
            "the certificate {} is for {own}; this coordinator is configured as {} \
             (federation.coordinator): use that coordinator certificate",
            config.tls.cert.display(),
            config.federation.coordinator.uri()
        );
        Ok(())
    })?;
    let max = config.max_message_bytes;
    let service = CoordinatorServiceServer::new(CoordinatorServiceImpl::new(coordinator))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);
    let (_, health, reflection, reflection_alpha) =
        cdg_shared::serving::discovery("cdg.observatoire.v1.CoordinatorService").await?;
    // Everything is checked and open: now the ready file may announce the coordinator.
    let listener = listener.announce()?;
    tracing::info!(addr = %listener.local_addr()?, nodes = config.nodes.len(), "coordinator listening (mTLS)");
    server
        .add_service(health)
        .add_service(reflection)
        .add_service(reflection_alpha)
        .add_service(service)
        .serve_with_incoming_shutdown(cdg_shared::serving::incoming(listener), shutdown)
        .await
        .context("serving")?;
    tracing::info!("coordinator stopped");
    Ok(())
}
