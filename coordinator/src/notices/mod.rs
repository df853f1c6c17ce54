//! The notices mailed to the directors (convention, Art. 4: the comité technique is informed
//! "par voie électronique à l'adresse courriel de chaque directeur-trice").
//!
//! A notice is written to `notices.json` in the state folder before anything is sent, so that a
//! mail server that is down, or a coordinator that restarts, loses none: the delivery loop
//! ([`mail::deliver`]) retries each one with a doubling pause until the server accepts it, and
//! the console lists them with their attempts and last error. Nothing waits for a mail: a
//! study's steps go on, and the notices follow.

pub mod mail;
mod text;

use std::collections::BTreeMap;
use std::sync::Mutex;

use cdg_shared::cdg::Cdg;
use cdg_shared::proto::v1;
use serde::{Deserialize, Serialize};

pub use mail::MailConfig;
pub use text::Subject;

/// Why a director is written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A study asks the director's CDG and awaits the director's decision.
    NouvelleEtude,
    /// A director put a study in question: the comité technique arbitrates.
    Question,
    /// A director voted to settle a question.
    Vote,
    /// A study to be diffused beyond the five CDGs, with its terms (Art. 4).
    Annonce,
    /// A run completed: its results for the director (Art. 4).
    Restitution,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::NouvelleEtude => "nouvelle-etude",
            Kind::Question => "question",
            Kind::Vote => "vote",
            Kind::Annonce => "annonce",
            Kind::Restitution => "restitution",
        }
    }
}

/// One mail to one director, as kept in `notices.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub id: u64,
    pub kind: Kind,
    pub study_id: String,
    pub cdg: Cdg,
    pub address: String,
    pub subject: String,
    pub body: String,
    pub created_at: String,
    #[serde(default)]
    pub sent_at: Option<String>,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub last_error: Option<String>,
    /// Not before (RFC 3339).
    pub next_attempt_at: String,
    /// A restitution's run (the result's `finished_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_at: Option<String>,
}

impl Notice {
    pub fn to_proto(&self) -> v1::Notice {
        v1::Notice {
            id: self.id.to_string(),
            kind: self.kind.as_str().to_string(),
            study_id: self.study_id.clone(),
            cdg: self.cdg.code().to_string(),
            address: self.address.clone(),
            subject: self.subject.clone(),
            created_at: self.created_at.clone(),
            sent_at: self.sent_at.clone().unwrap_or_default(),
            attempts: self.attempts,
            last_error: self.last_error.clone().unwrap_or_default(),
            next_attempt_at: if self.sent_at.is_some() {
                String::new()
            } else {
                self.next_attempt_at.clone()
            },
        }
    }

    fn due(&self, now: &chrono::DateTime<chrono::Utc>) -> bool {
        self.sent_at.is_none()
            && chrono::DateTime::parse_from_rfc3339(&self.next_attempt_at)
                .map_or(true, |at| at <= *now)
    }
}

