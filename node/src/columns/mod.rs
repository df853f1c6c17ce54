//! An in-memory columnar copy of each dataset's live rows, from which answers are computed in
//! one pass in Rust (`scan.rs`); DuckDB stays the store of record.
//!
//! Why: DuckDB binds and optimizes every execution of a statement, and an answer needs one to
//! four of them (the cells, their exact units, the complement and 100% checks): planning, not
//! scanning, was most of an answer's time. The copy is read once per dataset (`table.rs`), at
//! start or on first use, and read again after an import or a rollback changed the data (the
//! store's generation). `limits.in_memory_copy = false` answers with SQL instead, for a node
//! whose data would not fit in its memory; both give the same cells (tested on every
//! dataset).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::catalogue::{self, Dataset};
use crate::error::{NodeError, Result};
use crate::store::Store;

mod scan;
mod table;
#[cfg(test)]
mod tests;

pub use scan::Scan;
pub use table::Table;

/// The copies, by dataset.
#[derive(Default)]
pub struct Columns {
    tables: Mutex<HashMap<&'static str, Arc<Table>>>,
    /// Held while a copy is read, so that concurrent first queries read it once.
    reading: Mutex<()>,
}

impl Columns {
    /// The copy of `dataset`'s rows, read now if there is none or the data changed since.
    pub fn table(&self, store: &Store, dataset: &'static Dataset) -> Result<Arc<Table>> {
        if let Some(table) = self.current(store, dataset)? {
            return Ok(table);
        }
        let _reading = self
            .reading
            .lock()
            .map_err(|_| NodeError::Internal("in-memory copy lock poisoned".into()))?;
        if let Some(table) = self.current(store, dataset)? {
            return Ok(table);
        }
        let start = std::time::Instant::now();
        let table = Arc::new(Table::read(store, dataset)?);
        tracing::debug!(
            dataset = dataset.name,
            rows = table.rows,
            ms = start.elapsed().as_secs_f64() * 1000.0,
            "in-memory copy read"
        );
        if table.generation == store.generation() {
            self.lock()?.insert(dataset.name, table.clone());
        }
        Ok(table)
    }

    /// Reads the copy of every dataset (at start, so that first queries do not wait).
    pub fn warm(&self, store: &Store) -> Result<()> {
        for dataset in catalogue::DATASETS {
            self.table(store, dataset)?;
        }
        Ok(())
    }

    fn current(&self, store: &Store, dataset: &Dataset) -> Result<Option<Arc<Table>>> {
        let generation = store.generation();
        Ok(self
            .lock()?
            .get(dataset.name)
            .filter(|t| t.generation == generation)
            .cloned())
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<&'static str, Arc<Table>>>> {
        self.tables
            .lock()
            .map_err(|_| NodeError::Internal("in-memory copy lock poisoned".into()))
    }
}
