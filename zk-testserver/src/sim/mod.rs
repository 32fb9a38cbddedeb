//! Deterministic simulation of a replicated ensemble: every member's [`Replica`] driven in one
//! thread with virtual time, a seeded network (delays, reordering across connections, lost
//! messages that break connections, partitions), seeded crashes that lose whatever was not
//! yet durable, restarts from the durable state, and clients proposing writes. The
//! [`Checker`] verifies the invariants after every step; a failing seed replays exactly.
//!
//! Run more seeds than the default with
//! `ZK_SIM_SEEDS=5000 cargo test --release -p zk-testserver --lib sim::` and one seed with
//! `ZK_SIM_SEED=<n> cargo test -p zk-testserver --lib sim::tests::seeds -- --nocapture`.

mod checker;
mod clients;
mod faults;
mod members;
mod network;
mod reconfig;
mod rng;
mod snapshots;
#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use crate::replication::{
    DurableState, Message, Output, PersistOp, Replica, ReplicaConfig, ServerId,
};
use crate::tree::DataTree;
use crate::txn::{LoggedTxn, Txn};
pub(crate) use checker::Checker;
use network::{Fate, NetConfig, Network};
use rng::Rng;

/// The knobs of one run, drawn from its seed.
#[derive(Debug, Clone)]
pub(crate) struct SimConfig {
    /// Voting members (ids `1..=members`).
    pub(crate) members: usize,
    /// Observers (the ids after the voters').
    pub(crate) observers: usize,
    /// Faults and writes happen until this virtual time (ms).
    pub(crate) duration_ms: i64,
    /// Then everything heals; the ensemble must converge within this long.
    pub(crate) settle_ms: i64,
    pub(crate) net: NetConfig,
    pub(crate) fault_every: (i64, i64),
    pub(crate) down_for: (i64, i64),
    pub(crate) partition_for: (i64, i64),
    pub(crate) pause_for: (i64, i64),
    pub(crate) write_every: (i64, i64),
    /// Clients with sessions.
    pub(crate) clients: usize,
    pub(crate) persist_latency: (i64, i64),
    /// The replicas' `snap_count`, `snap_retain` and `snap_threshold`: small, so snapshots,
    /// trims and SNAP syncs of snapshots happen in most runs.
    pub(crate) snap_count: u64,
    pub(crate) snap_retain: usize,
    pub(crate) snap_threshold: usize,
}

impl SimConfig {
    pub(crate) fn from_seed(seed: u64) -> SimConfig {
        let mut rng = Rng::new(seed.wrapping_mul(31).wrapping_add(7));
        let members = [1, 3, 3, 3, 5, 5][rng.below(6)];
        SimConfig {
            members,
            observers: [0, 0, 1, 2][rng.below(4)],
            duration_ms: 2_000,
            settle_ms: 5_000,
            net: NetConfig {
                min_delay: 0,
                max_delay: rng.range(1, 8),
                loss_ppm: [0, 500, 2_000, 10_000][rng.below(4)],
                notice_ppm: 500_000,
            },
            fault_every: (20, rng.range(60, 400)),
            down_for: (5, rng.range(20, 300)),
            partition_for: (10, rng.range(30, 400)),
            pause_for: (5, rng.range(20, 300)),
            write_every: (0, rng.range(1, 6)),
            clients: 1 + rng.below(5),
            persist_latency: (0, rng.range(0, 6)),
            // Drawn last, so the draws above stay what they were for each seed.
            snap_count: [8, 20, 50, 100][rng.below(4)],
            snap_retain: [0, 1, 5, 30][rng.below(4)],
            snap_threshold: [3, 20, 1000][rng.below(3)],
        }
    }
}

#[derive(Debug)]
enum Event {
    Deliver {
        from: ServerId,
        to: ServerId,
        gen: u64,
        msg: Message,
    },
    /// `to` learns that its connection to `peer` (generation `gen`) broke.
    Notice {
        to: ServerId,
        peer: ServerId,
        gen: u64,
    },
    PersistDone {
        member: usize,
        incarnation: u64,
    },
    Restart {
        member: usize,
    },
    Fault,
    Heal,
    Write,
    Client {
        client: usize,
    },
    /// A client's sync request reaches member `member` (held while it is paused). `need`: the
    /// history prefix holding every write acknowledged when the client sent it.
    ClientSync {
        member: usize,
        need: usize,
    },
}

