//! Flow control between connection tasks and the core thread: what bounds the server's memory
//! when clients pipeline faster than it serves, or stop reading their replies.
//!
//! - A connection task forwards a request frame to the core only with a [`Credit`]: a claim on
//!   the connection's and the server's budgets of requests in flight (count and bytes; the
//!   server-wide count is ZooKeeper's `globalOutstandingLimit`). Without one it stops reading
//!   its socket, so TCP pushes back on the client. The credit returns when the core has
//!   handled the frame (dropping it releases it), which wakes the waiting tasks.
//! - It also stops reading while the connection's unsent bytes (replies and events the core
//!   queued for it that are not yet written to the socket) exceed a bound.
//! - The core thread never blocks on a socket: it hands bytes to the connection task through
//!   an unbounded channel, but it does not *process* a frame of a connection whose unsent
//!   bytes exceed the bound; it defers the frame (still holding its credit) until the task
//!   reports that it wrote enough ([`ConnFlow::wants_core_wakeup`]). So a reader that never
//!   reads holds at most a bounded backlog, and other sessions are served meanwhile.
//! - A deferred frame gives its share of the server-wide budget back at once (it keeps its
//!   connection's share), so connections that do not read cannot use up the server-wide
//!   budget and stall everyone else.
//! - Small frames (up to [`FlowLimits::small_frame`] bytes) count against the server-wide request count
//!   but not its bytes, so bulk writers cannot starve ordinary requests.
//! - Only watch events of other sessions' writes can still grow a backlog; a connection whose
//!   unsent bytes pass [`FlowLimits::abort_unsent_bytes`] is closed.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// The bounds (per connection and server-wide).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FlowLimits {
    /// A connection stops reading, and the core defers its requests, above this many unsent
    /// bytes.
    pub(crate) max_unsent_bytes: usize,
    /// A connection with more unsent bytes than this is closed (a reader that stopped reading
    /// while other sessions' writes fire its watches).
    pub(crate) abort_unsent_bytes: usize,
    /// Requests of one connection in flight to the core.
    pub(crate) max_conn_requests: usize,
    /// Bytes of requests of one connection in flight to the core.
    pub(crate) max_conn_request_bytes: usize,
    /// Requests of all connections in flight (`globalOutstandingLimit`).
    pub(crate) max_requests: usize,
    /// Bytes of requests of all connections in flight.
    pub(crate) max_request_bytes: usize,
    /// Frames up to this size are exempt from the server-wide byte budget.
    pub(crate) small_frame: usize,
}

impl Default for FlowLimits {
    fn default() -> Self {
        FlowLimits {
            max_unsent_bytes: 2 << 20,
            abort_unsent_bytes: 64 << 20,
            max_conn_requests: 1000,
            max_conn_request_bytes: 4 << 20,
            max_requests: 1000,
            max_request_bytes: 8 << 20,
            small_frame: 4096,
        }
    }
}

/// The server-wide budget of requests in flight.
#[derive(Debug)]
pub(crate) struct Budget {
    limits: FlowLimits,
    // One std mutex, never held across an await: counts change together, under it, in place.
    used: Mutex<(usize, usize)>,
    /// Tasks waiting for the budget (only then does a release notify).
    waiting: AtomicUsize,
    notify: Notify,
}

impl Budget {
    pub(crate) fn new(limits: FlowLimits) -> Arc<Budget> {
        Arc::new(Budget {
            limits,
            used: Mutex::new((0, 0)),
            waiting: AtomicUsize::new(0),
            notify: Notify::new(),
        })
    }

    pub(crate) fn limits(&self) -> &FlowLimits {
        &self.limits
    }

    /// Requests in flight to the core, server-wide.
    #[cfg(test)]
    pub(crate) fn requests_in_flight(&self) -> usize {
        self.used.lock().unwrap_or_else(|e| e.into_inner()).0
    }

    fn try_take(&self, len: usize) -> bool {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        // One request always fits an idle budget, whatever its size.
        let fits = used.0 == 0
            || (used.0 < self.limits.max_requests
                && (len <= self.limits.small_frame
                    || used.1 + len <= self.limits.max_request_bytes));
        if fits {
            used.0 += 1;
            used.1 += len;
        }
        fits
    }

