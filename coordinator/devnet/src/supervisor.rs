//! Child processes of the demo: started with their logs in files, stopped with SIGTERM (then
//! SIGKILL after a grace period), and never left behind if the demo itself fails.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::process::{Child, Command};

pub struct Supervised {
    pub name: String,
    pub log: PathBuf,
    child: Child,
}

#[derive(Default)]
pub struct Supervisor {
    children: Vec<Supervised>,
}

/// Last lines of a log file, to explain a failure.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

impl Supervisor {
    /// Starts `program args`, with stdout and stderr appended to `log`.
    pub fn spawn(
        &mut self,
        name: &str,
        program: &Path,
        args: &[&str],
        log: &Path,
    ) -> anyhow::Result<()> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        self.children.push(Supervised {
            name: name.to_string(),
            log: log.to_path_buf(),
            child,
        });
        Ok(())
    }

    /// Waits until `ready_file` exists (the child writes its address there), failing early if
    /// the child exits.
    pub async fn wait_ready(
        &mut self,
        name: &str,
        ready_file: &Path,
        timeout: Duration,
    ) -> anyhow::Result<String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Ok(addr) = std::fs::read_to_string(ready_file) {
                return Ok(addr.trim().to_string());
            }
            let child = self
                .children
                .iter_mut()
                .find(|c| c.name == name)
                .with_context(|| format!("no process named {name}"))?;
            if let Some(status) = child.child.try_wait()? {
                anyhow::bail!(
                    "{name} exited ({status}) before listening; its log says:\n{}",
                    log_tail(&child.log, 15)
                );
            }
            if tokio::time::Instant::now() > deadline {
                anyhow::bail!(
                    "{name} did not start within {} s; see {}",
                    timeout.as_secs(),
                    child.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process id of the child `name`, while it runs.
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.children
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| c.child.id())
    }

    /// Stops every child: SIGTERM, then SIGKILL after `grace`.
    pub async fn stop_all(&mut self, grace: Duration) {
        let children = std::mem::take(&mut self.children);
        stop(children, grace).await;
    }

    /// Stops the child `name` as [`Supervisor::stop_all`] does, leaving the others running.
    pub async fn stop(&mut self, name: &str, grace: Duration) {
        let (these, others) = std::mem::take(&mut self.children)
            .into_iter()
            .partition(|c| c.name == name);
        self.children = others;
        stop(these, grace).await;
    }
}

/// Asks a child to stop: SIGTERM on Unix, so that it finishes its work and flushes its logs;
/// elsewhere (Windows has no such signal) it is killed.
#[cfg(unix)]
fn terminate(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id() {
        let pid = nix::unistd::Pid::from_raw(pid as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    }
}

#[cfg(not(unix))]
fn terminate(child: &mut tokio::process::Child) {
    let _ = child.start_kill();
}

async fn stop(mut children: Vec<Supervised>, grace: Duration) {
    for c in &mut children {
        terminate(&mut c.child);
    }
    for c in &mut children {
        match tokio::time::timeout(grace, c.child.wait()).await {
            Ok(Ok(status)) if status.success() => {}
            Ok(Ok(status)) => {
                eprintln!("{} stopped with {status}; see {}", c.name, c.log.display())
            }
            _ => {
                eprintln!(
                    "{} did not stop within {} s: killed",
                    c.name,
                    grace.as_secs()
                );
                let _ = c.child.kill().await;
            }
        }
    }
}
