//! The comité technique kept informed (convention, Art. 4): a study to be diffused beyond the
//! five CDGs is announced to every director, with its terms, and does not run before each has
//! been reached; each run's results are restituted to them. Both are on record: the study keeps
//! who was reached, how and when, and the audit log has `study.announced` and
//! `study.restituted` once the last director is reached.
//!
//! A director counts as reached once the mail server took the notice ("courriel"), once the
//! director read the study or its results through the coordinator, in the console or with
//! `cdg` ("lecture"), or signed a decision on it ("décision"). So a mail server that is down
//! delays no study whose directors read it, and a coordinator without `[mail]` still works.

use std::collections::BTreeMap;

use cdg_shared::audit::Kind as AuditKind;
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::coordinator::Coordinator;
use crate::error::{CoordinatorError, Result};
use crate::notices::{Kind, Notice, Subject};
use crate::state::StoredStudy;
use crate::study::Diffusion;

/// Who was reached, for one announcement or one restitution.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Informing {
    /// Each director reached: how ("courriel", "lecture", "décision") and when.
    #[serde(default)]
    pub reached: BTreeMap<Cdg, Reached>,
    /// When the last director was reached.
    #[serde(default)]
    pub complete_at: Option<String>,
    /// For a restitution: the run whose results these are (its `finished_at`), so that a mail
    /// of an earlier run counts for nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_at: Option<String>,
}

impl Informing {
    pub fn is_empty(&self) -> bool {
        self.reached.is_empty() && self.complete_at.is_none() && self.result_at.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reached {
    pub by: String,
    pub at: String,
}

/// What the directors are informed of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum About {
    Announcement,
    Restitution,
}

impl About {
    fn audit_kind(self) -> AuditKind {
        match self {
            About::Announcement => AuditKind::StudyAnnounced,
            About::Restitution => AuditKind::StudyRestituted,
        }
    }

    fn of(self, s: &mut StoredStudy) -> &mut Informing {
        match self {
            About::Announcement => &mut s.announcement,
            About::Restitution => &mut s.restitution,
        }
    }
}

/// The directors to reach: every member's for an announcement and for the results of a
/// regional study; the département's own director for a departmental study's results (Art. 5).
/// An internal study is not announced.
pub fn recipients(s: &StoredStudy, about: About, members: &[Cdg]) -> Vec<Cdg> {
    match about {
        About::Announcement if s.study.diffusion != Diffusion::Externe => Vec::new(),
        About::Restitution if s.study.departements.len() == 1 => s.study.departements.clone(),
        _ => members.to_vec(),
    }
}

/// The recipients not reached yet.
pub fn awaits(s: &StoredStudy, about: About, members: &[Cdg]) -> Vec<Cdg> {
    let informing = match about {
        About::Announcement => &s.announcement,
        About::Restitution => &s.restitution,
    };
    recipients(s, about, members)
        .into_iter()
        .filter(|c| !informing.reached.contains_key(c))
        .collect()
}

/// Marks `cdg`'s director reached; the audit details when this completes it.
fn mark(
    s: &mut StoredStudy,
    about: About,
    cdg: Cdg,
    by: &str,
    members: &[Cdg],
) -> Option<Option<serde_json::Value>> {
    let recipients = recipients(s, about, members);
    let digest = s.digest.clone();
    let informing = about.of(s);
    if !recipients.contains(&cdg) || informing.reached.contains_key(&cdg) {
        return None;
    }
    let now = crate::coordinator::now();
    informing.reached.insert(
        cdg,
        Reached {
            by: by.to_string(),
            at: now.clone(),
        },
    );
    if recipients.iter().all(|c| informing.reached.contains_key(c)) {
        informing.complete_at = Some(now);
        return Some(Some(
            json!({"digest": digest, "reached": informing.reached}),
        ));
    }
    Some(None)
}

impl Coordinator {
    fn link(&self, path: &str) -> String {
        self.mail
            .as_ref()
            .map(|m| m.link(path))
            .unwrap_or_else(|| format!("{}{path}", crate::notices::mail::DEFAULT_CONSOLE))
    }

    /// Queues a notice; a notice that cannot be written is logged, never fails the step.
    pub(crate) fn notify(&self, kind: Kind, s: &StoredStudy, to: &[Cdg], subject: Subject) {
        if let Err(e) = self.outbox.queue(kind, &s.id, to, &subject, None) {
            tracing::error!(error = %e, study = %s.id, "notice not queued");
        }
    }