    fn give_back(&self, len: usize) {
        {
            let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
            used.0 = used.0.saturating_sub(1);
            used.1 = used.1.saturating_sub(len);
        }
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.notify.notify_waiters();
        }
    }
}

/// What a connection task and the core thread share about one connection.
#[derive(Debug, Default)]
pub(crate) struct ConnFlow {
    requests: AtomicUsize,
    request_bytes: AtomicUsize,
    unsent: AtomicUsize,
    core_waiting: AtomicBool,
    notify: Notify,
}

impl ConnFlow {
    /// Requests of this connection in flight to the core (`queued` in `cons`).
    pub(crate) fn requests_in_flight(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Bytes queued for the socket and not yet written.
    pub(crate) fn unsent(&self) -> usize {
        self.unsent.load(Ordering::SeqCst)
    }

    /// The core thread queued `n` bytes for the socket; returns the new backlog.
    pub(crate) fn queued(&self, n: usize) -> usize {
        self.unsent.fetch_add(n, Ordering::SeqCst) + n
    }

    /// The task wrote `n` bytes; true if the core deferred requests and must now be told.
    pub(crate) fn wrote(&self, n: usize) -> bool {
        self.unsent.fetch_sub(n, Ordering::SeqCst);
        self.core_waiting.load(Ordering::SeqCst) && self.core_waiting.swap(false, Ordering::SeqCst)
    }

    /// The core thread defers this connection's requests until the task reports progress.
    /// Call before re-checking the backlog, so a write in between is not missed.
    pub(crate) fn wants_core_wakeup(&self) {
        self.core_waiting.store(true, Ordering::SeqCst);
    }

    /// Takes a credit for a frame of `len` bytes, or `None` if a budget is exhausted (the
    /// caller waits with [`ConnFlow::wait_for_credit`]).
    pub(crate) fn try_credit(self: &Arc<Self>, budget: &Arc<Budget>, len: usize) -> Option<Credit> {
        let limits = budget.limits();
        if self.unsent() > limits.max_unsent_bytes {
            return None;
        }
        // Only this connection's task adds to its counts, so check-then-add is exact.
        let requests = self.requests.load(Ordering::SeqCst);
        let bytes = self.request_bytes.load(Ordering::SeqCst);
        if requests > 0
            && (requests >= limits.max_conn_requests || bytes + len > limits.max_conn_request_bytes)
        {
            return None;
        }
        if !budget.try_take(len) {
            return None;
        }
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.request_bytes.fetch_add(len, Ordering::SeqCst);
        Some(Credit {
            conn: Arc::clone(self),
            budget: Arc::clone(budget),
            len,
            global: true,
        })
    }

    /// Waits until a credit may be available again: one of this connection's requests was
    /// handled, or the server-wide budget freed up. (The backlog shrinking is seen by the
    /// caller, which does the writing.)
    pub(crate) async fn wait_for_credit(&self, budget: &Budget) {
        let global = budget.notify.notified();
        tokio::pin!(global);
        global.as_mut().enable();
        budget.waiting.fetch_add(1, Ordering::SeqCst);
        let _guard = Waiting(budget);
        tokio::select! {
            _ = self.notify.notified() => {}
            _ = global => {}
        }
    }
}

struct Waiting<'a>(&'a Budget);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A frame's claim on the budgets; dropping it (once the core handled or discarded the frame)
/// gives it back and wakes the tasks waiting for it.
#[derive(Debug)]
pub(crate) struct Credit {
    conn: Arc<ConnFlow>,
    budget: Arc<Budget>,
    len: usize,
    /// Whether it still holds its share of the server-wide budget.
    global: bool,
}

impl Credit {
    /// Gives the server-wide share back now (the frame waits on its connection's backlog).
    pub(crate) fn release_global(&mut self) {
        if std::mem::take(&mut self.global) {
            self.budget.give_back(self.len);
        }
    }
}

