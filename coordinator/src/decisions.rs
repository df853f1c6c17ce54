//! Directors' decisions on a study and the lifecycle they give it.
//!
//! Each director approves or rejects a study for their own CDG, or puts it "in question" (no run
//! until the comité technique arbitrates: `arbitration_votes` directors voting to settle it).
//! The coordinator verifies every signed decision as the nodes
//! will (trusted director certificate, signature over the study's digest), checks that the
//! signer is the connected caller, records it in the audit log, then stores it with the study.

use cdg_shared::audit::Kind;
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::Principal;
use cdg_shared::proto::v1::{DepartementDecision, NodeDescription, SignedDecision, StudyStatus};
use cdg_shared::signing::Decision;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::coordinator::{Coordinator, DIRECTORS, REFERENTS};
use crate::error::{CoordinatorError, Result};
use crate::informing::{About, awaits};
use crate::state::StoredStudy;

/// A verified decision as stored with its study.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredDecision {
    /// Identity URI of the director.
    pub director: String,
    pub cdg: Cdg,
    pub decision: String,
    pub signed_at: String,
    pub note: String,
    pub study_digest: String,
    /// The director's certificate (DER) and signature, hex in the state file.
    #[serde(with = "hex_bytes")]
    pub certificate: Vec<u8>,
    #[serde(with = "hex_bytes")]
    pub signature: Vec<u8>,
}

/// Bytes written as hex and read back as bytes: a damaged state file fails to load, naming the
/// field, instead of sending the nodes an empty certificate.
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(&text).map_err(|e| serde::de::Error::custom(format!("not hex: {e}")))
    }
}

impl StoredDecision {
    pub fn to_proto(&self) -> SignedDecision {
        SignedDecision {
            study_digest: self.study_digest.clone(),
            decision: self.decision.clone(),
            signed_at: self.signed_at.clone(),
            note: self.note.clone(),
            certificate: self.certificate.clone(),
            signature: self.signature.clone(),
        }
    }

    fn is(&self, d: Decision) -> bool {
        self.decision == d.as_str()
    }
}

/// The open question on a study and the directors who voted since to settle it, while fewer
/// than `votes_needed` have (Art. 4: an arbitrage du comité technique, never the questioner
/// alone). A director's second vote counts once.
pub fn open_question(s: &StoredStudy, votes_needed: usize) -> Option<(&StoredDecision, Vec<&str>)> {
    let at = s.decisions.iter().rposition(|d| d.is(Decision::Question))?;
    let mut voters: Vec<&str> = Vec::new();
    for d in &s.decisions[at + 1..] {
        if d.is(Decision::Arbitrate) && !voters.contains(&d.director.as_str()) {
            voters.push(&d.director);
        }
    }
    (voters.len() < votes_needed).then_some((&s.decisions[at], voters))
}

/// The latest approval or rejection by the director of `cdg`.
pub fn verdict(s: &StoredStudy, cdg: Cdg) -> Option<&StoredDecision> {
    s.decisions
        .iter()
        .rev()
        .find(|d| d.cdg == cdg && (d.is(Decision::Approve) || d.is(Decision::Reject)))
}

/// The approval of `cdg`'s director, if that is their latest verdict.
pub fn approval(s: &StoredStudy, cdg: Cdg) -> Option<&StoredDecision> {
    verdict(s, cdg).filter(|d| d.is(Decision::Approve))
}

/// The study's state: "in question"; "approved" by every département asked, "running",
/// "completed" once run, "diffused" once its results are recorded as diffused; or "submitted"
/// while approvals are missing.
pub fn state(s: &StoredStudy, has_result: bool, running: bool, votes: usize) -> &'static str {
    let approved = s
        .study
        .departements
        .iter()
        .all(|c| approval(s, *c).is_some());
    match (
        open_question(s, votes).is_some(),
        approved,
        running,
        has_result,
    ) {
        (true, ..) => "in question",
        (false, _, true, _) => "running",
        (false, true, false, true) if s.diffused.is_some() => "diffused",
        (false, true, false, true) => "completed",
        (false, true, false, false) => "approved",
        (false, false, false, _) => "submitted",
    }
}