#[derive(Debug)]
struct Scheduled {
    at: i64,
    seq: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

#[derive(Debug)]
struct Member {
    id: ServerId,
    replica: Option<Replica>,
    disk: DurableState,
    queue: VecDeque<(u64, PersistOp)>,
    incarnation: u64,
    /// The process is stopped (a GC pause, SIGSTOP) until then: nothing runs, its disk is
    /// idle, messages to it wait in its socket buffers.
    paused_until: i64,
    tree: DataTree,
    applied: usize,
    /// Sessions of the txns this member applied, with their timeouts.
    sessions: BTreeMap<i64, i32>,
    sync_errors: u64,
}

/// What a finished run saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Summary {
    pub(crate) members: usize,
    pub(crate) steps: u64,
    pub(crate) committed: usize,
    pub(crate) acked: usize,
    pub(crate) epochs: usize,
    pub(crate) crashes: u64,
    pub(crate) partitions: u64,
    pub(crate) pauses: u64,
    /// Sessions created, and closed by the leader's expiry.
    pub(crate) sessions: usize,
    pub(crate) expired: usize,
    pub(crate) ephemerals: usize,
    /// Syncs that succeeded (each checked against the writes acknowledged before it).
    pub(crate) syncs: u64,
    /// Reconfigs proposed (an observer made a voter or back).
    pub(crate) reconfigs: u64,
    /// Snapshots taken, and restored (at a restart or from a SNAP sync).
    pub(crate) snapshots: u64,
    pub(crate) restores: u64,
    pub(crate) end_ms: i64,
}

/// One simulated run.
#[derive(Debug)]
pub(crate) struct Sim {
    cfg: SimConfig,
    rng: Rng,
    /// Draws reconfigs (apart, so the other draws of a seed stay as they were).
    reconfig_rng: Rng,
    now: i64,
    seq: u64,
    events: BinaryHeap<Reverse<Scheduled>>,
    net: Network,
    members: Vec<Member>,
    checker: Checker,
    /// Writes proposed on a leader and not yet answered: (member, zxid) -> incarnation.
    in_flight: BTreeMap<(usize, i64), u64>,
    writes: u64,
    settling: bool,
    clients: Vec<clients::Client>,
    next_session: i64,
    /// Writes forwarded by a member to the leader, by path: (member, incarnation).
    forwards: BTreeMap<String, (usize, u64)>,
    /// Syncs under way: id -> (member, incarnation, history prefix it must have applied).
    syncs: BTreeMap<u64, (usize, u64, usize)>,
    next_sync: u64,
    summary: Summary,
    /// The committed state replayed up to a history position (checks restored snapshots).
    reference: Option<(usize, DataTree, BTreeMap<i64, i32>)>,
    /// The last steps, for a failure report (kept only when tracing: a failing seed is
    /// replayed with it on).
    trace: Option<VecDeque<String>>,
}

fn replica_config(id: ServerId, sim: &SimConfig) -> ReplicaConfig {
    let v = sim.members as ServerId;
    let mut cfg =
        ReplicaConfig::fast(id, 1..=v).with_quorum(reconfig::initial(sim.members, sim.observers));
    cfg.snap_count = sim.snap_count;
    cfg.snap_retain = sim.snap_retain;
    cfg.snap_threshold = sim.snap_threshold;
    cfg
}

impl Sim {
    pub(crate) fn new(seed: u64) -> Sim {
        Sim::with_config(seed, SimConfig::from_seed(seed))
    }

