//! Snapshots of the state machine, log trimming, and what a restart and a SNAP sync restore.
//!
//! - **Taking one.** After every applied txn the core counts towards the next snapshot; at a
//!   count drawn between `snap_count / 2` and `snap_count` (ZooKeeper's `SyncRequestProcessor`
//!   randomizes it the same way, so members do not all snapshot at once; here the draw is a
//!   hash of the member's id and zxid, so a simulation replays exactly) it emits
//!   [`Output::TakeSnapshot`] right after that txn's [`Output::Apply`]. The driver serializes
//!   its state machine at that point and calls [`Replica::snapshot_taken`].
//! - **Keeping it.** The core persists it ([`PersistOp::Snapshot`], atomic), then
//!   [`PersistOp::Purge`] of everything older than the *previous* snapshot: the disk keeps the
//!   two newest snapshots and the log after the older one, so a damaged newest snapshot is
//!   skipped on restart and the older one plus the log still give the whole history; the disk
//!   stays bounded by about two snapshot intervals whatever the number of writes.
//! - **Memory.** The in-memory log keeps only `snap_retain` to twice that many applied txns
//!   (for DIFF syncs of followers just behind; ZooKeeper's `commitLogCount`) plus those not
//!   applied yet; the core keeps no snapshot bytes.
//! - **Restarting.** [`Replica::new`] takes the newest snapshot whose seal checks, restores
//!   its sessions, emits [`Output::Restore`] for the driver's state machine, and continues
//!   with the logged txns after it (cut where they stop chaining). Txns logged at or below it
//!   are kept as the tail only if the log holds the snapshot's own zxid, so they are known to
//!   be its history.
//! - **SNAP sync.** For a follower whose last zxid is below its in-memory log (or more than
//!   `snap_threshold` txns behind), the leader asks its driver for a snapshot of its applied
//!   state now ([`Output::TakeSnapshot`] again; the learner waits for it without proposals)
//!   and sends it with its log after it, then NEWLEADER. The follower checks the seal and that the txns chain, persists both with
//!   [`PersistOp::Install`] before it acknowledges NEWLEADER, and restores its state machine
//!   from the snapshot if it had applied less. A follower that applied *more* than the
//!   snapshot keeps its state (no txn is applied twice) but only if every applied txn after
//!   the snapshot that it still holds is the leader's too: applied txns are committed, and a
//!   leader's history holds every committed txn, so a mismatch is a broken invariant
//!   (ZOOKEEPER-1549's uncommitted txns in a snapshot), refused as a sync error.
//!
//! Snapshots are only ever of applied (so committed) state at exactly one zxid, never fuzzy.

use bytes::Bytes;

use super::log::chains;
use super::{Output, PersistOp, QuorumConfig, Replica, Snapshot};
use crate::storage::snapshot_file_sessions;
use crate::txn::LoggedTxn;

impl Replica {
    /// The zxid of the newest snapshot this member persisted (0: none).
    pub fn snapshot_zxid(&self) -> i64 {
        self.snapshot_zxid
    }

    /// Txns held in memory (the log after the newest snapshot, plus the retained tail).
    pub fn log_len(&self) -> usize {
        self.log.len()
    }

    /// The zxid the in-memory log holds everything after (0: the whole history).
    pub fn log_base(&self) -> i64 {
        self.log.base()
    }

    /// The applied txns that trigger the next snapshot: in `(snap_count / 2, snap_count]`.
    pub(super) fn next_snap_at(&self) -> u64 {
        let n = self.cfg.snap_count.max(1);
        let half = n / 2;
        let mut x = self.cfg.id ^ (self.applied as u64).rotate_left(17) ^ 0x9e37_79b9_7f4a_7c15;
        // splitmix64's finalizer.
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^= x >> 31;
        half + 1 + x % (n - half)
    }

    /// One more txn applied: asks for a snapshot when it is time.
    pub(super) fn count_applied(&mut self) {
        self.since_snapshot += 1;
        self.maybe_snapshot();
    }

    fn maybe_snapshot(&mut self) {
        if self.since_snapshot < self.snap_at {
            return;
        }
        self.request_snapshot();
    }

    /// Asks the driver for a snapshot of the applied state (unless one is asked already).
    pub(super) fn request_snapshot(&mut self) {
        if self.snap_pending.is_some() {
            return;
        }
        self.since_snapshot = 0;
        self.snap_at = self.next_snap_at();
        self.snap_pending = Some(self.applied);
        self.out.push(Output::TakeSnapshot { zxid: self.applied });
    }

