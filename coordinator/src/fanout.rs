//! Fan-out: one reused mTLS channel per node, every node asked concurrently, each with a deadline,
//! transient errors retried with backoff, and every outcome reported per département.

use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use cdg_shared::arrow_ipc;
use cdg_shared::catalogue;
use cdg_shared::cdg::Cdg;
use cdg_shared::fields;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::proto::PROTOCOL_VERSION;
use cdg_shared::proto::v1::node_outcome::Status as OutcomeStatus;
use cdg_shared::proto::v1::node_service_client::NodeServiceClient;
use cdg_shared::proto::v1::{
    DataVersion, DescribeRequest, DisclosurePolicy, ExecuteRequest, NodeOutcome, SignedDecision,
};
use cdg_shared::query::AggregateQuery;
use cdg_shared::text;
use cdg_shared::tls::TlsFiles;
use tonic::transport::Channel;

use crate::bounds::Published;
use crate::config::CoordinatorConfig;
use crate::decisions::{approval, verdict};
use crate::merge;
use crate::progress::{Progress, Step};
use crate::state::StoredStudy;
use crate::study::StudyQuery;

/// What every query of a run carries to the nodes.
pub struct StudyContext<'a> {
    pub id: &'a str,
    /// Identity URI of the analyst running the study (for the nodes' budgets).
    pub analyst: String,
    /// The study's canonical encoding, whose digest the directors signed.
    pub canonical: Vec<u8>,
    pub stored: &'a StoredStudy,
}

/// Asks every département of the study concurrently, each node all the queries in turn; a
/// département with no node configured is unreachable. One result per département, in order.
pub async fn fan_out(
    nodes: &[NodeClient],
    study: &StudyContext<'_>,
    departements: &[Cdg],
    queries: &[StudyQuery],
    asking: Asking,
    progress: &Progress,
) -> Vec<(Cdg, Result<Vec<NodeAnswer>, NodeFailure>)> {
    let runs = departements.iter().map(|&cdg| async move {
        let result = match nodes.iter().find(|n| n.cdg == cdg) {
            Some(node) => run_on_node(node, study, queries, asking, progress).await,
            None => Err(NodeFailure {
                status: OutcomeStatus::Unreachable,
                message: format!("no node configured for CDG {cdg}"),
            }),
        };
        (cdg, result)
    });
    futures::future::join_all(runs).await
}

/// One node asked every query of the study in turn, with the approval of its own director.
async fn run_on_node(
    node: &NodeClient,
    study: &StudyContext<'_>,
    queries: &[StudyQuery],
    asking: Asking,
    progress: &Progress,
) -> Result<Vec<NodeAnswer>, NodeFailure> {
    let step = |step, query: &StudyQuery, done, message: String| {
        progress.report(Step {
            cdg: node.cdg,
            step,
            query_name: &query.name,
            queries_done: done,
            queries_total: queries.len(),
            message,
        })
    };
    let approval = match approval(study.stored, node.cdg) {
        Some(a) => a.to_proto(),
        None => {
            let message = match verdict(study.stored, node.cdg) {
                Some(d) => format!("rejected by {} ({})", d.director, d.note),
                None => format!("not approved yet by the director of CDG {}", node.cdg),
            };
            if let Some(q) = queries.first() {
                step("failed", q, 0, message.clone());
            }
            return Err(NodeFailure {
                status: OutcomeStatus::Refused,
                message,
            });
        }
    };
    let mut answers = Vec::with_capacity(queries.len());
    for (i, q) in queries.iter().enumerate() {
        step("asking", q, i, String::new());
        let answer = node
            .execute_retrying(study, q, std::slice::from_ref(&approval), asking, |n, f| {
                step(
                    "retrying",
                    q,
                    i,
                    format!("attempt {n} failed: {}", f.message),
                )
            })
            .await
            .map_err(|mut f| {
                f.message = format!("query {}: {}", q.name, f.message);
                step("failed", q, i, f.message.clone());
                f
            })?;
        step("answered", q, i + 1, String::new());
        answers.push(answer);
    }
    Ok(answers)
}

