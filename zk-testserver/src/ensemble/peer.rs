//! A replicating member over TCP: a thin tokio driver around [`Replica`].
//!
//! Each member sends on its own outgoing connection to every peer (opened on demand, first
//! bytes: its id) and receives on the peers' connections to it. Frames are a 4-byte length
//! and a [`codec`] body. A failed connect or write is a lost message: the core hears
//! `disconnected`; a receiver that sees a new connection from a peer first tells its core the
//! old one broke, so each connection stays a reliable FIFO stream as the core requires.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::replication::{
    codec, DurableState, Message, Output, PeerState, Replica, ReplicaConfig, ServerId,
};
use crate::txn::{LoggedTxn, Txn};

/// Frames above this size close the connection (a peer never sends one that big).
const MAX_FRAME: usize = 64 << 20;

/// What a member shows its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeState {
    /// Its role.
    pub role: PeerState,
    /// The epoch it leads with a synced quorum, if it does.
    pub established: Option<u32>,
    /// Committed txns applied since it started (a restart applies its log again).
    pub applied: Vec<LoggedTxn>,
}

enum Event {
    Frame {
        from: ServerId,
        conn: u64,
        msg: Message,
    },
    Closed {
        from: ServerId,
        conn: u64,
    },
    SendFailed {
        to: ServerId,
    },
}

enum Command {
    Propose(i64, Txn, oneshot::Sender<Option<i64>>),
}

/// A running member; dropping it (or [`PeerNode::kill`]) stops it like `kill -9`.
#[derive(Debug)]
pub struct PeerNode {
    id: ServerId,
    addr: SocketAddr,
    commands: mpsc::UnboundedSender<Command>,
    state: watch::Receiver<NodeState>,
    disk: Arc<Mutex<DurableState>>,
    tasks: JoinSet<()>,
}

impl PeerNode {
    /// Starts member `cfg.id` listening on `listener`, reaching its peers at `peers`, from
    /// `disk` (shared: it keeps what was persisted after the member is killed).
    pub fn start(
        cfg: ReplicaConfig,
        listener: TcpListener,
        peers: BTreeMap<ServerId, SocketAddr>,
        disk: Arc<Mutex<DurableState>>,
    ) -> std::io::Result<PeerNode> {
        let id = cfg.id;
        let addr = listener.local_addr()?;
        let epoch = Instant::now();
        // The disk is only locked briefly and never across an await.
        let durable = disk.lock().map(|d| d.clone()).unwrap_or_default();
        let replica = Replica::new(cfg, durable, 0);
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let initial = NodeState {
            role: replica.state(),
            established: None,
            applied: Vec::new(),
        };
        let (state_tx, state) = watch::channel(initial);
        let mut tasks = JoinSet::new();
        tasks.spawn(accept(listener, events_tx.clone()));
        let mut outbound = BTreeMap::new();
        for (&peer, &peer_addr) in &peers {
            if peer == id {
                continue;
            }
            let (tx, rx) = mpsc::unbounded_channel();
            outbound.insert(peer, tx);
            tasks.spawn(send_loop(id, peer, peer_addr, rx, events_tx.clone()));
        }
        let driver = Driver {
            replica,
            epoch,
            disk: disk.clone(),
            outbound,
            inbound: BTreeMap::new(),
            state: state_tx,
        };
        tasks.spawn(driver.run(events_rx, commands_rx));
        Ok(PeerNode {
            id,
            addr,
            commands,
            state,
            disk,
            tasks,
        })
    }

    /// The member's id.
    pub fn id(&self) -> ServerId {
        self.id
    }

    /// The address its peers reach it on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Watches the member's state.
    pub fn state(&self) -> watch::Receiver<NodeState> {
        self.state.clone()
    }

    /// Proposes a txn; `None` unless this member leads an established epoch.
    pub async fn propose(&self, session_id: i64, txn: Txn) -> Option<i64> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Propose(session_id, txn, tx))
            .ok()?;
        rx.await.ok().flatten()
    }

    /// Stops the member at once (its tasks and sockets), returning its disk.
    pub fn kill(mut self) -> Arc<Mutex<DurableState>> {
        self.tasks.abort_all();
        self.disk.clone()
    }
}

struct Driver {
    replica: Replica,
    epoch: Instant,
    disk: Arc<Mutex<DurableState>>,
    outbound: BTreeMap<ServerId, mpsc::UnboundedSender<Bytes>>,
    /// The newest incoming connection seen from each peer.
    inbound: BTreeMap<ServerId, u64>,
    state: watch::Sender<NodeState>,
}

impl Driver {
    fn now(&self) -> i64 {
        self.epoch.elapsed().as_millis() as i64
    }