/// The notices, kept in memory and in `notices.json`; the delivery loop is woken by each new
/// one.
pub struct Outbox {
    path: std::path::PathBuf,
    notices: Mutex<Vec<Notice>>,
    wake: tokio::sync::Notify,
    /// The directors' addresses, by CDG; `None` without `[mail]`: nothing is queued.
    addresses: Option<BTreeMap<Cdg, String>>,
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Outbox {
    /// Opens `path` (absent: no notice yet).
    pub fn open(path: std::path::PathBuf, mail: Option<&MailConfig>) -> anyhow::Result<Outbox> {
        let notices = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                anyhow::anyhow!(
                    "{} is not a list of notices ({e}); move it aside to start a new one",
                    path.display()
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(anyhow::anyhow!("reading {}: {e}", path.display())),
        };
        Ok(Outbox {
            path,
            notices: Mutex::new(notices),
            wake: tokio::sync::Notify::new(),
            addresses: mail.map(|m| m.directors.clone()),
        })
    }

    /// Whether notices are mailed at all.
    pub fn mails(&self) -> bool {
        self.addresses.is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Notice>> {
        self.notices
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn save(&self, notices: &[Notice]) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(notices).map_err(std::io::Error::other)?;
        crate::state::write_atomic(&self.path, &bytes)
    }

    /// Queues `subject` for the directors of `to` (those with an address) and wakes the
    /// delivery loop. Written to disk before it returns; without `[mail]`, does nothing.
    pub fn queue(
        &self,
        kind: Kind,
        study_id: &str,
        to: &[Cdg],
        subject: &Subject,
        result_at: Option<&str>,
    ) -> std::io::Result<()> {
        let Some(addresses) = &self.addresses else {
            return Ok(());
        };
        let now = rfc3339(chrono::Utc::now());
        let mut notices = self.lock();
        let mut next = notices.iter().map(|n| n.id).max().unwrap_or(0);
        let mut added = notices.clone();
        for cdg in to {
            let Some(address) = addresses.get(cdg) else {
                continue;
            };
            next += 1;
            added.push(Notice {
                id: next,
                kind,
                study_id: study_id.to_string(),
                cdg: *cdg,
                address: address.clone(),
                subject: subject.line.clone(),
                body: subject.body.clone(),
                created_at: now.clone(),
                sent_at: None,
                attempts: 0,
                last_error: None,
                next_attempt_at: now.clone(),
                result_at: result_at.map(str::to_string),
            });
        }
        self.save(&added)?;
        *notices = added;
        drop(notices);
        self.wake.notify_one();
        Ok(())
    }

    /// Every notice, newest first.
    pub fn list(&self) -> Vec<Notice> {
        let mut all = self.lock().clone();
        all.reverse();
        all
    }

    /// The notices due now.
    pub(crate) fn due(&self) -> Vec<Notice> {
        let now = chrono::Utc::now();
        self.lock()
            .iter()
            .filter(|n| n.due(&now))
            .cloned()
            .collect()
    }

    /// How long until the next notice is due (at most `cap`).
    pub(crate) fn next_due_in(&self, cap: std::time::Duration) -> std::time::Duration {
        let now = chrono::Utc::now();
        self.lock()
            .iter()
            .filter(|n| n.sent_at.is_none())
            .filter_map(|n| chrono::DateTime::parse_from_rfc3339(&n.next_attempt_at).ok())
            .map(|at| {
                (at.with_timezone(&chrono::Utc) - now)
                    .to_std()
                    .unwrap_or_default()
            })
            .min()
            .unwrap_or(cap)
            .min(cap)
    }

    /// Records the outcome of one attempt at notice `id`: sent, or the error and the time of
    /// the next attempt.
    pub(crate) fn attempted(
        &self,
        id: u64,
        outcome: Result<(), String>,
        retry: std::time::Duration,
    ) -> std::io::Result<()> {
        let now = chrono::Utc::now();
        let mut notices = self.lock();
        let mut updated = notices.clone();
        if let Some(n) = updated.iter_mut().find(|n| n.id == id) {
            n.attempts += 1;
            match outcome {
                Ok(()) => {
                    n.sent_at = Some(rfc3339(now));
                    n.last_error = None;
                }
                Err(e) => {
                    let pause = retry.saturating_mul(1 << (n.attempts - 1).min(6));
                    let pause = pause.min(std::time::Duration::from_secs(3600));
                    n.last_error = Some(cdg_shared::text::prefix(&e, 500).to_string());
                    n.next_attempt_at =
                        rfc3339(now + chrono::Duration::from_std(pause).unwrap_or_default());
                }
            }
        }
        // Kept in memory even if the file is not written: a mail the server took is not sent
        // again in a loop; the next write saves it.
        let saved = self.save(&updated);
        *notices = updated;
        saved
    }

    /// Whether a notice of `kind` about `study_id` to `cdg`'s director is kept (sent or not).
    pub(crate) fn has(&self, kind: Kind, study_id: &str, cdg: Cdg) -> bool {
        self.lock()
            .iter()
            .any(|n| n.kind == kind && n.study_id == study_id && n.cdg == cdg)
    }

    /// Waits until a notice is queued or `pause` has passed.
    pub(crate) async fn wait(&self, pause: std::time::Duration) {
        let _ = tokio::time::timeout(pause, self.wake.notified()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbox(dir: &std::path::Path) -> Outbox {
        let mail = MailConfig::example();
        Outbox::open(dir.join("notices.json"), Some(&mail)).unwrap()
    }

    #[test]
    fn a_notice_is_kept_until_sent_and_retried_with_a_doubling_pause() {
        let dir = tempfile::tempdir().unwrap();
        let out = outbox(dir.path());
        let subject = Subject {
            line: "Objet".into(),
            body: "Corps".into(),
        };
        out.queue(
            Kind::Annonce,
            "S-0123456789ab",
            &[Cdg::Aisne, Cdg::Somme],
            &subject,
            None,
        )
        .unwrap();
        assert_eq!(out.due().len(), 2);
        let first = out.due()[0].id;
        let retry = std::time::Duration::from_secs(60);
        out.attempted(first, Err("connection refused".into()), retry)
            .unwrap();
        assert_eq!(out.due().len(), 1, "the failed one waits");
        let wait = out.next_due_in(std::time::Duration::from_secs(3600));
        assert!(wait.as_secs() == 0, "the other one is due now: {wait:?}");
        // A restart reads them back, with the error.
        let again = outbox(dir.path());
        let failed = again.list().into_iter().find(|n| n.id == first).unwrap();
        assert_eq!(failed.attempts, 1);
        assert_eq!(failed.last_error.as_deref(), Some("connection refused"));
        again
            .attempted(first, Err("refused again".into()), retry)
            .unwrap();
        let failed = again.list().into_iter().find(|n| n.id == first).unwrap();
        let at = chrono::DateTime::parse_from_rfc3339(&failed.next_attempt_at).unwrap();
        let pause = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
        assert!(pause.num_seconds() > 100, "doubled: {pause}");
        again.attempted(first, Ok(()), retry).unwrap();
        let sent = again.list().into_iter().find(|n| n.id == first).unwrap();
        assert!(sent.sent_at.is_some() && sent.last_error.is_none());
    }

    #[test]
    fn without_mail_nothing_is_queued() {
        let dir = tempfile::tempdir().unwrap();
        let out = Outbox::open(dir.path().join("notices.json"), None).unwrap();
        let subject = Subject {
            line: "Objet".into(),
            body: "Corps".into(),
        };
        out.queue(Kind::Vote, "S-0123456789ab", &Cdg::ALL, &subject, None)
            .unwrap();
        assert!(out.list().is_empty() && !out.mails());
    }
}
