//! The pairwise masks. For each pair of participants {i, j}, node i holds an ephemeral X25519
//! key for j and j one for i; each computes the same shared secret from its own private key
//! and the other's public key (signed, `offer`). HKDF-SHA256 extracts from it a key bound to
//! the round ([`Scope::digest`]: session, study, query, participants), and expands it, for
//! each cell, into as many 64-bit words as the cell has values; the expansion's context names
//! the cell (its group-by values and its own participants). The node of the smaller code adds
//! the words, the other subtracts them: over all the participants of a cell, every mask cancels
//! modulo 2⁶⁴. A participant missing from the sum leaves its pairs' masks in it, which look
//! uniformly random: nothing of the others can be read from an incomplete sum.
//!
//! Each private key serves once (`ring`'s ephemeral keys are consumed by the agreement), so a
//! replayed round finds no key to mask with.

use std::collections::BTreeMap;

use ring::agreement::{self, EphemeralPrivateKey, UnparsedPublicKey, X25519};
use ring::hkdf;
use ring::rand::SystemRandom;
use sha2::{Digest, Sha256};

use super::Scope;
use crate::cdg::Cdg;

/// Bytes of an X25519 public key.
pub const PUBLIC_KEY_BYTES: usize = 32;

/// The public halves of a node's keys, by the participant each is for.
pub type PublicHalves = Vec<(Cdg, Vec<u8>)>;

/// One node's private keys for a round, one per other participant.
pub struct KeyPairs {
    me: Cdg,
    keys: BTreeMap<Cdg, EphemeralPrivateKey>,
}

impl std::fmt::Debug for KeyPairs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyPairs({} for {} peers)", self.me, self.keys.len())
    }
}

/// The secrets a node shares with each other participant of a round.
pub struct PairSecrets {
    me: Cdg,
    secrets: BTreeMap<Cdg, hkdf::Prk>,
}

impl KeyPairs {
    /// Fresh keys of `me` for every other participant, and their public halves.
    pub fn generate(me: Cdg, participants: &[Cdg]) -> Result<(KeyPairs, PublicHalves), String> {
        let rng = SystemRandom::new();
        let mut keys = BTreeMap::new();
        let mut public = Vec::new();
        for &peer in participants.iter().filter(|&&p| p != me) {
            let key = EphemeralPrivateKey::generate(&X25519, &rng)
                .map_err(|_| "no randomness for an X25519 key".to_string())?;
            let half = key
                .compute_public_key()
                .map_err(|_| "computing an X25519 public key failed".to_string())?;
            public.push((peer, half.as_ref().to_vec()));
            keys.insert(peer, key);
        }
        Ok((KeyPairs { me, keys }, public))
    }

    /// The peers these keys are for.
    pub fn peers(&self) -> impl Iterator<Item = Cdg> + '_ {
        self.keys.keys().copied()
    }

    /// Agrees a secret with each peer from its public key for us (already verified), bound to
    /// `scope`. Every peer of the keys needs one; the keys are used up either way.
    pub fn agree(
        self,
        scope: &Scope,
        theirs: &BTreeMap<Cdg, Vec<u8>>,
    ) -> Result<PairSecrets, String> {
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, &scope.digest());
        let mut secrets = BTreeMap::new();
        for (peer, key) in self.keys {
            let public = theirs
                .get(&peer)
                .ok_or_else(|| format!("no key offer from CDG {peer}"))?;
            let prk = agreement::agree_ephemeral(
                key,
                &UnparsedPublicKey::new(&X25519, public),
                |shared| salt.extract(shared),
            )
            .map_err(|_| format!("the key offer of CDG {peer} is not a valid X25519 key"))?;
            secrets.insert(peer, prk);
        }
        Ok(PairSecrets {
            me: self.me,
            secrets,
        })
    }
}

/// Names a cell in its masks: its group-by values and its participants.
pub fn cell_id(dimensions: &[String], participants: &[Cdg]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"cdg-hdf secure-sum cell v1\0");
    h.update((dimensions.len() as u64).to_be_bytes());
    for d in dimensions {
        h.update((d.len() as u64).to_be_bytes());
        h.update(d.as_bytes());
    }
    for c in participants {
        h.update(c.code().as_bytes());
        h.update([0]);
    }
    h.finalize().into()
}

