//! Invariants of a simulated run, checked as it goes.

use std::collections::{BTreeMap, HashMap};

use crate::replication::{epoch_of, DurableState, PersistOp, QuorumConfig, ServerId};
use crate::txn::LoggedTxn;

/// The one committed history every member must agree with, and what has been promised.
#[derive(Debug, Default)]
pub(crate) struct Checker {
    /// Committed txns in order, as first applied by any member.
    pub(crate) history: Vec<LoggedTxn>,
    index: HashMap<i64, usize>,
    /// The leader established in each epoch.
    pub(crate) leaders: BTreeMap<u32, ServerId>,
    /// Zxids of writes acknowledged to clients.
    pub(crate) acked: Vec<i64>,
    /// The length of the history prefix holding every acknowledged write.
    pub(crate) acked_frontier: usize,
}

impl Checker {
    /// A member applied `txn` as its `position`-th txn.
    pub(crate) fn on_apply(
        &mut self,
        member: ServerId,
        position: usize,
        txn: &LoggedTxn,
    ) -> Result<(), String> {
        match self.history.get(position) {
            Some(known) if known == txn => Ok(()),
            Some(known) => Err(format!(
                "member {member} applied {:#x} as txn #{position}, but {:#x} was committed there",
                txn.zxid, known.zxid
            )),
            None if position == self.history.len() => {
                if let Some(last) = self.history.last() {
                    if txn.zxid <= last.zxid {
                        return Err(format!(
                            "committed zxids went back: {:#x} after {:#x}",
                            txn.zxid, last.zxid
                        ));
                    }
                }
                self.index.insert(txn.zxid, position);
                self.history.push(txn.clone());
                Ok(())
            }
            None => Err(format!(
                "member {member} applied txn #{position} before #{}",
                self.history.len()
            )),
        }
    }

    /// `member` reports it leads `epoch`.
    pub(crate) fn on_established(&mut self, epoch: u32, member: ServerId) -> Result<(), String> {
        match self.leaders.insert(epoch, member) {
            Some(other) if other != member => Err(format!(
                "two leaders established in epoch {epoch}: {other} and {member}"
            )),
            _ => Ok(()),
        }
    }

    /// Where `zxid` is in the committed history.
    pub(crate) fn position(&self, zxid: i64) -> Option<usize> {
        self.index.get(&zxid).copied()
    }

    fn is_committed_zxid(&self, zxid: i64) -> bool {
        zxid == 0 || self.index.contains_key(&zxid)
    }

    fn is_committed(&self, txn: &LoggedTxn) -> bool {
        self.index
            .get(&txn.zxid)
            .is_some_and(|&i| &self.history[i] == txn)
    }

