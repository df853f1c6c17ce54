//! The gRPC face of the coordinator.

use cdg_shared::fields;
use cdg_shared::identity::Principal;
use cdg_shared::proto::check_protocol_version;
use cdg_shared::proto::v1::coordinator_service_server::CoordinatorService;
use std::pin::Pin;

use cdg_shared::proto::v1::run_event::Event;
use cdg_shared::proto::v1::{
    AuditLogRequest, DecideStudyRequest, DescribeNodesRequest, DescribeNodesResponse,
    DiffuseStudyRequest, GetResultRequest, GetStudyRequest, ListNoticesRequest,
    ListNoticesResponse, ListStudiesRequest, ListStudiesResponse, RunEvent, RunStudyRequest,
    StudyResult, StudyStatus, SubmitStudyRequest, SubmitStudyResponse,
};
use cdg_shared::tls::peer_principal;
use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::chunks::result_events;
use crate::coordinator::SharedCoordinator;
use crate::error::CoordinatorError;
use crate::progress::Progress;

/// A stream of run events.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<RunEvent, Status>> + Send>>;

/// Sends `events` on `tx`; false when the receiver has gone.
async fn send_all(tx: &mpsc::Sender<Result<RunEvent, Status>>, events: Vec<RunEvent>) -> bool {
    for e in events {
        if tx.send(Ok(e)).await.is_err() {
            return false;
        }
    }
    true
}

/// Identifies the caller of a request about one study, checks its protocol version and the
/// size of its study id, and records caller and id in the current span.
#[allow(clippy::result_large_err)]
fn study_request<T, R>(
    request: Request<T>,
    parts: impl FnOnce(T) -> (u32, String, R),
) -> Result<(Principal, R), Status> {
    let caller = peer_principal(&request)?;
    let (version, study_id, rest) = parts(request.into_inner());
    check_protocol_version(version)?;
    fields::STUDY_ID
        .check(&study_id)
        .map_err(CoordinatorError::from)?;
    tracing::Span::current()
        .record("caller", caller.uri())
        .record("study_id", study_id.as_str());
    Ok((caller, rest))
}

pub struct CoordinatorServiceImpl {
    coordinator: SharedCoordinator,
}

impl CoordinatorServiceImpl {
    pub fn new(coordinator: SharedCoordinator) -> Self {
        CoordinatorServiceImpl { coordinator }
    }
}

#[tonic::async_trait]
impl CoordinatorService for CoordinatorServiceImpl {
    #[tracing::instrument(skip_all, fields(caller))]
    async fn submit_study(
        &self,
        request: Request<SubmitStudyRequest>,
    ) -> Result<Response<SubmitStudyResponse>, Status> {
        let caller = peer_principal(&request)?;
        tracing::Span::current().record("caller", caller.uri());
        let req = request.into_inner();
        check_protocol_version(req.protocol_version)?;
        fields::STUDY_FILE
            .check(&req.study_toml)
            .map_err(CoordinatorError::from)?;
        let s = self.coordinator.submit(caller, &req.study_toml).await?;
        tracing::info!(study_id = %s.id, created = s.created, "study submitted");
        Ok(Response::new(SubmitStudyResponse {
            study_id: s.id,
            digest: s.digest,
            title: s.title,
            created: s.created,
        }))
    }

    #[tracing::instrument(skip_all, fields(caller, study_id))]
    async fn run_study(
        &self,
        request: Request<RunStudyRequest>,
    ) -> Result<Response<StudyResult>, Status> {
        let (caller, study_id) = study_request(request, |r| {
            (r.protocol_version, r.study_id.clone(), r.study_id)
        })?;
        let result = self
            .coordinator
            .run(caller, &study_id, &Progress::none())
            .await?;
        tracing::info!("study run completed");
        Ok(Response::new(result))
    }

    type WatchStudyRunStream = EventStream;