struct Words(usize);

impl hkdf::KeyType for Words {
    fn len(&self) -> usize {
        self.0 * 8
    }
}

impl PairSecrets {
    /// Adds to `values` (one cell's) the masks of `me` with every other participant of the
    /// cell, so that they cancel in the sum over `participants`.
    pub fn mask(
        &self,
        cell: &[u8; 32],
        participants: &[Cdg],
        values: &mut [u64],
    ) -> Result<(), String> {
        let mut words = vec![0u8; values.len() * 8];
        for &peer in participants.iter().filter(|&&p| p != self.me) {
            let prk = self
                .secrets
                .get(&peer)
                .ok_or_else(|| format!("CDG {peer} is not a participant of this round"))?;
            prk.expand(&[b"cdg-hdf secure-sum mask v1", cell], Words(values.len()))
                .and_then(|okm| okm.fill(&mut words))
                .map_err(|_| "the cell has too many values to mask".to_string())?;
            for (v, w) in values.iter_mut().zip(words.chunks_exact(8)) {
                let w = u64::from_le_bytes(w.try_into().expect("8 bytes"));
                *v = if self.me < peer {
                    v.wrapping_add(w)
                } else {
                    v.wrapping_sub(w)
                };
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secure_sum::layout;

    fn scope(participants: &[Cdg]) -> Scope {
        Scope {
            session: vec![7; 16],
            study_digest: "abc".into(),
            query_name: "q".into(),
            participants: participants.to_vec(),
        }
    }

    #[test]
    fn masks_cancel_over_the_participants_and_hide_each_value() {
        let participants = [Cdg::Aisne, Cdg::Nord, Cdg::Somme];
        let s = scope(&participants);
        let mut keys = Vec::new();
        let mut public: BTreeMap<(Cdg, Cdg), Vec<u8>> = BTreeMap::new();
        for &me in &participants {
            let (k, halves) = KeyPairs::generate(me, &participants).unwrap();
            for (to, half) in halves {
                public.insert((me, to), half);
            }
            keys.push(k);
        }
        let secrets: Vec<PairSecrets> = keys
            .into_iter()
            .map(|k| {
                let me = k.me;
                let theirs = participants
                    .iter()
                    .filter(|&&p| p != me)
                    .map(|&p| (p, public[&(p, me)].clone()))
                    .collect();
                k.agree(&s, &theirs).unwrap()
            })
            .collect();
        let cell = cell_id(&["A".into(), "F".into()], &participants);
        let values = [[3u64, 1, 10], [4, 2, 20], [5, 0, 30]];
        let mut sum = vec![0u64; 3];
        for (secret, v) in secrets.iter().zip(values) {
            let mut masked = v.to_vec();
            secret.mask(&cell, &participants, &mut masked).unwrap();
            // What the coordinator receives is nowhere near the value.
            for (m, x) in masked.iter().zip(v) {
                assert!(m.abs_diff(x) > 1 << 40, "{m} against {x}");
            }
            layout::add(&mut sum, &masked);
        }
        assert_eq!(sum, vec![12, 3, 60]);

        // Without one participant, the sum of the others is masked too.
        let mut partial = vec![0u64; 3];
        for (secret, v) in secrets.iter().zip(values).take(2) {
            let mut masked = v.to_vec();
            secret.mask(&cell, &participants, &mut masked).unwrap();
            layout::add(&mut partial, &masked);
        }
        assert!(partial[0].abs_diff(7) > 1 << 40);

        // Another cell, or the same cell with other participants, draws other masks.
        let other = cell_id(&["A".into(), "H".into()], &participants);
        let (mut a, mut b) = (vec![0u64; 3], vec![0u64; 3]);
        secrets[0].mask(&cell, &participants, &mut a).unwrap();
        secrets[0].mask(&other, &participants, &mut b).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn a_key_that_is_not_x25519_is_refused() {
        let participants = [Cdg::Aisne, Cdg::Nord];
        let (k, _) = KeyPairs::generate(Cdg::Aisne, &participants).unwrap();
        let theirs = BTreeMap::from([(Cdg::Nord, vec![1u8; 5])]);
        let e = k.agree(&scope(&participants), &theirs).err().unwrap();
        assert!(e.contains("not a valid X25519 key"), "{e}");
    }
}
