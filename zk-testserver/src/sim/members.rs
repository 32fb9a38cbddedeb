//! Deterministic simulation of client-serving members ([`Member`]) with simulated clients
//! speaking the client protocol to them, under a seeded network (delays, broken connections,
//! partitions) and seeded crashes that lose what was not durable.
//!
//! Clients attach to random members, create persistent and ephemeral nodes, read their own
//! writes, sync, drop connections and move their sessions, and sometimes die. Checked after
//! every step: each member's and replica's invariants, and each connection's replies in
//! request order; reads of a session see its acknowledged writes; periodically and at the end,
//! every acknowledged write is in the tree of every member that applied past its zxid. At
//! the end (faults healed, clients gone quiet) every member serves under one leader with the
//! same tree, no session and no ephemeral left.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use zk_proto::{
    Acl, ConnectRequest, CreateRequest, ErrorCode, ExistsRequest, Jute, Request, RequestHeader,
    Response, SyncRequest,
};

use super::rng::Rng;
use crate::core::{CoreConfig, Output as ClientOut};
use crate::member::{Member, Serving};
use crate::replication::{DurableState, Message, Output, PersistOp, ReplicaConfig, ServerId};
use crate::watch::ConnId;

/// What one run saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MemberSummary {
    pub(crate) acked_writes: u64,
    pub(crate) reads: u64,
    pub(crate) syncs: u64,
    pub(crate) sessions: u64,
    pub(crate) crashes: u64,
    pub(crate) partitions: u64,
    /// Snapshots persisted, and SNAP syncs of a snapshot installed.
    pub(crate) snapshots: u64,
    pub(crate) installs: u64,
}

#[derive(Debug)]
enum Ev {
    Deliver {
        from: ServerId,
        to: ServerId,
        gen: u64,
        msg: Message,
    },
    Notice {
        to: ServerId,
        peer: ServerId,
    },
    PersistDone {
        node: usize,
        incarnation: u64,
    },
    Restart {
        node: usize,
    },
    Fault,
    Heal,
    Client {
        client: usize,
    },
}

#[derive(Debug)]
struct At(i64, u64, Ev);

impl PartialEq for At {
    fn eq(&self, o: &Self) -> bool {
        (self.0, self.1) == (o.0, o.1)
    }
}
impl Eq for At {}
impl PartialOrd for At {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for At {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.0, self.1).cmp(&(o.0, o.1))
    }
}

#[derive(Debug)]
struct Node {
    id: ServerId,
    member: Option<Member>,
    disk: DurableState,
    queue: Vec<(u64, PersistOp)>,
    incarnation: u64,
    /// The connection generation seen from each peer.
    seen: BTreeMap<ServerId, u64>,
}

#[derive(Debug, Clone)]
enum Op {
    Create { path: String, ephemeral: bool },
    Exists { path: String },
    Sync,
    Ping,
    Close,
}

#[derive(Debug, Default)]
struct Client {
    node: usize,
    conn: Option<ConnId>,
    /// Waiting for the handshake answer.
    connecting: bool,
    session: Option<(i64, Bytes)>,
    xid: i32,
    outstanding: VecDeque<(i32, Op)>,
    last_zxid: i64,
    created: u64,
    /// Persistent nodes this client's writes created (acknowledged).
    mine: Vec<String>,
    /// Sent closeSession: sends nothing more on this connection.
    closing: bool,
    done: bool,
}

/// One simulated run.
#[derive(Debug)]
pub(crate) struct MemberSim {
    rng: Rng,
    now: i64,
    seq: u64,
    events: BinaryHeap<Reverse<At>>,
    nodes: Vec<Node>,
    /// Connection generation and the last delivery time per directed link.
    links: BTreeMap<(ServerId, ServerId), (u64, i64)>,
    cut: Vec<(ServerId, ServerId)>,
    clients: Vec<Client>,
    conns: BTreeMap<ConnId, usize>,
    next_conn: ConnId,
    /// Acknowledged persistent creates: path and zxid.
    acked: Vec<(String, i64)>,
    settling: bool,
    duration_ms: i64,
    /// The members' `snap_count` (small: snapshots, restores and SNAP syncs of them happen).
    snap_count: u64,
    summary: MemberSummary,
}

