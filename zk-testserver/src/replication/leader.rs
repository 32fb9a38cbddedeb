//! The leader: discovery (a new epoch from a quorum), synchronization of each follower, and
//! broadcast (proposals, quorum acks, in-order commits, pings).

use std::collections::{BTreeMap, BTreeSet};

use super::{
    epoch_of, make_zxid, Deferred, Local, LoggedTxn, Message, Output, Replica, ReplicaConfig, Role,
    ServerId, Snapshot, SyncMode, Txn,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Collecting FOLLOWERINFOs, then ACKEPOCHs.
    Discovery,
    /// Epoch established by a quorum; collecting NEWLEADER acks.
    Sync,
    /// Serving: proposals and commits.
    Broadcast,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LearnerState {
    /// FOLLOWERINFO received; LEADERINFO sent once the epoch is known.
    Info,
    /// ACKEPOCH received during discovery; synced once the epoch is established.
    AwaitSync { last_zxid: i64 },
    /// Gets a SNAP once the snapshot asked of the driver is taken (no proposals meanwhile).
    AwaitSnapshot,
    /// Sync and NEWLEADER sent (at `newleader_zxid`); proposals flow to it.
    Syncing { newleader_zxid: i64 },
    /// NEWLEADER acknowledged: its acks count.
    Active,
}

#[derive(Debug, Clone)]
struct Learner {
    attempt: u64,
    state: LearnerState,
    accepted_epoch: u32,
    acked: i64,
    last_heard: i64,
    /// The last ping it answered.
    ping_acked: u64,
}

#[derive(Debug)]
pub(super) struct Leader {
    phase: Phase,
    started: i64,
    epoch: Option<u32>,
    /// Our history when elected: a follower with a later one during discovery unseats us.
    elected_with: (u32, i64),
    learners: BTreeMap<ServerId, Learner>,
    epoch_acks: BTreeSet<ServerId>,
    newleader_acks: BTreeSet<ServerId>,
    /// Our own log is durable up to this zxid.
    self_durable: i64,
    next_ping: i64,
    /// The last ping sent.
    ping_seq: u64,
}

impl Leader {
    pub(super) fn new(now: i64, current_epoch: u32, last_zxid: i64) -> Leader {
        Leader {
            phase: Phase::Discovery,
            started: now,
            epoch: None,
            elected_with: (current_epoch, last_zxid),
            learners: BTreeMap::new(),
            epoch_acks: BTreeSet::new(),
            newleader_acks: BTreeSet::new(),
            self_durable: 0,
            next_ping: now,
            ping_seq: 0,
        }
    }

    pub(super) fn established_epoch(&self) -> Option<u32> {
        match self.phase {
            Phase::Broadcast => self.epoch,
            _ => None,
        }
    }

    pub(super) fn next_timeout(&self, cfg: &ReplicaConfig) -> i64 {
        match self.phase {
            // Session deadlines are multiples of the tick: the ping timer covers them.
            Phase::Broadcast => self.next_ping,
            _ => self.started + cfg.init_limit_ms,
        }
    }

    pub(super) fn remove_learner(&mut self, peer: ServerId) {
        self.learners.remove(&peer);
    }

    fn receiving(&self) -> impl Iterator<Item = ServerId> + '_ {
        self.learners
            .iter()
            .filter(|(_, l)| matches!(l.state, LearnerState::Syncing { .. } | LearnerState::Active))
            .map(|(id, _)| *id)
    }
}

impl Replica {
    fn leader(&mut self) -> Option<&mut Leader> {
        match &mut self.role {
            Role::Leading(l) => Some(l),
            _ => None,
        }
    }

    /// Entries logged before we led may still be on their way to disk: our own log counts
    /// only once the first persist of our reign (the epoch files) is durable.
    pub(super) fn leader_start(&mut self) {
        self.try_choose_epoch();
    }

