//! The life of a run in the audit log: a run in progress, one cancelled by its caller, one a
//! crash interrupted.

use cdg_shared::audit::{AuditEntry, AuditLog, Kind};
use cdg_shared::identity::Principal;
use serde_json::json;

use crate::coordinator::Coordinator;
use crate::error::{CoordinatorError, Result};

/// The runs that started and did not end, as the log is read at start.
#[derive(Default)]
pub(crate) struct OpenRuns(Vec<(String, u64)>);

impl OpenRuns {
    /// Notes one entry of the log, in order.
    pub(crate) fn see(&mut self, e: &AuditEntry) {
        match Kind::parse(&e.kind) {
            Some(Kind::RunStarted) => self.0.push((e.study_id.clone(), e.seq)),
            Some(kind) if kind.ends_run() => self.0.retain(|(id, _)| *id != e.study_id),
            _ => {}
        }
    }

    /// Records, after a crash, each run that started and never completed: the study is then
    /// clearly marked interrupted, and may be run again.
    pub(crate) fn mark_interrupted(self, audit: &mut AuditLog) -> Result<()> {
        for (study_id, started) in self.0 {
            tracing::warn!(%study_id, "a run was interrupted (coordinator stopped during it)");
            audit.append(
                Kind::RunInterrupted.as_str(),
                "system",
                &study_id,
                json!({"started_at_entry": started, "resume": "run the study again"}),
            )?;
        }
        Ok(())
    }
}

/// A study in `Coordinator::running` for as long as this lives. Dropped after its start was
/// logged and before its end, the run was cancelled (its caller went away): that is logged.
pub(crate) struct Running<'a> {
    coordinator: &'a Coordinator,
    id: String,
    caller: Principal,
    pub(crate) logged_start: bool,
    pub(crate) ended: bool,
}

impl<'a> Running<'a> {
    pub(crate) fn start(
        coordinator: &'a Coordinator,
        id: &str,
        caller: Principal,
    ) -> Result<Running<'a>> {
        let mut running = coordinator.running.lock().map_err(|_| {
            CoordinatorError::Internal("the set of running studies' lock is poisoned".into())
        })?;
        if !running.insert(id.to_string()) {
            return Err(CoordinatorError::NotRunnable(format!(
                "study {id} is already running"
            )));
        }
        Ok(Running {
            coordinator,
            id: id.to_string(),
            caller,
            logged_start: false,
            ended: false,
        })
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if self.logged_start && !self.ended {
            tracing::warn!(study_id = %self.id, "run cancelled by its caller");
            let logged = self.coordinator.append(
                Kind::RunCancelled,
                &self.caller.uri(),
                &self.id,
                json!({"reason": "the caller stopped waiting; the nodes' calls were abandoned"}),
            );
            if let Err(e) = logged {
                tracing::error!(error = %e, "could not log the cancellation");
            }
        }
        if let Ok(mut running) = self.coordinator.running.lock() {
            running.remove(&self.id);
        }
    }
}
