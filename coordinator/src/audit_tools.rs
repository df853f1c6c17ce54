//! The comité technique's audit tools (`cdg audit ...`): fetch a log in pages (the
//! coordinator's, a node's, or a file), verify its chain and checkpoints as the pages come,
//! and list, show or export its entries on the way. Nothing holds a whole log: each entry is
//! handed on once verified (see `crosscheck.rs` for reconciling logs).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use cdg_shared::audit::{AuditEntry, LogReader, Page, PageLimits, Pager, Snapshot, Summary};
use cdg_shared::cdg::Cdg;
use cdg_shared::identity::{Principal, Role};
use cdg_shared::proto::PROTOCOL_VERSION;
use cdg_shared::proto::v1::node_service_client::NodeServiceClient;
use cdg_shared::proto::v1::{AuditLogPage, AuditLogRequest};
use cdg_shared::signing::TrustedSigners;
use cdg_shared::tls::TlsFiles;

use crate::client::CoordinatorClient;

/// Where the pages come from.
enum Pages {
    File(Pager),
    Remote(tonic::Streaming<AuditLogPage>),
}

/// A log being fetched, with where it comes from.
pub struct FetchedLog {
    pub origin: String,
    pages: Pages,
}

impl FetchedLog {
    /// A log file and, if present, its checkpoints beside it.
    pub fn from_file(path: &Path) -> anyhow::Result<FetchedLog> {
        anyhow::ensure!(path.is_file(), "no log file at {}", path.display());
        let read = || -> std::io::Result<Pager> {
            Pager::open(&Snapshot::now(path)?, 1, PageLimits::asked(0, usize::MAX))
        };
        Ok(FetchedLog {
            origin: path.display().to_string(),
            pages: Pages::File(read().with_context(|| format!("reading {}", path.display()))?),
        })
    }

    pub async fn from_coordinator(client: &mut CoordinatorClient) -> anyhow::Result<FetchedLog> {
        Ok(FetchedLog {
            origin: "coordinator".into(),
            pages: Pages::Remote(client.audit_log(1).await?),
        })
    }

    /// The log of the node of `cdg` at `address`, read with `tls` (a director's identity).
    pub async fn from_node(address: &str, cdg: Cdg, tls: &TlsFiles) -> anyhow::Result<FetchedLog> {
        let channel = tls
            .client_endpoint(address, Principal::new(Role::Node, cdg))?
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .with_context(|| format!("cannot connect to the node of CDG {cdg} at {address}"))?;
        let pages = NodeServiceClient::new(channel)
            .get_audit_log(AuditLogRequest {
                protocol_version: PROTOCOL_VERSION,
                from_seq: 1,
                max_entries: 0,
            })
            .await?
            .into_inner();
        Ok(FetchedLog {
            origin: format!("node of CDG {cdg}"),
            pages: Pages::Remote(pages),
        })
    }

    async fn next_page(&mut self) -> anyhow::Result<Option<Page>> {
        match &mut self.pages {
            Pages::File(pager) => Ok(pager.next().transpose()?),
            Pages::Remote(stream) => Ok(stream.message().await?.map(Page::from)),
        }
    }

    /// Verifies the chain and the checkpoints page by page, handing each entry to `on_entry`
    /// once verified: the summary, or the first break and why.
    pub async fn verify(
        mut self,
        trusted: &TrustedSigners,
        mut on_entry: impl FnMut(AuditEntry) -> anyhow::Result<()>,
    ) -> anyhow::Result<Summary> {
        let origin = PathBuf::from(&self.origin);
        let mut reader = LogReader::new(&origin, trusted);
        while let Some(page) = self.next_page().await? {
            reader.page(&page, &mut on_entry)?;
        }
        Ok(reader.finish()?)
    }
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

/// One entry on one line.
pub fn list_line(e: &AuditEntry) -> String {
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
    format!(
        "{:>5}  {}  {:<20} {:<16} {}{cdg}{external}\n",
        e.seq, e.time, e.kind, e.study_id, e.actor
    )
}

/// How `cdg audit export` writes entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// One row per entry, details as JSON text.
    Csv,
    /// A JSON array, one entry per line.
    Json,
}

/// Writes entries one by one as they are verified.
pub struct Export<W: Write> {
    out: Out<W>,
    written: u64,
}

enum Out<W: Write> {
    Csv(Box<csv::Writer<W>>),
    Json(W),
}