const SECRET: [u8; 32] = [9; 32];

fn addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40_000))
}

fn frame(xid: i32, request: &Request) -> Bytes {
    let mut b = BytesMut::new();
    RequestHeader::new(xid, request.op_code()).encode(&mut b);
    request.encode_body(&mut b);
    b.freeze()
}

impl MemberSim {
    pub(crate) fn new(seed: u64) -> MemberSim {
        let mut rng = Rng::new(seed);
        let n = [3, 3, 5][rng.below(3)];
        let nodes = (1..=n)
            .map(|id| Node {
                id,
                member: None,
                disk: DurableState::default(),
                queue: Vec::new(),
                incarnation: 0,
                seen: BTreeMap::new(),
            })
            .collect();
        let clients = (0..1 + rng.below(4)).map(|_| Client::default()).collect();
        let snap_count = [5, 20, 80][rng.below(3)];
        MemberSim {
            rng,
            now: 0,
            seq: 0,
            events: BinaryHeap::new(),
            nodes,
            links: BTreeMap::new(),
            cut: Vec::new(),
            clients,
            conns: BTreeMap::new(),
            next_conn: 1,
            acked: Vec::new(),
            settling: false,
            duration_ms: 1_500,
            snap_count,
            summary: MemberSummary::default(),
        }
    }

    fn after(&mut self, lo: i64, hi: i64, ev: Ev) {
        let at = self.now + self.rng.range(lo, hi);
        self.seq += 1;
        self.events.push(Reverse(At(at, self.seq, ev)));
    }

    fn start_node(&mut self, i: usize) -> Result<(), String> {
        let n = self.nodes.len() as ServerId;
        let node = &mut self.nodes[i];
        let mut cfg = ReplicaConfig::fast(node.id, 1..=n);
        cfg.snap_count = self.snap_count;
        cfg.snap_retain = 3;
        let mut core = CoreConfig::with_tick(cfg.tick_ms);
        core.secret = SECRET;
        core.min_session_timeout_ms = 20;
        core.max_session_timeout_ms = 10_000;
        core.wall_clock_ms = 1_000 + i64::from(node.incarnation as u32);
        node.seen.clear();
        node.member = Some(Member::new(cfg, core, node.disk.clone(), self.now));
        self.drain(i)
    }

    /// Runs faults for `duration_ms`, then heals and lets the ensemble settle.
    pub(crate) fn run(&mut self) -> Result<MemberSummary, String> {
        for i in 0..self.nodes.len() {
            self.start_node(i)?;
        }
        for c in 0..self.clients.len() {
            self.after(1, 20, Ev::Client { client: c });
        }
        self.after(50, 300, Ev::Fault);
        let end = self.duration_ms + 4_000;
        let mut steps = 0u64;
        loop {
            let next_ev = self.events.peek().map_or(i64::MAX, |e| e.0 .0);
            let (timer, node) = self
                .nodes
                .iter()
                .enumerate()
                .filter_map(|(i, n)| n.member.as_ref().map(|m| (m.next_timeout(), i)))
                .min()
                .unwrap_or((i64::MAX, 0));
            let at = next_ev.min(timer);
            if at > end {
                return Err(format!("no convergence: {}", self.describe()));
            }
            self.now = self.now.max(at);
            if timer < next_ev {
                let now = self.now;
                if let Some(m) = self.nodes[node].member.as_mut() {
                    m.tick(now);
                }
                self.drain(node)?;
            } else {
                let Reverse(At(_, _, ev)) = self.events.pop().expect("peeked");
                self.handle(ev)?;
            }
            steps += 1;
            // The full checks walk every tree: every few steps (and at the end).
            if steps % 16 == 0 {
                self.check_step()?;
            }
            if steps % 128 == 0 {
                self.check_acked()?;
            }
            if !self.settling && self.now >= self.duration_ms {
                self.settle()?;
            }
            if self.settling && self.converged() {
                self.check_step()?;
                self.check_acked()?;
                return self.final_check();
            }
        }
    }

