//! The replication core: ZooKeeper's atomic broadcast (ZAB) as a pure state machine.
//!
//! [`Replica`] is one member of an ensemble, in the style of raft-rs's `RawNode` and
//! quinn-proto's `Connection`: it never touches a socket, a disk or a clock. The driver feeds it
//! peer messages ([`Replica::step`]), broken connections ([`Replica::disconnected`]), time
//! ([`Replica::tick`], woken at [`Replica::next_timeout`]), client writes
//! ([`Replica::propose`]) and durability notices ([`Replica::persisted`]); it takes back
//! [`Output`]s: messages to send, [`PersistOp`]s to make durable, and committed txns to apply
//! to the state machine (the data tree, sessions and watches), in zxid order.
//!
//! ```text
//!            elected leader                    quorum of epoch acks + NEWLEADER acks
//! Looking ------------------> Leading(discovery) ---> Leading(sync) ---> Leading(broadcast)
//!    ^  \    elected other                                                    |
//!    |   `-----------------> Following: FOLLOWERINFO -> LEADERINFO/ACKEPOCH   |
//!    |                        -> DIFF|TRUNC|SNAP -> NEWLEADER/ack -> UPTODATE  |
//!    `------ timeout, lost quorum, broken connection, newer epoch ------------'
//! ```
//!
//! - **Election** (`election.rs`): FastLeaderElection's votes ordered by (current epoch, last
//!   zxid, id), rounds, a quorum of agreeing votes held for `finalize_wait_ms` (not when every
//!   reachable voter already agrees), and joining a sitting leader that a quorum reports.
//! - **Discovery** (`leader.rs`, `follower.rs`): the leader picks `e = max(acceptedEpoch) + 1`
//!   over a quorum; members persist `acceptedEpoch` before ACKEPOCH; a member acknowledges an
//!   epoch at most once; a leader that meets a more recent history steps down.
//! - **Synchronization**: DIFF, TRUNC (to the leader's last zxid below the follower's) or SNAP
//!   (a snapshot of the leader's applied state taken for it and the log after it, for a
//!   follower behind the leader's in-memory log); the follower makes the synced txns (and snapshot) and its `currentEpoch` durable
//!   *before* it acknowledges NEWLEADER (ZOOKEEPER-3911/3023/4646); once a quorum did, the
//!   leader commits its whole log and sends UPTODATE.
//! - **Snapshots and log trimming** (`snapshots.rs`): every `snap_count` applied txns
//!   (randomized as ZooKeeper's `SyncRequestProcessor` does) the core asks the driver for a
//!   snapshot of the state machine ([`Output::TakeSnapshot`], answered with
//!   [`Replica::snapshot_taken`]), persists it and purges from disk what the snapshot before
//!   it no longer needs; the in-memory log keeps only a tail of applied txns (`snap_retain`)
//!   and the ones not applied yet.
//! - **Broadcast**: proposals with `zxid = epoch << 32 | counter`, durable ACKs, commits in
//!   zxid order once a quorum (the leader counts only after its own fsync) holds them.
//! - **Liveness**: PINGs every tick; a leader without a quorum heard within `sync_limit_ms`
//!   steps down; a follower that hears nothing for `sync_limit_ms` looks for a new leader.
//!
//! The transport must keep each connection reliable and in order and report broken ones.

pub mod codec;
mod election;
mod follower;
mod leader;
mod log;
mod messages;
mod quorum;
mod reconfig;
mod requests;
mod sessions;
mod snapshots;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, VecDeque};

use crate::session::SessionTracker;

pub use log::{DurableState, PersistOp, Snapshot};
pub use messages::{counter_of, epoch_of, make_zxid, Message, PeerState, ServerId, SyncMode, Vote};
pub use quorum::{QuorumConfig, ServerSpec};

use crate::txn::{LoggedTxn, Txn};
use election::Election;
use follower::Follower;
use leader::Leader;
use log::Log;

