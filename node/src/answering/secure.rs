//! A secure-aggregation round, this node's side (`cdg_shared::secure_sum` has the protocol,
//! `disclosure/secure_sum.rs` the rule on which cells go in):
//!
//! 1. [`Answering::secure_offer`]: fresh X25519 keys, one per other participant, kept in memory
//!    for this round only, their public halves signed with the node's certificate key;
//! 2. [`Answering::secure_contribute`]: the other participants' offers checked (signed by
//!    their nodes, for this very round), one secret agreed with each, and this node's withheld
//!    cells returned masked. The round's keys are then gone: a replayed request finds none.
//!
//! A round's keys live at most [`ROUND_LIFETIME`]; a node keeps at most [`MAX_ROUNDS`] rounds
//! open, and refuses a session id it has already seen.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cdg_shared::cdg::Cdg;
use cdg_shared::proto::v1::KeyOffer;
use cdg_shared::secure_sum::Scope;
use cdg_shared::secure_sum::guard::{self, Guard};
use cdg_shared::secure_sum::masks::{self, KeyPairs};
use cdg_shared::secure_sum::{layout, offer};
use cdg_shared::signing::Signer;

use super::{Admitted, Answering};
use crate::disclosure::secure_sum::{self as rule, Asked};
use crate::error::{NodeError, Result};

/// How long a round's keys wait for its second request.
pub const ROUND_LIFETIME: Duration = Duration::from_secs(600);
/// Rounds open at once.
pub const MAX_ROUNDS: usize = 64;
/// Session ids remembered, to refuse a replayed round.
const REMEMBERED: usize = 4096;

/// The rounds this node is part of.
pub struct Rounds {
    signer: Signer,
    /// The cells this node added to sums before, and over whom.
    guard: Guard,
    inner: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    pending: HashMap<Vec<u8>, Pending>,
    seen: VecDeque<Vec<u8>>,
}

struct Pending {
    scope: Scope,
    keys: KeyPairs,
    opened: Instant,
}

impl Rounds {
    /// Rounds whose key offers `signer` (the node's certificate and key) signs, refusing a
    /// sum one département away from one `guard` recorded.
    pub fn new(signer: Signer, guard: Guard) -> Rounds {
        Rounds {
            signer,
            guard,
            inner: Mutex::default(),
        }
    }

    fn open(&self) -> Result<std::sync::MutexGuard<'_, Open>> {
        let mut open = self
            .inner
            .lock()
            .map_err(|_| NodeError::Internal("secure-aggregation lock poisoned".into()))?;
        open.pending
            .retain(|_, p| p.opened.elapsed() < ROUND_LIFETIME);
        Ok(open)
    }
}

fn refuse<T>(m: impl Into<String>) -> Result<T> {
    Err(NodeError::SecureSum(m.into()))
}

impl Answering {
    /// Lets this node take part in secure aggregations, signing its key offers with `signer`
    /// and keeping the sums it entered in `guard`.
    pub fn with_rounds(mut self, signer: Signer, guard: Guard) -> Answering {
        self.rounds = Some(Rounds::new(signer, guard));
        self
    }

    fn rounds(&self) -> Result<&Rounds> {
        self.rounds
            .as_ref()
            .ok_or_else(|| NodeError::SecureSum("this node takes no part in secure sums".into()))
    }

    /// Checks that the round fits the admitted study: this node and every participant asked by
    /// it.
    fn check_round(&self, admitted: &Admitted, scope: &Scope) -> Result<Cdg> {
        let me = self.approvals.cdg();
        if scope.study_digest != admitted.study_digest {
            return refuse("the round names another study than the one sent");
        }
        if !scope.participants.contains(&me) {
            return refuse(format!("CDG {me} is not a participant of this round"));
        }
        if let Some(p) = scope
            .participants
            .iter()
            .find(|p| !admitted.departements.contains(p))
        {
            return refuse(format!("CDG {p} is not asked by the study"));
        }
        Ok(me)
    }