/// A node's client, on a channel that connects lazily and is reused by every study.
#[derive(Clone)]
pub struct NodeClient {
    pub cdg: Cdg,
    pub address: String,
    client: NodeServiceClient<Channel>,
}

/// What one node answered to one query.
pub struct NodeAnswer {
    pub batch: merge::Checked,
    pub cells_released: u32,
    pub cells_suppressed: u32,
    pub data_versions: Vec<DataVersion>,
    pub policy_version: String,
    /// What the node's policy says of its withheld cells and its measures.
    pub published: Published,
    /// Attempts it took (1 unless a transient error was retried).
    pub attempts: u32,
}

/// How a node is asked: its deadline per query, the study's, and retries.
#[derive(Debug, Clone, Copy)]
pub struct Asking {
    pub per_query: Duration,
    /// When the whole study run must be over.
    pub study_deadline: Instant,
    pub retries: u32,
    pub backoff: Duration,
}

/// Why a node did not answer.
#[derive(Debug, Clone)]
pub struct NodeFailure {
    pub status: OutcomeStatus,
    pub message: String,
}

impl NodeClient {
    /// Builds the clients of every configured node (no connection is made yet).
    pub fn all(config: &CoordinatorConfig, tls: &TlsFiles) -> anyhow::Result<Vec<NodeClient>> {
        let revoked = std::sync::Arc::new(config.revocation()?);
        config
            .nodes
            .iter()
            .map(|n| {
                let endpoint = tls
                    .client_endpoint_revoking(
                        &n.address,
                        Principal::new(Role::Node, n.cdg),
                        revoked.clone(),
                    )?
                    .connect_timeout(Duration::from_secs(5))
                    .tcp_nodelay(true);
                let client = NodeServiceClient::new(endpoint.connect_lazy())
                    .max_decoding_message_size(config.max_message_bytes)
                    .max_encoding_message_size(config.max_message_bytes);
                Ok(NodeClient {
                    cdg: n.cdg,
                    address: n.address.clone(),
                    client,
                })
            })
            .collect()
    }