/// Timing and membership of one member.
#[derive(Debug, Clone)]
pub struct ReplicaConfig {
    /// This member's id.
    pub id: ServerId,
    /// Every voting member's id (this one included unless it observes).
    pub voters: BTreeSet<ServerId>,
    /// Observers: members that follow the leader without voting or counting in a quorum.
    pub observers: BTreeSet<ServerId>,
    /// Ping and retry interval (ZooKeeper's `tickTime`), ms.
    pub tick_ms: i64,
    /// How long an agreed quorum of votes waits for a better one (`finalizeWait`), ms.
    pub finalize_wait_ms: i64,
    /// First resend interval of election notifications, ms (doubles up to 8×).
    pub election_resend_ms: i64,
    /// Discovery and synchronization must finish within this (`initLimit` × tick), ms.
    pub init_limit_ms: i64,
    /// A leader or follower silent for this long is given up on (`syncLimit` × tick), ms.
    pub sync_limit_ms: i64,
    /// A follower missing more than this many txns gets a SNAP instead of a DIFF (when the
    /// leader's snapshot is past the follower's last zxid).
    pub snap_threshold: usize,
    /// Applied txns between snapshots (ZooKeeper's `snapCount`): a snapshot is taken after a
    /// number drawn between half of it and all of it, differently on each member.
    pub snap_count: u64,
    /// Applied txns kept in memory for DIFF syncs of followers just behind (ZooKeeper's
    /// `commitLogCount`): the in-memory log holds between this many and twice this many (at
    /// least 16 more) applied txns, plus the ones not applied yet. A follower further behind
    /// gets a SNAP of a snapshot taken for it.
    pub snap_retain: usize,
    /// The membership with addresses and version (ZooKeeper's dynamic config), needed for
    /// `/zookeeper/config` and `reconfig`. When set, it decides `voters` and `observers`;
    /// a committed reconfig replaces it.
    pub quorum: Option<QuorumConfig>,
    /// Whether the first leader gives the initial membership (version 0) the version of its
    /// epoch, as ZooKeeper does when `reconfigEnabled` is set; without it the static
    /// membership keeps version 0, as ZooKeeper's `conf` and `/zookeeper/config` show.
    pub version_initial_config: bool,
}

impl ReplicaConfig {
    /// Sets the membership with addresses (see [`ReplicaConfig::quorum`]); `voters` and
    /// `observers` follow it.
    pub fn with_quorum(mut self, quorum: QuorumConfig) -> Self {
        self.voters = quorum.voters();
        self.observers = quorum.observers();
        self.quorum = Some(quorum);
        self
    }

    /// Adds observers (non-voting members).
    pub fn with_observers(mut self, observers: impl IntoIterator<Item = ServerId>) -> Self {
        self.observers = observers.into_iter().collect();
        self
    }

    /// True if this member observes.
    pub fn is_observer(&self) -> bool {
        self.observers.contains(&self.id)
    }

    fn is_member(&self, id: ServerId) -> bool {
        self.voters.contains(&id) || self.observers.contains(&id)
    }

    /// A configuration with test-friendly timeouts: 10 ms ticks, failover in tens of ms.
    pub fn fast(id: ServerId, voters: impl IntoIterator<Item = ServerId>) -> ReplicaConfig {
        ReplicaConfig {
            id,
            voters: voters.into_iter().collect(),
            observers: BTreeSet::new(),
            tick_ms: 10,
            finalize_wait_ms: 5,
            election_resend_ms: 20,
            init_limit_ms: 100,
            sync_limit_ms: 50,
            snap_threshold: 1000,
            snap_count: 100_000,
            snap_retain: 500,
            quorum: None,
            version_initial_config: true,
        }
    }
}

/// What the core asks its driver to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send a message to a peer (on the connection to it; open one if there is none).
    Send {
        /// The peer.
        to: ServerId,
        /// The message.
        msg: Message,
    },
    /// Make `op` durable, after every earlier op, then call [`Replica::persisted`]`(seq)`.
    Persist {
        /// The op's sequence number (increasing by one).
        seq: u64,
        /// The change.
        op: PersistOp,
    },
    /// A committed txn: apply it to the state machine. Emitted once per txn, in zxid order
    /// (a restarted replica continues after the snapshot it restored, or from the first txn).
    Apply(LoggedTxn),
    /// Serialize the state machine now (it has applied exactly `zxid`: this follows that
    /// txn's [`Output::Apply`]) and hand the bytes to [`Replica::snapshot_taken`].
    TakeSnapshot {
        /// The last applied txn.
        zxid: i64,
    },
    /// Replace the state machine (tree and sessions) by this snapshot's state; the next
    /// [`Output::Apply`] follows it. Emitted by a restarted replica that loaded a snapshot
    /// and by a follower that received one in a SNAP sync.
    Restore(Snapshot),
    /// This member now leads `epoch` with a quorum synced: it accepts proposals.
    Established {
        /// The epoch.
        epoch: u32,
    },
    /// The member's role changed.
    Role(PeerState),
    /// Leader: a write forwarded by `from` (or by this member) to prepare and propose.
    Request {
        /// The member whose client sent it.
        from: ServerId,
        /// The client's session.
        session_id: i64,
        /// The encoded request, as the forwarding member's layer made it.
        payload: bytes::Bytes,
    },
    /// A committed reconfig made this membership active (after its txn's [`Output::Apply`]):
    /// the driver connects to the members it did not know.
    Reconfigured(QuorumConfig),
    /// A [`Replica::sync`] finished: `ok` if this member has now applied everything the leader
    /// had proposed when the sync reached it; false if the leader was lost first.
    Synced {
        /// The id given to [`Replica::sync`].
        id: u64,
        /// Whether the sync succeeded.
        ok: bool,
    },
}

