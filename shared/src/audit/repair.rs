//! Setting a broken tail aside (`cdg-coordinator audit repair`, `cdg-node audit repair`): a
//! log whose chain breaks in the middle (two processes appended to it, or a line was altered)
//! is not appended to, and the server refuses to start on it. On an explicit confirmation,
//! the repair moves every line from the first break on to a side file, and the checkpoints
//! that vouch for entries no longer in the log to another, as the torn-record recovery does;
//! then it appends an `audit.repaired` entry saying what went where, how much, and its
//! SHA-256. Nothing is deleted. The caller holds the state's lock (`crate::lock`), so no
//! server writes meanwhile.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, IsTerminal, Read, Seek, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::verify::{Chain, each_line};
use super::{AuditEntry, AuditError, AuditLog, Checkpoint, checkpoints_path};
use crate::signing::Signer;

/// Lines set aside.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Aside {
    pub to: PathBuf,
    pub lines: u64,
    pub bytes: u64,
    pub sha256: String,
}

impl Aside {
    fn details(&self) -> serde_json::Value {
        serde_json::json!({
            "moved_to": self.to.display().to_string(),
            "lines": self.lines,
            "bytes": self.bytes,
            "sha256": self.sha256,
        })
    }
}

/// What a repair would do.
#[derive(Debug)]
pub struct Plan {
    log: PathBuf,
    /// The first line that breaks the chain, and why.
    pub line: u64,
    pub reason: String,
    /// Where that line starts.
    pub offset: u64,
    /// The entries before it, which stay.
    pub kept: u64,
    pub tail: Aside,
    pub checkpoints: Aside,
    /// For each checkpoint line, whether it stays.
    checkpoint_stays: Vec<bool>,
}

/// Reads `path`, from `offset` on, line by line.
fn lines_from(
    path: &Path,
    offset: u64,
) -> std::io::Result<std::io::Split<std::io::BufReader<File>>> {
    let mut f = File::open(path)?;
    f.seek(std::io::SeekFrom::Start(offset))?;
    Ok(std::io::BufReader::new(f).split(b'\n'))
}

/// Finds the first break of the log at `log`: `None` when its chain holds (a torn last line
/// is not a break: the server sets it aside itself when it starts).
pub fn plan(log: &Path) -> Result<Option<Plan>, AuditError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| AuditError::Io { path, source }
    };
    let mut chain = Chain::new(log);
    let mut hashes: Vec<[u8; 32]> = Vec::new();
    let mut found = None;
    each_line(log, |offset, line, complete| {
        if !complete {
            return Ok::<_, AuditError>(ControlFlow::Break(()));
        }
        match chain.check(line) {
            Ok(e) => {
                let mut h = [0u8; 32];
                hex::decode_to_slice(&e.hash, &mut h).expect("a verified hash is hex");
                hashes.push(h);
                Ok(ControlFlow::Continue(()))
            }
            Err(AuditError::Broken { line, reason, .. }) => {
                found = Some((line, reason, offset));
                Ok(ControlFlow::Break(()))
            }
            Err(e) => Err(e),
        }
    })?;
    let Some((line, reason, offset)) = found else {
        return Ok(None);
    };
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let side = |p: &Path| {
        let mut name = p.as_os_str().to_owned();
        name.push(format!(".set-aside-{stamp}"));
        PathBuf::from(name)
    };
    let mut tail = Aside {
        to: side(log),
        ..Aside::default()
    };
    // The tail as on disk: what the side file will hold.
    let mut from = File::open(log).map_err(io(log))?;
    from.seek(std::io::SeekFrom::Start(offset))
        .map_err(io(log))?;
    let mut digest = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut last = b'\n';
    loop {
        let n = from.read(&mut buf).map_err(io(log))?;
        if n == 0 {
            break;
        }
        digest.update(&buf[..n]);
        tail.bytes += n as u64;
        tail.lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        last = buf[n - 1];
    }
    tail.lines += u64::from(last != b'\n');
    tail.sha256 = hex::encode(digest.finalize());
    let cp_path = checkpoints_path(log);
    let mut checkpoints = Aside {
        to: side(&cp_path),
        ..Aside::default()
    };
    let mut checkpoint_stays = Vec::new();
    if cp_path.exists() {
        let mut digest = Sha256::new();
        for l in lines_from(&cp_path, 0).map_err(io(&cp_path))? {
            let l = l.map_err(io(&cp_path))?;
            let stays = serde_json::from_slice::<Checkpoint>(&l).is_ok_and(|c| {
                let mut h = [0u8; 32];
                hex::decode_to_slice(&c.hash, &mut h).is_ok()
                    && c.seq >= 1
                    && hashes.get(c.seq as usize - 1) == Some(&h)
            });
            checkpoint_stays.push(stays);
            if !stays {
                checkpoints.lines += 1;
                checkpoints.bytes += l.len() as u64 + 1;
                digest.update(&l);
                digest.update(b"\n");
            }
        }
        checkpoints.sha256 = hex::encode(digest.finalize());
    }
    Ok(Some(Plan {
        log: log.to_path_buf(),
        line,
        reason,
        offset,
        kept: hashes.len() as u64,
        tail,
        checkpoints,
        checkpoint_stays,
    }))
}

