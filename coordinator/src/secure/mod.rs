//! The second round of a run: secure aggregation of the regional cells that at least two
//! départements withheld (`cdg_shared::secure_sum` has the protocol, `node/DISCLOSURE.md` what
//! each party learns).
//!
//! For each query, the coordinator picks the cells from the public statuses (`candidates`),
//! draws a session, relays each participant's signed key offers to the others, and sums the
//! masked cells it gets back: only the sum over a cell's participants is readable. It then
//! applies the release rules to the sum under the strictest participant policy, with the cell
//! key method's noise. If a node fails or refuses at either step, nothing of that round is
//! used: a new round, with a new session and new keys, runs without it (its cells summed over
//! the others when at least two remain), and its outcome says why it left. A wrong sum is
//! never published: an incomplete one is never summed.

mod calls;
mod candidates;
mod run;

pub use cdg_shared::secure_sum::guard;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use cdg_shared::catalogue;
use cdg_shared::cdg::Cdg;
use cdg_shared::proto::PROTOCOL_VERSION;
use cdg_shared::proto::v1::{
    DisclosurePolicy, KeyOffer, SecureCell, SecureSumContributeResponse, SecureSumScope,
};
use cdg_shared::query::Diffusion;
use cdg_shared::secure_sum::SESSION_BYTES;
use cdg_shared::secure_sum::layout::{self, CellSums};
use cdg_shared::secure_sum::release::{Rules, release};
use futures::future::join_all;
use serde_json::json;

pub use candidates::{Candidates, candidates};

use crate::decisions::approval;
use crate::fanout::{NodeClient, NodeFailure, StudyContext};
use crate::study::StudyQuery;

/// The `diffusion` of a regional cell whose withheld départements were summed securely.
pub const SECURE: &str = "agrégation sécurisée";

/// Rounds tried for one query before its cells stay intervals.
const ROUNDS: usize = 3;

/// A regional cell a secure aggregation settled.
#[derive(Debug, Clone)]
pub struct Aggregated {
    /// The départements whose withheld cells it sums.
    pub participants: Vec<Cdg>,
    /// Its published measures, or the rule that keeps the sum secret too (a release rule's
    /// `diffusion` text, or [`guard::DIFFERENCING`]).
    pub outcome: Result<Vec<Option<f64>>, &'static str>,
}

/// What the second round gave for one query.
#[derive(Debug, Default)]
pub struct Secured {
    pub cells: BTreeMap<Vec<String>, Aggregated>,
    /// What each node did, for its outcome.
    pub notes: BTreeMap<Cdg, String>,
    /// The nodes that left a round, and why (the coordinator's log).
    pub left: Vec<(Cdg, String)>,
}

impl Secured {
    /// The coordinator log's record of the cells: each cell's participants and what was
    /// published (never the exact sums).
    pub fn log(&self) -> Vec<serde_json::Value> {
        self.cells
            .iter()
            .map(|(dims, a)| {
                let participants: Vec<&str> = a.participants.iter().map(|c| c.code()).collect();
                match &a.outcome {
                    Ok(values) => {
                        json!({"cell": dims, "participants": participants, "published": values})
                    }
                    Err(rule) => {
                        json!({"cell": dims, "participants": participants, "withheld": rule})
                    }
                }
            })
            .collect()
    }
}

/// One query's second round, as asked.
pub struct Round<'a> {
    pub nodes: &'a [NodeClient],
    pub study: &'a StudyContext<'a>,
    pub query: &'a StudyQuery,
    /// Each call's deadline.
    pub deadline: Duration,
}

