//! `GetAuditLog` on the wire, for the node and the coordinator alike: a request checked
//! (clients from before pages are told to upgrade), the pages of a snapshot streamed from a
//! blocking thread, and pages converted from and to their message.

use std::pin::Pin;

use futures_util::Stream;
use tonic::Status;

use super::pages::{Page, PageLimits, Pager, Snapshot};
use crate::proto::v1::{AuditLogPage, AuditLogRequest};

/// The pages of one `GetAuditLog` answer.
pub type PageStream = Pin<Box<dyn Stream<Item = Result<AuditLogPage, Status>> + Send>>;

impl From<Page> for AuditLogPage {
    fn from(p: Page) -> AuditLogPage {
        AuditLogPage {
            log: p.log,
            checkpoints: p.checkpoints,
            end: p.end,
        }
    }
}

impl From<AuditLogPage> for Page {
    fn from(p: AuditLogPage) -> Page {
        Page {
            log: p.log,
            checkpoints: p.checkpoints,
            end: p.end,
        }
    }
}

/// Streams the pages of `snapshot` that `request` asks for, each well under the server's
/// `message_limit`. Must be called inside a Tokio runtime; the files are read on a blocking
/// thread, a few pages ahead of the client.
#[allow(clippy::result_large_err)]
pub fn stream_pages(
    snapshot: Snapshot,
    request: &AuditLogRequest,
    message_limit: usize,
) -> Result<PageStream, Status> {
    if request.from_seq == 0 {
        return Err(Status::failed_precondition(
            "this server sends its audit log in pages from an entry on (from_seq), and the \
             request names none: it comes from a client older than paged audit logs, which \
             would take the first page for the whole log. Upgrade cdg",
        ));
    }
    let limits = PageLimits::asked(request.max_entries, message_limit);
    let from_seq = request.from_seq;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let failed = |e: std::io::Error| {
            tracing::error!(log = %snapshot.log.display(), error = %e, "reading the audit log");
            Status::internal(format!("reading the audit log: {e}"))
        };
        let pages = match Pager::open(&snapshot, from_seq, limits) {
            Ok(p) => p,
            Err(e) => {
                let _ = tx.blocking_send(Err(failed(e)));
                return;
            }
        };
        for page in pages {
            // A client that went away stops the reading.
            if tx
                .blocking_send(page.map(AuditLogPage::from).map_err(failed))
                .is_err()
            {
                return;
            }
        }
    });
    Ok(Box::pin(futures_util::stream::unfold(rx, |mut rx| async {
        rx.recv().await.map(|page| (page, rx))
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    /// The single message that answered `GetAuditLog` before pages.
    #[derive(Clone, PartialEq, prost::Message)]
    struct WholeLog {
        #[prost(bytes = "vec", tag = "1")]
        log: Vec<u8>,
        #[prost(bytes = "vec", tag = "2")]
        checkpoints: Vec<u8>,
    }

    #[test]
    fn a_whole_log_from_a_server_before_pages_reads_as_an_empty_page_without_end() {
        let old = WholeLog {
            log: b"{\"seq\":1}\n".to_vec(),
            checkpoints: b"{\"seq\":1}\n".to_vec(),
        }
        .encode_to_vec();
        let page = Page::from(AuditLogPage::decode(old.as_slice()).unwrap());
        assert_eq!(page, Page::default(), "nothing misread, and no end");
    }
}