    /// A disk is about to apply `op`: it must never lose a committed txn, log a gap, or move
    /// an epoch back.
    pub(crate) fn on_persist(
        &self,
        member: ServerId,
        disk: &DurableState,
        op: &PersistOp,
    ) -> Result<(), String> {
        let fail = |what: String| Err(format!("member {member}'s disk: {what}"));
        match op {
            PersistOp::Truncate { after } => {
                if *after < disk.snapshot_zxid() {
                    return fail(format!(
                        "TRUNC below the snapshot at {:#x}",
                        disk.snapshot_zxid()
                    ));
                }
                if let Some(lost) = disk
                    .log
                    .iter()
                    .find(|e| e.zxid > *after && self.is_committed(e))
                {
                    return fail(format!("TRUNC drops committed {:#x}", lost.zxid));
                }
            }
            PersistOp::Install { snapshot, entries } => {
                if !self.is_committed_zxid(snapshot.zxid) {
                    return fail(format!(
                        "SNAP installs a snapshot at {:#x}, not committed",
                        snapshot.zxid
                    ));
                }
                for old in disk.log.iter().filter(|e| self.is_committed(e)) {
                    if old.zxid > snapshot.zxid
                        && entries.binary_search_by_key(&old.zxid, |e| e.zxid).is_err()
                    {
                        return fail(format!("SNAP drops committed {:#x}", old.zxid));
                    }
                }
                if let Err(e) = check_chain(snapshot.zxid, entries) {
                    return fail(e);
                }
            }
            PersistOp::Snapshot(s) => {
                if !self.is_committed_zxid(s.zxid) {
                    return fail(format!("snapshot at {:#x}, not committed", s.zxid));
                }
                if s.zxid <= disk.snapshot_zxid() || s.zxid > disk.last_zxid() {
                    return fail(format!(
                        "snapshot at {:#x} with {:#x} on disk, logged up to {:#x}",
                        s.zxid,
                        disk.snapshot_zxid(),
                        disk.last_zxid()
                    ));
                }
            }
            PersistOp::Purge { before } => {
                // Only what a durable snapshot covers goes, and the one before the newest
                // stays with the log after it.
                let kept = disk.snapshots.iter().any(|s| s.zxid == *before);
                let newer = disk.snapshots.iter().any(|s| s.zxid > *before);
                if !kept || !newer {
                    return fail(format!(
                        "purge before {before:#x} with snapshots {:?}",
                        disk.snapshots
                    ));
                }
            }
            PersistOp::Append(entries) => {
                if let Err(e) = check_chain(disk.last_zxid(), entries) {
                    return fail(e);
                }
            }
            PersistOp::Epochs { accepted, current } => {
                if *accepted < disk.accepted_epoch || *current < disk.current_epoch {
                    return fail(format!(
                        "epochs went back: ({}, {}) -> ({accepted}, {current})",
                        disk.accepted_epoch, disk.current_epoch
                    ));
                }
                if current > accepted {
                    return fail("current epoch above accepted epoch".into());
                }
            }
            PersistOp::Config(text) => {
                let next = QuorumConfig::parse(text).map(|c| c.version);
                let now = disk.config.as_deref().and_then(QuorumConfig::parse);
                match (next, now) {
                    (None, _) => return fail(format!("unreadable config {text:?}")),
                    (Some(v), Some(c)) if v <= c.version => {
                        return fail(format!("config version went back to {v:#x}"))
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// A write at `zxid` was acknowledged: a quorum of disks must hold it.
    pub(crate) fn on_ack(
        &mut self,
        zxid: i64,
        disks: &[&DurableState],
        voters: usize,
    ) -> Result<(), String> {
        let Some(&i) = self.index.get(&zxid) else {
            return Err(format!("acknowledged {zxid:#x}, which is not committed"));
        };
        let txn = &self.history[i];
        let holders = disks
            .iter()
            .filter(|d| {
                d.snapshot_zxid() >= zxid
                    || d.log
                        .binary_search_by_key(&zxid, |e| e.zxid)
                        .is_ok_and(|j| &d.log[j] == txn)
            })
            .count();
        if holders * 2 <= voters {
            return Err(format!(
                "acknowledged {zxid:#x} while only {holders} of {voters} disks hold it"
            ));
        }
        self.acked.push(zxid);
        self.acked_frontier = self.acked_frontier.max(i + 1);
        Ok(())
    }

    /// At the end: every acknowledged write is in the history.
    pub(crate) fn check_acked(&self) -> Result<(), String> {
        for z in &self.acked {
            if !self.index.contains_key(z) {
                return Err(format!("acknowledged write {z:#x} lost"));
            }
        }
        Ok(())
    }
}

/// Entries continue a log ending at `last`: increasing zxids, a new epoch starts at counter 1,
/// no gap inside an epoch.
pub(crate) fn check_chain(mut last: i64, entries: &[LoggedTxn]) -> Result<(), String> {
    for e in entries {
        let ok = if epoch_of(e.zxid) == epoch_of(last) {
            e.zxid == last + 1
        } else {
            e.zxid > last && e.zxid as u32 == 1
        };
        if !ok {
            return Err(format!(
                "log gap or disorder: {:#x} after {last:#x}",
                e.zxid
            ));
        }
        last = e.zxid;
    }
    Ok(())
}