    /// Runs one query on this node, retrying while it is unreachable (with a doubling pause),
    /// within the per-query deadline and what is left of the study's. `retrying` hears of each
    /// retry and its reason.
    pub async fn execute_retrying(
        &self,
        study: &StudyContext<'_>,
        query: &StudyQuery,
        approvals: &[SignedDecision],
        asking: Asking,
        mut retrying: impl FnMut(u32, &NodeFailure),
    ) -> Result<NodeAnswer, NodeFailure> {
        let mut pause = asking.backoff;
        let mut attempt = 1;
        loop {
            let left = asking
                .study_deadline
                .saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(NodeFailure {
                    status: OutcomeStatus::TimedOut,
                    message: "the study's deadline passed before this node answered".into(),
                });
            }
            let result = self
                .execute(study, query, approvals, asking.per_query.min(left))
                .await;
            match result {
                Err(f)
                    if f.status == OutcomeStatus::Unreachable
                        && attempt <= asking.retries
                        && pause < left =>
                {
                    retrying(attempt, &f);
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    attempt += 1;
                }
                Err(mut f) => {
                    if attempt > 1 {
                        f.message = format!("{} (after {attempt} attempts)", f.message);
                    }
                    return Err(f);
                }
                Ok(mut answer) => {
                    answer.attempts = attempt;
                    return Ok(answer);
                }
            }
        }
    }

    /// The disclosure policy this node publishes, asked within `deadline`.
    pub async fn policy(&self, deadline: Duration) -> Result<DisclosurePolicy, String> {
        let mut request = tonic::Request::new(DescribeRequest {
            protocol_version: PROTOCOL_VERSION,
        });
        request.set_timeout(deadline);
        let mut client = self.client.clone();
        let asked = tokio::time::timeout(deadline, client.describe(request)).await;
        match asked {
            Err(_) => Err(format!("no answer within {} s", deadline.as_secs())),
            Ok(Err(status)) => Err(error_chain(&status)),
            Ok(Ok(r)) => r
                .into_inner()
                .policy
                .ok_or_else(|| "the node published no policy".to_string()),
        }
    }

    /// Runs one query on this node, within `deadline`.
    pub async fn execute(
        &self,
        study: &StudyContext<'_>,
        query: &StudyQuery,
        approvals: &[SignedDecision],
        deadline: Duration,
    ) -> Result<NodeAnswer, NodeFailure> {
        let mut request = tonic::Request::new(ExecuteRequest {
            protocol_version: PROTOCOL_VERSION,
            query: Some((&query.query).into()),
            study_id: study.id.to_string(),
            query_name: query.name.clone(),
            analyst: study.analyst.clone(),
            study: study.canonical.clone(),
            approvals: approvals.to_vec(),
        });
        request.set_timeout(deadline);
        let mut client = self.client.clone();
        let call = tokio::time::timeout(
            deadline + Duration::from_millis(500),
            client.execute(request),
        );
        let response = match call.await {
            Err(_) => {
                return Err(NodeFailure {
                    status: OutcomeStatus::TimedOut,
                    message: format!("no answer within {} s", deadline.as_secs_f32()),
                });
            }
            Ok(Err(status)) => return Err(self.classify(status)),
            Ok(Ok(r)) => r.into_inner(),
        };
        fields::check_answer(&response).map_err(|e| NodeFailure {
            status: OutcomeStatus::Incompatible,
            message: format!("the answer's metadata is malformed: {e}"),
        })?;
        // Tables are merged only if every node defines the query's datasets alike.
        let differences = catalogue::differences(response.catalogue.as_ref(), &query.query.dataset);
        if !differences.is_empty() {
            return Err(NodeFailure {
                status: OutcomeStatus::Incompatible,
                message: format!(
                    "CDG {}'s node answers from another catalogue: {}",
                    self.cdg.code(),
                    differences.join("; ")
                ),
            });
        }
        let batch = decode_answer(&query.query, self.cdg, &response.arrow_ipc)?;
        Ok(NodeAnswer {
            batch,
            cells_released: response.cells_released,
            cells_suppressed: response.cells_suppressed,
            data_versions: response.data_versions,
            policy_version: response.policy_version,
            published: Published {
                secret_bounds: response.secret_bounds,
                measure_ranges: response.measure_ranges,
                noise: response.noise,
            },
            attempts: 1,
        })
    }

    /// The gRPC client on this node's channel (the secure aggregation's calls, `secure/`).
    pub(crate) fn grpc(&self) -> NodeServiceClient<Channel> {
        self.client.clone()
    }

    /// Why a call to this node failed, from its status.
    pub(crate) fn classify(&self, status: tonic::Status) -> NodeFailure {
        use tonic::Code;
        // Classified by code, by where the status was made and by the node's refusal header,
        // never by its message (a node's text is its own).
        let local = std::error::Error::source(&status).is_some();
        let kind = match status.code() {
            // The connection failed or broke (the node stopped, or its network): transient.
            // Such a status is made here, by the transport, around the error it met; a status
            // a node sends has no source.
            Code::Unknown if local => OutcomeStatus::Unreachable,
            Code::Unavailable => OutcomeStatus::Unreachable,
            Code::DeadlineExceeded | Code::Cancelled => OutcomeStatus::TimedOut,
            Code::FailedPrecondition
                if cdg_shared::proto::refusal(&status)
                    == Some(cdg_shared::proto::REFUSAL_PROTOCOL) =>
            {
                OutcomeStatus::Incompatible
            }
            Code::Unimplemented => OutcomeStatus::Incompatible,
            // Our own decoding limit (the node's answer is too large for this coordinator): a
            // node never answers OutOfRange itself.
            Code::OutOfRange => {
                return NodeFailure {
                    status: OutcomeStatus::Incompatible,
                    message: format!(
                        "the answer is larger than the coordinator's max_message_bytes: {}; \
                         raise max_message_bytes in the coordinator's configuration, or ask for \
                         fewer cells (fewer dimensions, filters)",
                        text::bounded(status.message(), text::MAX_MESSAGE_BYTES)
                    ),
                };
            }
            _ => OutcomeStatus::Refused,
        };
        // A node's message goes into the outcome, the audit log and the result: bounded.
        let chain = error_chain(&status);
        let mut message = format!(
            "{}: {}",
            code_name(status.code()),
            text::bounded(&chain, text::MAX_MESSAGE_BYTES)
        );
        if kind == OutcomeStatus::Unreachable {
            message = format!("{} unreachable ({message})", self.address);
        }
        NodeFailure {
            status: kind,
            message,
        }
    }
}

