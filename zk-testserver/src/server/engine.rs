//! What the core thread drives: a standalone server ([`Standalone`]: the core and its txn
//! log) or an ensemble member (`crate::ensemble`'s engine: the core in replicated mode, the
//! replication core, its disk and its peer transport).

use zk_proto::ConnectRequest;

use crate::core::ServerCore;
use crate::storage::Storage;
use crate::watch::ConnId;

/// The state machine behind the core thread. Client outputs are always the core's; an engine
/// adds its own inputs and its own way of making a batch durable.
pub(crate) trait Engine: Send + 'static {
    /// The client-facing core.
    fn core(&self) -> &ServerCore;
    /// The client-facing core, mutably.
    fn core_mut(&mut self) -> &mut ServerCore;
    /// A connection's ConnectRequest.
    fn connect(&mut self, conn: ConnId, req: &ConnectRequest, now: i64);
    /// A request frame.
    fn frame(&mut self, conn: ConnId, frame: &[u8], now: i64);
    /// Timers due at `now`.
    fn tick(&mut self, now: i64);
    /// When [`Engine::tick`] is next due.
    fn next_wakeup(&self) -> i64;
    /// Expires a session now.
    fn expire_session(&mut self, session: i64, now: i64) -> bool;
    /// Makes the batch's changes durable before its outputs are released. An `Err` means
    /// nothing of the batch may be acknowledged.
    fn make_durable(&mut self, now: i64) -> std::io::Result<()>;
    /// True if a write's reply comes after later inputs (when its txn commits), not while
    /// its frame is handled.
    fn replies_later(&self) -> bool {
        false
    }
    /// An input of the engine's own (peer messages, member faults); `None` for the standalone
    /// server, which has none.
    fn extra(&mut self, msg: crate::ensemble::MemberMsg, now: i64) {
        let _ = (msg, now);
    }
    /// An ensemble member's role for `srvr`, `stat` and `mntr`; `None` for a standalone server.
    fn role(&self) -> Option<&'static str> {
        None
    }
    /// Bytes in the data directory (for `mntr` and `srvr`).
    fn data_dir_bytes(&self) -> u64 {
        0
    }
    /// True once the engine must not run any more (killed, or its disk failed): the thread
    /// ends without another output.
    fn stopped(&self) -> bool {
        false
    }
    /// Called once when the server stops cleanly.
    fn shutdown(&mut self) {}
    /// The core, at the end.
    fn into_core(self) -> ServerCore;
}

/// A standalone server: the core, and its txn log and snapshots when it has a data dir.
pub(crate) struct Standalone {
    pub(crate) core: ServerCore,
    pub(crate) storage: Option<Storage>,
    pub(crate) snap_count: u64,
}

impl Engine for Standalone {
    fn core(&self) -> &ServerCore {
        &self.core
    }

    fn core_mut(&mut self) -> &mut ServerCore {
        &mut self.core
    }

    fn connect(&mut self, conn: ConnId, req: &ConnectRequest, now: i64) {
        self.core.connect(conn, req, now);
    }

    fn frame(&mut self, conn: ConnId, frame: &[u8], now: i64) {
        self.core.frame(conn, frame, now);
    }

    fn tick(&mut self, now: i64) {
        self.core.tick(now);
    }

    fn next_wakeup(&self) -> i64 {
        self.core.next_wakeup()
    }

    fn expire_session(&mut self, session: i64, now: i64) -> bool {
        self.core.expire_session(session, now)
    }

    fn make_durable(&mut self, _now: i64) -> std::io::Result<()> {
        let log = self.core.take_log();
        let Some(storage) = self.storage.as_mut() else {
            return Ok(());
        };
        if log.is_empty() {
            return Ok(());
        }
        storage.append(&log)?;
        if storage.txns_since_snapshot() >= self.snap_count {
            if let Err(e) = storage.snapshot(&self.core) {
                tracing::error!(error = %e, "snapshot failed");
            }
        }
        Ok(())
    }

    fn data_dir_bytes(&self) -> u64 {
        self.storage
            .as_ref()
            .map_or(0, |s| s.dir_size().unwrap_or(0))
    }

    fn shutdown(&mut self) {
        if let Some(storage) = self.storage.as_mut() {
            if let Err(e) = storage.snapshot(&self.core) {
                tracing::error!(error = %e, "snapshot at shutdown failed");
            }
        }
    }

    fn into_core(self) -> ServerCore {
        self.core
    }
}
