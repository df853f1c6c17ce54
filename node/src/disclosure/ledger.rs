//! What the node remembers of each analyst's answers: released cells per day (the budget) and
//! the queries that reached each small group (the overlap watch). Both are checked, then
//! recorded: a refused answer records nothing.
//!
//! The ledger lives in memory and in a journal beside the database (`<database>.ledger`), one
//! JSON line per answer, fsynced before the answer leaves; a restart replays it. (It was two
//! DuckDB tables: a write transaction per answer cost about 11 ms, most of a repeated answer.)
//! A database whose ledger is still in those tables has it copied into the journal on opening.
//!
//! One process at a time writes the ledger: the store holds the node's lock
//! (`crate::store::lock`) for as long as it is open, and the ledger is opened beside an open
//! store only.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::config::PolicyConfig;
use crate::error::{NodeError, Result};
use crate::store::OldLedgerRow;

/// An answer about to be released to an analyst.
pub struct Release<'a> {
    pub analyst: &'a str,
    /// AAAA-MM-JJ, from the node's clock.
    pub day: &'a str,
    pub dataset: &'a str,
    /// Digest of the query as asked: repeating a query is not a new one.
    pub query: &'a str,
    /// Cells released.
    pub cells: u32,
    /// Cell keys of the released cells with fewer units than `policy.overlap.small_group`.
    pub small_groups: &'a [i64],
}

/// One line of the journal: an answer released (or, copied from the old tables, a budget
/// spent or small groups watched).
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    analyst: String,
    /// AAAA-MM-JJ.
    day: String,
    dataset: String,
    query: String,
    cells: i64,
    small_groups: Vec<i64>,
}

pub struct Ledger {
    path: PathBuf,
    file: File,
    /// Cells released per (analyst, day).
    budget: HashMap<(String, NaiveDate), i64>,
    /// Per (analyst, dataset, small group's cell key): the queries that reached it, with the
    /// last day each did.
    watch: HashMap<(String, String, i64), HashMap<String, NaiveDate>>,
}

/// The journal beside `database`.
pub fn journal_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".ledger");
    PathBuf::from(name)
}

impl Ledger {
    /// Opens the journal at `path` and replays it; creates it from the rows `old` reads (the
    /// tables of earlier versions, `Store::old_ledger`) when it does not exist yet.
    pub fn open(path: &Path, old: impl FnOnce() -> Result<Vec<OldLedgerRow>>) -> Result<Ledger> {
        let io = |e: std::io::Error| {
            NodeError::Internal(format!("ledger journal {}: {e}", path.display()))
        };
        let fresh = !path.exists();
        let text = if fresh {
            String::new()
        } else {
            std::fs::read_to_string(path).map_err(io)?
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        let mut ledger = Ledger {
            path: path.to_path_buf(),
            file,
            budget: HashMap::new(),
            watch: HashMap::new(),
        };
        let mut complete = 0;
        for line in text.split_inclusive('\n') {
            // A crash while writing leaves a last line without its end: that answer never left.
            let Some(json) = line.strip_suffix('\n') else {
                break;
            };
            let entry: Entry = serde_json::from_str(json).map_err(|e| {
                NodeError::Internal(format!(
                    "ledger journal {} is damaged at byte {complete}: {e}. Restore it from the \
                     backup taken with the database",
                    path.display()
                ))
            })?;
            ledger.apply(&entry, parse_day(&entry.day)?);
            complete += line.len();
        }
        if complete < text.len() {
            ledger.file.set_len(complete as u64).map_err(io)?;
        }
        if fresh {
            for row in old()? {
                let entry = Entry {
                    small_groups: row.small_group.into_iter().collect(),
                    analyst: row.analyst,
                    day: row.day,
                    dataset: row.dataset,
                    query: row.query,
                    cells: row.cells,
                };
                let day = parse_day(&entry.day)?;
                ledger.append(&entry, day)?;
            }
        }
        Ok(ledger)
    }

    fn apply(&mut self, e: &Entry, day: NaiveDate) {
        *self.budget.entry((e.analyst.clone(), day)).or_default() += e.cells;
        for &key in &e.small_groups {
            let queries = self
                .watch
                .entry((e.analyst.clone(), e.dataset.clone(), key))
                .or_default();
            let last = queries.entry(e.query.clone()).or_insert(day);
            *last = (*last).max(day);
        }
    }

    fn append(&mut self, e: &Entry, day: NaiveDate) -> Result<()> {
        let mut line = serde_json::to_vec(e).expect("ledger entries always serialize");
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|()| self.file.sync_data())
            .map_err(|err| {
                NodeError::Internal(format!("ledger journal {}: {err}", self.path.display()))
            })?;
        self.apply(e, day);
        Ok(())
    }

    /// Checks the daily budget and the overlap watch for `r`, then records it.
    pub fn record(&mut self, r: &Release, policy: &PolicyConfig) -> Result<()> {
        let day = parse_day(r.day)?;
        self.check_budget(r, day, policy.max_cells_per_analyst_per_day)?;
        let small_groups = self.watch_overlap(r, day, policy)?;
        let entry = Entry {
            analyst: r.analyst.to_string(),
            day: r.day.to_string(),
            dataset: r.dataset.to_string(),
            query: r.query.to_string(),
            cells: i64::from(r.cells),
            small_groups,
        };
        self.append(&entry, day)
    }