    fn settle(&mut self) -> Result<(), String> {
        self.settling = true;
        self.cut.clear();
        for i in 0..self.nodes.len() {
            if self.nodes[i].member.is_none() {
                self.start_node(i)?;
            }
        }
        // Clients go quiet: their sessions must expire.
        for c in 0..self.clients.len() {
            self.clients[c].done = true;
            if let Some(conn) = self.clients[c].conn.take() {
                let node = self.clients[c].node;
                self.conns.remove(&conn);
                if let Some(m) = self.nodes[node].member.as_mut() {
                    m.closed(conn);
                }
            }
        }
        Ok(())
    }

    fn handle(&mut self, ev: Ev) -> Result<(), String> {
        let now = self.now;
        match ev {
            Ev::Deliver { from, to, gen, msg } => {
                let i = (to - 1) as usize;
                if self.links.get(&(from, to)).map(|l| l.0) != Some(gen) {
                    return Ok(());
                }
                let node = &mut self.nodes[i];
                let Some(m) = node.member.as_mut() else {
                    return Ok(());
                };
                let seen = node.seen.get(&from).copied().unwrap_or(0);
                if gen > seen {
                    if seen != 0 {
                        m.disconnected(from, now);
                    }
                    node.seen.insert(from, gen);
                }
                m.step(from, msg, now);
                self.drain(i)
            }
            Ev::Notice { to, peer } => {
                let i = (to - 1) as usize;
                if let Some(m) = self.nodes[i].member.as_mut() {
                    m.disconnected(peer, now);
                }
                self.drain(i)
            }
            Ev::PersistDone { node, incarnation } => {
                let n = &mut self.nodes[node];
                if n.incarnation != incarnation {
                    return Ok(());
                }
                let Some(m) = n.member.as_mut() else {
                    return Ok(());
                };
                let mut last = None;
                for (seq, op) in n.queue.drain(..) {
                    n.disk.apply(&op);
                    last = Some(seq);
                }
                if let Some(seq) = last {
                    m.persisted(seq, now);
                }
                self.drain(node)
            }
            Ev::Restart { node } => {
                if self.nodes[node].member.is_none() {
                    self.start_node(node)?;
                }
                Ok(())
            }
            Ev::Fault => {
                if !self.settling {
                    self.fault()?;
                    self.after(50, 300, Ev::Fault);
                }
                Ok(())
            }
            Ev::Heal => {
                self.cut.clear();
                Ok(())
            }
            Ev::Client { client } => self.client_step(client),
        }
    }

    fn break_link(&mut self, a: ServerId, b: ServerId) {
        for (x, y) in [(a, b), (b, a)] {
            let l = self.links.entry((x, y)).or_insert((1, 0));
            l.0 += 1;
        }
        let delay = self.rng.range(1, 20);
        self.seq += 1;
        let at = self.now + delay;
        self.events
            .push(Reverse(At(at, self.seq, Ev::Notice { to: a, peer: b })));
        self.seq += 1;
        self.events
            .push(Reverse(At(at, self.seq, Ev::Notice { to: b, peer: a })));
    }

    fn fault(&mut self) -> Result<(), String> {
        let n = self.nodes.len();
        let i = self.rng.below(n);
        let id = self.nodes[i].id;
        if self.rng.below(2) == 0 {
            if self.nodes[i].member.take().is_some() {
                self.summary.crashes += 1;
                let node = &mut self.nodes[i];
                node.queue.clear();
                node.incarnation += 1;
                for (&conn, &c) in &self.conns {
                    if self.clients[c].node == i && self.clients[c].conn == Some(conn) {
                        self.clients[c].conn = None;
                        self.clients[c].outstanding.clear();
                    }
                }
                self.conns.retain(|_, c| self.clients[*c].conn.is_some());
                for peer in 1..=n as ServerId {
                    if peer != id {
                        self.break_link(id, peer);
                    }
                }
                self.after(10, 300, Ev::Restart { node: i });
            }
        } else {
            self.summary.partitions += 1;
            for peer in 1..=n as ServerId {
                if peer != id && self.rng.below(2) == 0 {
                    self.cut.push((id, peer));
                    self.break_link(id, peer);
                }
            }
            self.after(20, 400, Ev::Heal);
        }
        Ok(())
    }