impl Plan {
    /// What the repair will do, for the operator to confirm.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "audit log {}: line {} breaks the chain: {}\n\
             Entries 1 to {} verify and stay. To be set aside:\n\
             - {} lines ({} bytes from byte {}, sha256 {}), to {}\n",
            self.log.display(),
            self.line,
            self.reason,
            self.kept,
            self.tail.lines,
            self.tail.bytes,
            self.offset,
            self.tail.sha256,
            self.tail.to.display()
        );
        if self.checkpoints.lines > 0 {
            s.push_str(&format!(
                "- {} checkpoint lines vouching for entries that are not kept ({} bytes, sha256 \
                 {}), to {}\n",
                self.checkpoints.lines,
                self.checkpoints.bytes,
                self.checkpoints.sha256,
                self.checkpoints.to.display()
            ));
        }
        s.push_str(&format!(
            "Then entry {} (audit.repaired) records the repair.\n",
            self.kept + 1
        ));
        s
    }

    /// Sets the tail and the checkpoints aside, then records the repair (signing its
    /// checkpoint with `signer`). Returns the entry that records it.
    pub fn apply(self, signer: Option<Signer>) -> Result<AuditEntry, AuditError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| AuditError::Io { path, source }
        };
        // The side files first: a crash then leaves the log as it was.
        let mut from = File::open(&self.log).map_err(io(&self.log))?;
        from.seek(std::io::SeekFrom::Start(self.offset))
            .map_err(io(&self.log))?;
        let mut to = create_new(&self.tail.to).map_err(io(&self.tail.to))?;
        std::io::copy(&mut from, &mut to).map_err(io(&self.tail.to))?;
        to.sync_all().map_err(io(&self.tail.to))?;
        if self.checkpoints.lines > 0 {
            self.split_checkpoints()?;
        }
        let log = OpenOptions::new()
            .write(true)
            .open(&self.log)
            .map_err(io(&self.log))?;
        log.set_len(self.offset).map_err(io(&self.log))?;
        log.sync_all().map_err(io(&self.log))?;
        let details = serde_json::json!({
            "first_broken_line": self.line,
            "reason": self.reason,
            "entries_kept": self.kept,
            "log_set_aside": self.tail.details(),
            "checkpoints_set_aside": self.checkpoints.details(),
            "operator": std::env::var("USER").unwrap_or_else(|_| "(USER not set)".into()),
        });
        let mut log = match signer {
            Some(s) => AuditLog::open_signed(&self.log, s, |_| {})?,
            None => AuditLog::open(&self.log)?,
        };
        log.append("audit.repaired", "system", "", details)
    }

    /// Writes the checkpoints set aside to their side file, and the others in place of the
    /// checkpoints file (through a temporary file renamed over it).
    fn split_checkpoints(&self) -> Result<(), AuditError> {
        let path = checkpoints_path(&self.log);
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| AuditError::Io { path: p, source }
        };
        let mut staying_path = path.clone().into_os_string();
        staying_path.push(".repairing");
        let staying_path = PathBuf::from(staying_path);
        let mut aside = create_new(&self.checkpoints.to).map_err(io(&self.checkpoints.to))?;
        let mut staying = File::create(&staying_path).map_err(io(&staying_path))?;
        let mut stays = self.checkpoint_stays.iter();
        for l in lines_from(&path, 0).map_err(io(&path))? {
            let mut l = l.map_err(io(&path))?;
            l.push(b'\n');
            let out = if stays.next() == Some(&true) {
                &mut staying
            } else {
                &mut aside
            };
            out.write_all(&l).map_err(io(&path))?;
        }
        aside.sync_all().map_err(io(&self.checkpoints.to))?;
        staying.sync_all().map_err(io(&staying_path))?;
        std::fs::rename(&staying_path, &path).map_err(io(&path))?;
        if let Some(dir) = path.parent() {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io(dir))?;
        }
        Ok(())
    }
}

fn create_new(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

/// Asks the operator on the terminal; without one, only `--yes` confirms.
fn confirmed(yes: bool) -> anyhow::Result<bool> {
    if yes {
        return Ok(true);
    }
    anyhow::ensure!(
        std::io::stdin().is_terminal(),
        "refusing to set entries aside without a confirmation: run this on a terminal and \
         answer yes, or pass --yes"
    );
    print!("Set them aside? Type yes to confirm: ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

/// The `audit repair` command of a server (`program`, e.g. `cdg-coordinator`), the state's
/// lock held: finds the break, shows what will be set aside, asks, repairs.
/// The arguments of `audit repair`, alike for the coordinator and the node.
#[derive(Debug, clap::Args)]
pub struct RepairArgs {
    /// Configuration file of the stopped server whose log is repaired.
    #[arg(long, short)]
    pub config: PathBuf,
    /// Confirm without asking (needed when not on a terminal).
    #[arg(long)]
    pub yes: bool,
}

pub fn run(log: &Path, signer: Option<Signer>, yes: bool, program: &str) -> anyhow::Result<()> {
    let Some(plan) = plan(log)? else {
        println!(
            "audit log {}: the chain verifies; nothing to set aside",
            log.display()
        );
        return Ok(());
    };
    print!("{}", plan.describe());
    if !confirmed(yes)? {
        anyhow::bail!("not confirmed: nothing was changed");
    }
    let entry = plan.apply(signer)?;
    println!(
        "Set aside; entry {} (audit.repaired) records it. {program} can start again.",
        entry.seq
    );
    Ok(())
}

/// Adds to a broken log's error what to do about it, for a server that refuses to start.
pub fn refusal(error: AuditError, repair_command: &str) -> anyhow::Error {
    match error {
        AuditError::Broken { .. } => anyhow::anyhow!(
            "{error}. A broken log is not appended to: find out why (two processes on the same \
             files? an edit?), keep a copy of the files, then set the broken tail aside with \
             `{repair_command}`"
        ),
        other => other.into(),
    }
}