    fn try_choose_epoch(&mut self) {
        let id = self.cfg.id;
        let accepted = self.accepted_epoch;
        let Some(l) = self.leader() else { return };
        if l.epoch.is_some() {
            return;
        }
        let mut infos: Vec<(ServerId, u32)> = l
            .learners
            .iter()
            .map(|(p, x)| (*p, x.accepted_epoch))
            .collect();
        infos.push((id, accepted));
        if !self.is_quorum(infos.iter().map(|(p, _)| p)) {
            return;
        }
        let max = infos.iter().map(|(_, e)| *e).max().unwrap_or(0);
        let Some(epoch) = max.checked_add(1) else {
            tracing::error!("epochs exhausted");
            return;
        };
        let current = self.current_epoch;
        self.set_epochs(epoch, current);
        self.after_durable(Deferred::Local(Local::AckEpoch));
        let Some(l) = self.leader() else { return };
        l.epoch = Some(epoch);
        let pending: Vec<(ServerId, u64)> =
            l.learners.iter().map(|(p, x)| (*p, x.attempt)).collect();
        tracing::info!(id, epoch, "leader chose its epoch");
        for (p, attempt) in pending {
            self.send(p, Message::LeaderInfo { attempt, epoch });
        }
    }

    pub(super) fn leader_local(&mut self, local: Local) {
        let id = self.cfg.id;
        let last = self.log.last_zxid();
        let Some(l) = self.leader() else { return };
        match local {
            Local::AckEpoch => {
                l.epoch_acks.insert(id);
                self.check_discovery_done();
            }
            Local::AckNewLeader => {
                l.self_durable = l.self_durable.max(last);
                l.newleader_acks.insert(id);
                self.check_established();
            }
            Local::Ack(zxid) => {
                l.self_durable = l.self_durable.max(zxid);
                self.try_commit();
            }
        }
    }

    pub(super) fn leader_step(&mut self, from: ServerId, msg: Message) {
        let now = self.now;
        let Some(l) = self.leader() else { return };
        if let Some(learner) = l.learners.get_mut(&from) {
            learner.last_heard = now;
        }
        let epoch = l.epoch;
        if msg.epoch().is_some() && msg.epoch() != epoch {
            return;
        }
        match msg {
            Message::FollowerInfo {
                attempt,
                accepted_epoch,
            } => self.on_follower_info(from, attempt, accepted_epoch),
            Message::AckEpoch {
                counts,
                current_epoch,
                last_zxid,
                ..
            } => self.on_ack_epoch(from, counts, current_epoch, last_zxid),
            Message::AckNewLeader { .. } => self.on_ack_newleader(from),
            Message::Ack { zxid, .. } => {
                if let Some(x) = l.learners.get_mut(&from) {
                    if x.state == LearnerState::Active {
                        x.acked = x.acked.max(zxid);
                    }
                }
                self.try_commit();
            }
            Message::Request {
                session_id,
                payload,
                ..
            } => {
                let active = l
                    .learners
                    .get(&from)
                    .is_some_and(|x| x.state == LearnerState::Active);
                if active && l.phase == Phase::Broadcast {
                    self.out.push(Output::Request {
                        from,
                        session_id,
                        payload,
                    });
                }
            }
            Message::SyncRequest { id, .. } => {
                let active = l
                    .learners
                    .get(&from)
                    .is_some_and(|x| x.state == LearnerState::Active);
                if active && l.phase == Phase::Broadcast {
                    self.on_sync_request(from, id);
                }
            }
            // Liveness is recorded above.
            Message::PingReply { seq, touches, .. } => {
                if let Some(x) = l.learners.get_mut(&from) {
                    x.ping_acked = x.ping_acked.max(seq);
                }
                self.touched_by_learner(&touches);
                self.release_syncs();
            }
            _ => tracing::debug!(from, "unexpected message for a leader"),
        }
    }

    fn on_follower_info(&mut self, from: ServerId, attempt: u64, accepted_epoch: u32) {
        let now = self.now;
        let Some(l) = self.leader() else { return };
        if l.learners.get(&from).is_some_and(|x| x.attempt == attempt) {
            return;
        }
        l.learners.insert(
            from,
            Learner {
                attempt,
                state: LearnerState::Info,
                accepted_epoch,
                acked: 0,
                last_heard: now,
                ping_acked: 0,
            },
        );
        match l.epoch {
            Some(epoch) if accepted_epoch > epoch => {
                // It promised a later epoch (to a leader that never established it) and would
                // refuse ours forever: make way for an election that picks a later one.
                tracing::info!(
                    id = self.cfg.id,
                    from,
                    accepted_epoch,
                    epoch,
                    "a learner accepted a later epoch: stepping down"
                );
                self.become_looking();
            }
            Some(epoch) => self.send(from, Message::LeaderInfo { attempt, epoch }),
            None => self.try_choose_epoch(),
        }
    }

