//! Fan-out: one reused mTLS channel per node, every node asked concurrently, each with a deadline,
//! and every outcome reported per département.

use std::time::Duration;

use arrow::array::RecordBatch;
use cdg_shared::arrow_ipc;
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::proto::PROTOCOL_VERSION;
use cdg_shared::proto::v1::node_outcome::Status as OutcomeStatus;
use cdg_shared::proto::v1::node_service_client::NodeServiceClient;
use cdg_shared::proto::v1::{DataVersion, ExecuteRequest, NodeOutcome, SignedDecision};
use cdg_shared::tls::TlsFiles;
use tonic::transport::Channel;

use crate::config::CoordinatorConfig;
use crate::coordinator::StudyContext;
use crate::study::StudyQuery;

/// A node's client, on a channel that connects lazily and is reused by every study.
#[derive(Clone)]
pub struct NodeClient {
    pub cdg: Cdg,
    pub address: String,
    client: NodeServiceClient<Channel>,
}

/// What one node answered to one query.
pub struct NodeAnswer {
    pub batch: RecordBatch,
    pub cells_released: u32,
    pub cells_suppressed: u32,
    pub data_versions: Vec<DataVersion>,
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
        config
            .nodes
            .iter()
            .map(|n| {
                let endpoint = tls
                    .client_endpoint(&n.address, Principal::new(Role::Node, n.cdg))?
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
        let (_, batches) = arrow_ipc::decode(&response.arrow_ipc).map_err(|e| NodeFailure {
            status: OutcomeStatus::Incompatible,
            message: format!("unreadable Arrow answer: {e}"),
        })?;
        let batch = match batches.len() {
            1 => batches.into_iter().next().expect("one batch"),
            n => {
                let schema = query.query.result_schema();
                arrow::compute::concat_batches(&schema, &batches).map_err(|e| NodeFailure {
                    status: OutcomeStatus::Incompatible,
                    message: format!("{n} Arrow batches that do not fit the expected schema: {e}"),
                })?
            }
        };
        Ok(NodeAnswer {
            batch,
            cells_released: response.cells_released,
            cells_suppressed: response.cells_suppressed,
            data_versions: response.data_versions,
        })
    }

    fn classify(&self, status: tonic::Status) -> NodeFailure {
        use tonic::Code;
        let kind = match status.code() {
            Code::Unavailable | Code::Unknown if status.message().contains("connect") => {
                OutcomeStatus::Unreachable
            }
            Code::Unavailable => OutcomeStatus::Unreachable,
            Code::DeadlineExceeded | Code::Cancelled => OutcomeStatus::TimedOut,
            Code::FailedPrecondition if status.message().contains("protocol version") => {
                OutcomeStatus::Incompatible
            }
            Code::Unimplemented => OutcomeStatus::Incompatible,
            _ => OutcomeStatus::Refused,
        };
        let mut message = format!("{}: {}", code_name(status.code()), error_chain(&status));
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
            NodeOutcome {
                cdg: cdg.code().to_string(),
                status: OutcomeStatus::Answered as i32,
                message: String::new(),
                cells_released: answers.iter().map(|a| a.cells_released).sum(),
                cells_suppressed: answers.iter().map(|a| a.cells_suppressed).sum(),
                data_versions: versions,
            }
        }
        Err(f) => NodeOutcome {
            cdg: cdg.code().to_string(),
            status: f.status as i32,
            message: f.message.clone(),
            cells_released: 0,
            cells_suppressed: 0,
            data_versions: Vec::new(),
        },
    }
}