impl Drop for Credit {
    fn drop(&mut self) {
        self.conn.requests.fetch_sub(1, Ordering::SeqCst);
        self.conn
            .request_bytes
            .fetch_sub(self.len, Ordering::SeqCst);
        self.conn.notify.notify_one();
        self.release_global();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> FlowLimits {
        FlowLimits {
            max_unsent_bytes: 100,
            abort_unsent_bytes: 1000,
            max_conn_requests: 2,
            max_conn_request_bytes: 50,
            max_requests: 3,
            max_request_bytes: 70,
            small_frame: 5,
        }
    }

    #[test]
    fn credits_are_bounded_per_connection_and_globally() {
        let budget = Budget::new(limits());
        let a = Arc::new(ConnFlow::default());
        let b = Arc::new(ConnFlow::default());
        let a1 = a.try_credit(&budget, 10).unwrap();
        let a2 = a.try_credit(&budget, 10).unwrap();
        assert!(a.try_credit(&budget, 1).is_none(), "per-connection count");
        let b1 = b.try_credit(&budget, 45).unwrap();
        assert!(
            b.try_credit(&budget, 2).is_none(),
            "global count, even for a small frame"
        );
        assert_eq!(budget.requests_in_flight(), 3);
        drop(a1);
        assert!(
            b.try_credit(&budget, 20).is_none(),
            "per-connection bytes: 45 + 20 > 50"
        );
        assert!(
            a.try_credit(&budget, 20).is_none(),
            "global bytes: 55 + 20 > 70"
        );
        let b2 = b.try_credit(&budget, 4).unwrap();
        drop((a2, b1, b2));
        assert_eq!(budget.requests_in_flight(), 0);
        // An idle connection and budget take one frame of any size.
        let big = a.try_credit(&budget, 500).unwrap();
        assert!(
            b.try_credit(&budget, 65).is_none(),
            "the big frame fills the budget"
        );
        assert!(
            b.try_credit(&budget, 1).is_some(),
            "small frames are exempt from bytes"
        );
        drop(big);
        assert!(b.try_credit(&budget, 1).is_some());
        assert_eq!(a.requests_in_flight(), 0);
    }

    #[test]
    fn a_deferred_frame_gives_back_its_global_share() {
        let budget = Budget::new(limits());
        let a = Arc::new(ConnFlow::default());
        let b = Arc::new(ConnFlow::default());
        let mut a1 = a.try_credit(&budget, 40).unwrap();
        let b0 = b.try_credit(&budget, 10).unwrap();
        assert!(b.try_credit(&budget, 25).is_none(), "40 + 10 + 25 > 70");
        a1.release_global();
        a1.release_global();
        assert_eq!(budget.requests_in_flight(), 1);
        let b1 = b.try_credit(&budget, 25).unwrap();
        drop(b0);
        assert!(a.try_credit(&budget, 1).is_some(), "a's count is its own");
        drop((a1, b1));
        assert_eq!(budget.requests_in_flight(), 0);
        assert_eq!(a.requests_in_flight(), 0);
    }

    #[test]
    fn a_backlog_stops_credits_and_wakes_the_core_once() {
        let budget = Budget::new(limits());
        let a = Arc::new(ConnFlow::default());
        assert_eq!(a.queued(150), 150);
        assert!(a.try_credit(&budget, 1).is_none());
        assert!(!a.wrote(10), "the core was not waiting");
        a.wants_core_wakeup();
        assert!(a.wrote(100));
        assert!(!a.wrote(40), "told once");
        assert_eq!(a.unsent(), 0);
        assert!(a.try_credit(&budget, 1).is_some());
    }

    #[tokio::test]
    async fn a_returned_credit_wakes_the_waiting_task() {
        let budget = Budget::new(limits());
        let a = Arc::new(ConnFlow::default());
        let b = Arc::new(ConnFlow::default());
        let held: Vec<Credit> = (0..3)
            .map(|_| {
                a.try_credit(&budget, 1)
                    .or_else(|| b.try_credit(&budget, 1))
            })
            .map(Option::unwrap)
            .collect();
        assert!(b.try_credit(&budget, 1).is_none());
        let waiter = {
            let (b, budget) = (Arc::clone(&b), Arc::clone(&budget));
            tokio::spawn(async move {
                loop {
                    if let Some(c) = b.try_credit(&budget, 1) {
                        return c;
                    }
                    b.wait_for_credit(&budget).await;
                }
            })
        };
        tokio::task::yield_now().await;
        drop(held);
        let credit = tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("woken")
            .unwrap();
        drop(credit);
        assert_eq!(budget.requests_in_flight(), 0);
    }
}
