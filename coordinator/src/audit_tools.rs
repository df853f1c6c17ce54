//! The comité technique's audit tools (`cdg audit ...`): fetch a log (the coordinator's, a
//! node's, or a file), verify its chain and checkpoints, list, show and export its entries, and
//! reconcile the nodes' logs with the coordinator's.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use cdg_shared::audit::{self, AuditEntry};
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::proto::PROTOCOL_VERSION;
use cdg_shared::proto::v1::AuditLogRequest;
use cdg_shared::proto::v1::node_service_client::NodeServiceClient;
use cdg_shared::signing::TrustedSigners;
use cdg_shared::tls::TlsFiles;

use crate::client::CoordinatorClient;

/// A log as fetched, with where it came from.
pub struct FetchedLog {
    pub origin: String,
    pub log: Vec<u8>,
    pub checkpoints: Vec<u8>,
}

impl FetchedLog {
    /// A log file and, if present, its checkpoints beside it.
    pub fn from_file(path: &Path) -> anyhow::Result<FetchedLog> {
        anyhow::ensure!(path.is_file(), "no log file at {}", path.display());
        let (log, checkpoints) = audit::read_with_checkpoints(path)
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(FetchedLog {
            origin: path.display().to_string(),
            log,
            checkpoints,
        })
    }

    pub async fn from_coordinator(client: &mut CoordinatorClient) -> anyhow::Result<FetchedLog> {
        let r = client.audit_log().await?;
        Ok(FetchedLog {
            origin: "coordinator".into(),
            log: r.log,
            checkpoints: r.checkpoints,
        })
    }

    /// The log of the node of `cdg` at `address`, read with `tls` (a director's identity).
    pub async fn from_node(address: &str, cdg: Cdg, tls: &TlsFiles) -> anyhow::Result<FetchedLog> {
        let channel = tls
            .client_endpoint(address, Principal::new(Role::Node, cdg))?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .connect()
            .await
            .with_context(|| format!("cannot connect to the node of CDG {cdg} at {address}"))?;
        let r = NodeServiceClient::new(channel)
            .max_decoding_message_size(256 * 1024 * 1024)
            .get_audit_log(AuditLogRequest {
                protocol_version: PROTOCOL_VERSION,
            })
            .await?
            .into_inner();
        Ok(FetchedLog {
            origin: format!("node of CDG {cdg}"),
            log: r.log,
            checkpoints: r.checkpoints,
        })
    }

    /// Verifies the chain, then the checkpoints: the entries, or the first break and why.
    pub fn verify(&self, trusted: &TrustedSigners) -> anyhow::Result<Verification> {
        let origin = Path::new(&self.origin);
        let verified = audit::verify_bytes(&self.log, origin)?;
        if let Some(torn) = &verified.torn {
            anyhow::bail!(
                "{}, entry {}: torn final record ({} bytes without an end of line), from a crash \
                 during a write; the {} entries before it verify",
                self.origin,
                verified.entries.len() + 1,
                torn.bytes.len(),
                verified.entries.len()
            );
        }
        let text = String::from_utf8_lossy(&self.checkpoints);
        let checkpoints = audit::verify_checkpoints(
            &verified.entries,
            &text,
            &Path::new(&self.origin).with_extension("checkpoints"),
            trusted,
        )?;
        Ok(Verification {
            entries: verified.entries,
            checkpoints,
        })
    }
}

pub struct Verification {
    pub entries: Vec<AuditEntry>,
    pub checkpoints: usize,
}

/// Which entries `cdg audit list` and `export` keep.
#[derive(Debug, Default, Clone)]
pub struct Filters {
    pub study: Option<String>,
    /// A département code: entries whose details or actor name it.
    pub cdg: Option<Cdg>,
    /// AAAA-MM-JJ: entries on or after that day.
    pub since: Option<String>,
    /// A prefix of the kind, e.g. `study.` or `node.outcome`.
    pub kind: Option<String>,
}

impl Filters {
    pub fn keeps(&self, e: &AuditEntry) -> bool {
        let cdg_ok = self.cdg.is_none_or(|c| {
            e.details.get("cdg").and_then(|v| v.as_str()) == Some(c.code())
                || e.actor.ends_with(&format!(":{}", c.code()))
        });
        self.study.as_ref().is_none_or(|s| &e.study_id == s)
            && cdg_ok
            && self
                .since
                .as_ref()
                .is_none_or(|d| e.time.as_str() >= d.as_str())
            && self
                .kind
                .as_ref()
                .is_none_or(|k| e.kind.starts_with(k.as_str()))
    }
}

/// One line per entry.
pub fn list(entries: &[&AuditEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        let cdg = e
            .details
            .get("cdg")
            .and_then(|v| v.as_str())
            .map(|c| format!(" CDG {c}"))
            .unwrap_or_default();
        let external = if e.details.get("external").and_then(|v| v.as_bool()) == Some(true) {
            "  [diffusion externe: comité technique]"
        } else {
            ""
        };
        out.push_str(&format!(
            "{:>5}  {}  {:<20} {:<16} {}{cdg}{external}\n",
            e.seq, e.time, e.kind, e.study_id, e.actor
        ));
    }
    out
}