/// Runs the second round of one query over `candidates`.
pub async fn aggregate(round: &Round<'_>, candidates: &Candidates) -> Secured {
    let mut secured = Secured::default();
    // Nodes left out of the next round's cells, and nodes whose cells are given up: once the
    // others sent their masked cells, a sum without the missing node would be one département
    // away from the sum they entered, which their guards refuse (rightly: the coordinator
    // could have had the missing contribution after all).
    let mut excluded: BTreeSet<Cdg> = BTreeSet::new();
    let mut given_up: BTreeSet<Cdg> = BTreeSet::new();
    for _ in 0..ROUNDS {
        let cells: Candidates = candidates
            .iter()
            .filter(|(_, cdgs)| !cdgs.iter().any(|c| given_up.contains(c)))
            .map(|(dims, cdgs)| {
                let kept: Vec<Cdg> = cdgs
                    .iter()
                    .filter(|c| !excluded.contains(c))
                    .copied()
                    .collect();
                (dims.clone(), kept)
            })
            .filter(|(_, cdgs)| cdgs.len() >= 2)
            .collect();
        if cells.is_empty() {
            break;
        }
        match one_round(round, &cells).await {
            Ok((sums, policies, employers)) => {
                let Some(dataset) = catalogue::dataset(&round.query.query.dataset) else {
                    break;
                };
                for ((dims, participants), sum) in cells.iter().zip(sums) {
                    let cell_policies: Vec<DisclosurePolicy> = participants
                        .iter()
                        .filter_map(|c| policies.get(c).cloned())
                        .collect();
                    let outcome = match (
                        Rules::strictest(&cell_policies, dataset),
                        CellSums::decode(&sum, round.query.query.measures.len()),
                    ) {
                        (Some(rules), Some(sums)) => {
                            release(&sums, &round.query.query.measures, employers, &rules)
                                .map_err(Diffusion::as_str)
                        }
                        _ => Err(Diffusion::Threshold.as_str()),
                    };
                    secured.cells.insert(
                        dims.clone(),
                        Aggregated {
                            participants: participants.clone(),
                            outcome,
                        },
                    );
                }
                for cdg in cells.values().flatten() {
                    let n = cells.values().filter(|p| p.contains(cdg)).count();
                    secured.notes.insert(
                        *cdg,
                        format!(
                            "query {}: {n} withheld cell(s) added, masked, to regional sums",
                            round.query.name
                        ),
                    );
                }
                return secured;
            }
            Err((failures, stage)) => {
                for (cdg, f) in failures {
                    let why = match stage {
                        Stage::Offers => format!(
                            "query {}: left the secure aggregation before its key offers ({}); \
                             its cells were summed without it, or stay intervals",
                            round.query.name, f.message
                        ),
                        Stage::Contributions => format!(
                            "query {}: left the secure aggregation after the key offers ({}); \
                             the cells it withheld stay intervals",
                            round.query.name, f.message
                        ),
                    };
                    secured.notes.insert(cdg, why);
                    secured.left.push((cdg, f.message));
                    excluded.insert(cdg);
                    if stage == Stage::Contributions {
                        given_up.insert(cdg);
                    }
                }
            }
        }
    }
    secured
}

/// What a completed round returns: each cell's sum in order, each participant's policy, and
/// whether the dataset counts employers.
type RoundSums = (Vec<Vec<u64>>, BTreeMap<Cdg, DisclosurePolicy>, bool);

/// The step of a round at which nodes failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Before any node sent a masked cell.
    Offers,
    /// After some may have.
    Contributions,
}