    pub(crate) fn with_config(seed: u64, cfg: SimConfig) -> Sim {
        let members = (1..=(cfg.members + cfg.observers) as ServerId)
            .map(|id| Member {
                id,
                replica: None,
                disk: DurableState::default(),
                queue: VecDeque::new(),
                incarnation: 0,
                paused_until: 0,
                tree: DataTree::new(),
                applied: 0,
                sessions: Default::default(),
                sync_errors: 0,
            })
            .collect();
        let summary = Summary {
            members: cfg.members,
            ..Summary::default()
        };
        Sim {
            cfg,
            rng: Rng::new(seed),
            reconfig_rng: Rng::new(seed ^ 0x5eed_c0f1),
            now: 0,
            seq: 0,
            events: BinaryHeap::new(),
            net: Network::default(),
            members,
            checker: Checker::default(),
            in_flight: BTreeMap::new(),
            writes: 0,
            settling: false,
            clients: Vec::new(),
            next_session: 0x100,
            forwards: BTreeMap::new(),
            syncs: BTreeMap::new(),
            next_sync: 0,
            summary,
            reference: None,
            trace: None,
        }
    }

    /// Keeps the last steps for [`Sim::trace`].
    pub(crate) fn traced(mut self) -> Sim {
        self.trace = Some(VecDeque::new());
        self
    }

    /// The last steps of the run, oldest first.
    pub(crate) fn trace(&self) -> Vec<String> {
        self.trace.iter().flatten().cloned().collect()
    }

    fn note(&mut self, line: impl FnOnce() -> String) {
        let now = self.now;
        if let Some(trace) = &mut self.trace {
            if trace.len() == 5000 {
                trace.pop_front();
            }
            trace.push_back(format!("{now:>6} {}", line()));
        }
    }

    fn schedule(&mut self, at: i64, event: Event) {
        self.seq += 1;
        self.events.push(Reverse(Scheduled {
            at,
            seq: self.seq,
            event,
        }));
    }

    fn after(&mut self, range: (i64, i64), event: Event) {
        let at = self.now + self.rng.range(range.0, range.1);
        self.schedule(at, event);
    }

    /// Runs to the end: faults for `duration_ms`, then heals and waits for convergence.
    pub(crate) fn run(&mut self) -> Result<Summary, String> {
        for i in 0..self.members.len() {
            self.start_member(i)?;
        }
        self.after(self.cfg.fault_every, Event::Fault);
        self.after(self.cfg.write_every, Event::Write);
        self.start_clients(self.cfg.clients);
        let end = self.cfg.duration_ms + self.cfg.settle_ms;
        loop {
            let next_event = self.events.peek().map_or(i64::MAX, |e| e.0.at);
            let (timer_at, timer_member) = self.next_timer();
            let at = next_event.min(timer_at);
            if at > end {
                return Err(format!(
                    "no convergence {} ms after the faults stopped: {}",
                    self.cfg.settle_ms,
                    self.describe()
                ));
            }
            self.now = self.now.max(at);
            self.summary.steps += 1;
            // On a tie the event goes first: a resumed process may serve the requests waiting
            // in its sockets before its overdue timers run.
            if timer_at < next_event {
                if let Some(r) = self.members[timer_member].replica.as_mut() {
                    r.tick(self.now);
                }
                self.drain(timer_member)?;
            } else {
                let Reverse(s) = self.events.pop().expect("peeked");
                // A paused member's events wait, keeping their order (their original sequence
                // numbers order them among everything else due at its resume time).
                let held = self
                    .target(&s.event)
                    .map(|i| self.members[i].paused_until)
                    .filter(|&until| until > self.now);
                if let Some(until) = held {
                    self.events.push(Reverse(Scheduled { at: until, ..s }));
                    continue;
                }
                self.handle(s.event)?;
            }
            self.check_step()?;
            if !self.settling && self.now >= self.cfg.duration_ms {
                self.start_settling()?;
            }
            if self.settling && self.converged() {
                self.final_check()?;
                self.summary.committed = self.checker.history.len();
                self.summary.acked = self.checker.acked.len();
                self.summary.epochs = self.checker.leaders.len();
                self.summary.end_ms = self.now;
                for t in &self.checker.history {
                    match &t.txn {
                        Txn::CreateSession { .. } => self.summary.sessions += 1,
                        Txn::CloseSession { .. } if t.session_id == 0 => self.summary.expired += 1,
                        Txn::Create {
                            ephemeral_owner, ..
                        } if *ephemeral_owner > 0 => self.summary.ephemerals += 1,
                        _ => {}
                    }
                }
                return Ok(self.summary.clone());
            }
        }
    }