    fn on_ack_epoch(&mut self, from: ServerId, counts: bool, current_epoch: u32, last_zxid: i64) {
        let Some(l) = self.leader() else { return };
        let elected_with = l.elected_with;
        let phase = l.phase;
        let Some(x) = l.learners.get_mut(&from) else {
            return;
        };
        if x.state != LearnerState::Info {
            return;
        }
        if phase == Phase::Discovery {
            if counts && (current_epoch, last_zxid) > elected_with {
                tracing::info!(
                    id = self.cfg.id,
                    from,
                    "a follower has a later history: stepping down"
                );
                self.become_looking();
                return;
            }
            x.state = LearnerState::AwaitSync { last_zxid };
            if counts {
                l.epoch_acks.insert(from);
            }
            self.check_discovery_done();
        } else {
            self.start_sync(from, last_zxid);
        }
    }

    fn check_discovery_done(&mut self) {
        let Some(l) = self.leader() else { return };
        if l.phase != Phase::Discovery {
            return;
        }
        let acks: Vec<ServerId> = l.epoch_acks.iter().copied().collect();
        let Some(epoch) = l.epoch else { return };
        if !acks.contains(&self.cfg.id) || !self.is_quorum(&acks) {
            return;
        }
        let Some(l) = self.leader() else { return };
        l.phase = Phase::Sync;
        let waiting: Vec<(ServerId, i64)> = l
            .learners
            .iter()
            .filter_map(|(p, x)| match x.state {
                LearnerState::AwaitSync { last_zxid } => Some((*p, last_zxid)),
                _ => None,
            })
            .collect();
        // Our own NEWLEADER: the epoch is current once durable, with our whole log.
        self.set_epochs(epoch, epoch);
        self.version_initial_config(make_zxid(epoch, 0));
        self.after_durable(Deferred::Local(Local::AckNewLeader));
        for (p, last) in waiting {
            self.start_sync(p, last);
        }
    }

    /// Sends a follower what it lacks (DIFF, TRUNC or SNAP) and NEWLEADER. A SNAP waits for
    /// a snapshot of our applied state, asked of the driver now.
    fn start_sync(&mut self, to: ServerId, follower_last: i64) {
        let held = self.log.holds(follower_last);
        let far = self.applied > follower_last
            && self.log.after(follower_last).len() > self.cfg.snap_threshold;
        if held && !far {
            let entries = self.log.after(follower_last).to_vec();
            self.send_sync(to, SyncMode::Diff, None, entries);
        } else if !held && follower_last > self.log.base() {
            // The follower's last txn is not ours: it diverged after the last zxid we hold
            // below it.
            let keep = self.log.last_below(follower_last);
            let entries = self.log.after(keep).to_vec();
            self.send_sync(to, SyncMode::Trunc { to: keep }, None, entries);
        } else {
            let Some(x) = self.leader().and_then(|l| l.learners.get_mut(&to)) else {
                return;
            };
            x.state = LearnerState::AwaitSnapshot;
            tracing::debug!(to, "a follower behind our log waits for a snapshot");
            self.request_snapshot();
        }
    }

    /// A snapshot of our applied state was taken: the followers waiting for one get it.
    pub(super) fn leader_snapshot_ready(&mut self, snapshot: Snapshot) {
        let Some(l) = self.leader() else { return };
        let waiting: Vec<ServerId> = l
            .learners
            .iter()
            .filter(|(_, x)| x.state == LearnerState::AwaitSnapshot)
            .map(|(p, _)| *p)
            .collect();
        if waiting.is_empty() {
            return;
        }
        if !self.log.holds(snapshot.zxid) {
            // Trimmed past it meanwhile: a newer one.
            self.request_snapshot();
            return;
        }
        let entries = self.log.after(snapshot.zxid).to_vec();
        for p in waiting {
            self.send_sync(p, SyncMode::Snap, Some(snapshot.clone()), entries.clone());
        }
    }