    /// The driver's answer to [`Output::TakeSnapshot`]: the state machine's bytes at `zxid`.
    /// The snapshot is persisted, older files are purged once it is durable, and a leader
    /// sends it to the followers waiting for a SNAP. An answer for another zxid than the one
    /// asked is ignored.
    pub fn snapshot_taken(&mut self, zxid: i64, data: Bytes) {
        if self.snap_pending != Some(zxid) {
            tracing::debug!(zxid, "a snapshot nobody asked for (any more)");
            return;
        }
        self.snap_pending = None;
        if zxid > self.applied {
            return;
        }
        let snapshot = Snapshot { zxid, data };
        if zxid > self.snapshot_zxid {
            tracing::debug!(
                id = self.cfg.id,
                zxid = format_args!("{zxid:#x}"),
                bytes = snapshot.data.len(),
                "snapshot taken"
            );
            let previous = std::mem::replace(&mut self.snapshot_zxid, zxid);
            self.persist(PersistOp::Snapshot(snapshot.clone()));
            if previous > 0 {
                self.persist(PersistOp::Purge { before: previous });
            }
        }
        self.leader_snapshot_ready(snapshot);
        // Txns applied in the same batch after the one asked for may already make the next
        // snapshot due (a long DIFF committed at once): ask for it at the end of the batch.
        self.maybe_snapshot();
    }

    fn restore_sessions(&mut self, sessions: &[(i64, i32)]) {
        self.sessions = Replica::new_tracker(self.cfg.tick_ms);
        for &(id, timeout) in sessions {
            self.sessions.add(id, timeout, self.now);
        }
    }

    /// At start: the newest readable snapshot and the log after it.
    pub(super) fn load(&mut self, snapshots: Vec<Snapshot>, mut log: Vec<LoggedTxn>) {
        let mut chosen = None;
        for s in snapshots.into_iter().rev() {
            match snapshot_file_sessions(&s.data) {
                Ok((zxid, sessions)) if zxid == s.zxid => {
                    chosen = Some((s, sessions));
                    break;
                }
                Ok(_) => tracing::warn!(zxid = s.zxid, "a snapshot names another zxid: skipped"),
                Err(e) => tracing::warn!(zxid = s.zxid, error = %e, "unreadable snapshot: skipped"),
            }
        }
        let base = chosen.as_ref().map_or(0, |(s, _)| s.zxid);
        let split = log.partition_point(|e| e.zxid <= base);
        if base != 0 && log[..split].last().map(|e| e.zxid) != Some(base) {
            // Not known to be the snapshot's history (a SNAP install cut short).
            log.drain(..split);
        }
        let split = log.partition_point(|e| e.zxid <= base);
        let mut last = base;
        let mut chained = split;
        while chained < log.len() && chains(last, &log[chained..=chained]) {
            last = log[chained].zxid;
            chained += 1;
        }
        if chained < log.len() {
            tracing::warn!(
                id = self.cfg.id,
                after = format_args!("{last:#x}"),
                dropped = log.len() - chained,
                "logged txns that do not follow the snapshot: dropped"
            );
            log.truncate(chained);
            self.persist(PersistOp::Truncate { after: last });
        }
        self.log = super::Log::new(base, log);
        self.log.trim_applied(base, self.cfg.snap_retain);
        self.applied = base;
        self.committed = base;
        self.snapshot_zxid = base;
        if let Some((snapshot, sessions)) = chosen {
            self.restore_sessions(&sessions);
            self.out.push(Output::Restore(snapshot));
        }
    }

    /// Follower: installs a SNAP sync (see the module docs); `Err` says why it cannot.
    pub(super) fn install_snapshot(
        &mut self,
        snapshot: Option<Snapshot>,
        config: Option<String>,
        entries: Vec<LoggedTxn>,
    ) -> Result<(), &'static str> {
        let Some(s) = snapshot else {
            return Err("SNAP without a snapshot");
        };
        let sessions = match snapshot_file_sessions(&s.data) {
            Ok((zxid, sessions)) if zxid == s.zxid => sessions,
            _ => return Err("SNAP's snapshot is damaged"),
        };
        if !chains(s.zxid, &entries) {
            return Err("SNAP log has a gap");
        }
        let applied = self.applied;
        if applied > s.zxid {
            let last = entries.last().map_or(s.zxid, |e| e.zxid);
            if applied > last {
                return Err("SNAP ends before the applied txns");
            }
            for mine in self
                .log
                .after(s.zxid)
                .iter()
                .take_while(|e| e.zxid <= applied)
            {
                let theirs = entries
                    .binary_search_by_key(&mine.zxid, |e| e.zxid)
                    .ok()
                    .map(|i| &entries[i]);
                if theirs != Some(mine) {
                    return Err("SNAP disagrees with applied txns");
                }
            }
        }
        tracing::info!(
            id = self.cfg.id,
            zxid = format_args!("{:#x}", s.zxid),
            txns = entries.len(),
            "installing the leader's snapshot"
        );
        self.log.reset(s.zxid, entries.clone());
        self.persist(PersistOp::Install {
            snapshot: s.clone(),
            entries,
        });
        self.snapshot_zxid = s.zxid;
        self.snap_pending = None;
        self.since_snapshot = 0;
        if applied < s.zxid {
            self.applied = s.zxid;
            self.committed = self.committed.max(s.zxid);
            self.restore_sessions(&sessions);
            self.out.push(Output::Restore(s));
        }
        if let Some(config) = config.as_deref().and_then(QuorumConfig::parse) {
            self.activate(config);
        }
        Ok(())
    }
}