    fn next_timer(&self) -> (i64, usize) {
        let mut best = (i64::MAX, 0);
        for (i, m) in self.members.iter().enumerate() {
            if let Some(r) = &m.replica {
                let t = r.next_timeout().max(m.paused_until);
                if t < best.0 {
                    best = (t, i);
                }
            }
        }
        best
    }

    fn index_of(&self, id: ServerId) -> usize {
        (id - 1) as usize
    }

    fn start_member(&mut self, i: usize) -> Result<(), String> {
        let m = &mut self.members[i];
        let cfg = replica_config(m.id, &self.cfg);
        m.replica = Some(Replica::new(cfg, m.disk.clone(), self.now));
        m.tree = DataTree::new();
        m.applied = 0;
        m.sessions.clear();
        let id = m.id;
        self.note(|| format!("start {id}"));
        self.drain(i)
    }

    /// The member an event runs on, if it is one that a paused process must hold.
    fn target(&self, event: &Event) -> Option<usize> {
        match event {
            Event::Deliver { to, .. } | Event::Notice { to, .. } => Some(self.index_of(*to)),
            Event::PersistDone { member, .. } | Event::ClientSync { member, .. } => Some(*member),
            _ => None,
        }
    }

    fn handle(&mut self, event: Event) -> Result<(), String> {
        match event {
            Event::Deliver { from, to, gen, msg } => {
                let i = self.index_of(to);
                if self.members[i].replica.is_none() {
                    return Ok(());
                }
                let Some(broke) = self.net.receive(from, to, gen) else {
                    return Ok(());
                };
                let now = self.now;
                self.note(|| format!("{from}->{to} {}", short(&msg)));
                let r = self.members[i].replica.as_mut().expect("up");
                if broke {
                    r.disconnected(from, now);
                }
                r.step(from, msg, now);
                self.drain(i)
            }
            Event::Notice { to, peer, gen } => {
                let i = self.index_of(to);
                if self.members[i].replica.is_none() || !self.net.notice(peer, to, gen) {
                    return Ok(());
                }
                self.note(|| format!("{to} notices its link to {peer} broke"));
                let now = self.now;
                if let Some(r) = self.members[i].replica.as_mut() {
                    r.disconnected(peer, now);
                }
                self.drain(i)
            }
            Event::PersistDone {
                member,
                incarnation,
            } => self.persist_done(member, incarnation),
            Event::Restart { member } => {
                if self.members[member].replica.is_none() {
                    self.start_member(member)?;
                }
                Ok(())
            }
            Event::Fault => {
                if !self.settling {
                    self.fault()?;
                    self.after(self.cfg.fault_every, Event::Fault);
                }
                Ok(())
            }
            Event::Heal => {
                self.note(|| "heal".into());
                self.net.heal_all();
                Ok(())
            }
            Event::Client { client } => self.client_step(client),
            Event::ClientSync { member, need } => self.start_sync(member, need),
            Event::Write => {
                if !self.settling {
                    self.write()?;
                    self.maybe_reconfig()?;
                    self.after(self.cfg.write_every, Event::Write);
                }
                Ok(())
            }
        }
    }

    /// An fsync finished: every op queued so far is durable (group commit).
    fn persist_done(&mut self, i: usize, incarnation: u64) -> Result<(), String> {
        let m = &mut self.members[i];
        if m.incarnation != incarnation || m.replica.is_none() {
            return Ok(());
        }
        let mut last = None;
        while let Some((seq, op)) = m.queue.pop_front() {
            self.checker.on_persist(m.id, &m.disk, &op)?;
            m.disk.apply(&op);
            last = Some(seq);
        }
        let now = self.now;
        if let (Some(seq), Some(r)) = (last, m.replica.as_mut()) {
            r.persisted(seq, now);
        }
        self.drain(i)
    }