/// One round over `cells`: offers, then contributions, then the sums. Any failure names the
/// nodes that failed and the step, and nothing of the round is used.
async fn one_round(
    round: &Round<'_>,
    cells: &Candidates,
) -> Result<RoundSums, (Vec<(Cdg, NodeFailure)>, Stage)> {
    let participants: Vec<Cdg> = cells
        .values()
        .flatten()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let session = session().map_err(|m| {
        let failure = NodeFailure {
            status: cdg_shared::proto::v1::node_outcome::Status::Refused,
            message: m,
        };
        (vec![(participants[0], failure)], Stage::Offers)
    })?;
    let scope = |cdg: Cdg| SecureSumScope {
        protocol_version: PROTOCOL_VERSION,
        query: Some((&round.query.query).into()),
        study_id: round.study.id.to_string(),
        query_name: round.query.name.clone(),
        study: round.study.canonical.clone(),
        approvals: approval(round.study.stored, cdg)
            .map(|a| vec![a.to_proto()])
            .unwrap_or_default(),
        session: session.clone(),
        participants: participants.iter().map(|c| c.code().to_string()).collect(),
    };
    let node = |cdg: Cdg| round.nodes.iter().find(|n| n.cdg == cdg);
    let unreachable = |cdg: Cdg| NodeFailure {
        status: cdg_shared::proto::v1::node_outcome::Status::Unreachable,
        message: format!("no node configured for CDG {cdg}"),
    };

    // 1. Each participant's signed key offers.
    let offers = join_all(participants.iter().map(|&cdg| async move {
        let result = match node(cdg) {
            Some(n) => calls::offer(n, scope(cdg), round.deadline).await,
            None => Err(unreachable(cdg)),
        };
        (cdg, result)
    }))
    .await;
    let mut failures = Vec::new();
    let mut relayed: BTreeMap<Cdg, Vec<KeyOffer>> = BTreeMap::new();
    for (cdg, result) in offers {
        match result {
            Ok(offers) => {
                for o in offers {
                    if let Ok(to) = o.to.parse::<Cdg>() {
                        relayed.entry(to).or_default().push(o);
                    }
                }
            }
            Err(f) => failures.push((cdg, f)),
        }
    }
    if !failures.is_empty() {
        return Err((failures, Stage::Offers));
    }

    // 2. Each participant's masked cells, the offers for it relayed as they are.
    let asked = |cdg: Cdg| -> Vec<SecureCell> {
        cells
            .iter()
            .filter(|(_, p)| p.contains(&cdg))
            .map(|(dims, p)| SecureCell {
                dimensions: dims.clone(),
                participants: p.iter().map(|c| c.code().to_string()).collect(),
            })
            .collect()
    };
    let relayed = &relayed;
    let contributions = join_all(participants.iter().map(|&cdg| async move {
        let result = match node(cdg) {
            Some(n) => {
                let offers = relayed.get(&cdg).cloned().unwrap_or_default();
                calls::contribute(n, scope(cdg), asked(cdg), offers, round.deadline).await
            }
            None => Err(unreachable(cdg)),
        };
        (cdg, result)
    }))
    .await;
    let width = layout::len(round.query.query.measures.len());
    let mut sums = vec![vec![0u64; width]; cells.len()];
    let mut policies = BTreeMap::new();
    let mut employers = false;
    for (cdg, result) in contributions {
        match result.and_then(|r| check(cdg, r, asked(cdg).len(), width)) {
            Ok(response) => {
                let mut masked = response.cells.into_iter();
                for (sum, (_, p)) in sums.iter_mut().zip(cells) {
                    if p.contains(&cdg) {
                        let values = masked.next().map(|m| m.values).unwrap_or_default();
                        layout::add(sum, &values);
                    }
                }
                employers |= response.employers;
                if let Some(policy) = response.policy {
                    policies.insert(cdg, policy);
                }
            }
            Err(f) => failures.push((cdg, f)),
        }
    }
    if !failures.is_empty() {
        return Err((failures, Stage::Contributions));
    }
    Ok((sums, policies, employers))
}

/// A contribution of the right shape: one masked cell per cell asked, each of `width` values,
/// and the node's policy.
fn check(
    cdg: Cdg,
    r: SecureSumContributeResponse,
    asked: usize,
    width: usize,
) -> Result<SecureSumContributeResponse, NodeFailure> {
    if r.cells.len() != asked
        || r.cells.iter().any(|c| c.values.len() != width)
        || r.policy.is_none()
    {
        return Err(NodeFailure {
            status: cdg_shared::proto::v1::node_outcome::Status::Incompatible,
            message: format!(
                "CDG {cdg}'s contribution has {} cell(s) for {asked} asked, or cells of the \
                 wrong width, or no policy",
                r.cells.len()
            ),
        });
    }
    Ok(r)
}

/// A fresh session id.
fn session() -> Result<Vec<u8>, String> {
    let mut s = vec![0u8; SESSION_BYTES];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut s)
        .map_err(|_| "no randomness for a session id".to_string())?;
    Ok(s)
}