    fn is_cut(&self, a: ServerId, b: ServerId) -> bool {
        self.cut.contains(&(a, b)) || self.cut.contains(&(b, a))
    }

    /// Carries out a member's peer and disk outputs and its clients' outputs.
    fn drain(&mut self, i: usize) -> Result<(), String> {
        let Some(m) = self.nodes[i].member.as_mut() else {
            return Ok(());
        };
        let peer_out = m.take_peer_outputs();
        let client_out = m.core_mut().take_outputs();
        let from = self.nodes[i].id;
        for out in peer_out {
            match out {
                Output::Send { to, msg } => {
                    let to_up = self.nodes[(to - 1) as usize].member.is_some();
                    if self.is_cut(from, to) || !to_up {
                        // Lost: the sender's transport reports the failed send.
                        let at = self.now + self.rng.range(1, 10);
                        self.seq += 1;
                        self.events.push(Reverse(At(
                            at,
                            self.seq,
                            Ev::Notice { to: from, peer: to },
                        )));
                        continue;
                    }
                    let delay = self.rng.range(0, 6);
                    let l = self.links.entry((from, to)).or_insert((1, 0));
                    let at = (self.now + delay).max(l.1);
                    l.1 = at;
                    let gen = l.0;
                    self.seq += 1;
                    self.events.push(Reverse(At(
                        at,
                        self.seq,
                        Ev::Deliver { from, to, gen, msg },
                    )));
                }
                Output::Persist { seq, op } => {
                    match op {
                        PersistOp::Snapshot(_) => self.summary.snapshots += 1,
                        PersistOp::Install { .. } => self.summary.installs += 1,
                        _ => {}
                    }
                    let node = &mut self.nodes[i];
                    node.queue.push((seq, op));
                    if node.queue.len() == 1 {
                        let incarnation = node.incarnation;
                        self.after(
                            0,
                            4,
                            Ev::PersistDone {
                                node: i,
                                incarnation,
                            },
                        );
                    }
                }
                _ => {}
            }
        }
        for out in client_out {
            self.client_output(out)?;
        }
        Ok(())
    }

    fn client_output(&mut self, out: ClientOut) -> Result<(), String> {
        let conn = match &out {
            ClientOut::Connected { conn, .. }
            | ClientOut::Reply { conn, .. }
            | ClientOut::Event { conn, .. }
            | ClientOut::Close { conn } => *conn,
        };
        let Some(&c) = self.conns.get(&conn) else {
            return Ok(());
        };
        let client = &mut self.clients[c];
        match out {
            ClientOut::Connected { response, .. } => {
                client.connecting = false;
                if response.session_id == 0 {
                    // Expired: a new session next time.
                    client.session = None;
                } else {
                    if client.session.is_none() {
                        self.summary.sessions += 1;
                    }
                    client.session = Some((response.session_id, response.passwd));
                }
            }
            ClientOut::Reply { header, body, .. } => {
                let Some((xid, op)) = client.outstanding.pop_front() else {
                    return Err(format!(
                        "client {c}: reply {} with nothing outstanding",
                        header.xid
                    ));
                };
                if xid != header.xid {
                    return Err(format!(
                        "client {c}: reply for xid {} while xid {xid} is the oldest outstanding",
                        header.xid
                    ));
                }
                if header.zxid < client.last_zxid && matches!(op, Op::Exists { .. }) {
                    return Err(format!(
                        "client {c}: a read at zxid {:#x} after seeing {:#x}",
                        header.zxid, client.last_zxid
                    ));
                }
                client.last_zxid = client.last_zxid.max(header.zxid);
                match (op, header.err) {
                    (Op::Create { path, ephemeral }, ErrorCode::Ok) => {
                        if !ephemeral {
                            client.mine.push(path.clone());
                            self.acked.push((path, header.zxid));
                        }
                        self.summary.acked_writes += 1;
                    }
                    (Op::Exists { path }, err) => {
                        if err != ErrorCode::Ok || !matches!(body, Some(Response::Exists(_))) {
                            return Err(format!(
                                "client {c}: its acknowledged write {path} not visible ({err:?})"
                            ));
                        }
                        self.summary.reads += 1;
                    }
                    (Op::Sync, ErrorCode::Ok) => self.summary.syncs += 1,
                    (Op::Ping, _) => {}
                    (Op::Close, _) => client.session = None,
                    (op, err) => {
                        if err != ErrorCode::SessionExpired {
                            return Err(format!("client {c}: {op:?} failed: {err:?}"));
                        }
                    }
                }
            }
            ClientOut::Event { .. } => {}
            ClientOut::Close { .. } => {
                self.conns.remove(&conn);
                let client = &mut self.clients[c];
                client.conn = None;
                client.connecting = false;
                client.closing = false;
                client.outstanding.clear();
            }
        }
        Ok(())
    }