    fn check_budget(&self, r: &Release, day: NaiveDate, limit: u32) -> Result<()> {
        let used = self
            .budget
            .get(&(r.analyst.to_string(), day))
            .copied()
            .unwrap_or(0);
        let (analyst, cells) = (r.analyst, r.cells);
        if used + i64::from(cells) > i64::from(limit) {
            return Err(NodeError::Budget(format!(
                "{analyst} has received {used} cells from this node on {day}; this answer's \
                 {cells} would pass the daily budget of {limit} (policy.max_cells_per_analyst_per_day). \
                 Ask fewer or coarser tables, or wait until tomorrow"
            )));
        }
        Ok(())
    }

    /// Refuses a query that would be the analyst's `refuse_after + 1`-th distinct query
    /// reaching one small group within the window; warns past `flag_after`. Returns the small
    /// groups to record (those this query has not reached yet today).
    fn watch_overlap(
        &self,
        r: &Release,
        day: NaiveDate,
        policy: &PolicyConfig,
    ) -> Result<Vec<i64>> {
        let o = &policy.overlap;
        let mut keys = r.small_groups.to_vec();
        keys.sort_unstable();
        keys.dedup();
        let since = day - chrono::Days::new(u64::from(o.window_days));
        let mut to_record = Vec::new();
        for key in keys {
            let recent: Vec<(&String, &NaiveDate)> = self
                .watch
                .get(&(r.analyst.to_string(), r.dataset.to_string(), key))
                .map(|queries| queries.iter().filter(|(_, d)| **d > since).collect())
                .unwrap_or_default();
            let others = recent.iter().filter(|(q, _)| q.as_str() != r.query).count();
            let this = recent.iter().find(|(q, _)| q.as_str() == r.query);
            let queries = others + 1;
            if this.is_none() && queries > o.refuse_after as usize {
                return Err(NodeError::Policy(format!(
                    "overlap watch: {} has already sent {others} different queries reaching the same \
                     small group of {} (fewer than {} units) in the last {} days; this node allows \
                     {} (policy.overlap.refuse_after). Ask about larger groups",
                    r.analyst, r.dataset, o.small_group, o.window_days, o.refuse_after
                )));
            }
            if this.is_none() && queries > o.flag_after as usize {
                tracing::warn!(
                    analyst = r.analyst,
                    dataset = r.dataset,
                    queries,
                    "overlap watch: many different queries reach the same small group"
                );
            }
            if this.is_none_or(|(_, d)| **d != day) {
                to_record.push(key);
            }
        }
        Ok(to_record)
    }
}

fn parse_day(day: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .map_err(|e| NodeError::Internal(format!("bad day {day:?} in the ledger: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a database of an earlier version kept in its tables `budget` and
    /// `overlap_watch`.
    fn old_database(dir: &Path) -> crate::store::Store {
        let store = crate::store::Store::open(&dir.join("node.duckdb")).unwrap();
        store
            .in_transaction(|tx| {
                tx.execute_batch(
                    "INSERT INTO budget VALUES ('alice', '2026-06-15', 9);
                     INSERT INTO overlap_watch VALUES ('alice', 'agents', 42, 'q1', '2026-06-15');",
                )?;
                Ok(())
            })
            .unwrap();
        store
    }

    fn release<'a>(query: &'a str, cells: u32, groups: &'a [i64]) -> Release<'a> {
        Release {
            analyst: "alice",
            day: "2026-06-15",
            dataset: "agents",
            query,
            cells,
            small_groups: groups,
        }
    }

    /// A database of an earlier version keeps its analysts' budget and overlap watch; the
    /// journal keeps them across restarts, and a torn last line (a crash) is cut off.
    #[test]
    fn the_old_tables_move_into_the_journal_which_survives_restarts_and_crashes() {
        let dir = tempfile::tempdir().unwrap();
        let store = old_database(dir.path());
        let journal = journal_path(&dir.path().join("node.duckdb"));
        let mut policy = PolicyConfig {
            max_cells_per_analyst_per_day: 10,
            ..PolicyConfig::default()
        };
        policy.overlap.refuse_after = 2;

        let mut ledger = Ledger::open(&journal, || store.old_ledger()).unwrap();
        let spent = ledger.record(&release("q1", 2, &[]), &policy).unwrap_err();
        assert!(spent.to_string().contains("received 9 cells"), "{spent}");
        ledger.record(&release("q2", 1, &[42]), &policy).unwrap();

        std::fs::OpenOptions::new()
            .append(true)
            .open(&journal)
            .unwrap()
            .write_all(b"{\"analyst\":\"alice\",\"da")
            .unwrap();
        store
            .in_transaction(|tx| Ok(tx.execute_batch("DELETE FROM budget")?))
            .unwrap();
        // A restart: the journal is read again, the old tables no more.
        drop(ledger);
        let mut ledger = Ledger::open(&journal, || store.old_ledger()).unwrap();
        assert!(ledger.record(&release("q1", 1, &[]), &policy).is_err());
        // q1 and q2 reached group 42: a third query is refused, a repeat is not.
        let watched = ledger
            .record(
                &Release {
                    day: "2026-06-16",
                    ..release("q3", 0, &[42])
                },
                &policy,
            )
            .unwrap_err();
        assert!(watched.to_string().contains("overlap watch"), "{watched}");
        ledger
            .record(
                &Release {
                    day: "2026-06-16",
                    ..release("q2", 1, &[42])
                },
                &policy,
            )
            .unwrap();
        assert!(std::fs::read_to_string(&journal).unwrap().ends_with("}\n"));
    }
}