    #[tracing::instrument(skip_all, fields(caller, study_id))]
    async fn watch_study_run(
        &self,
        request: Request<RunStudyRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let (caller, study_id) = study_request(request, |r| {
            (r.protocol_version, r.study_id.clone(), r.study_id)
        })?;
        let (tx, rx) = mpsc::channel(16);
        let coordinator = self.coordinator.clone();
        tokio::spawn(async move {
            let (progress, mut steps) = Progress::channel();
            let run = coordinator.run(caller, &study_id, &progress);
            tokio::pin!(run);
            // Progress is forwarded while the run goes; if the watcher leaves, the run is
            // dropped, which cancels it (see `Coordinator::run`).
            let outcome = loop {
                tokio::select! {
                    outcome = &mut run => break Some(outcome),
                    Some(step) = steps.recv() => {
                        let event = RunEvent { event: Some(Event::Progress(step)) };
                        if tx.send(Ok(event)).await.is_err() {
                            break None;
                        }
                    }
                    _ = tx.closed() => break None,
                }
            };
            match outcome {
                None => tracing::warn!(%study_id, "the watcher left: run cancelled"),
                Some(Err(e)) => {
                    let _ = tx.send(Err(e.into())).await;
                }
                Some(Ok(result)) => {
                    while let Ok(step) = steps.try_recv() {
                        let event = RunEvent {
                            event: Some(Event::Progress(step)),
                        };
                        let _ = tx.send(Ok(event)).await;
                    }
                    tracing::info!(%study_id, "study run completed");
                    send_all(&tx, result_events(result)).await;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    type StreamResultStream = EventStream;

    #[tracing::instrument(skip_all, fields(caller, study_id))]
    async fn stream_result(
        &self,
        request: Request<GetResultRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let (caller, study_id) = study_request(request, |r| {
            (r.protocol_version, r.study_id.clone(), r.study_id)
        })?;
        let result = self.coordinator.result(caller, &study_id).await?;
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move { send_all(&tx, result_events(result)).await });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    #[tracing::instrument(skip_all, fields(caller, study_id))]
    async fn get_result(
        &self,
        request: Request<GetResultRequest>,
    ) -> Result<Response<StudyResult>, Status> {
        let (caller, study_id) = study_request(request, |r| {
            (r.protocol_version, r.study_id.clone(), r.study_id)
        })?;
        Ok(Response::new(
            self.coordinator.result(caller, &study_id).await?,
        ))
    }

    #[tracing::instrument(skip_all, fields(caller, study_id))]
    async fn decide_study(
        &self,
        request: Request<DecideStudyRequest>,
    ) -> Result<Response<StudyStatus>, Status> {
        let (caller, (study_id, decision)) = study_request(request, |r| {
            (
                r.protocol_version,
                r.study_id.clone(),
                (r.study_id, r.decision),
            )
        })?;
        let decision =
            decision.ok_or_else(|| Status::invalid_argument("missing field `decision`"))?;
        fields::check_decision(&decision).map_err(CoordinatorError::from)?;
        let status = self.coordinator.decide(caller, &study_id, decision).await?;
        tracing::info!(state = %status.state, "decision recorded");
        Ok(Response::new(status))
    }

    #[tracing::instrument(skip_all, fields(caller, study_id))]
    async fn get_study(
        &self,
        request: Request<GetStudyRequest>,
    ) -> Result<Response<StudyStatus>, Status> {
        let (caller, study_id) = study_request(request, |r| {
            (r.protocol_version, r.study_id.clone(), r.study_id)
        })?;
        Ok(Response::new(
            self.coordinator.study_status(caller, &study_id).await?,
        ))
    }

    async fn list_notices(
        &self,
        request: Request<ListNoticesRequest>,
    ) -> Result<Response<ListNoticesResponse>, Status> {
        let caller = cdg_shared::serving::caller(&request, request.get_ref().protocol_version)?;
        Ok(Response::new(self.coordinator.notices(caller)?))
    }

    async fn list_studies(
        &self,
        request: Request<ListStudiesRequest>,
    ) -> Result<Response<ListStudiesResponse>, Status> {
        let caller = cdg_shared::serving::caller(&request, request.get_ref().protocol_version)?;
        let studies = self.coordinator.list_studies(caller).await?;
        Ok(Response::new(ListStudiesResponse { studies }))
    }

    async fn describe_nodes(
        &self,
        request: Request<DescribeNodesRequest>,
    ) -> Result<Response<DescribeNodesResponse>, Status> {
        let caller = cdg_shared::serving::caller(&request, request.get_ref().protocol_version)?;
        let nodes = self.coordinator.describe_nodes(caller).await?;
        Ok(Response::new(DescribeNodesResponse { nodes }))
    }

    type GetAuditLogStream = cdg_shared::audit::PageStream;

    #[tracing::instrument(skip_all, fields(caller, from_seq))]
    async fn get_audit_log(
        &self,
        request: Request<AuditLogRequest>,
    ) -> Result<Response<Self::GetAuditLogStream>, Status> {
        let caller = cdg_shared::serving::caller(&request, request.get_ref().protocol_version)?;
        tracing::Span::current().record("from_seq", request.get_ref().from_seq);
        let snapshot = self.coordinator.audit_log(caller).await?;
        Ok(Response::new(cdg_shared::audit::stream_pages(
            snapshot,
            request.get_ref(),
            self.coordinator.max_message_bytes,
        )?))
    }

    #[tracing::instrument(skip_all, fields(caller, study_id))]
    async fn diffuse_study(
        &self,
        request: Request<DiffuseStudyRequest>,
    ) -> Result<Response<StudyStatus>, Status> {
        let (caller, (study_id, note)) = study_request(request, |r| {
            (r.protocol_version, r.study_id.clone(), (r.study_id, r.note))
        })?;
        fields::NOTE.check(&note).map_err(CoordinatorError::from)?;
        Ok(Response::new(
            self.coordinator.diffuse(caller, &study_id, &note).await?,
        ))
    }
}
