//! Sending the notices through the CDGs' SMTP relay (`[mail]` of the coordinator's
//! configuration), and the loop that retries them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cdg_shared::cdg::Cdg;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};

use super::Notice;
use crate::coordinator::Coordinator;

/// `[mail]`: where and how the directors are written to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    /// The SMTP relay: `smtp://host:25` (plain, for a relay on the same network),
    /// `smtp://host:587?tls=required` (STARTTLS) or `smtps://host:465`, with
    /// `user:password@` if the relay asks for it.
    pub smtp_url: String,
    /// The sender, e.g. "Observatoire régional de l'emploi <observatoire@cdg59.fr>".
    pub from: String,
    /// The console's address as the directors open it (`cdg console` listens there by
    /// default); each mail links to the study's page under it.
    #[serde(default = "default_console_url")]
    pub console_url: String,
    /// Pause before the first retry of a mail the server did not take, seconds; doubled at
    /// each further attempt, up to an hour.
    #[serde(default = "default_retry_secs")]
    pub retry_secs: u64,
    /// Each member CDG's director's address (`"02" = "direction@cdg02.fr"`).
    pub directors: BTreeMap<Cdg, String>,
}

pub const DEFAULT_CONSOLE: &str = "http://127.0.0.1:7459";

fn default_console_url() -> String {
    DEFAULT_CONSOLE.to_string()
}

fn default_retry_secs() -> u64 {
    60
}

impl MailConfig {
    /// Checks the relay's URL and every address; the message names the key.
    pub fn check(&self, members: &[Cdg]) -> Result<(), (&'static str, String)> {
        AsyncSmtpTransport::<Tokio1Executor>::from_url(&self.smtp_url)
            .map_err(|e| ("mail.smtp_url", format!("{:?}: {e}", self.smtp_url)))?;
        self.from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| ("mail.from", format!("{:?}: {e}", self.from)))?;
        for (cdg, address) in &self.directors {
            address
                .parse::<lettre::message::Mailbox>()
                .map_err(|e| ("mail.directors", format!("CDG {cdg}: {address:?}: {e}")))?;
            if !members.contains(cdg) {
                return Err(("mail.directors", format!("CDG {cdg} is not a member")));
            }
        }
        if let Some(missing) = members.iter().find(|c| !self.directors.contains_key(c)) {
            return Err((
                "mail.directors",
                format!("has no address for CDG {missing}'s director: every director is informed"),
            ));
        }
        if !(1..=3600).contains(&self.retry_secs) {
            return Err(("mail.retry_secs", "must be between 1 and 3600".into()));
        }
        if !self.console_url.starts_with("http://") && !self.console_url.starts_with("https://") {
            return Err((
                "mail.console_url",
                format!("{:?} is not an http(s) address", self.console_url),
            ));
        }
        Ok(())
    }

    /// The link to a page of the console.
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.console_url.trim_end_matches('/'))
    }

    #[cfg(test)]
    pub(crate) fn example() -> MailConfig {
        MailConfig {
            smtp_url: "smtp://127.0.0.1:2525".into(),
            from: "Observatoire <observatoire@cdg59.fr>".into(),
            console_url: default_console_url(),
            retry_secs: 60,
            directors: Cdg::ALL
                .into_iter()
                .map(|c| (c, format!("direction@cdg{}.fr", c.code())))
                .collect(),
        }
    }
}

/// One attempt at one notice.
async fn send(
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    from: &lettre::message::Mailbox,
    notice: &Notice,
) -> Result<(), String> {
    let to = notice
        .address
        .parse()
        .map_err(|e| format!("address {:?}: {e}", notice.address))?;
    let message = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(&notice.subject)
        .header(ContentType::TEXT_PLAIN)
        .body(notice.body.clone())
        .map_err(|e| e.to_string())?;
    transport.send(message).await.map(drop).map_err(|e| {
        // lettre's error names the kind; its source says what the server or socket said.
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            text = format!("{text}: {s}");
            source = s.source();
        }
        text
    })
}

/// Delivers the outbox's notices for as long as the coordinator runs: each due notice is
/// sent, a failure waits its doubling pause, and each announcement or restitution delivered
/// is recorded as the director's being informed.
pub async fn deliver(coordinator: Arc<Coordinator>, mail: MailConfig) {
    let transport = match AsyncSmtpTransport::<Tokio1Executor>::from_url(&mail.smtp_url) {
        Ok(t) => t.timeout(Some(Duration::from_secs(30))).build(),
        Err(e) => {
            tracing::error!(error = %e, "mail.smtp_url: no mail is sent");
            return;
        }
    };
    let from: lettre::message::Mailbox = match mail.from.parse() {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "mail.from: no mail is sent");
            return;
        }
    };
    let retry = Duration::from_secs(mail.retry_secs);
    let outbox = &coordinator.outbox;
    loop {
        for notice in outbox.due() {
            let outcome = send(&transport, &from, &notice).await;
            match &outcome {
                Ok(()) => {
                    tracing::info!(id = notice.id, kind = notice.kind.as_str(), study = %notice.study_id, cdg = %notice.cdg, "notice mailed")
                }
                Err(e) => {
                    tracing::warn!(id = notice.id, error = %e, "notice not mailed; retried later")
                }
            }
            let sent = outcome.is_ok();
            if let Err(e) = outbox.attempted(notice.id, outcome, retry) {
                tracing::error!(error = %e, "notices.json not written");
            }
            if sent {
                coordinator.notice_delivered(&notice).await;
            }
        }
        outbox
            .wait(outbox.next_due_in(Duration::from_secs(300)))
            .await;
    }
}
