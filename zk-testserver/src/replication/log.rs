//! The replicated log as a member holds it, its snapshots, and the persistence operations the
//! core asks its driver to make durable.
//!
//! Every [`PersistOp`] must be durable (fsynced, epoch files and snapshots written atomically)
//! before the driver reports it with [`super::Replica::persisted`]; ops are applied in the
//! order they were emitted. The core never acts on state (acknowledges a proposal, an epoch or
//! NEWLEADER, counts its own vote in a quorum) before the op that produced it is reported
//! durable.
//!
//! A member's durable history is its newest [`Snapshot`] (the applied state at exactly its
//! zxid, or the empty state) followed by the logged txns after it. On disk the log also keeps
//! the txns after the previous snapshot, so a damaged newest snapshot can be skipped.

use bytes::Bytes;

use crate::txn::LoggedTxn;

/// The state machine's serialized state at exactly `zxid` (a committed, applied txn). The
/// bytes are the driver's (a member writes [`crate::storage`]'s snapshot format: the
/// sessions with their timeouts, then the data tree, sealed with a checksum); the core reads
/// only the sessions from them.
#[derive(Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The last txn the state includes.
    pub zxid: i64,
    /// The serialized state.
    pub data: Bytes,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("zxid", &format_args!("{:#x}", self.zxid))
            .field("bytes", &self.data.len())
            .finish()
    }
}

/// What a member keeps on disk: its epochs, snapshots and log. A restarted member starts
/// from it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DurableState {
    /// The last epoch this member agreed to (ACKEPOCH'd or chose as leader).
    pub accepted_epoch: u32,
    /// The epoch of the last leader this member synced with (acknowledged NEWLEADER).
    pub current_epoch: u32,
    /// Snapshots, oldest first (at most a few; a store leaves out any it cannot read).
    pub snapshots: Vec<Snapshot>,
    /// Logged txns in zxid order: every txn after the newest snapshot, possibly preceded by
    /// some at or below it.
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
            PersistOp::Snapshot(s) => self.snapshots.push(s.clone()),
            PersistOp::Purge { before } => {
                self.snapshots.retain(|s| s.zxid >= *before);
                self.log.retain(|e| e.zxid > *before);
            }
            PersistOp::Install { snapshot, entries } => {
                self.snapshots = vec![snapshot.clone()];
                self.log = entries.clone();
            }
            PersistOp::Epochs { accepted, current } => {
                self.accepted_epoch = *accepted;
                self.current_epoch = *current;
            }
            PersistOp::Config(text) => self.config = Some(text.clone()),
        }
    }

    /// The newest snapshot's zxid (0: none, the empty state).
    pub fn snapshot_zxid(&self) -> i64 {
        self.snapshots.last().map_or(0, |s| s.zxid)
    }

    /// The last zxid this state holds (logged, or in the newest snapshot).
    pub fn last_zxid(&self) -> i64 {
        let logged = self.log.last().map_or(0, |e| e.zxid);
        logged.max(self.snapshot_zxid())
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
    /// Write a snapshot (atomically: a reader finds it whole or not at all). Older snapshots
    /// and the log stay until a [`PersistOp::Purge`].
    Snapshot(Snapshot),
    /// Delete the snapshots older than `before` and the logged txns at or below it. `before`
    /// is a durable snapshot's zxid (the one before the newest, so a damaged newest snapshot
    /// still leaves a complete history).
    Purge {
        /// The oldest snapshot kept.
        before: i64,
    },
    /// A SNAP sync: the state is now `snapshot` followed by `entries`; every other snapshot
    /// and logged txn goes. The snapshot is durable before the log is replaced.
    Install {
        /// The leader's snapshot.
        snapshot: Snapshot,
        /// The txns after it.
        entries: Vec<LoggedTxn>,
    },
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

/// The in-memory log: `entries` hold everything after `base` (the last txn trimmed away or
/// restored from a snapshot, 0 at first), in strictly increasing zxid order, without gaps
/// inside an epoch. After a restart entries at or below `base` (a snapshot's zxid) may
/// precede it; they are history too.
#[derive(Debug, Clone, Default)]
pub(crate) struct Log {
    base: i64,
    entries: Vec<LoggedTxn>,
}

impl Log {
    pub(crate) fn new(base: i64, entries: Vec<LoggedTxn>) -> Log {
        Log { base, entries }
    }

    /// The zxid the history is known up to without the log (a snapshot's, or 0).
    pub(crate) fn base(&self) -> i64 {
        self.base
    }

    pub(crate) fn last_zxid(&self) -> i64 {
        self.entries
            .last()
            .map_or(self.base, |e| e.zxid.max(self.base))
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

    /// True if `zxid` is logged, or is the base (a follower ending there is a prefix).
    pub(crate) fn holds(&self, zxid: i64) -> bool {
        zxid == self.base || self.position(zxid).is_some()
    }

    /// The entries after `zxid`.
    pub(crate) fn after(&self, zxid: i64) -> &[LoggedTxn] {
        let start = self.entries.partition_point(|e| e.zxid <= zxid);
        &self.entries[start..]
    }

    /// The last held zxid strictly below `zxid` (the base if none is logged there).
    pub(crate) fn last_below(&self, zxid: i64) -> i64 {
        let i = self.entries.partition_point(|e| e.zxid < zxid);
        let logged = if i == 0 { 0 } else { self.entries[i - 1].zxid };
        if self.base < zxid {
            logged.max(self.base)
        } else {
            logged
        }
    }

    pub(crate) fn push(&mut self, entry: LoggedTxn) {
        self.entries.push(entry);
    }

    pub(crate) fn truncate_after(&mut self, zxid: i64) {
        let keep = self.entries.partition_point(|e| e.zxid <= zxid);
        self.entries.truncate(keep);
    }

    /// Starts over from a snapshot at `base` followed by `entries`.
    pub(crate) fn reset(&mut self, base: i64, entries: Vec<LoggedTxn>) {
        self.base = base;
        self.entries = entries;
    }

    /// Everything up to `applied` is in the state machine: entries at or below it go, except
    /// the last `retain`. Trims in steps (when `retain` plus at least 16 more have piled up),
    /// so each apply costs O(1) amortized; the base moves to the last entry dropped.
    pub(crate) fn trim_applied(&mut self, applied: i64, retain: usize) {
        let covered = self.entries.partition_point(|e| e.zxid <= applied);
        if covered < retain + retain.max(16) {
            return;
        }
        let drop = covered - retain;
        self.base = self.base.max(self.entries[drop - 1].zxid);
        self.entries.drain(..drop);
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
