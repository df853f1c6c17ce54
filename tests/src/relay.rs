//! A node that leaves a secure aggregation: it relays the coordinator's calls to a real node
//! (with the coordinator's identity) and stops answering at a chosen step of the second round,
//! as a node killed between the two rounds, or during the second, would.

use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::proto::v1;
use cdg_shared::proto::v1::node_service_client::NodeServiceClient;
use cdg_shared::proto::v1::node_service_server::{NodeService, NodeServiceServer};
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use crate::{Running, identity, node_client};

/// Where the relayed node stops answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaves {
    /// Before its key offers: between the two rounds.
    AtOffer,
    /// After its key offers, before its masked cells: during the second round.
    AtContribution,
}

struct Relay {
    node: NodeServiceClient<Channel>,
    leaves: Leaves,
}

fn gone() -> Status {
    Status::unavailable("the node stopped")
}

#[tonic::async_trait]
impl NodeService for Relay {
    async fn describe(
        &self,
        r: Request<v1::DescribeRequest>,
    ) -> Result<Response<v1::DescribeResponse>, Status> {
        self.node.clone().describe(r.into_inner()).await
    }

    async fn execute(
        &self,
        r: Request<v1::ExecuteRequest>,
    ) -> Result<Response<v1::ExecuteResponse>, Status> {
        self.node.clone().execute(r.into_inner()).await
    }

    type GetAuditLogStream = cdg_shared::audit::PageStream;

    async fn get_audit_log(
        &self,
        _: Request<v1::AuditLogRequest>,
    ) -> Result<Response<Self::GetAuditLogStream>, Status> {
        Err(Status::unimplemented("relay"))
    }

    async fn secure_sum_offer(
        &self,
        r: Request<v1::SecureSumOfferRequest>,
    ) -> Result<Response<v1::SecureSumOfferResponse>, Status> {
        match self.leaves {
            Leaves::AtOffer => Err(gone()),
            Leaves::AtContribution => self.node.clone().secure_sum_offer(r.into_inner()).await,
        }
    }

    async fn secure_sum_contribute(
        &self,
        _: Request<v1::SecureSumContributeRequest>,
    ) -> Result<Response<v1::SecureSumContributeResponse>, Status> {
        Err(gone())
    }
}

/// Serves, with the node certificate of `cdg`, a relay to the real node at `url` that leaves
/// the second round where `leaves` says.
pub async fn leaving_node(
    pki: &cdg_certs_dev::PkiLayout,
    cdg: Cdg,
    url: &str,
    leaves: Leaves,
) -> Running {
    let coordinator = identity(pki, Principal::new(Role::Coordinator, Cdg::Nord));
    let node = node_client(url, &coordinator, cdg)
        .await
        .expect("connecting to the real node");
    let tls = identity(pki, Principal::new(Role::Node, cdg));
    let service = NodeServiceServer::new(Relay { node, leaves });
    crate::process::serve_node(tls, service).await
}