    async fn run(
        mut self,
        mut events: mpsc::UnboundedReceiver<Event>,
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) {
        self.flush();
        loop {
            let at = self.replica.next_timeout().clamp(0, i64::MAX / 4);
            let deadline = self.epoch + Duration::from_millis(at as u64);
            tokio::select! {
                Some(event) = events.recv() => self.event(event),
                Some(command) = commands.recv() => match command {
                    Command::Propose(session, txn, reply) => {
                        let now = self.now();
                        let _ = reply.send(self.replica.propose(session, txn, now));
                    }
                },
                _ = tokio::time::sleep_until(deadline) => {
                    let now = self.now();
                    self.replica.tick(now);
                }
            }
            self.flush();
        }
    }

    fn event(&mut self, event: Event) {
        let now = self.now();
        match event {
            Event::Frame { from, conn, msg } => {
                let seen = self.inbound.get(&from).copied().unwrap_or(0);
                if conn < seen {
                    return;
                }
                if conn > seen {
                    if seen != 0 {
                        self.replica.disconnected(from, now);
                    }
                    self.inbound.insert(from, conn);
                }
                self.replica.step(from, msg, now);
            }
            Event::Closed { from, conn } => {
                if self.inbound.get(&from) == Some(&conn) {
                    self.replica.disconnected(from, now);
                }
            }
            Event::SendFailed { to } => self.replica.disconnected(to, now),
        }
    }

    /// Carries out the core's outputs.
    fn flush(&mut self) {
        let mut changed = false;
        loop {
            let outputs = self.replica.take_outputs();
            if outputs.is_empty() {
                break;
            }
            for out in outputs {
                match out {
                    Output::Send { to, msg } => {
                        let mut body = BytesMut::new();
                        body.put_u32(0);
                        codec::encode(&msg, &mut body);
                        let len = (body.len() - 4) as u32;
                        body[..4].copy_from_slice(&len.to_be_bytes());
                        if let Some(tx) = self.outbound.get(&to) {
                            let _ = tx.send(body.freeze());
                        }
                    }
                    Output::Persist { seq, op } => {
                        // An in-memory disk: durable as soon as written.
                        if let Ok(mut d) = self.disk.lock() {
                            d.apply(&op);
                        }
                        let now = self.now();
                        self.replica.persisted(seq, now);
                    }
                    Output::Apply(txn) => {
                        self.state.send_modify(|s| s.applied.push(txn));
                    }
                    Output::Established { .. } | Output::Role(_) => changed = true,
                    // No client layer yet: forwarded writes and syncs have no origin here.
                    Output::Request { .. } | Output::Synced { .. } => {}
                }
            }
        }
        if changed {
            let role = self.replica.state();
            let established = self.replica.established_epoch();
            self.state.send_modify(|s| {
                s.role = role;
                s.established = established;
            });
        }
    }
}

async fn accept(listener: TcpListener, events: mpsc::UnboundedSender<Event>) {
    let mut next_conn = 0u64;
    let mut readers = JoinSet::new();
    loop {
        while readers.try_join_next().is_some() {}
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors or similar: back off instead of spinning.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        next_conn += 1;
        readers.spawn(read_loop(stream, next_conn, events.clone()));
    }
}

async fn read_loop(mut stream: TcpStream, conn: u64, events: mpsc::UnboundedSender<Event>) {
    let _ = stream.set_nodelay(true);
    let Ok(from) = stream.read_u64().await else {
        return;
    };
    let mut body = Vec::new();
    while let Ok(len) = stream.read_u32().await {
        let len = len as usize;
        if len > MAX_FRAME {
            tracing::warn!(from, len, "oversized peer frame; closing");
            break;
        }
        body.resize(len, 0);
        if stream.read_exact(&mut body).await.is_err() {
            break;
        }
        match codec::decode(&body) {
            Ok(msg) => {
                if events.send(Event::Frame { from, conn, msg }).is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(from, error = %e, "undecodable peer frame; closing");
                break;
            }
        }
    }
    let _ = events.send(Event::Closed { from, conn });
}

async fn send_loop(
    me: ServerId,
    peer: ServerId,
    addr: SocketAddr,
    mut frames: mpsc::UnboundedReceiver<Bytes>,
    events: mpsc::UnboundedSender<Event>,
) {
    let mut conn: Option<TcpStream> = None;
    while let Some(frame) = frames.recv().await {
        if conn.is_none() {
            match TcpStream::connect(addr).await {
                Ok(mut s) => {
                    let _ = s.set_nodelay(true);
                    if s.write_u64(me).await.is_ok() {
                        conn = Some(s);
                    }
                }
                Err(e) => tracing::trace!(peer, error = %e, "peer unreachable"),
            }
        }
        let sent = match conn.as_mut() {
            Some(s) => s.write_all(&frame).await.is_ok(),
            None => false,
        };
        if !sent {
            conn = None;
            if events.send(Event::SendFailed { to: peer }).is_err() {
                return;
            }
        }
    }
}