    fn send_sync(
        &mut self,
        to: ServerId,
        mode: SyncMode,
        snapshot: Option<Snapshot>,
        entries: Vec<LoggedTxn>,
    ) {
        let last = self.log.last_zxid();
        let config = snapshot.as_ref().and_then(|_| self.config_text());
        let Some(l) = self.leader() else { return };
        let Some(epoch) = l.epoch else { return };
        let Some(x) = l.learners.get_mut(&to) else {
            return;
        };
        x.state = LearnerState::Syncing {
            newleader_zxid: last,
        };
        tracing::debug!(to, ?mode, n = entries.len(), "syncing a follower");
        self.send(
            to,
            Message::Sync {
                epoch,
                mode,
                snapshot,
                config,
                entries,
            },
        );
        let config_version = self.cfg.quorum.as_ref().map_or(0, |q| q.version);
        self.send(
            to,
            Message::NewLeader {
                epoch,
                last_zxid: last,
                config_version,
            },
        );
    }

    fn on_ack_newleader(&mut self, from: ServerId) {
        let Some(l) = self.leader() else { return };
        let Some(x) = l.learners.get_mut(&from) else {
            return;
        };
        let LearnerState::Syncing { newleader_zxid } = x.state else {
            return;
        };
        x.state = LearnerState::Active;
        x.acked = x.acked.max(newleader_zxid);
        let phase = l.phase;
        let epoch = l.epoch.unwrap_or(0);
        if phase == Phase::Sync {
            l.newleader_acks.insert(from);
            self.check_established();
        } else {
            let committed = self.committed;
            self.send(from, Message::UpToDate { epoch, committed });
            self.try_commit();
        }
    }