impl Coordinator {
    /// Verifies and records a director's signed decision on study `id`.
    pub async fn decide(
        &self,
        caller: Principal,
        id: &str,
        decision: SignedDecision,
    ) -> Result<StudyStatus> {
        self.require(caller, &[DIRECTORS], "deciding on a study")?;
        let _updating = self.updating.lock().await;
        let mut stored = self.stored_study(id)?;
        let invalid = |m: String| Err(CoordinatorError::BadDecision(m));
        let (signer, kind) = match self.trusted.verify_decision(&decision) {
            Ok(v) => v,
            Err(e) => return invalid(format!("the decision does not verify: {e}")),
        };
        if signer != caller {
            return invalid(format!(
                "the decision is signed by {} but sent by {}: directors send their own",
                signer.uri(),
                caller.uri()
            ));
        }
        if decision.study_digest != stored.digest {
            return invalid(format!(
                "the decision is signed for digest {}, study {id} has digest {}",
                cdg_shared::text::quote(&decision.study_digest),
                stored.digest
            ));
        }
        let asked = stored.study.departements.contains(&signer.cdg);
        if matches!(kind, Decision::Approve | Decision::Reject) && !asked {
            return invalid(format!(
                "study {id} does not ask CDG {}: there is nothing for its director to approve",
                signer.cdg
            ));
        }
        let votes = self.arbitration_votes;
        if kind == Decision::Arbitrate {
            match open_question(&stored, votes) {
                None => return invalid(format!("study {id} is not in question")),
                Some((_, voters)) if voters.contains(&signer.uri().as_str()) => {
                    return invalid(format!(
                        "{} has already voted to settle the question on study {id}: {} of {votes} \
                         votes so far",
                        signer.uri(),
                        voters.len()
                    ));
                }
                Some(_) => {}
            }
        }
        let record = StoredDecision {
            director: signer.uri(),
            cdg: signer.cdg,
            decision: kind.as_str().to_string(),
            signed_at: decision.signed_at.clone(),
            note: decision.note.clone(),
            study_digest: decision.study_digest.clone(),
            certificate: decision.certificate.clone(),
            signature: decision.signature.clone(),
        };
        self.audit(
            Kind::StudyDecided(kind),
            caller,
            id,
            json!({
                "cdg": signer.cdg.code(),
                "digest": stored.digest,
                "signed_at": record.signed_at,
                "note": record.note,
                "signature": hex::encode(&record.signature),
            }),
        )
        .await?;
        // The directors who had voted to settle an open question, before this decision.
        let voted: Option<Vec<String>> = open_question(&stored, votes)
            .map(|(_, voters)| voters.into_iter().map(str::to_string).collect());
        let director = record.director.clone();
        let note = record.note.clone();
        stored.decisions.push(record);
        self.state.save_study(&stored)?;
        // A director who signs has read the study: informed of it, if it is external.
        // The decision is recorded: a failure here is the director's being informed only,
        // which a later read records again.
        if let Err(e) = self.informed_in(&mut stored, About::Announcement, signer.cdg, "décision")
        {
            tracing::error!(error = %e, study = %id, "the director's reading not recorded");
        }
        match kind {
            Decision::Question => self.announce_decision(&stored, &director, Some(&note), 0),
            Decision::Arbitrate => {
                let count = voted.as_ref().map_or(0, Vec::len) + 1;
                self.announce_decision(&stored, &director, None, count)
            }
            Decision::Approve | Decision::Reject => {}
        }
        if let (Decision::Arbitrate, Some(mut voters)) = (kind, voted)
            && voters.len() + 1 >= votes
        {
            // The vote that settles it: the comité's arbitration is on record with its voters.
            voters.push(director);
            self.audit(
                Kind::StudyArbitrated,
                caller,
                id,
                json!({"digest": stored.digest, "voters": voters, "votes_needed": votes}),
            )
            .await?;
        }
        self.status_of(&stored)
    }

    /// Study `id` with its decisions and state. Directors and the study's authors.
    pub async fn study_status(&self, caller: Principal, id: &str) -> Result<StudyStatus> {
        self.require(
            caller,
            &[self.analyst(), REFERENTS, DIRECTORS],
            "reading a study",
        )?;
        let stored = self.stored_study(id)?;
        self.require_reader(caller, &stored.study, "reading a study")?;
        // A director shown the study is informed of it (Art. 4).
        let stored = if self.read_by(caller, &stored, About::Announcement).await? {
            self.stored_study(id)?
        } else {
            stored
        };
        self.status_of(&stored)
    }

