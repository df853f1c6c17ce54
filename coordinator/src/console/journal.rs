//! The console's audit page: the coordinator's log and each node's, verified as they are read
//! (the hash chain and the signed checkpoints), their entries as one timeline, and the
//! crosscheck of what the coordinator says the nodes answered against what they logged.

use std::fmt::Write;

use cdg_shared::audit::{AuditEntry, Kind, Summary};
use cdg_shared::signing::TrustedSigners;

use super::Console;
use super::pages::layout;
use crate::audit_tools::FetchedLog;
use crate::client::CoordinatorClient;
use crate::crosscheck::{Crosscheck, NodeAnswers};
use crate::report::format::escape;

/// Entries shown in the timeline, newest first.
const SHOWN: usize = 400;

/// One log read: where from, its verification, its entries.
struct Read {
    origin: String,
    verified: anyhow::Result<Summary>,
    entries: Vec<AuditEntry>,
}

async fn read(log: anyhow::Result<FetchedLog>, origin: String, trusted: &TrustedSigners) -> Read {
    let mut entries = Vec::new();
    let verified = match log {
        Ok(log) => {
            log.verify(trusted, |e| {
                entries.push(e);
                Ok(())
            })
            .await
        }
        Err(e) => Err(e),
    };
    Read {
        origin,
        verified,
        entries,
    }
}

/// A kind as the console names it; one this version does not know, as its text.
fn kind_fr(kind: &str) -> &str {
    match Kind::parse(kind) {
        Some(known) => known.label(),
        None => kind,
    }
}

pub(crate) async fn page(c: &Console, mut client: CoordinatorClient) -> String {
    let trusted = match TrustedSigners::from_ca_file(&c.tls.ca) {
        Ok(t) => t,
        Err(e) => {
            return super::pages::error(&format!("Certificat de la fédération illisible : {e:#}"));
        }
    };
    let mut logs = vec![
        read(
            FetchedLog::from_coordinator(&mut client).await,
            "coordinateur".into(),
            &trusted,
        )
        .await,
    ];
    for (cdg, address) in &c.nodes {
        let log = FetchedLog::from_node(address, *cdg, &c.tls).await;
        logs.push(read(log, format!("nœud {}", cdg.code()), &trusted).await);
    }
    let mut b = String::from("<h2>Vérification des chaînes</h2><ul>");
    for log in &logs {
        match &log.verified {
            Ok(s) => {
                let _ = write!(
                    b,
                    "<li><span class=\"ok\">✔ {}</span> : {} entrées, chaîne intacte, {} point(s) de contrôle signé(s) vérifié(s) ; tête <code class=\"digest\">{}</code></li>",
                    escape(&log.origin),
                    s.entries,
                    s.checkpoints,
                    escape(&s.head)
                );
            }
            Err(e) => {
                let _ = write!(
                    b,
                    "<li><span class=\"error\">✘ {}</span> : {} (les {} entrées avant la rupture sont affichées)</li>",
                    escape(&log.origin),
                    escape(&format!("{e:#}")),
                    log.entries.len()
                );
            }
        }
    }
    b.push_str("</ul>");
    crosscheck(&mut b, c, &logs);
    timeline(&mut b, &logs);
    layout("Journal d'audit", Some(c), &b)
}

fn crosscheck(b: &mut String, c: &Console, logs: &[Read]) {
    b.push_str("<h2>Recoupement coordinateur / nœuds</h2>");
    if c.nodes.is_empty() {
        b.push_str("<p>Les journaux des nœuds se lisent quand la console connaît leurs adresses : lancez-la avec <code>cdg --network FICHIER console</code>.</p>");
        return;
    }
    let mut check = Crosscheck::default();
    for e in &logs[0].entries {
        check.see(e);
    }
    let mut differences = Vec::new();
    for ((cdg, _), log) in c.nodes.iter().zip(&logs[1..]) {
        let mut answers = NodeAnswers::default();
        for e in &log.entries {
            answers.see(e);
        }
        differences.extend(check.differences(*cdg, &answers));
    }
    if differences.is_empty() && logs.iter().all(|l| l.verified.is_ok()) {
        let _ = write!(
            b,
            "<p class=\"ok\">Les journaux concordent : les {} réponses demandées par le coordinateur sont dans les journaux des {} nœuds, et inversement.</p>",
            check.asked(),
            c.nodes.len()
        );
    } else {
        b.push_str("<ul class=\"error\">");
        for d in &differences {
            let _ = write!(b, "<li>{}</li>", escape(d));
        }
        if logs.iter().any(|l| l.verified.is_err()) {
            b.push_str("<li>Un journal ne se vérifie pas : le recoupement est incomplet.</li>");
        }
        b.push_str("</ul>");
    }
}

fn timeline(b: &mut String, logs: &[Read]) {
    let mut all: Vec<(&str, &AuditEntry)> = logs
        .iter()
        .flat_map(|l| l.entries.iter().map(move |e| (l.origin.as_str(), e)))
        .collect();
    all.sort_by(|a, b| b.1.time.cmp(&a.1.time).then(b.1.seq.cmp(&a.1.seq)));
    let _ = write!(
        b,
        "<h2>Chronologie</h2><table><caption>{} entrée(s) les plus récentes sur {}</caption><thead><tr><th scope=\"col\">Date</th><th scope=\"col\">Journal</th><th scope=\"col\">Événement</th><th scope=\"col\">Étude</th><th scope=\"col\">Par</th></tr></thead><tbody>",
        all.len().min(SHOWN),
        all.len()
    );
    for (origin, e) in all.iter().take(SHOWN) {
        let cdg = e
            .details
            .get("cdg")
            .and_then(|v| v.as_str())
            .map(|c| format!(" (CDG {c})"))
            .unwrap_or_default();
        let study = if e.study_id.is_empty() {
            String::new()
        } else {
            format!(
                "<a href=\"/etudes/{id}\">{id}</a>",
                id = escape(&e.study_id)
            )
        };
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}{}</td><td>{study}</td><td>{}</td></tr>",
            escape(&e.time),
            escape(origin),
            escape(kind_fr(&e.kind)),
            escape(&cdg),
            escape(&e.actor)
        );
    }
    b.push_str("</tbody></table>");
}
