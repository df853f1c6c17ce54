//! The gRPC face of the node: identifies the caller, checks the protocol version, converts the
//! request, hands it to the answering core (`answering/`) on a worker thread, and keeps the
//! audit log and the metrics.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use cdg_shared::arrow_ipc;
use cdg_shared::federation::Access;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::proto::v1::node_service_server::NodeService;
use cdg_shared::proto::v1::{
    AuditLogRequest, CellNoise, DatasetInfo, DescribeRequest, DescribeResponse, DimensionInfo,
    ExecuteRequest, ExecuteResponse, SecureSumContributeRequest, SecureSumContributeResponse,
    SecureSumOfferRequest, SecureSumOfferResponse,
};
use cdg_shared::proto::{PROTOCOL_VERSION, check_protocol_version};
use cdg_shared::query::AggregateQuery;
use cdg_shared::tls::peer_principal;
use futures_util::FutureExt;
use tonic::{Request, Response, Status};

use crate::answering::Answering;
use crate::audit::{NodeAudit, Seen};
use crate::catalogue::{self, Values};
use crate::config::{NodeConfig, PolicyConfig};
use crate::disclosure::bounds;
use crate::error::NodeError;
use crate::metrics::NodeMetrics;
use crate::store::Store;
use crate::store::cancel::{self, CancelToken};

mod secure;

/// Bytes of an Execute response kept for what is not the Arrow table.
const RESPONSE_RESERVE: usize = 16 * 1024;

pub struct NodeServiceImpl {
    config: Arc<NodeConfig>,
    answering: Arc<Answering>,
    audit: Arc<NodeAudit>,
    /// The published policy's version, sent with every answer (the policy never changes
    /// while the node runs).
    policy_version: String,
    metrics: NodeMetrics,
}

/// Watches one Execute: if its future is dropped before the end (the coordinator cancelled
/// or gave up), the database work is stopped and the log says so.
struct Abandoned {
    store: Arc<Store>,
    token: Arc<CancelToken>,
    audit: Arc<NodeAudit>,
    seen: Option<Seen>,
}

impl Drop for Abandoned {
    fn drop(&mut self) {
        let Some(seen) = self.seen.take() else {
            return;
        };
        self.store.cancel(&self.token);
        tracing::warn!("request abandoned by its caller: its work is stopped");
        let audit = self.audit.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let outcome = Err(NodeError::Cancelled(
                    "the caller went away before the answer (cancelled, or past its deadline)"
                        .into(),
                ));
                if let Err(e) = audit.record(&seen, &outcome).await {
                    tracing::error!(error = %e, "could not log the cancellation");
                }
            });
        }
    }
}

impl NodeServiceImpl {
    pub fn new(
        config: Arc<NodeConfig>,
        answering: Arc<Answering>,
        audit: NodeAudit,
        metrics: NodeMetrics,
    ) -> Self {
        NodeServiceImpl {
            policy_version: bounds::policy_version(&bounds::published_policy(&config.policy)),
            config,
            answering,
            audit: Arc::new(audit),
            metrics,
        }
    }

    /// The one coordinator this node obeys.
    fn coordinator(&self) -> Access {
        Access::Only(self.config.federation.coordinator)
    }

    /// Refuses `caller` unless it is a member identity that `expected` accepts.
    fn require(
        &self,
        caller: Principal,
        expected: &[Access],
        what: &'static str,
    ) -> Result<(), NodeError> {
        Ok(self.config.federation.require(caller, expected, what)?)
    }

    /// The catalogue as this node's policy narrows it.
    fn describe_datasets(policy: &PolicyConfig) -> Vec<DatasetInfo> {
        catalogue::DATASETS
            .iter()
            .map(|d| DatasetInfo {
                name: d.name.to_string(),
                description: d.description.to_string(),
                dimensions: d
                    .dimensions
                    .iter()
                    .filter(|dim| policy.allows_dimension(d.name, dim.name))
                    .map(|dim| DimensionInfo {
                        name: dim.name.to_string(),
                        description: dim.description.to_string(),
                        values: match dim.values {
                            Values::Codes(c) => c.iter().map(|s| s.to_string()).collect(),
                            Values::Years => Vec::new(),
                        },
                    })
                    .collect(),
                measures: d
                    .measure_names()
                    .into_iter()
                    .filter(|m| policy.allows_measure(d.name, m))
                    .map(str::to_string)
                    .collect(),
                unit: d.unit.as_str().to_string(),
            })
            .collect()
    }