/// Something to do once a persist op is durable.
#[derive(Debug, Clone)]
enum Deferred {
    Send(ServerId, Message),
    /// The leader's own durable state counts now.
    Local(Local),
}

#[derive(Debug, Clone, Copy)]
enum Local {
    AckEpoch,
    AckNewLeader,
    Ack(i64),
}

#[derive(Debug)]
enum Role {
    Looking(Election),
    Following(Follower),
    Leading(Leader),
}

/// Counters a test can check (all should stay 0 in a correct run, except `elections`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplicaStats {
    /// Times this member entered LOOKING.
    pub elections: u64,
    /// Sync messages this member could not apply (TRUNC below its log, a gap, a change to
    /// applied txns); it went back to election each time.
    pub sync_errors: u64,
}

/// One member of a replicated ensemble (see the module docs).
#[derive(Debug)]
pub struct Replica {
    cfg: ReplicaConfig,
    now: i64,
    log: Log,
    accepted_epoch: u32,
    current_epoch: u32,
    committed: i64,
    /// The zxid of the last txn handed out to apply (or restored from a snapshot).
    applied: i64,
    /// The zxid of the newest snapshot persisted (0: none).
    snapshot_zxid: i64,
    /// Applied txns since the last snapshot, the number that triggers the next one, and the
    /// snapshot asked of the driver and not yet taken.
    since_snapshot: u64,
    snap_at: u64,
    snap_pending: Option<i64>,
    role: Role,
    /// Bumped on every role change; deferred actions of an older role are dropped.
    generation: u64,
    round: u64,
    /// The vote that decided the last election (what we tell LOOKING peers).
    decided: Vote,
    attempts: u64,
    next_seq: u64,
    durable_seq: u64,
    deferred: VecDeque<(u64, u64, Deferred)>,
    out: Vec<Output>,
    stats: ReplicaStats,
    /// Sessions of the committed history; the leader's deadlines decide expiry.
    sessions: SessionTracker,
    /// Syncs waiting for a commit point (leader).
    leader_syncs: Vec<requests::PendingSync>,
    /// Syncs of this member's clients sent to the leader (learner).
    learner_syncs: Vec<u64>,
    /// Sessions touched by this member's clients since the last ping reply.
    touches: BTreeSet<i64>,
    /// Set if the log was ever given a gap (a bug; reported by `check_invariants`).
    broken: Option<String>,
    /// A committed reconfig removed the leader this member follows (or this one): elect
    /// again once the commit has been handled.
    reelect: bool,
}

impl Replica {
    /// A member starting (or restarting) from its durable state, looking for a leader.
    pub fn new(cfg: ReplicaConfig, durable: DurableState, now: i64) -> Replica {
        let mut r = Replica {
            decided: Vote {
                epoch: durable.current_epoch,
                zxid: 0,
                leader: cfg.id,
            },
            cfg,
            now,
            log: Log::default(),
            accepted_epoch: durable.accepted_epoch,
            current_epoch: durable.current_epoch,
            committed: 0,
            applied: 0,
            snapshot_zxid: 0,
            since_snapshot: 0,
            snap_at: 0,
            snap_pending: None,
            role: Role::Looking(Election::idle()),
            generation: 0,
            round: 0,
            attempts: 0,
            next_seq: 1,
            durable_seq: 0,
            deferred: VecDeque::new(),
            out: Vec::new(),
            stats: ReplicaStats::default(),
            broken: None,
            sessions: Replica::new_tracker(1),
            touches: BTreeSet::new(),
            leader_syncs: Vec::new(),
            learner_syncs: Vec::new(),
            reelect: false,
        };
        r.restore_config(durable.config.as_deref());
        r.sessions = Replica::new_tracker(r.cfg.tick_ms);
        r.snap_at = r.next_snap_at();
        r.load(durable.snapshots, durable.log);
        r.become_looking();
        r
    }

    /// This member's id.
    pub fn id(&self) -> ServerId {
        self.cfg.id
    }

    /// The configuration.
    pub fn config(&self) -> &ReplicaConfig {
        &self.cfg
    }

