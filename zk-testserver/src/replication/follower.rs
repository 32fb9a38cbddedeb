//! The follower: registers with the leader (FOLLOWERINFO), acknowledges its epoch, applies the
//! sync (DIFF, TRUNC or SNAP, the last in `snapshots.rs`) durably before acknowledging NEWLEADER, then logs proposals
//! durably before acknowledging them and applies commits in order.

use super::log::chains;
use super::{
    epoch_of, Deferred, LoggedTxn, Message, PersistOp, Replica, ReplicaConfig, Role, ServerId,
    SyncMode,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    AwaitLeaderInfo,
    AwaitSync { epoch: u32 },
    AwaitNewLeader { epoch: u32 },
    AwaitUpToDate { epoch: u32 },
    Active { epoch: u32 },
}

#[derive(Debug)]
pub(super) struct Follower {
    leader: ServerId,
    attempt: u64,
    phase: Phase,
    started: i64,
    last_heard: i64,
    resend_at: i64,
}

/// How often an unanswered FOLLOWERINFO is sent again: a tick, at most 100 ms (ZooKeeper's
/// learners retry connecting to their leader every `leaderConnectDelayDuringRetryMs`, 100 ms).
/// The first one is lost when it reaches the leader before the leader has decided its own
/// election; waiting a whole 2 s tick for the second kept a follower out of sync for seconds.
fn resend_interval(tick: i64) -> i64 {
    tick.clamp(1, 100)
}

impl Follower {
    pub(super) fn new(leader: ServerId, attempt: u64, now: i64, tick: i64) -> Follower {
        Follower {
            leader,
            attempt,
            phase: Phase::AwaitLeaderInfo,
            started: now,
            last_heard: now,
            resend_at: now + resend_interval(tick),
        }
    }

    pub(super) fn leader(&self) -> ServerId {
        self.leader
    }

    pub(super) fn is_active(&self) -> bool {
        matches!(self.phase, Phase::Active { .. })
    }

    fn epoch(&self) -> Option<u32> {
        match self.phase {
            Phase::AwaitLeaderInfo => None,
            Phase::AwaitSync { epoch }
            | Phase::AwaitNewLeader { epoch }
            | Phase::AwaitUpToDate { epoch }
            | Phase::Active { epoch } => Some(epoch),
        }
    }

    pub(super) fn next_timeout(&self, cfg: &ReplicaConfig) -> i64 {
        match self.phase {
            Phase::Active { .. } => self.last_heard + cfg.sync_limit_ms,
            Phase::AwaitLeaderInfo => self.resend_at.min(self.started + cfg.init_limit_ms),
            _ => self.started + cfg.init_limit_ms,
        }
    }
}

impl Replica {
    fn follower(&mut self) -> Option<&mut Follower> {
        match &mut self.role {
            Role::Following(f) => Some(f),
            _ => None,
        }
    }

    pub(super) fn follower_start(&mut self) {
        let accepted_epoch = self.accepted_epoch;
        let Some(f) = self.follower() else { return };
        let (leader, attempt) = (f.leader, f.attempt);
        self.send(
            leader,
            Message::FollowerInfo {
                attempt,
                accepted_epoch,
            },
        );
    }

    pub(super) fn follower_step(&mut self, from: ServerId, msg: Message) {
        let now = self.now;
        let Some(f) = self.follower() else { return };
        if from != f.leader {
            return;
        }
        f.last_heard = now;
        let phase = f.phase;
        let attempt_now = f.attempt;
        if msg.epoch().is_some() && msg.epoch() != f.epoch() {
            return;
        }
        match (phase, msg) {
            (Phase::AwaitLeaderInfo, Message::LeaderInfo { attempt, epoch }) => {
                if attempt == attempt_now {
                    self.on_leader_info(epoch);
                }
            }
            (
                Phase::AwaitSync { epoch },
                Message::Sync {
                    mode,
                    entries,
                    snapshot,
                    config,
                    ..
                },
            ) => {
                if mode == SyncMode::Snap {
                    match self.install_snapshot(snapshot, config, entries) {
                        Ok(()) => {
                            if let Some(f) = self.follower() {
                                f.phase = Phase::AwaitNewLeader { epoch };
                            }
                        }
                        Err(why) => self.sync_error(why),
                    }
                } else {
                    self.on_sync(epoch, mode, entries)
                }
            }
            (
                Phase::AwaitNewLeader { epoch },
                Message::NewLeader {
                    last_zxid,
                    config_version,
                    ..
                },
            ) => {
                self.version_initial_config(config_version);
                self.on_newleader(epoch, last_zxid)
            }
            (
                Phase::AwaitUpToDate { epoch } | Phase::Active { epoch },
                Message::Proposal { entry, .. },
            ) => self.on_proposal(epoch, entry),
            (Phase::AwaitUpToDate { .. } | Phase::Active { .. }, Message::Commit { zxid, .. }) => {
                self.commit_to(zxid);
                self.reelect_if_reconfigured();
            }
            (Phase::AwaitUpToDate { epoch }, Message::UpToDate { committed, .. }) => {
                if let Some(f) = self.follower() {
                    f.phase = Phase::Active { epoch };
                }
                tracing::debug!(id = self.cfg.id, leader = from, epoch, "up to date");
                self.commit_to(committed);
                self.reelect_if_reconfigured();
            }
            (Phase::Active { .. }, Message::SyncReply { id, zxid, .. }) => {
                self.on_sync_reply(id, zxid)
            }
            (Phase::Active { epoch }, Message::Ping { seq, .. }) => {
                let touches = self.take_touches();
                self.send(
                    from,
                    Message::PingReply {
                        epoch,
                        seq,
                        touches,
                    },
                );
            }
            (_, msg) => tracing::debug!(id = self.cfg.id, ?phase, ?msg, "unexpected message"),
        }
    }

