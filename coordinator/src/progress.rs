//! Live progress of a study run, per node and query, for whoever watches it.

use std::time::Instant;

use cdg_shared::cdg::Cdg;
use cdg_shared::proto::v1::NodeProgress;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// Where a run reports its steps (nowhere for a unary call).
#[derive(Clone)]
pub struct Progress {
    sink: Option<UnboundedSender<NodeProgress>>,
    started: Instant,
}

/// One step of one node.
pub struct Step<'a> {
    pub cdg: Cdg,
    /// "asking", "answered", "retrying", "failed".
    pub step: &'static str,
    pub query_name: &'a str,
    pub queries_done: usize,
    pub queries_total: usize,
    pub message: String,
}

impl Progress {
    /// A run nobody watches.
    pub fn none() -> Progress {
        Progress {
            sink: None,
            started: Instant::now(),
        }
    }

    /// A run whose steps arrive on the receiver.
    pub fn channel() -> (Progress, UnboundedReceiver<NodeProgress>) {
        let (sink, receiver) = unbounded_channel();
        (
            Progress {
                sink: Some(sink),
                started: Instant::now(),
            },
            receiver,
        )
    }

    pub fn report(&self, step: Step) {
        tracing::debug!(cdg = %step.cdg, step = step.step, query = step.query_name, "progress");
        if let Some(sink) = &self.sink {
            // The watcher may have gone: the run goes on (or is cancelled by its caller).
            let _ = sink.send(NodeProgress {
                cdg: step.cdg.code().to_string(),
                step: step.step.to_string(),
                query_name: step.query_name.to_string(),
                queries_done: step.queries_done as u32,
                queries_total: step.queries_total as u32,
                message: step.message,
                elapsed_ms: self.started.elapsed().as_millis() as u64,
            });
        }
    }
}
