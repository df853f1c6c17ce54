//! The two calls of a secure-aggregation round to one node, each within a deadline.

use std::time::Duration;

use cdg_shared::proto::v1::node_outcome::Status as OutcomeStatus;
use cdg_shared::proto::v1::{
    KeyOffer, SecureCell, SecureSumContributeRequest, SecureSumContributeResponse,
    SecureSumOfferRequest, SecureSumScope,
};

use crate::fanout::{NodeClient, NodeFailure};

fn timed_out(deadline: Duration) -> NodeFailure {
    NodeFailure {
        status: OutcomeStatus::TimedOut,
        message: format!("no answer within {} s", deadline.as_secs_f32()),
    }
}

/// The node's signed key offers for the round.
pub async fn offer(
    node: &NodeClient,
    scope: SecureSumScope,
    deadline: Duration,
) -> Result<Vec<KeyOffer>, NodeFailure> {
    let mut request = tonic::Request::new(SecureSumOfferRequest { scope: Some(scope) });
    request.set_timeout(deadline);
    let mut client = node.grpc();
    match tokio::time::timeout(deadline, client.secure_sum_offer(request)).await {
        Err(_) => Err(timed_out(deadline)),
        Ok(Err(status)) => Err(node.classify(status)),
        Ok(Ok(r)) => Ok(r.into_inner().offers),
    }
}

/// The node's masked cells.
pub async fn contribute(
    node: &NodeClient,
    scope: SecureSumScope,
    cells: Vec<SecureCell>,
    offers: Vec<KeyOffer>,
    deadline: Duration,
) -> Result<SecureSumContributeResponse, NodeFailure> {
    let mut request = tonic::Request::new(SecureSumContributeRequest {
        scope: Some(scope),
        cells,
        offers,
    });
    request.set_timeout(deadline);
    let mut client = node.grpc();
    match tokio::time::timeout(deadline, client.secure_sum_contribute(request)).await {
        Err(_) => Err(timed_out(deadline)),
        Ok(Err(status)) => Err(node.classify(status)),
        Ok(Ok(r)) => Ok(r.into_inner()),
    }
}