    fn drain(&mut self, i: usize) -> Result<(), String> {
        loop {
            let Some(r) = self.members[i].replica.as_mut() else {
                return Ok(());
            };
            let outputs = r.take_outputs();
            if outputs.is_empty() {
                break;
            }
            self.carry_out(i, outputs)?;
        }
        // A member that no longer leads answers its pending writes with a connection loss.
        let leads = self.members[i]
            .replica
            .as_ref()
            .is_some_and(|r| r.established_epoch().is_some());
        if !leads {
            self.in_flight.retain(|(m, _), _| *m != i);
        }
        let synced = self.members[i]
            .replica
            .as_ref()
            .is_some_and(|r| r.synced_leader().is_some());
        if !leads && !synced {
            self.forwards.retain(|_, (m, _)| *m != i);
        }
        Ok(())
    }

    fn carry_out(&mut self, i: usize, outputs: Vec<Output>) -> Result<(), String> {
        let id = self.members[i].id;
        for out in outputs {
            match out {
                Output::TakeSnapshot { zxid } => self.take_snapshot(i, zxid)?,
                Output::Restore(s) => self.restore(i, &s)?,
                Output::Send { to, msg } => self.transmit(id, to, msg),
                Output::Persist { seq, op } => {
                    let m = &mut self.members[i];
                    m.queue.push_back((seq, op));
                    if m.queue.len() == 1 {
                        let incarnation = m.incarnation;
                        self.after(
                            self.cfg.persist_latency,
                            Event::PersistDone {
                                member: i,
                                incarnation,
                            },
                        );
                    }
                }
                Output::Apply(txn) => self.apply(i, txn)?,
                Output::Established { epoch } => {
                    self.note(|| format!("{id} leads epoch {epoch}"));
                    self.checker.on_established(epoch, id)?;
                }
                Output::Role(state) => self.note(|| format!("{id} is {state:?}")),
                Output::Request {
                    session_id,
                    payload,
                    ..
                } => self.forwarded_write(i, session_id, &payload)?,
                Output::Synced { id: sync, ok } => self.synced(i, sync, ok)?,
                Output::Reconfigured(_) => {}
            }
        }
        Ok(())
    }

    fn transmit(&mut self, from: ServerId, to: ServerId, msg: Message) {
        let up = self.members[self.index_of(to)].replica.is_some();
        let fate = self
            .net
            .send(&self.cfg.net, &mut self.rng, self.now, from, to, up);
        match fate {
            Fate::Deliver { at, gen } => self.schedule(at, Event::Deliver { from, to, gen, msg }),
            Fate::Broken { gen, notice_at } => {
                self.note(|| format!("{from}->{to} lost {}, link broken", short(&msg)));
                if let Some(at) = notice_at {
                    self.schedule(
                        at,
                        Event::Notice {
                            to,
                            peer: from,
                            gen,
                        },
                    );
                    self.schedule(
                        at,
                        Event::Notice {
                            to: from,
                            peer: to,
                            gen,
                        },
                    );
                }
            }
            Fate::Dropped => {}
        }
    }

