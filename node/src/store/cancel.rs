//! Stopping a request's database work when its caller goes away (the coordinator cancelled
//! the run, or gave up at its deadline).
//!
//! Requests take turns on the node's DuckDB connections (`pool.rs`). A request runs its
//! database work under its [`CancelToken`] (`with_token`); every time it takes a connection,
//! the store notes which token holds it. Cancelling a token stops its next use of a
//! connection, and interrupts the running statement only on the connection that token holds,
//! never another request's.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use duckdb::InterruptHandle;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static CURRENT: RefCell<Option<Arc<CancelToken>>> = const { RefCell::new(None) };
}

/// One request's right to go on.
#[derive(Debug)]
pub struct CancelToken {
    id: u64,
    cancelled: AtomicBool,
}

impl CancelToken {
    pub fn new() -> Arc<CancelToken> {
        Arc::new(CancelToken {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            cancelled: AtomicBool::new(false),
        })
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }
}

/// Runs `f` (on this thread) under `token`.
pub fn with_token<T>(token: Arc<CancelToken>, f: impl FnOnce() -> T) -> T {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            CURRENT.with(|c| c.borrow_mut().take());
        }
    }
    CURRENT.with(|c| *c.borrow_mut() = Some(token));
    let _reset = Reset;
    f()
}

/// The token this thread runs under, if any.
pub(crate) fn current() -> Option<Arc<CancelToken>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Which token holds the connection (0: none), and how to interrupt it.
pub(crate) struct Holder {
    id: Mutex<u64>,
    interrupt: Arc<InterruptHandle>,
}

impl Holder {
    pub fn new(interrupt: Arc<InterruptHandle>) -> Holder {
        Holder {
            id: Mutex::new(0),
            interrupt,
        }
    }

    pub fn set(&self, token: Option<&CancelToken>) {
        if let Ok(mut id) = self.id.lock() {
            *id = token.map_or(0, |t| t.id);
        }
    }

    /// Cancels `token`, interrupting the statement it runs, if it holds the connection.
    pub fn cancel(&self, token: &CancelToken) {
        token.cancelled.store(true, Ordering::SeqCst);
        if let Ok(id) = self.id.lock()
            && *id == token.id
        {
            self.interrupt.interrupt();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::error::NodeError;
    use crate::store::Store;

    #[test]
    fn cancelling_stops_the_running_statement_and_spares_the_next_request() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("n.duckdb")).unwrap());
        let token = CancelToken::new();
        // Minutes of work, unless interrupted.
        let slow = "SELECT count(*) FROM range(10000000000000) t(x) WHERE x % 7 = 3";
        let worker = {
            let (store, token) = (store.clone(), token.clone());
            std::thread::spawn(move || with_token(token, || store.run(slow)))
        };
        std::thread::sleep(Duration::from_millis(300));
        let start = Instant::now();
        store.cancel(&token);
        let outcome = worker.join().unwrap();
        assert!(outcome.is_err(), "the statement ran to its end");
        assert!(start.elapsed() < Duration::from_secs(10));
        // The cancelled request gets no more of the connection; the next one runs normally.
        let refused = with_token(token, || store.run("SELECT 1"));
        assert!(
            matches!(refused, Err(NodeError::Cancelled(_))),
            "{refused:?}"
        );
        let next = with_token(CancelToken::new(), || store.run("SELECT 1"));
        assert_eq!(next.unwrap(), 1);
        // Cancelling a request that does not hold the connection interrupts nobody.
        let other = CancelToken::new();
        store.cancel(&other);
        assert_eq!(store.run("SELECT 42").unwrap(), 1);
    }

    #[test]
    fn with_two_connections_a_slow_answer_holds_one_and_cancelling_it_spares_the_other() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("n.duckdb")).unwrap();
        store.widen(2).unwrap();
        assert_eq!(store.connections(), 2);
        let store = Arc::new(store);
        let (slow_token, other_token) = (CancelToken::new(), CancelToken::new());
        let slow = "SELECT count(*) FROM range(10000000000000) t(x) WHERE x % 7 = 3";
        let worker = {
            let (store, token) = (store.clone(), slow_token.clone());
            std::thread::spawn(move || with_token(token, || store.run(slow)))
        };
        std::thread::sleep(Duration::from_millis(300));
        // The other connection answers while the slow statement runs.
        let quick = with_token(other_token.clone(), || store.run("SELECT 1"));
        assert_eq!(quick.unwrap(), 1);
        assert!(
            !worker.is_finished(),
            "the slow statement should still be running"
        );
        let start = Instant::now();
        store.cancel(&slow_token);
        assert!(
            worker.join().unwrap().is_err(),
            "the statement ran to its end"
        );
        assert!(start.elapsed() < Duration::from_secs(10));
        // Both connections are free again, and the other request goes on.
        let again = with_token(other_token, || {
            let (a, b) = (store.conn().unwrap(), store.conn().unwrap());
            drop((a, b));
            store.run("SELECT 2")
        });
        assert_eq!(again.unwrap(), 1);
    }
}