    /// The policy each configured node publishes, asked now. Any director or author.
    pub async fn describe_nodes(&self, caller: Principal) -> Result<Vec<NodeDescription>> {
        self.require(
            caller,
            &[self.analyst(), REFERENTS, DIRECTORS],
            "reading the nodes' policies",
        )?;
        let deadline = self.node_timeout.min(std::time::Duration::from_secs(10));
        let asked = self.nodes.iter().map(|n| async move {
            let policy = n.policy(deadline).await;
            NodeDescription {
                cdg: n.cdg.code().to_string(),
                error: policy.as_ref().err().cloned().unwrap_or_default(),
                policy: policy.ok(),
            }
        });
        Ok(futures::future::join_all(asked).await)
    }

    /// Every study the caller reads, newest first: all of them for a director or the
    /// chargé.e de mission, its own département's for a référent.
    pub async fn list_studies(&self, caller: Principal) -> Result<Vec<StudyStatus>> {
        self.require(
            caller,
            &[self.analyst(), REFERENTS, DIRECTORS],
            "listing the studies",
        )?;
        let mut stored = self.state.list_studies()?;
        // A référent sees its own département's studies only.
        stored.retain(|s| {
            self.require_reader(caller, &s.study, "listing the studies")
                .is_ok()
        });
        stored.sort_by(|a, b| b.submitted_at.cmp(&a.submitted_at).then(a.id.cmp(&b.id)));
        stored.iter().map(|s| self.status_of(s)).collect()
    }

    fn is_running(&self, id: &str) -> bool {
        self.running.lock().is_ok_and(|r| r.contains(id))
    }

    /// Records that study `id`'s results were diffused. The study's authors, once completed.
    pub async fn diffuse(&self, caller: Principal, id: &str, note: &str) -> Result<StudyStatus> {
        self.require(
            caller,
            &[self.analyst(), REFERENTS],
            "recording a diffusion",
        )?;
        let _updating = self.updating.lock().await;
        let mut stored = self.stored_study(id)?;
        self.require_author(caller, &stored.study, "recording a diffusion")?;
        let has_result = self.state.load_result(id)?.is_some();
        let now = state(
            &stored,
            has_result,
            self.is_running(id),
            self.arbitration_votes,
        );
        if now != "completed" {
            return Err(CoordinatorError::NotRunnable(format!(
                "study {id} is {now}: only a completed study (approved by every département \
                 asked and run) can be diffused"
            )));
        }
        let external = stored.study.diffusion == crate::study::Diffusion::Externe;
        self.audit(
            Kind::StudyDiffused,
            caller,
            id,
            json!({
                "note": note,
                "external": external,
                "diffusion_terms": stored.study.diffusion_terms,
            }),
        )
        .await?;
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        stored.diffused = Some((at, note.to_string()));
        self.state.save_study(&stored)?;
        self.status_of(&stored)
    }

    fn status_of(&self, s: &StoredStudy) -> Result<StudyStatus> {
        let has_result = self.state.has_result(&s.id);
        Ok(StudyStatus {
            submitted_at: s.submitted_at.clone(),
            study_id: s.id.clone(),
            digest: s.digest.clone(),
            title: s.study.title.clone(),
            state: state(
                s,
                has_result,
                self.is_running(&s.id),
                self.arbitration_votes,
            )
            .to_string(),
            arbitration_votes: open_question(s, self.arbitration_votes)
                .map(|(_, voters)| voters.iter().map(|v| v.to_string()).collect())
                .unwrap_or_default(),
            arbitration_needed: self.arbitration_votes as u32,
            announced_at: s.announcement.complete_at.clone().unwrap_or_default(),
            announcement_awaits: codes(awaits(s, About::Announcement, &self.federation.members)),
            restituted_at: s.restitution.complete_at.clone().unwrap_or_default(),
            restitution_awaits: if has_result {
                codes(awaits(s, About::Restitution, &self.federation.members))
            } else {
                Vec::new()
            },
            study_json: String::from_utf8_lossy(&s.study.canonical()).into_owned(),
            decisions: s.decisions.iter().map(StoredDecision::to_proto).collect(),
            departements: s
                .study
                .departements
                .iter()
                .map(|&cdg| {
                    let v = verdict(s, cdg);
                    DepartementDecision {
                        cdg: cdg.code().to_string(),
                        decision: match v {
                            Some(d) if d.is(Decision::Approve) => "approved",
                            Some(_) => "rejected",
                            None => "pending",
                        }
                        .to_string(),
                        director: v.map(|d| d.director.clone()).unwrap_or_default(),
                    }
                })
                .collect(),
        })
    }
}

fn codes(cdgs: Vec<Cdg>) -> Vec<String> {
    cdgs.iter().map(|c| c.code().to_string()).collect()
}