/// The status message followed by its causes (a TLS failure's reason is in the causes).
fn error_chain(status: &tonic::Status) -> String {
    let mut text = status.message().to_string();
    let mut source = std::error::Error::source(status);
    while let Some(e) = source {
        let cause = e.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
        source = e.source();
    }
    text
}

fn code_name(code: tonic::Code) -> String {
    format!("{code:?}")
}

/// The outcome record of a node over a whole study.
/// A node's Arrow IPC answer as one batch of the schema `query` calls for, or why it is not
/// one (an incompatible node). Untrusted bytes: every failure is a named outcome, never a panic.
pub fn decode_answer(
    query: &AggregateQuery,
    cdg: Cdg,
    bytes: &[u8],
) -> Result<merge::Checked, NodeFailure> {
    let incompatible = |message: String| NodeFailure {
        status: OutcomeStatus::Incompatible,
        message,
    };
    let (schema, batches) = arrow_ipc::decode(bytes)
        .map_err(|e| incompatible(format!("unreadable Arrow answer: {e}")))?;
    // Checked once, here, before the batches are put together, which assumes their columns.
    merge::check_fields(query, cdg, &schema).map_err(|e| incompatible(e.to_string()))?;
    let batch = match <[RecordBatch; 1]>::try_from(batches) {
        Ok([one]) => one,
        Err(batches) => arrow::compute::concat_batches(&schema, &batches).map_err(|e| {
            incompatible(format!(
                "{} Arrow batches that do not stack: {e}",
                batches.len()
            ))
        })?,
    };
    Ok(merge::Checked::of_checked_schema(batch))
}

pub fn outcome(cdg: Cdg, result: &Result<Vec<NodeAnswer>, NodeFailure>) -> NodeOutcome {
    match result {
        Ok(answers) => {
            let mut versions: Vec<DataVersion> = Vec::new();
            for a in answers {
                for v in &a.data_versions {
                    if !versions.contains(v) {
                        versions.push(v.clone());
                    }
                }
            }
            let mut policies: Vec<&str> =
                answers.iter().map(|a| a.policy_version.as_str()).collect();
            policies.dedup();
            NodeOutcome {
                cdg: cdg.code().to_string(),
                status: OutcomeStatus::Answered as i32,
                message: String::new(),
                cells_released: answers.iter().map(|a| a.cells_released).sum(),
                cells_suppressed: answers.iter().map(|a| a.cells_suppressed).sum(),
                data_versions: versions,
                policy_version: policies.join(","),
                attempts: answers.iter().map(|a| a.attempts).max().unwrap_or(1),
                secure_aggregation: String::new(),
            }
        }
        Err(f) => NodeOutcome {
            cdg: cdg.code().to_string(),
            status: f.status as i32,
            message: f.message.clone(),
            cells_released: 0,
            cells_suppressed: 0,
            data_versions: Vec::new(),
            policy_version: String::new(),
            attempts: 0,
            secure_aggregation: String::new(),
        },
    }
}
