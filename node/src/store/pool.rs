//! The node's DuckDB connections to its one database. A store opens with one; the server widens
//! it to `limits.duckdb_connections` so that answers run side by side: DuckDB plans each
//! statement on the calling thread, which is most of a small query's time, so one connection
//! left the other cores idle. A request takes a free connection and gives it back when done;
//! which request holds which connection is noted for cancelling (see `cancel.rs`).

use std::sync::{Condvar, Mutex, MutexGuard};

use duckdb::Connection;

use super::cancel::{self, CancelToken, Holder};
use crate::error::{NodeError, Result};

pub(crate) struct Pool {
    slots: Vec<Slot>,
    /// Indices of the slots nobody holds.
    free: Mutex<Vec<usize>>,
    freed: Condvar,
}

struct Slot {
    conn: Mutex<Connection>,
    holder: Holder,
}

/// A connection, held by the request whose token runs on this thread.
pub(crate) struct ConnGuard<'a> {
    conn: MutexGuard<'a, Connection>,
    pool: &'a Pool,
    index: usize,
}

impl std::ops::Deref for ConnGuard<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl std::ops::DerefMut for ConnGuard<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

impl Drop for ConnGuard<'_> {
    fn drop(&mut self) {
        self.pool.slots[self.index].holder.set(None);
        if let Ok(mut free) = self.pool.free.lock() {
            free.push(self.index);
        }
        self.pool.freed.notify_one();
    }
}

fn poisoned() -> NodeError {
    NodeError::Internal("database connection lock poisoned".into())
}

impl Pool {
    pub fn new(conn: Connection) -> Pool {
        let mut pool = Pool {
            slots: Vec::new(),
            free: Mutex::new(Vec::new()),
            freed: Condvar::new(),
        };
        pool.add(conn);
        pool
    }

    fn add(&mut self, conn: Connection) {
        self.slots.push(Slot {
            holder: Holder::new(conn.interrupt_handle()),
            conn: Mutex::new(conn),
        });
        if let Ok(mut free) = self.free.lock() {
            free.push(self.slots.len() - 1);
        }
    }

    /// Opens connections to the same database until there are `n`.
    pub fn widen(&mut self, n: usize) -> Result<()> {
        while self.slots.len() < n {
            let conn = self.slots[0]
                .conn
                .lock()
                .map_err(|_| poisoned())?
                .try_clone()?;
            self.add(conn);
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// A free connection, once one is; refused to a cancelled request.
    pub fn take(&self) -> Result<ConnGuard<'_>> {
        let token = cancel::current();
        let cancelled = || NodeError::Cancelled("the caller cancelled the request".into());
        if token.as_ref().is_some_and(|t| t.is_cancelled()) {
            return Err(cancelled());
        }
        let index = {
            let mut free = self.free.lock().map_err(|_| poisoned())?;
            loop {
                if let Some(index) = free.pop() {
                    break index;
                }
                free = self.freed.wait(free).map_err(|_| poisoned())?;
            }
        };
        let slot = &self.slots[index];
        // Nobody else holds this index, so the lock is free (or about to be, while the last
        // holder's guard finishes dropping).
        let guard = ConnGuard {
            conn: slot.conn.lock().map_err(|_| poisoned())?,
            pool: self,
            index,
        };
        slot.holder.set(token.as_deref());
        if token.as_ref().is_some_and(|t| t.is_cancelled()) {
            return Err(cancelled()); // the guard gives the connection back
        }
        Ok(guard)
    }

    /// Cancels `token`, interrupting the statement it runs on whichever connection it holds.
    pub fn cancel(&self, token: &CancelToken) {
        for slot in &self.slots {
            slot.holder.cancel(token);
        }
    }
}