    fn on_leader_info(&mut self, epoch: u32) {
        let current = self.current_epoch;
        let last_zxid = self.log.last_zxid();
        let leader = match self.follower() {
            Some(f) => {
                f.phase = Phase::AwaitSync { epoch };
                f.leader
            }
            None => return,
        };
        if epoch > self.accepted_epoch {
            self.set_epochs(epoch, current);
            let ack = Message::AckEpoch {
                epoch,
                counts: true,
                current_epoch: current,
                last_zxid,
            };
            self.after_durable(Deferred::Send(leader, ack));
        } else if epoch == self.accepted_epoch {
            // Already acknowledged once (to this or another leader): sync, but do not count.
            let ack = Message::AckEpoch {
                epoch,
                counts: false,
                current_epoch: current,
                last_zxid,
            };
            self.after_durable(Deferred::Send(leader, ack));
        } else {
            tracing::info!(id = self.cfg.id, epoch, "leader's epoch is stale");
            self.become_looking();
        }
    }

    fn sync_error(&mut self, why: &str) {
        tracing::warn!(id = self.cfg.id, why, "cannot apply the leader's sync");
        self.stats.sync_errors += 1;
        self.become_looking();
    }

    fn on_sync(&mut self, epoch: u32, mode: SyncMode, entries: Vec<LoggedTxn>) {
        let applied = self.applied_zxid();
        match mode {
            SyncMode::Diff => {
                let first = entries.first().map_or(i64::MAX, |e| e.zxid);
                if first <= self.log.last_zxid() {
                    return self.sync_error("DIFF overlaps the log");
                }
            }
            SyncMode::Trunc { to } => {
                if !self.log.holds(to) {
                    return self.sync_error("TRUNC to a zxid not logged");
                }
                if to < applied {
                    return self.sync_error("TRUNC below an applied txn");
                }
                self.log.truncate_after(to);
                self.persist(PersistOp::Truncate { after: to });
            }
            SyncMode::Snap => return self.sync_error("SNAP handled apart"),
        }
        if !chains(self.log.last_zxid(), &entries) {
            return self.sync_error("sync txns do not follow the log");
        }
        self.append(entries);
        if let Some(f) = self.follower() {
            f.phase = Phase::AwaitNewLeader { epoch };
        }
    }

    fn on_newleader(&mut self, epoch: u32, last_zxid: i64) {
        if self.log.last_zxid() != last_zxid {
            return self.sync_error("log differs from the leader's after sync");
        }
        let leader = match self.follower() {
            Some(f) => {
                f.phase = Phase::AwaitUpToDate { epoch };
                f.leader
            }
            None => return,
        };
        // The synced txns and the new current epoch become durable before the ack.
        let accepted = self.accepted_epoch.max(epoch);
        self.set_epochs(accepted, epoch);
        self.after_durable(Deferred::Send(leader, Message::AckNewLeader { epoch }));
    }

    fn on_proposal(&mut self, epoch: u32, entry: LoggedTxn) {
        let zxid = entry.zxid;
        if epoch_of(zxid) != epoch || !chains(self.log.last_zxid(), std::slice::from_ref(&entry)) {
            return self.sync_error("proposal does not follow the log");
        }
        let Some(leader) = self.follower().map(|f| f.leader) else {
            return;
        };
        self.append(vec![entry]);
        self.after_durable(Deferred::Send(leader, Message::Ack { epoch, zxid }));
    }

    pub(super) fn follower_tick(&mut self) {
        let now = self.now;
        let (tick, init_limit, sync_limit) = (
            self.cfg.tick_ms,
            self.cfg.init_limit_ms,
            self.cfg.sync_limit_ms,
        );
        let accepted_epoch = self.accepted_epoch;
        let Some(f) = self.follower() else { return };
        match f.phase {
            Phase::Active { .. } if now >= f.last_heard + sync_limit => {
                tracing::info!(leader = f.leader, "leader silent: looking again");
                self.become_looking();
            }
            Phase::Active { .. } => {}
            _ if now >= f.started + init_limit => {
                tracing::info!(leader = f.leader, "could not sync in time: looking again");
                self.become_looking();
            }
            Phase::AwaitLeaderInfo if now >= f.resend_at => {
                f.resend_at = now + resend_interval(tick);
                let (leader, attempt) = (f.leader, f.attempt);
                self.send(
                    leader,
                    Message::FollowerInfo {
                        attempt,
                        accepted_epoch,
                    },
                );
            }
            _ => {}
        }
    }
}
