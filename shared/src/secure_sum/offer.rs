//! The key offers: a node's ephemeral public key for one other participant, signed with the
//! node's certificate key over everything the key is for (the round's session, study, query
//! and participants, the two nodes). The coordinator relays the offers but holds no node's
//! key: it cannot forge an offer, so it cannot agree a secret with a node in another node's
//! place and unmask its values. An offer of another round (a replay) names another session
//! and is refused.

use std::collections::BTreeMap;

use super::Scope;
use super::masks::PUBLIC_KEY_BYTES;
use crate::cdg::Cdg;
use crate::identity::Role;
use crate::proto::v1::KeyOffer;
use crate::signing::{Signer, TrustedSigners, verify_bytes};

/// The bytes a node signs for its key `public_key` from `from` to `to`.
pub fn payload(scope: &Scope, from: Cdg, to: Cdg, public_key: &[u8]) -> Vec<u8> {
    let mut p = b"cdg-hdf secure-sum offer v1\0".to_vec();
    p.extend_from_slice(&scope.digest());
    for c in [from, to] {
        p.extend_from_slice(c.code().as_bytes());
        p.push(0);
    }
    p.extend_from_slice(public_key);
    p
}

/// Signs the node's public keys of a round.
pub fn sign(
    signer: &Signer,
    scope: &Scope,
    me: Cdg,
    public: &[(Cdg, Vec<u8>)],
) -> Result<Vec<KeyOffer>, String> {
    public
        .iter()
        .map(|(to, key)| {
            Ok(KeyOffer {
                from: me.code().to_string(),
                to: to.code().to_string(),
                public_key: key.clone(),
                certificate: signer.certificate().to_vec(),
                signature: signer
                    .sign_bytes(&payload(scope, me, *to, key))
                    .map_err(|e| format!("signing a key offer: {e}"))?,
            })
        })
        .collect()
}

/// Checks the offers addressed to `me` in a round: one from each other participant, each
/// signed by that participant's node certificate (chaining to the federation CA) over this
/// round. Returns each peer's public key.
pub fn verify(
    trusted: &TrustedSigners,
    scope: &Scope,
    me: Cdg,
    offers: &[KeyOffer],
) -> Result<BTreeMap<Cdg, Vec<u8>>, String> {
    let mut keys = BTreeMap::new();
    for offer in offers {
        let from: Cdg = offer
            .from
            .parse()
            .map_err(|_| "a key offer names an unknown sender".to_string())?;
        let to: Cdg = offer
            .to
            .parse()
            .map_err(|_| "a key offer names an unknown recipient".to_string())?;
        if to != me || from == me || !scope.participants.contains(&from) {
            return Err(format!(
                "a key offer from CDG {from} to CDG {to} does not belong to this node's round"
            ));
        }
        if offer.public_key.len() != PUBLIC_KEY_BYTES {
            return Err(format!("the key offer of CDG {from} is not an X25519 key"));
        }
        let signer = trusted
            .trusted_identity_for(&offer.certificate, true)
            .map_err(|e| format!("the key offer of CDG {from} is not signed by a member: {e}"))?;
        if signer.role != Role::Node || signer.cdg != from {
            return Err(format!(
                "the key offer of CDG {from} is signed by {signer}, not by the node of CDG {from}"
            ));
        }
        verify_bytes(
            &offer.certificate,
            &payload(scope, from, to, &offer.public_key),
            &offer.signature,
        )
        .map_err(|_| {
            format!(
                "the key offer of CDG {from} does not verify: forged, or of another round \
                 (session, study, query or participants)"
            )
        })?;
        if keys.insert(from, offer.public_key.clone()).is_some() {
            return Err(format!("two key offers from CDG {from}"));
        }
    }
    if let Some(missing) = scope
        .participants
        .iter()
        .find(|&&p| p != me && !keys.contains_key(&p))
    {
        return Err(format!("no key offer from CDG {missing}"));
    }
    Ok(keys)
}