const CSV_HEADER: [&str; 8] = [
    "seq",
    "time",
    "kind",
    "actor",
    "study_id",
    "details",
    "prev_hash",
    "hash",
];

impl<W: Write> Export<W> {
    pub fn new(mut out: W, format: ExportFormat) -> anyhow::Result<Export<W>> {
        let out = match format {
            ExportFormat::Csv => {
                let mut csv = csv::WriterBuilder::new().from_writer(out);
                csv.write_record(CSV_HEADER)?;
                Out::Csv(Box::new(csv))
            }
            ExportFormat::Json => {
                out.write_all(b"[")?;
                Out::Json(out)
            }
        };
        Ok(Export { out, written: 0 })
    }

    pub fn entry(&mut self, e: &AuditEntry) -> anyhow::Result<()> {
        match &mut self.out {
            Out::Csv(csv) => csv.write_record([
                e.seq.to_string(),
                e.time.clone(),
                e.kind.clone(),
                e.actor.clone(),
                e.study_id.clone(),
                e.details.to_string(),
                e.prev_hash.clone(),
                e.hash.clone(),
            ])?,
            Out::Json(out) => {
                out.write_all(if self.written == 0 { b"\n" } else { b",\n" })?;
                serde_json::to_writer(&mut *out, e)?;
            }
        }
        self.written += 1;
        Ok(())
    }

    /// Ends the output; returns how many entries were written.
    pub fn finish(self) -> anyhow::Result<u64> {
        match self.out {
            Out::Csv(mut csv) => csv.flush()?,
            Out::Json(mut out) => {
                out.write_all(b"\n]\n")?;
                out.flush()?;
            }
        }
        Ok(self.written)
    }
}

/// What a crosscheck found: the coordinator's log and each node's, verified, compared.
pub struct CrosscheckReport {
    pub coordinator_entries: u64,
    /// Every answer the coordinator recorded that a node's log does not, and the reverse.
    pub differences: Vec<String>,
}

/// Verifies the coordinator's log and the log of each node of `nodes` (read with `tls`, a
/// director's identity), and compares what each says the nodes answered.
pub async fn crosscheck(
    coordinator: FetchedLog,
    nodes: &[(Cdg, String)],
    tls: &TlsFiles,
    trusted: &TrustedSigners,
) -> anyhow::Result<CrosscheckReport> {
    let mut check = crate::crosscheck::Crosscheck::default();
    let summary = coordinator
        .verify(trusted, |e| {
            check.see(&e);
            Ok(())
        })
        .await?;
    let mut differences = Vec::new();
    for (cdg, address) in nodes {
        let mut answers = crate::crosscheck::NodeAnswers::default();
        FetchedLog::from_node(address, *cdg, tls)
            .await?
            .verify(trusted, |e| {
                answers.see(&e);
                Ok(())
            })
            .await?;
        differences.extend(check.differences(*cdg, &answers));
    }
    Ok(CrosscheckReport {
        coordinator_entries: summary.entries,
        differences,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: &str, study: &str, details: serde_json::Value) -> AuditEntry {
        AuditEntry::unsealed(kind, study, details)
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
        assert!(list_line(&submitted).contains("diffusion externe"));
    }

    #[test]
    fn exports_are_written_entry_by_entry_in_either_format() {
        let entries = [
            entry("study.submitted", "S-a", serde_json::json!({"n": 1})),
            entry("node.outcome", "S-b", serde_json::json!({"cdg": "62"})),
        ];
        let rows = |t: &str| t.lines().count() - 1;
        let array = |t: &str| serde_json::from_str::<Vec<AuditEntry>>(t).unwrap().len();
        for (format, count) in [
            (ExportFormat::Csv, &rows as &dyn Fn(&str) -> usize),
            (ExportFormat::Json, &array),
        ] {
            let mut out = Vec::new();
            let mut export = Export::new(&mut out, format).unwrap();
            for e in &entries {
                export.entry(e).unwrap();
            }
            assert_eq!(export.finish().unwrap(), 2);
            assert_eq!(count(&String::from_utf8(out).unwrap()), 2, "{format:?}");
        }
        let mut out = Vec::new();
        Export::new(&mut out, ExportFormat::Json)
            .unwrap()
            .finish()
            .unwrap();
        assert!(
            serde_json::from_slice::<Vec<AuditEntry>>(&out)
                .unwrap()
                .is_empty()
        );
    }
}