    /// A new study: its directors are asked to decide, and an external one is announced.
    pub(crate) fn announce_submitted(&self, s: &StoredStudy) {
        let link = self.link(&format!("/etudes/{}", s.id));
        self.notify(
            Kind::NouvelleEtude,
            s,
            &s.study.departements,
            Subject::new_study(s, &link),
        );
        let to = recipients(s, About::Announcement, &self.federation.members);
        if !to.is_empty() {
            self.notify(Kind::Annonce, s, &to, Subject::announcement(s, &link));
        }
    }

    /// A question or a vote on `s`, for every director.
    pub(crate) fn announce_decision(
        &self,
        s: &StoredStudy,
        director: &str,
        question: Option<&str>,
        votes: usize,
    ) {
        let link = self.link(&format!("/etudes/{}", s.id));
        let members = &self.federation.members;
        match question {
            Some(note) => self.notify(
                Kind::Question,
                s,
                members,
                Subject::question(s, director, note, self.arbitration_votes, &link),
            ),
            None => self.notify(
                Kind::Vote,
                s,
                members,
                Subject::vote(s, director, votes, self.arbitration_votes, &link),
            ),
        }
    }

    /// Refuses to run an external study before every director was reached.
    pub(crate) fn require_announced(&self, s: &StoredStudy) -> Result<()> {
        let missing = awaits(s, About::Announcement, &self.federation.members);
        if missing.is_empty() {
            return Ok(());
        }
        let codes: Vec<&str> = missing.iter().map(|c| c.code()).collect();
        Err(CoordinatorError::NotRunnable(format!(
            "study {} is to be diffused beyond the five CDGs: the comité technique must be \
             informed of it before it runs (Art. 4), and the directors of CDG {} have not been \
             reached yet. They are when the mail server takes the announcement (retried until \
             it does; cdg notices lists them) or when they read the study (cdg study show {}, \
             or the console)",
            s.id,
            codes.join(", "),
            s.id
        )))
    }

    /// A completed run: the results go to the directors, reached anew.
    pub(crate) async fn reset_restitution(&self, id: &str, result_at: &str) -> Result<()> {
        let _updating = self.updating.lock().await;
        let mut stored = self.stored_study(id)?;
        stored.restitution = Informing {
            result_at: Some(result_at.to_string()),
            ..Informing::default()
        };
        self.state.save_study(&stored)?;
        Ok(())
    }

    /// A completed run's results, mailed to the directors ([`reset_restitution`] came first).
    ///
    /// [`reset_restitution`]: Self::reset_restitution
    pub(crate) fn restitute(&self, id: &str, answered: &[&str], result_at: &str) -> Result<()> {
        let stored = self.stored_study(id)?;
        let to = recipients(&stored, About::Restitution, &self.federation.members);
        let answered: Vec<String> = answered.iter().map(|s| s.to_string()).collect();
        let link = self.link(&format!("/etudes/{id}/resultats"));
        let subject = Subject::restitution(&stored, &answered, &link);
        if let Err(e) = self
            .outbox
            .queue(Kind::Restitution, id, &to, &subject, Some(result_at))
        {
            tracing::error!(error = %e, study = %id, "notice not queued");
        }
        Ok(())
    }

    /// Records that `cdg`'s director was reached about study `id`, and the audit entry when
    /// that was the last one.
    pub(crate) async fn informed(&self, id: &str, about: About, cdg: Cdg, by: &str) -> Result<()> {
        let _updating = self.updating.lock().await;
        let mut stored = self.stored_study(id)?;
        self.informed_in(&mut stored, about, cdg, by)
    }

    /// [`informed`](Self::informed) on a study already loaded under the `updating` lock.
    pub(crate) fn informed_in(
        &self,
        stored: &mut StoredStudy,
        about: About,
        cdg: Cdg,
        by: &str,
    ) -> Result<()> {
        let Some(complete) = mark(stored, about, cdg, by, &self.federation.members) else {
            return Ok(());
        };
        // On record before the study says so: a failed append leaves it to be completed again.
        if let Some(details) = complete {
            let actor = self.federation.coordinator.uri();
            self.append(about.audit_kind(), &actor, &stored.id, details)?;
        }
        self.state.save_study(stored)?;
        Ok(())
    }

    /// A director read study `s` (or its results, `about` = restitution). Whether the reading
    /// counts is decided on `s` as read: the lock is taken only when it does. True when recorded.
    pub(crate) async fn read_by(
        &self,
        caller: Principal,
        s: &StoredStudy,
        about: About,
    ) -> Result<bool> {
        let owed = caller.role == Role::Director
            && awaits(s, about, &self.federation.members).contains(&caller.cdg);
        if owed {
            self.informed(&s.id, about, caller.cdg, "lecture").await?;
        }
        Ok(owed)
    }

