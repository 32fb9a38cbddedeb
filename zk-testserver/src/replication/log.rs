//! The replicated log as a member holds it, and the persistence operations the core asks its
//! driver to make durable.
//!
//! Every [`PersistOp`] must be durable (fsynced, epoch files written atomically) before the
//! driver reports it with [`super::Replica::persisted`]; ops are applied in the order they
//! were emitted. The core never acts on state (acknowledges a proposal, an epoch or NEWLEADER,
//! counts its own vote in a quorum) before the op that produced it is reported durable.

use crate::txn::LoggedTxn;

/// What a member keeps on disk: its epochs and its log. A restarted member starts from it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DurableState {
    /// The last epoch this member agreed to (ACKEPOCH'd or chose as leader).
    pub accepted_epoch: u32,
    /// The epoch of the last leader this member synced with (acknowledged NEWLEADER).
    pub current_epoch: u32,
    /// Every logged txn, in zxid order.
    pub log: Vec<LoggedTxn>,
    /// The last membership a committed reconfig activated, in ZooKeeper's dynamic config
    /// format (`None`: the configured one).
    pub config: Option<String>,
}

impl DurableState {
    /// Applies one op, as a driver's disk would.
    pub fn apply(&mut self, op: &PersistOp) {
        match op {
            PersistOp::Append(entries) => self.log.extend(entries.iter().cloned()),
            PersistOp::Truncate { after } => self.log.retain(|e| e.zxid <= *after),
            PersistOp::Replace(entries) => self.log = entries.clone(),
            PersistOp::Epochs { accepted, current } => {
                self.accepted_epoch = *accepted;
                self.current_epoch = *current;
            }
            PersistOp::Config(text) => self.config = Some(text.clone()),
        }
    }
}

/// A change to make durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersistOp {
    /// Append txns to the log.
    Append(Vec<LoggedTxn>),
    /// Drop every txn with a zxid above `after`.
    Truncate {
        /// The last zxid kept.
        after: i64,
    },
    /// Replace the whole log (a SNAP sync).
    Replace(Vec<LoggedTxn>),
    /// Replace the active membership (ZooKeeper's dynamic config file), atomically.
    Config(String),
    /// Write both epoch files, atomically.
    Epochs {
        /// `acceptedEpoch`.
        accepted: u32,
        /// `currentEpoch`.
        current: u32,
    },
}

/// The in-memory log: every txn logged or queued for logging, in strictly increasing zxid
/// order, without gaps inside an epoch.
#[derive(Debug, Clone, Default)]
pub(crate) struct Log {
    entries: Vec<LoggedTxn>,
}

impl Log {
    pub(crate) fn new(entries: Vec<LoggedTxn>) -> Log {
        Log { entries }
    }

    pub(crate) fn last_zxid(&self) -> i64 {
        self.entries.last().map_or(0, |e| e.zxid)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn entries(&self) -> &[LoggedTxn] {
        &self.entries
    }

    /// The index of `zxid`, if logged.
    pub(crate) fn position(&self, zxid: i64) -> Option<usize> {
        self.entries.binary_search_by_key(&zxid, |e| e.zxid).ok()
    }

    /// True if `zxid` is logged, or is 0 (the empty prefix).
    pub(crate) fn holds(&self, zxid: i64) -> bool {
        zxid == 0 || self.position(zxid).is_some()
    }

    /// The entries after `zxid` (which must be held).
    pub(crate) fn after(&self, zxid: i64) -> &[LoggedTxn] {
        let start = if zxid == 0 {
            0
        } else {
            self.position(zxid).map_or(self.entries.len(), |i| i + 1)
        };
        &self.entries[start..]
    }

    /// The last logged zxid strictly below `zxid`, or 0.
    pub(crate) fn last_below(&self, zxid: i64) -> i64 {
        let i = self.entries.partition_point(|e| e.zxid < zxid);
        if i == 0 {
            0
        } else {
            self.entries[i - 1].zxid
        }
    }

    pub(crate) fn push(&mut self, entry: LoggedTxn) {
        self.entries.push(entry);
    }

    pub(crate) fn truncate_after(&mut self, zxid: i64) {
        let keep = self.entries.partition_point(|e| e.zxid <= zxid);
        self.entries.truncate(keep);
    }

    pub(crate) fn replace(&mut self, entries: Vec<LoggedTxn>) {
        self.entries = entries;
    }
}

/// True if `entries` continue a log ending at `last`: zxids increase, an epoch's first txn has
/// counter 1, and an epoch's counters have no gaps.
pub(crate) fn chains(mut last: i64, entries: &[LoggedTxn]) -> bool {
    for e in entries {
        let ok = if super::epoch_of(e.zxid) == super::epoch_of(last) {
            e.zxid == last + 1
        } else {
            e.zxid > last && super::counter_of(e.zxid) == 1
        };
        if !ok {
            return false;
        }
        last = e.zxid;
    }
    true
}