    fn client_step(&mut self, c: usize) -> Result<(), String> {
        if self.clients[c].done {
            return Ok(());
        }
        self.after(2, 15, Ev::Client { client: c });
        let now = self.now;
        let Some(conn) = self.clients[c].conn else {
            // Connect to a random member, resuming the session if there is one.
            let i = self.rng.below(self.nodes.len());
            if self.nodes[i].member.is_none() {
                return Ok(());
            }
            let conn = self.next_conn;
            self.next_conn += 1;
            let client = &mut self.clients[c];
            let (session_id, passwd) = client.session.clone().unwrap_or((0, Bytes::new()));
            let req = ConnectRequest {
                timeout: 150,
                session_id,
                passwd: if passwd.is_empty() {
                    Bytes::from_static(&[0; 16])
                } else {
                    passwd
                },
                last_zxid_seen: client.last_zxid,
                read_only: Some(false),
                ..Default::default()
            };
            client.node = i;
            client.conn = Some(conn);
            client.connecting = true;
            self.conns.insert(conn, c);
            let m = self.nodes[i].member.as_mut().expect("up");
            m.open(conn, addr(), now);
            m.connect(conn, &req, now);
            return self.drain(i);
        };
        let i = self.clients[c].node;
        if self.clients[c].connecting || self.clients[c].closing {
            return Ok(());
        }
        let roll = self.rng.below(100);
        let client = &mut self.clients[c];
        let op = match roll {
            0 => {
                // Drops its connection (the session moves on the next connect).
                self.conns.remove(&conn);
                client.conn = None;
                client.outstanding.clear();
                if let Some(m) = self.nodes[i].member.as_mut() {
                    m.closed(conn);
                }
                return Ok(());
            }
            1 => {
                client.closing = true;
                Op::Close
            }
            2..=40 => {
                client.created += 1;
                Op::Create {
                    path: format!("/c{c}-{}", client.created),
                    ephemeral: roll > 30,
                }
            }
            41..=80 if !client.mine.is_empty() => {
                let k = self.rng.below(client.mine.len());
                Op::Exists {
                    path: client.mine[k].clone(),
                }
            }
            81..=90 => Op::Sync,
            _ => Op::Ping,
        };
        client.xid += 1;
        let xid = client.xid;
        let request = match &op {
            Op::Create { path, ephemeral } => Request::Create(CreateRequest {
                path: path.clone(),
                data: Some(Bytes::from_static(b"x")),
                acl: Acl::open_unsafe(),
                flags: i32::from(*ephemeral),
            }),
            Op::Exists { path } => Request::Exists(ExistsRequest {
                path: path.clone(),
                watch: false,
            }),
            Op::Sync => Request::Sync(SyncRequest { path: "/".into() }),
            Op::Ping => Request::Ping,
            Op::Close => Request::CloseSession,
        };
        // Pings carry xid -2, and are answered in order like everything else.
        let xid = if matches!(op, Op::Ping) { -2 } else { xid };
        self.clients[c].outstanding.push_back((xid, op));
        let now = self.now;
        if let Some(m) = self.nodes[i].member.as_mut() {
            m.frame(conn, &frame(xid, &request), now);
        }
        self.drain(i)
    }