    /// Checks and answers one Execute request.
    async fn answer(
        &self,
        caller: Principal,
        req: ExecuteRequest,
        token: Arc<CancelToken>,
    ) -> Result<ExecuteResponse, NodeError> {
        self.require(caller, &[self.coordinator()], "Execute")
            .inspect_err(|e| tracing::warn!(error = %e, "refused"))?;
        check_protocol_version(req.protocol_version)
            .map_err(|s| NodeError::Protocol(s.message().to_string()))?;
        cdg_shared::fields::check_execute(&req)
            .map_err(NodeError::from)
            .inspect_err(|e| tracing::warn!(error = %e, "refused"))?;
        let span = tracing::Span::current();
        span.record("study_id", req.study_id.as_str());
        span.record("query_name", req.query_name.as_str());
        let query = req
            .query
            .ok_or_else(|| NodeError::InvalidQuery("missing field `query`".into()))
            .and_then(|q| {
                AggregateQuery::try_from(q).map_err(|e| NodeError::InvalidQuery(e.to_string()))
            })?;
        span.record("dataset", query.dataset.as_str());
        let started = std::time::Instant::now();
        let admitted = self
            .answering
            .admit(&req.study, &query, &req.approvals)
            .inspect_err(|e| tracing::warn!(error = %e, "refused"))?;
        if let Some(director) = &admitted.director {
            span.record("director", director.uri());
        }
        let analyst = if req.analyst.is_empty() {
            caller.uri()
        } else {
            req.analyst.clone()
        };
        let checked = started.elapsed();
        let (answer, reused) = self
            .blocking(move |answering| {
                cancel::with_token(token, || answering.answer(&admitted, &analyst))
            })
            .await?;
        if reused {
            self.metrics.reused();
        }
        let released = &answer.released;
        let computed = started.elapsed() - checked;
        let arrow_ipc = arrow_ipc::encode(&released.schema, std::slice::from_ref(&released.batch))
            .map_err(NodeError::from)?;
        // Room for the response's other fields (data versions, bounds): a few hundred bytes each.
        let limit = self
            .config
            .limits
            .max_message_bytes
            .saturating_sub(RESPONSE_RESERVE);
        if arrow_ipc.len() > limit {
            return Err(NodeError::TooLarge(format!(
                "the answer has {} cells and takes {} bytes, more than this node's \
                 limits.max_message_bytes allows ({} bytes, less 16 KiB for the rest of the \
                 response): group by fewer dimensions or filter, or raise the limit",
                released.batch.num_rows(),
                arrow_ipc.len(),
                self.config.limits.max_message_bytes
            )));
        }
        tracing::info!(
            released = released.released,
            suppressed = released.suppressed,
            reused,
            checks_ms = checked.as_secs_f64() * 1000.0,
            store_ms = computed.as_secs_f64() * 1000.0,
            "query answered"
        );
        Ok(ExecuteResponse {
            arrow_ipc,
            cells_released: released.released,
            cells_suppressed: released.suppressed,
            data_versions: answer.versions.clone(),
            policy_version: self.policy_version.clone(),
            secret_bounds: answer.secret_bounds.clone(),
            measure_ranges: answer.measure_ranges.clone(),
            catalogue: Some(catalogue::published()),
            noise: Some(CellNoise {
                max_noise: self.config.policy.perturbation.max_noise,
                magnitude_noise: self.config.policy.perturbation.magnitude_noise,
            }),
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Answering) -> Result<T, NodeError> + Send + 'static,
    ) -> Result<T, NodeError> {
        let answering = self.answering.clone();
        tokio::task::spawn_blocking(move || f(&answering))
            .await
            .map_err(|e| NodeError::Internal(format!("worker task failed: {e}")))?
    }
}

#[tonic::async_trait]
impl NodeService for NodeServiceImpl {
    #[tracing::instrument(skip_all, fields(caller))]
    async fn describe(
        &self,
        request: Request<DescribeRequest>,
    ) -> Result<Response<DescribeResponse>, Status> {
        // Any member may describe the node.
        let caller = cdg_shared::serving::caller(&request, request.get_ref().protocol_version)?;
        self.config
            .federation
            .member(caller)
            .map_err(NodeError::from)?;
        let data_versions = self.blocking(|a| a.store().data_versions()).await?;
        let p = &self.config.policy;
        Ok(Response::new(DescribeResponse {
            protocol_version: PROTOCOL_VERSION,
            cdg: self.config.cdg.code().to_string(),
            departement: self.config.cdg.name().to_string(),
            datasets: Self::describe_datasets(p),
            policy: Some(bounds::published_policy(&self.config.policy)),
            data_versions,
            software_version: env!("CARGO_PKG_VERSION").to_string(),
            catalogue: Some(catalogue::published()),
        }))
    }