    /// The member's state.
    pub fn state(&self) -> PeerState {
        match self.role {
            Role::Looking(_) => PeerState::Looking,
            Role::Following(_) if self.cfg.is_observer() => PeerState::Observing,
            Role::Following(_) => PeerState::Following,
            Role::Leading(_) => PeerState::Leading,
        }
    }

    /// The epoch this member leads with a synced quorum, if it does.
    pub fn established_epoch(&self) -> Option<u32> {
        match &self.role {
            Role::Leading(l) => l.established_epoch(),
            _ => None,
        }
    }

    /// The leader this member follows and has synced with (after UPTODATE), if any.
    pub fn synced_leader(&self) -> Option<ServerId> {
        match &self.role {
            Role::Following(f) if f.is_active() => Some(f.leader()),
            _ => None,
        }
    }

    /// The last logged (not necessarily durable) zxid.
    pub fn last_zxid(&self) -> i64 {
        self.log.last_zxid()
    }

    /// The highest zxid known committed.
    pub fn committed(&self) -> i64 {
        self.committed
    }

    /// `acceptedEpoch` and `currentEpoch` as last asked to persist.
    pub fn epochs(&self) -> (u32, u32) {
        (self.accepted_epoch, self.current_epoch)
    }

    /// The counters.
    pub fn stats(&self) -> ReplicaStats {
        self.stats
    }