    /// Step 1: this node's signed key offers for the round `scope`.
    pub fn secure_offer(&self, admitted: &Admitted, scope: Scope) -> Result<Vec<KeyOffer>> {
        let me = self.check_round(admitted, &scope)?;
        let rounds = self.rounds()?;
        let mut open = rounds.open()?;
        if open.seen.contains(&scope.session) {
            return refuse("this session was already used: a round is never replayed");
        }
        if open.pending.len() >= MAX_ROUNDS {
            return refuse(format!(
                "{MAX_ROUNDS} secure-aggregation rounds are already open on this node"
            ));
        }
        let (keys, public) =
            KeyPairs::generate(me, &scope.participants).map_err(NodeError::Internal)?;
        let offers =
            offer::sign(&rounds.signer, &scope, me, &public).map_err(NodeError::Internal)?;
        if open.seen.len() >= REMEMBERED {
            open.seen.pop_front();
        }
        open.seen.push_back(scope.session.clone());
        open.pending.insert(
            scope.session.clone(),
            Pending {
                scope,
                keys,
                opened: Instant::now(),
            },
        );
        Ok(offers)
    }

    /// Step 2: this node's withheld cells `asked`, masked with the secrets agreed from the
    /// other participants' `offers`, and whether the dataset counts employers. Blocking (the
    /// answer may have to be computed).
    pub fn secure_contribute(
        &self,
        admitted: &Admitted,
        scope: &Scope,
        asked: &[Asked],
        offers: &[KeyOffer],
    ) -> Result<(Vec<Vec<u64>>, bool)> {
        let me = self.check_round(admitted, scope)?;
        let rounds = self.rounds()?;
        let pending = {
            let mut open = rounds.open()?;
            match open.pending.remove(&scope.session) {
                Some(p) if p.scope == *scope => p,
                Some(_) => {
                    return refuse(
                        "the round's study, query or participants changed since its key offers",
                    );
                }
                None => {
                    return refuse(
                        "no open round of this session here: never offered, already used, or \
                         expired",
                    );
                }
            }
        };
        // No sum one département away from one this node entered before: whatever the
        // coordinator does with the two, it would learn one département's cell.
        let mut entered: Vec<(String, Vec<Cdg>)> = Vec::with_capacity(asked.len());
        for cell in asked {
            let name = guard::cell_name(&admitted.compiled.query, &cell.dimensions);
            if !rounds.guard.allows(&name, &cell.participants, &entered) {
                return refuse(format!(
                    "the cell {} was summed before over départements one apart from {}: the \
                     difference would be one département's cell",
                    cell.dimensions.join(" × "),
                    cell.participants
                        .iter()
                        .map(|c| c.code())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            entered.push((name, cell.participants.clone()));
        }
        let theirs = offer::verify(self.approvals.trusted(), scope, me, offers)
            .map_err(NodeError::SecureSum)?;
        let secrets = pending
            .keys
            .agree(scope, &theirs)
            .map_err(NodeError::SecureSum)?;
        let (answer, _) = self.computed(admitted)?;
        let sums = rule::contributions(&answer, asked, me, &scope.participants)?;

        let employers = answer.cells.iter().any(|c| c.employers.is_some());
        // Recorded before the masked cells leave: a crash loses no record.
        rounds
            .guard
            .record(&entered)
            .map_err(|e| NodeError::Internal(format!("secure-sum guard: {e}")))?;
        let masked = sums
            .iter()
            .zip(asked)
            .map(|(s, cell)| {
                let mut values = s.encode();
                if values.len() > layout::len(layout::MAX_MEASURES) {
                    return refuse("the query has too many measures to aggregate");
                }
                let id = masks::cell_id(&cell.dimensions, &cell.participants);
                secrets
                    .mask(&id, &cell.participants, &mut values)
                    .map_err(NodeError::SecureSum)?;
                Ok(values)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((masked, employers))
    }
}