    fn apply(&mut self, i: usize, txn: LoggedTxn) -> Result<(), String> {
        let m = &mut self.members[i];
        self.checker.on_apply(m.id, m.applied, &txn)?;
        match &txn.txn {
            Txn::CreateSession {
                session_id,
                timeout_ms,
            } => {
                m.sessions.insert(*session_id, *timeout_ms);
            }
            Txn::CloseSession { session_id } => {
                m.sessions.remove(session_id);
            }
            Txn::Create {
                ephemeral_owner, ..
            } if *ephemeral_owner > 0 && !m.sessions.contains_key(ephemeral_owner) => {
                return Err(format!(
                    "member {} applied an ephemeral of session {ephemeral_owner:#x}, not open",
                    m.id
                ));
            }
            _ => {}
        }
        m.tree.apply(&txn.txn, txn.zxid, txn.time);
        m.applied += 1;
        let incarnation = m.incarnation;
        self.client_sees(&txn.txn);
        if let Txn::Create { path, .. } = &txn.txn {
            if self.forwards.get(path) == Some(&(i, incarnation)) {
                self.forwards.remove(path);
                let voters = self.cfg.members;
                let disks: Vec<&DurableState> =
                    self.members[..voters].iter().map(|m| &m.disk).collect();
                self.checker.on_ack(txn.zxid, &disks, voters)?;
            }
        }
        if self.in_flight.get(&(i, txn.zxid)) == Some(&incarnation) {
            self.in_flight.remove(&(i, txn.zxid));
            let voters = self.cfg.members;
            let disks: Vec<&DurableState> =
                self.members[..voters].iter().map(|m| &m.disk).collect();
            self.checker.on_ack(txn.zxid, &disks, self.cfg.members)?;
        }
        Ok(())
    }

    fn check_step(&mut self) -> Result<(), String> {
        for m in &self.members {
            let Some(r) = &m.replica else { continue };
            r.check_invariants()
                .map_err(|e| format!("member {}: {e}", m.id))?;
            if m.sync_errors + r.stats().sync_errors > 0 {
                return Err(format!("member {} could not apply a sync", m.id));
            }
            if let Some(epoch) = r.established_epoch() {
                if self.checker.leaders.get(&epoch) != Some(&m.id) {
                    return Err(format!(
                        "member {} leads epoch {epoch}, established by {:?}",
                        m.id,
                        self.checker.leaders.get(&epoch)
                    ));
                }
            }
        }
        Ok(())
    }

    fn converged(&self) -> bool {
        let leaders: Vec<&Member> = self
            .members
            .iter()
            .filter(|m| {
                m.replica
                    .as_ref()
                    .is_some_and(|r| r.established_epoch().is_some())
            })
            .collect();
        let [leader] = leaders[..] else {
            return false;
        };
        let lr = leader.replica.as_ref().expect("up");
        // Clients went quiet: every session must expire.
        lr.sessions().is_empty()
            && lr.committed() == lr.last_zxid()
            && self.members.iter().all(|m| {
                m.queue.is_empty()
                    && m.applied == self.checker.history.len()
                    && m.replica.as_ref().is_some_and(|r| {
                        r.id() == leader.id || r.synced_leader() == Some(leader.id)
                    })
            })
    }

    fn final_check(&self) -> Result<(), String> {
        self.checker.check_acked()?;
        let first = &self.members[0];
        for m in &self.members {
            self.check_disk(m)?;
            if m.tree != first.tree {
                return Err(format!("member {}'s tree differs from member 1's", m.id));
            }
            m.tree.check_invariants()?;
            if !m.sessions.is_empty() || !m.tree.all_ephemerals().is_empty() {
                return Err(format!(
                    "member {} keeps sessions {:?} and ephemerals {:?} after every expiry",
                    m.id,
                    m.sessions,
                    m.tree.all_ephemerals()
                ));
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        let states: Vec<String> = self
            .members
            .iter()
            .map(|m| match &m.replica {
                None => format!("{}: down", m.id),
                Some(r) => format!(
                    "{}: {:?} epochs {:?} last {:#x} committed {:#x} applied {} sessions {:?} queue {}",
                    m.id,
                    r.state(),
                    r.epochs(),
                    r.last_zxid(),
                    r.committed(),
                    m.applied,
                    r.sessions().iter().map(|(id, s)| (id, s.closing)).collect::<Vec<_>>(),
                    m.queue.len()
                ),
            })
            .collect();
        format!(
            "history {}; {}",
            self.checker.history.len(),
            states.join("; ")
        )
    }
}

/// A message in a few words, for the trace.
fn short(msg: &Message) -> String {
    match msg {
        Message::Sync { mode, entries, .. } => format!("Sync {mode:?} +{}", entries.len()),
        Message::Proposal { entry, .. } => format!("Proposal {:#x}", entry.zxid),
        other => format!("{other:?}"),
    }
}