    /// Takes the outputs produced so far.
    pub fn take_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.out)
    }

    /// The next time [`Replica::tick`] has something to do.
    pub fn next_timeout(&self) -> i64 {
        match &self.role {
            Role::Looking(e) => e.next_timeout(),
            Role::Following(f) => f.next_timeout(&self.cfg),
            Role::Leading(l) => l.next_timeout(&self.cfg),
        }
    }

    /// Handles the timers due at `now`.
    pub fn tick(&mut self, now: i64) {
        self.now = now.max(self.now);
        match self.role {
            Role::Looking(_) => self.election_tick(),
            Role::Following(_) => self.follower_tick(),
            Role::Leading(_) => self.leader_tick(),
        }
    }

    /// Handles a message from `from`.
    pub fn step(&mut self, from: ServerId, msg: Message, now: i64) {
        self.now = now.max(self.now);
        if from == self.cfg.id {
            return;
        }
        if let Message::Notification {
            state,
            vote,
            round,
            config,
        } = msg
        {
            if let Some(text) = config {
                self.adopt_config(&text);
            }
            // A server outside our view (one joining) only asks who leads, like an observer.
            let state = if state == PeerState::Looking && !self.cfg.voters.contains(&from) {
                PeerState::Observing
            } else {
                state
            };
            self.on_notification(from, state, vote, round);
            return;
        }
        if !self.cfg.is_member(from) && !matches!(self.role, Role::Leading(_)) {
            // A leader syncs servers outside its view: they join as non-voting learners
            // until a reconfig adds them. Anyone else hears only its leader.
            if !matches!(&self.role, Role::Following(f) if f.leader() == from) {
                tracing::debug!(from, "message from a non-member ignored");
                return;
            }
        }
        match self.role {
            Role::Looking(_) => self.election_step(from, msg),
            Role::Following(_) => self.follower_step(from, msg),
            Role::Leading(_) => self.leader_step(from, msg),
        }
    }

    /// The connection to `peer` broke: whatever was in flight on it is lost.
    pub fn disconnected(&mut self, peer: ServerId, now: i64) {
        self.now = now.max(self.now);
        match &mut self.role {
            Role::Looking(_) => self.election_disconnected(peer),
            Role::Following(f) => {
                if f.leader() == peer {
                    tracing::info!(id = self.cfg.id, peer, "lost the leader's connection");
                    self.become_looking();
                    self.election_disconnected(peer);
                }
            }
            Role::Leading(l) => l.remove_learner(peer),
        }
    }

    /// Persist ops up to `seq` are durable.
    pub fn persisted(&mut self, seq: u64, now: i64) {
        self.now = now.max(self.now);
        self.durable_seq = self.durable_seq.max(seq);
        while let Some((s, _, _)) = self.deferred.front() {
            if *s > self.durable_seq {
                break;
            }
            let (_, generation, action) = self.deferred.pop_front().expect("front exists");
            if generation != self.generation {
                continue;
            }
            match action {
                Deferred::Send(to, msg) => self.send(to, msg),
                Deferred::Local(local) => self.leader_local(local),
            }
        }
    }

    /// Proposes a txn from a client session. Returns its zxid, or `None` if this member is not
    /// a leader with an established epoch. The txn is committed when it comes out as
    /// [`Output::Apply`].
    pub fn propose(&mut self, session_id: i64, txn: Txn, now: i64) -> Option<i64> {
        self.propose_request(session_id, 0, txn, now)
    }

    /// [`Replica::propose`] for a client request with xid `cxid` (kept in the txn's header).
    pub fn propose_request(
        &mut self,
        session_id: i64,
        cxid: i32,
        txn: Txn,
        now: i64,
    ) -> Option<i64> {
        self.now = now.max(self.now);
        self.leader_propose(session_id, cxid, txn)
    }

    /// Checks internal consistency: log shape, commit and apply points within the log. Cheap
    /// enough to run after every step (the log's shape is checked as it changes).
    pub fn check_invariants(&self) -> Result<(), String> {
        if let Some(e) = &self.broken {
            return Err(e.clone());
        }
        if self.applied > self.log.last_zxid() {
            return Err("applied past the end of the log".into());
        }
        if self.applied > self.committed {
            return Err("applied an uncommitted txn".into());
        }
        if self.log.base() > self.applied {
            return Err("the log's base is past the applied state".into());
        }
        if self.current_epoch > self.accepted_epoch {
            return Err(format!(
                "current epoch {} above accepted epoch {}",
                self.current_epoch, self.accepted_epoch
            ));
        }
        if epoch_of(self.log.last_zxid()) > self.accepted_epoch {
            return Err("logged a txn of an epoch not accepted".into());
        }
        Ok(())
    }

    // ---- helpers shared by the role modules ----

    fn send(&mut self, to: ServerId, msg: Message) {
        self.out.push(Output::Send { to, msg });
    }

    fn persist(&mut self, op: PersistOp) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.out.push(Output::Persist { seq, op });
        seq
    }

    /// Runs `action` once everything persisted so far is durable.
    fn after_durable(&mut self, action: Deferred) {
        let seq = self.next_seq - 1;
        if seq <= self.durable_seq {
            match action {
                Deferred::Send(to, msg) => self.send(to, msg),
                Deferred::Local(local) => self.leader_local(local),
            }
        } else {
            self.deferred.push_back((seq, self.generation, action));
        }
    }

    fn set_epochs(&mut self, accepted: u32, current: u32) {
        self.accepted_epoch = accepted;
        self.current_epoch = current;
        self.persist(PersistOp::Epochs { accepted, current });
    }

    fn append(&mut self, entries: Vec<LoggedTxn>) {
        if entries.is_empty() {
            return;
        }
        if !log::chains(self.log.last_zxid(), &entries) {
            self.broken
                .get_or_insert_with(|| format!("appended a gap after {:#x}", self.log.last_zxid()));
        }
        for e in &entries {
            self.log.push(e.clone());
        }
        self.persist(PersistOp::Append(entries));
    }

    pub(super) fn is_quorum<'a>(&self, members: impl IntoIterator<Item = &'a ServerId>) -> bool {
        let n = members
            .into_iter()
            .filter(|m| self.cfg.voters.contains(m))
            .collect::<BTreeSet<_>>()
            .len();
        n * 2 > self.cfg.voters.len()
    }

    /// The voters other than this member.
    fn voting_peers(&self) -> Vec<ServerId> {
        self.cfg
            .voters
            .iter()
            .copied()
            .filter(|&p| p != self.cfg.id)
            .collect()
    }

    /// Commits up to `zxid` (bounded by the log) and emits the txns to apply.
    fn commit_to(&mut self, zxid: i64) {
        let zxid = zxid.min(self.log.last_zxid());
        if zxid > self.committed {
            self.committed = zxid;
        }
        let mut next = self
            .log
            .entries()
            .partition_point(|e| e.zxid <= self.applied);
        while next < self.log.len() && self.log.entries()[next].zxid <= zxid {
            let entry = self.log.entries()[next].clone();
            self.track_sessions(&entry.txn);
            let config = reconfig::config_of(&entry);
            self.applied = entry.zxid;
            self.out.push(Output::Apply(entry));
            next += 1;
            if let Some(config) = config {
                self.activate(config);
            }
            self.count_applied();
        }
        self.log.trim_applied(self.applied, self.cfg.snap_retain);
    }

    /// The zxid of the last applied txn (0 if none).
    fn applied_zxid(&self) -> i64 {
        self.applied
    }

    fn set_role(&mut self, role: Role) {
        self.fail_syncs();
        self.generation += 1;
        self.role = role;
        let state = self.state();
        self.out.push(Output::Role(state));
    }
}
