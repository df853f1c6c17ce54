//! Secure aggregation of withheld cells: a regional total that no département reveals.
//!
//! A regional cell that at least two départements withheld (fewer than 11 agents each, say)
//! may still be safe for the region as a whole. In a second round of the run, each of those
//! départements sends the coordinator its cell's figures plus pairwise masks that cancel in
//! the sum (Bonawitz et al., "Practical Secure Aggregation for Privacy-Preserving Machine
//! Learning", CCS 2017, without its dropout recovery: a node that leaves makes the round start
//! again without it, with fresh keys). The coordinator learns the sum over the participants and
//! nothing else of any one of them; it then applies the release rules to the sum, and the
//! cell key method's noise (`release`).
//!
//! - `offer`: each node's ephemeral X25519 keys, one per other participant, signed with its
//!   certificate's key; the coordinator relays them and cannot stand in for a node.
//! - `masks`: the pairwise secrets (X25519, then HKDF-SHA256 bound to the session, the study,
//!   the query, the cell and its participants) and the masks they expand to.
//! - `layout`: what one cell contributes, as fixed-point numbers modulo 2⁶⁴.
//! - `release`: the rules applied to the aggregated cell, and its noise.
//!
//! Which cells go to the second round depends only on what is already public (each
//! département's `diffusion` column): cells withheld by at least two départements, never the
//! 100% rule's (their protection depends on the neighbouring cells). `node/DISCLOSURE.md`
//! describes the protocol and what each party learns.

pub mod guard;
pub mod layout;
pub mod masks;
pub mod offer;
pub mod release;

use sha2::{Digest, Sha256};

use crate::cdg::Cdg;

/// Bytes of a session id, drawn by the coordinator for each round.
pub const SESSION_BYTES: usize = 16;

/// What every key and mask of one round is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub session: Vec<u8>,
    /// SHA-256 (hex) of the study's canonical encoding.
    pub study_digest: String,
    pub query_name: String,
    /// Sorted, without repetition, at least two.
    pub participants: Vec<Cdg>,
}

impl Scope {
    /// The scope of a request, checked: a session of the right size, at least two distinct
    /// participants in order.
    pub fn new(
        session: &[u8],
        study_digest: &str,
        query_name: &str,
        participants: &[String],
    ) -> Result<Scope, String> {
        if session.len() != SESSION_BYTES {
            return Err(format!(
                "a secure-aggregation session is {SESSION_BYTES} bytes, not {}",
                session.len()
            ));
        }
        let participants = parse_participants(participants)?;
        Ok(Scope {
            session: session.to_vec(),
            study_digest: study_digest.to_string(),
            query_name: query_name.to_string(),
            participants,
        })
    }

    /// A digest of the whole scope, to bind derived keys to it.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"cdg-hdf secure-sum scope v1\0");
        h.update(&self.session);
        for part in [self.study_digest.as_str(), self.query_name.as_str()] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        for c in &self.participants {
            h.update(c.code().as_bytes());
            h.update([0]);
        }
        h.finalize().into()
    }
}

/// Département codes as a set of at least two, sorted: refused if repeated or unknown.
pub fn parse_participants(codes: &[String]) -> Result<Vec<Cdg>, String> {
    let mut cdgs = codes
        .iter()
        .map(|c| {
            c.parse::<Cdg>()
                .map_err(|_| format!("unknown participant {:?}", crate::text::bounded(c, 16)))
        })
        .collect::<Result<Vec<Cdg>, String>>()?;
    let n = cdgs.len();
    cdgs.sort();
    cdgs.dedup();
    if cdgs.len() != n {
        return Err("a participant is named twice".into());
    }
    if cdgs.len() < 2 {
        return Err(
            "a secure aggregation needs at least two participants: a sum of one département \
             would be its own value"
                .into(),
        );
    }
    Ok(cdgs)
}