    fn check_step(&self) -> Result<(), String> {
        // Members that applied the same prefix agree on sessions and ephemerals.
        let mut by_zxid: BTreeMap<i64, (ServerId, Vec<i64>, usize)> = BTreeMap::new();
        for n in &self.nodes {
            let Some(m) = &n.member else { continue };
            m.replica()
                .check_invariants()
                .map_err(|e| format!("member {} replica: {e}", n.id))?;
            m.core()
                .check_invariants()
                .map_err(|e| format!("member {} core: {e}", n.id))?;
            let sessions: Vec<i64> = m.core().sessions().iter().map(|(id, _)| id).collect();
            let ephemerals = m
                .core()
                .tree()
                .all_ephemerals()
                .values()
                .map(|e| e.len())
                .sum();
            let seen = (n.id, sessions, ephemerals);
            match by_zxid.get(&m.core().last_zxid()) {
                Some(first) if (&first.1, first.2) != (&seen.1, seen.2) => {
                    return Err(format!(
                        "members {} and {} applied up to {:#x} but disagree on sessions or \
                         ephemerals: {first:?} / {seen:?}",
                        first.0,
                        n.id,
                        m.core().last_zxid()
                    ));
                }
                Some(_) => {}
                None => {
                    by_zxid.insert(m.core().last_zxid(), seen);
                }
            }
        }
        Ok(())
    }

    /// Every acknowledged write is in every member that applied past it.
    fn check_acked(&self) -> Result<(), String> {
        for n in &self.nodes {
            let Some(m) = &n.member else { continue };
            let applied = m.core().last_zxid();
            for (path, zxid) in &self.acked {
                if *zxid <= applied && m.core().tree().get(path).is_none() {
                    return Err(format!(
                        "member {} applied up to {applied:#x} but lacks {path} (acknowledged at \
                         {zxid:#x})",
                        n.id
                    ));
                }
            }
        }
        Ok(())
    }

    fn converged(&self) -> bool {
        let Some(leader) = self.nodes.iter().find_map(|n| {
            n.member
                .as_ref()
                .filter(|m| m.replica().established_epoch().is_some())
        }) else {
            return false;
        };
        let lr = leader.replica();
        lr.sessions().is_empty()
            && lr.committed() == lr.last_zxid()
            && self.nodes.iter().all(|n| {
                n.queue.is_empty()
                    && n.member.as_ref().is_some_and(|m| {
                        m.serving() == Serving::ReadWrite
                            && m.core().last_zxid() == leader.core().last_zxid()
                    })
            })
    }

    fn final_check(&self) -> Result<MemberSummary, String> {
        let first = self.nodes[0].member.as_ref().expect("up");
        for n in &self.nodes {
            let m = n.member.as_ref().expect("up");
            if m.core().tree() != first.core().tree() {
                return Err(format!("member {}'s tree differs from member 1's", n.id));
            }
            if !m.core().sessions().is_empty() || !m.core().tree().all_ephemerals().is_empty() {
                return Err(format!(
                    "member {} keeps sessions or ephemerals after every expiry",
                    n.id
                ));
            }
        }
        Ok(self.summary)
    }

    fn describe(&self) -> String {
        let states: Vec<String> = self
            .nodes
            .iter()
            .map(|n| match &n.member {
                None => format!("{}: down", n.id),
                Some(m) => format!(
                    "{}: {:?} {:?} applied {:#x} sessions {} queue {}",
                    n.id,
                    m.replica().state(),
                    m.serving(),
                    m.core().last_zxid(),
                    m.core().sessions().len(),
                    n.queue.len()
                ),
            })
            .collect();
        states.join("; ")
    }
}