    /// Queues again the announcements and restitutions still awaited that have no notice (a
    /// crash between a step and its notice), at start.
    pub fn requeue_missing(&self) -> Result<()> {
        if !self.outbox.mails() {
            return Ok(());
        }
        let members = &self.federation.members;
        for s in self.state.list_studies()? {
            let missing = |kind, about| -> Vec<Cdg> {
                awaits(&s, about, members)
                    .into_iter()
                    .filter(|&c| !self.outbox.has(kind, &s.id, c))
                    .collect()
            };
            let link = self.link(&format!("/etudes/{}", s.id));
            let to = missing(Kind::Annonce, About::Announcement);
            if !to.is_empty() {
                self.notify(Kind::Annonce, &s, &to, Subject::announcement(&s, &link));
            }
            let to = missing(Kind::Restitution, About::Restitution);
            if let (false, Some(result_at)) = (to.is_empty(), s.restitution.result_at.as_deref()) {
                let link = self.link(&format!("/etudes/{}/resultats", s.id));
                let subject = Subject::restitution(&s, &[], &link);
                if let Err(e) =
                    self.outbox
                        .queue(Kind::Restitution, &s.id, &to, &subject, Some(result_at))
                {
                    tracing::error!(error = %e, study = %s.id, "notice not queued");
                }
            }
        }
        Ok(())
    }

    /// The notices, newest first. Directors.
    pub fn notices(&self, caller: Principal) -> Result<cdg_shared::proto::v1::ListNoticesResponse> {
        self.require(
            caller,
            &[crate::coordinator::DIRECTORS],
            "reading the notices",
        )?;
        Ok(cdg_shared::proto::v1::ListNoticesResponse {
            notices: self.outbox.list().iter().map(Notice::to_proto).collect(),
            mail_configured: self.outbox.mails(),
        })
    }

    /// The delivery loop's report: the mail server took `notice`.
    pub(crate) async fn notice_delivered(&self, notice: &Notice) {
        let about = match notice.kind {
            Kind::Annonce => About::Announcement,
            Kind::Restitution => About::Restitution,
            _ => return,
        };
        let outcome = async {
            let _updating = self.updating.lock().await;
            let mut stored = self.stored_study(&notice.study_id)?;
            if about == About::Restitution && stored.restitution.result_at != notice.result_at {
                return Ok(());
            }
            self.informed_in(&mut stored, about, notice.cdg, "courriel")
        };
        if let Err(e) = outcome.await {
            tracing::error!(error = %e, study = %notice.study_id, "delivery not recorded");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(diffusion: &str, departements: &str) -> StoredStudy {
        let toml = crate::study::DEMO_STUDY
            .replace("diffusion = \"interne\"", diffusion)
            .replace(
                "departements = [\"02\", \"59\", \"60\", \"62\", \"80\"]",
                departements,
            );
        let study = crate::study::Study::from_toml(&toml).unwrap();
        StoredStudy {
            id: study.id(),
            digest: study.digest(),
            submitted_by: String::new(),
            submitted_at: String::new(),
            study,
            decisions: Vec::new(),
            diffused: None,
            announcement: Informing::default(),
            restitution: Informing::default(),
        }
    }

    #[test]
    fn an_external_study_is_announced_once_every_director_is_reached() {
        let external = "diffusion = \"externe\"\ndiffusion_terms = \"rapport public\"";
        let mut s = stored(external, "departements = [\"02\"]");
        let members = Cdg::ALL;
        assert_eq!(awaits(&s, About::Announcement, &members), Cdg::ALL.to_vec());
        for (i, &cdg) in Cdg::ALL.iter().enumerate() {
            let done = mark(&mut s, About::Announcement, cdg, "courriel", &members);
            assert_eq!(done.as_ref().map(Option::is_some), Some(i == 4), "{cdg}");
            // Reached twice counts once.
            assert_eq!(
                mark(&mut s, About::Announcement, cdg, "lecture", &members),
                None
            );
        }
        assert!(s.announcement.complete_at.is_some());
        assert!(awaits(&s, About::Announcement, &members).is_empty());
        assert_eq!(s.announcement.reached[&Cdg::Aisne].by, "courriel");
    }

    #[test]
    fn an_internal_study_needs_no_announcement_and_a_departmental_one_restitutes_to_its_director() {
        let s = stored("diffusion = \"interne\"", "departements = [\"80\"]");
        assert!(recipients(&s, About::Announcement, &Cdg::ALL).is_empty());
        assert_eq!(recipients(&s, About::Restitution, &Cdg::ALL), [Cdg::Somme]);
        let regional = stored("diffusion = \"interne\"", "departements = [\"02\", \"80\"]");
        assert_eq!(
            recipients(&regional, About::Restitution, &Cdg::ALL),
            Cdg::ALL
        );
    }
}
