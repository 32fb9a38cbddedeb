//! Snapshots in the simulation: a member's state machine (its tree and sessions) serialized
//! when its replica asks, restored when it says, and checked against the committed history.
//!
//! Every restore is compared with the state rebuilt by replaying the committed history up to
//! the snapshot's zxid, so a snapshot that is not exactly the committed state at its zxid (a
//! fuzzy one, one with an uncommitted txn, one at the wrong zxid) fails the run. At the end
//! each disk must be a snapshot of the history followed by the history after it.

use std::collections::BTreeMap;

use super::{Member, Sim};
use crate::replication::Snapshot;
use crate::storage::{decode_snapshot_file, encode_snapshot_file};
use crate::tree::DataTree;
use crate::txn::Txn;

impl Sim {
    /// The zxid of the last txn member `i` applied.
    fn applied_zxid(&self, i: usize) -> i64 {
        match self.members[i].applied {
            0 => 0,
            n => self.checker.history[n - 1].zxid,
        }
    }

    pub(super) fn take_snapshot(&mut self, i: usize, zxid: i64) -> Result<(), String> {
        let at = self.applied_zxid(i);
        let m = &mut self.members[i];
        if at != zxid {
            return Err(format!(
                "member {} asked for a snapshot at {zxid:#x}, having applied {at:#x}",
                m.id
            ));
        }
        let sessions: Vec<(i64, i32)> = m.sessions.iter().map(|(&s, &t)| (s, t)).collect();
        let data = encode_snapshot_file(zxid, &m.tree, &sessions);
        self.summary.snapshots += 1;
        let id = m.id;
        if let Some(r) = m.replica.as_mut() {
            r.snapshot_taken(zxid, data);
        }
        self.note(|| format!("{id} snapshot at {zxid:#x}"));
        Ok(())
    }

    pub(super) fn restore(&mut self, i: usize, s: &Snapshot) -> Result<(), String> {
        let id = self.members[i].id;
        let (tree, sessions, zxid) = decode_snapshot_file(&s.data)
            .map_err(|e| format!("member {id} restores a damaged snapshot: {e}"))?;
        if zxid != s.zxid {
            return Err(format!(
                "member {id}: snapshot {:#x} holds {zxid:#x}",
                s.zxid
            ));
        }
        let position = match zxid {
            0 => 0,
            z => {
                self.checker.position(z).ok_or_else(|| {
                    format!("member {id} restores a snapshot at {z:#x}, not committed")
                })? + 1
            }
        };
        if position < self.members[i].applied {
            return Err(format!(
                "member {id} restores {zxid:#x}, behind the {} txns it applied",
                self.members[i].applied
            ));
        }
        // The committed state at that point, replayed (on from the last point replayed).
        let mut reference = match self.reference.take() {
            Some(r) if r.0 <= position => r,
            _ => (0, DataTree::new(), BTreeMap::new()),
        };
        for t in &self.checker.history[reference.0..position] {
            reference.1.apply(&t.txn, t.zxid, t.time);
            match &t.txn {
                Txn::CreateSession {
                    session_id,
                    timeout_ms,
                } => {
                    reference.2.insert(*session_id, *timeout_ms);
                }
                Txn::CloseSession { session_id } => {
                    reference.2.remove(session_id);
                }
                _ => {}
            }
        }
        reference.0 = position;
        let sessions: BTreeMap<i64, i32> = sessions.into_iter().collect();
        let matches = tree == reference.1 && sessions == reference.2;
        self.reference = Some(reference);
        if !matches {
            return Err(format!(
                "member {id}'s snapshot at {zxid:#x} is not the committed state there"
            ));
        }
        let m = &mut self.members[i];
        m.tree = tree;
        m.sessions = sessions;
        m.applied = position;
        self.summary.restores += 1;
        self.note(|| format!("{id} restores the snapshot at {zxid:#x}"));
        Ok(())
    }

    /// At the end: the disk is a committed snapshot followed by the rest of the history.
    pub(super) fn check_disk(&self, m: &Member) -> Result<(), String> {
        let history = &self.checker.history;
        let base = m.disk.snapshot_zxid();
        let start =
            match base {
                0 => 0,
                z => self.checker.position(z).map(|p| p + 1).ok_or_else(|| {
                    format!("member {}'s snapshot at {z:#x} is not committed", m.id)
                })?,
            };
        let split = m.disk.log.partition_point(|e| e.zxid <= base);
        if m.disk.log[split..] != history[start..] {
            return Err(format!(
                "member {}'s disk holds {} txns after its snapshot at {base:#x}, the history {}",
                m.id,
                m.disk.log.len() - split,
                history.len() - start
            ));
        }
        // Memory stays bounded by the retained tail (everything is applied now), the disk by
        // the snapshot interval, whatever the history.
        let retain = self.cfg.snap_retain;
        let in_memory = m.replica.as_ref().map_or(0, |r| r.log_len());
        if in_memory >= retain + retain.max(16) {
            return Err(format!(
                "member {} holds {in_memory} txns in memory (retain {retain}, history {})",
                m.id,
                history.len()
            ));
        }
        // The disk keeps the two newest snapshots and the log after the older one.
        let purged = match &m.disk.snapshots[..] {
            [] | [_] => true,
            [older, _] => m.disk.log.first().map_or(true, |e| e.zxid > older.zxid),
            _ => false,
        };
        if !purged {
            return Err(format!(
                "member {} keeps snapshots {:?} and a log from {:#x}",
                m.id,
                m.disk.snapshots,
                m.disk.log.first().map_or(0, |e| e.zxid)
            ));
        }
        for e in &m.disk.log[..split] {
            if self.checker.position(e.zxid).map(|p| &history[p]) != Some(e) {
                return Err(format!(
                    "member {} keeps {:#x} before its snapshot, not committed",
                    m.id, e.zxid
                ));
            }
        }
        Ok(())
    }
}