    #[tracing::instrument(skip_all, fields(caller, study_id, query_name, dataset, director))]
    async fn execute(
        &self,
        request: Request<ExecuteRequest>,
    ) -> Result<Response<ExecuteResponse>, Status> {
        let caller = peer_principal(&request)?;
        tracing::Span::current().record("caller", caller.uri());
        let req = request.into_inner();
        let token = CancelToken::new();
        let mut watch = Abandoned {
            store: self.answering.store().clone(),
            token: token.clone(),
            audit: self.audit.clone(),
            seen: Some(Seen::of(caller, &req)),
        };
        let received = std::time::Instant::now();
        // A bug that panics while answering is an internal error, logged as such; not a
        // dropped call that the audit log would take for a caller gone away.
        let outcome = AssertUnwindSafe(self.answer(caller, req, token))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| {
                Err(NodeError::Internal(
                    "answering this request failed unexpectedly; the node's log has the \
                     details"
                        .into(),
                ))
            });
        let seen = watch.seen.take().expect("seen until the answer");
        let answered = received.elapsed();
        self.audit.record(&seen, &outcome).await?;
        tracing::debug!(
            answer_ms = answered.as_secs_f64() * 1000.0,
            audit_ms = (received.elapsed() - answered).as_secs_f64() * 1000.0,
            "execute done"
        );
        match &outcome {
            Ok(r) => self.metrics.answered(r.cells_released, r.cells_suppressed),
            Err(e) => self.metrics.refused(&e.rule()),
        }
        Ok(Response::new(outcome?))
    }

    #[tracing::instrument(skip_all, fields(caller))]
    async fn secure_sum_offer(
        &self,
        request: Request<SecureSumOfferRequest>,
    ) -> Result<Response<SecureSumOfferResponse>, Status> {
        let caller = peer_principal(&request)?;
        tracing::Span::current().record("caller", caller.uri());
        Ok(Response::new(
            self.offer(caller, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all, fields(caller))]
    async fn secure_sum_contribute(
        &self,
        request: Request<SecureSumContributeRequest>,
    ) -> Result<Response<SecureSumContributeResponse>, Status> {
        let caller = peer_principal(&request)?;
        tracing::Span::current().record("caller", caller.uri());
        Ok(Response::new(
            self.contribute(caller, request.into_inner()).await?,
        ))
    }

    type GetAuditLogStream = cdg_shared::audit::PageStream;

    #[tracing::instrument(skip_all, fields(caller, from_seq))]
    async fn get_audit_log(
        &self,
        request: Request<AuditLogRequest>,
    ) -> Result<Response<Self::GetAuditLogStream>, Status> {
        let caller = cdg_shared::serving::caller(&request, request.get_ref().protocol_version)?;
        self.require(
            caller,
            &[Access::AnyMember(Role::Director), self.coordinator()],
            "reading the audit log",
        )?;
        tracing::Span::current().record("from_seq", request.get_ref().from_seq);
        let snapshot = self.audit.snapshot().await?;
        Ok(Response::new(cdg_shared::audit::stream_pages(
            snapshot,
            request.get_ref(),
            self.config.limits.max_message_bytes,
        )?))
    }
}