/// The entries as CSV (details as JSON text) or as a JSON array.
pub fn export(entries: &[&AuditEntry], csv: bool) -> anyhow::Result<String> {
    if !csv {
        return Ok(serde_json::to_string_pretty(entries)?);
    }
    let mut w = csv_writer();
    w.write_record([
        "seq",
        "time",
        "kind",
        "actor",
        "study_id",
        "details",
        "prev_hash",
        "hash",
    ])?;
    for e in entries {
        w.write_record([
            e.seq.to_string(),
            e.time.clone(),
            e.kind.clone(),
            e.actor.clone(),
            e.study_id.clone(),
            e.details.to_string(),
            e.prev_hash.clone(),
            e.hash.clone(),
        ])?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new().from_writer(Vec::new())
}

/// Differences between the coordinator's log and the nodes': every node answer has its
/// coordinator entry and the reverse. Empty when they agree.
pub fn crosscheck(
    coordinator: &[AuditEntry],
    nodes: &BTreeMap<Cdg, Vec<AuditEntry>>,
) -> Vec<String> {
    // (study, CDG) the coordinator recorded as answered, and every (study, CDG) it sent to.
    let mut answered = BTreeSet::new();
    let mut asked = BTreeSet::new();
    for e in coordinator.iter().filter(|e| e.kind == "node.outcome") {
        let Some(cdg) = e
            .details
            .get("cdg")
            .and_then(|v| v.as_str())
            .and_then(|c| c.parse::<Cdg>().ok())
        else {
            continue;
        };
        asked.insert((e.study_id.clone(), cdg));
        if e.details.get("status").and_then(|v| v.as_str()) == Some("STATUS_ANSWERED") {
            answered.insert((e.study_id.clone(), cdg));
        }
    }
    let mut differences = Vec::new();
    for (cdg, entries) in nodes {
        let node_answered: BTreeSet<&str> = entries
            .iter()
            .filter(|e| e.kind == "execute.answered")
            .map(|e| e.study_id.as_str())
            .collect();
        for (study, _) in answered.iter().filter(|(_, c)| c == cdg) {
            if !node_answered.contains(study.as_str()) {
                differences.push(format!(
                    "the coordinator records CDG {cdg} answering study {study}; the node's log has no answer to it"
                ));
            }
        }
        for study in node_answered {
            if !asked.contains(&(study.to_string(), *cdg)) {
                differences.push(format!(
                    "the node of CDG {cdg} answered study {study}; the coordinator's log has no outcome for it"
                ));
            }
        }
    }
    differences
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: &str, study: &str, details: serde_json::Value) -> AuditEntry {
        AuditEntry {
            seq: 1,
            time: "2026-06-15T10:00:00.000Z".into(),
            kind: kind.into(),
            actor: "system".into(),
            study_id: study.into(),
            details,
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn crosscheck_lists_answers_missing_on_either_side() {
        let answered = |study: &str, cdg: &str| {
            entry(
                "node.outcome",
                study,
                serde_json::json!({"cdg": cdg, "status": "STATUS_ANSWERED"}),
            )
        };
        let coordinator = vec![answered("S-a", "02"), answered("S-b", "02")];
        let node = |study: &str| entry("execute.answered", study, serde_json::json!({}));
        let agree = BTreeMap::from([(Cdg::Aisne, vec![node("S-a"), node("S-b")])]);
        assert!(crosscheck(&coordinator, &agree).is_empty());
        let differ = BTreeMap::from([(Cdg::Aisne, vec![node("S-a"), node("S-c")])]);
        let d = crosscheck(&coordinator, &differ);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d[0].contains("S-b") && d[0].contains("no answer"), "{d:?}");
        assert!(d[1].contains("S-c") && d[1].contains("no outcome"), "{d:?}");
    }

    #[test]
    fn filters_and_the_external_flag() {
        let submitted = entry(
            "study.submitted",
            "S-a",
            serde_json::json!({"external": true}),
        );
        let outcome = entry("node.outcome", "S-b", serde_json::json!({"cdg": "62"}));
        let f = Filters {
            cdg: Some(Cdg::PasDeCalais),
            ..Filters::default()
        };
        assert!(!f.keeps(&submitted) && f.keeps(&outcome));
        let f = Filters {
            kind: Some("study.".into()),
            since: Some("2026-06-15".into()),
            ..Filters::default()
        };
        assert!(f.keeps(&submitted) && !f.keeps(&outcome));
        assert!(list(&[&submitted]).contains("diffusion externe"));
        let csv = export(&[&submitted, &outcome], true).unwrap();
        assert_eq!(csv.lines().count(), 3);
    }
}