    fn check_established(&mut self) {
        let id = self.cfg.id;
        let now = self.now;
        let Some(l) = self.leader() else { return };
        if l.phase != Phase::Sync {
            return;
        }
        let acks: Vec<ServerId> = l.newleader_acks.iter().copied().collect();
        // A reconfig in our log that is not known committed needs its new voters too: the
        // whole log commits below.
        let pending_ok = self.pending_quorum(i64::MAX, &acks);
        if !acks.contains(&id) || !self.is_quorum(&acks) || !pending_ok {
            return;
        }
        let Some(l) = self.leader() else { return };
        let epoch = l.epoch.unwrap_or(0);
        l.phase = Phase::Broadcast;
        l.next_ping = now;
        let active: Vec<ServerId> = l
            .learners
            .iter()
            .filter(|(_, x)| x.state == LearnerState::Active)
            .map(|(p, _)| *p)
            .collect();
        // Everything we hold is on a quorum, durably: commit it all.
        let last = self.log.last_zxid();
        self.commit_to(last);
        tracing::info!(
            id,
            epoch,
            last = format_args!("{last:#x}"),
            "leader established"
        );
        // Every session gets a full timeout from the new leader, including any whose
        // closeSession an earlier reign proposed but never committed.
        let stuck: Vec<(i64, i32)> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.closing)
            .map(|(session, s)| (session, s.timeout_ms))
            .collect();
        for (session, timeout) in stuck {
            self.sessions.add(session, timeout, now);
        }
        self.sessions.reset_deadlines(now);
        self.out.push(Output::Established { epoch });
        for p in active {
            self.send(
                p,
                Message::UpToDate {
                    epoch,
                    committed: last,
                },
            );
        }
        self.reelect_if_reconfigured();
    }

    fn try_commit(&mut self) {
        let id = self.cfg.id;
        let Some(l) = self.leader() else { return };
        if l.phase != Phase::Broadcast {
            return;
        }
        let mut acked: Vec<(ServerId, i64)> = l
            .learners
            .iter()
            .filter(|(_, x)| x.state == LearnerState::Active)
            .map(|(p, x)| (*p, x.acked))
            .collect();
        acked.push((id, l.self_durable));
        let epoch = l.epoch.unwrap_or(0);
        // The highest zxid held by a quorum.
        let mut candidates: Vec<i64> = acked.iter().map(|(_, z)| *z).collect();
        candidates.sort_unstable_by(|a, b| b.cmp(a));
        let mut point = 0;
        for c in candidates {
            let holders: Vec<ServerId> = acked
                .iter()
                .filter(|(_, z)| *z >= c)
                .map(|(p, _)| *p)
                .collect();
            // While a reconfig is pending, the new voters must hold it too.
            if self.is_quorum(&holders) && self.pending_quorum(c, &holders) {
                point = c;
                break;
            }
        }
        if point <= self.committed {
            return;
        }
        let Some(l) = self.leader() else { return };
        let to: Vec<ServerId> = l.receiving().collect();
        for p in to {
            self.send(p, Message::Commit { epoch, zxid: point });
        }
        self.commit_to(point);
        // After the COMMITs, so a learner applies before it hears its sync is done.
        self.release_syncs();
        self.reelect_if_reconfigured();
    }

    /// Leader: the learners synced and heard from within `sync_limit_ms` (ZooKeeper's
    /// `LearnerHandler.synced()`).
    pub(super) fn synced_learners(&self) -> BTreeSet<ServerId> {
        let (now, limit) = (self.now, self.cfg.sync_limit_ms);
        match &self.role {
            Role::Leading(l) => l
                .learners
                .iter()
                .filter(|(_, x)| x.state == LearnerState::Active && now - x.last_heard <= limit)
                .map(|(p, _)| *p)
                .collect(),
            _ => BTreeSet::new(),
        }
    }

    /// Sends the next ping round at once (a sync waits for a quorum to answer one).
    pub(super) fn ping_now(&mut self) {
        let now = self.now;
        if let Some(l) = self.leader() {
            l.next_ping = l.next_ping.min(now);
        }
    }

    /// The number the next ping will carry.
    pub(super) fn next_ping_seq(&self) -> u64 {
        match &self.role {
            Role::Leading(l) => l.ping_seq + 1,
            _ => u64::MAX,
        }
    }

    /// True if a quorum (this leader included) answered ping `seq` or a later one: they all
    /// still followed this leader after the ping went out.
    pub(super) fn quorum_answered_ping(&self, seq: u64) -> bool {
        let Role::Leading(l) = &self.role else {
            return false;
        };
        let mut answered: Vec<ServerId> = l
            .learners
            .iter()
            .filter(|(_, x)| x.state == LearnerState::Active && x.ping_acked >= seq)
            .map(|(p, _)| *p)
            .collect();
        answered.push(self.cfg.id);
        self.is_quorum(&answered)
    }

    pub(super) fn leader_propose(&mut self, session_id: i64, cxid: i32, txn: Txn) -> Option<i64> {
        let now = self.now;
        let last = self.log.last_zxid();
        let l = self.leader()?;
        let epoch = l.established_epoch()?;
        let zxid = if epoch_of(last) == epoch {
            if last as u32 == u32::MAX {
                tracing::warn!("zxid counter exhausted: new election");
                self.become_looking();
                return None;
            }
            last + 1
        } else {
            make_zxid(epoch, 1)
        };
        let to: Vec<ServerId> = l.receiving().collect();
        let entry = LoggedTxn {
            zxid,
            time: now,
            session_id,
            cxid,
            txn,
        };
        self.append(vec![entry.clone()]);
        self.after_durable(Deferred::Local(Local::Ack(zxid)));
        for p in to {
            self.send(
                p,
                Message::Proposal {
                    epoch,
                    entry: entry.clone(),
                },
            );
        }
        Some(zxid)
    }

    pub(super) fn leader_tick(&mut self) {
        let now = self.now;
        let id = self.cfg.id;
        let (tick, sync_limit, init_limit) = (
            self.cfg.tick_ms,
            self.cfg.sync_limit_ms,
            self.cfg.init_limit_ms,
        );
        let Some(l) = self.leader() else { return };
        if l.phase != Phase::Broadcast {
            if now >= l.started + init_limit {
                tracing::info!(id, "no quorum synced in time: stepping down");
                self.become_looking();
            }
            return;
        }
        if now < l.next_ping {
            return;
        }
        l.next_ping = now + tick.max(1);
        l.ping_seq += 1;
        let seq = l.ping_seq;
        let epoch = l.epoch.unwrap_or(0);
        let mut alive: Vec<ServerId> = l
            .learners
            .iter()
            .filter(|(_, x)| x.state == LearnerState::Active && now - x.last_heard <= sync_limit)
            .map(|(p, _)| *p)
            .collect();
        alive.push(id);
        let to: Vec<ServerId> = l.receiving().collect();
        if !self.is_quorum(&alive) {
            tracing::info!(id, epoch, "lost the quorum: stepping down");
            self.become_looking();
            return;
        }
        for p in to {
            self.send(p, Message::Ping { epoch, seq });
        }
        self.expire_sessions();
    }
}
