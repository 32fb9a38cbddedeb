//! A replicating member over TCP: a thin tokio driver around [`Replica`].
//!
//! It replicates txns without a client layer (tests of the bare core over sockets); the peer
//! connections are the member transport's ([`super::transport`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::transport::{Inbound, PeerEvent, PeerInput, Transport};
use crate::replication::{DurableState, Output, PeerState, Replica, ReplicaConfig, ServerId};
use crate::txn::{LoggedTxn, Txn};

/// What a member shows its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeState {
    /// Its role.
    pub role: PeerState,
    /// The epoch it leads with a synced quorum, if it does.
    pub established: Option<u32>,
    /// Committed txns applied since it started or since the snapshot it last restored (a
    /// restart applies its log after its newest snapshot again).
    pub applied: Vec<LoggedTxn>,
    /// The zxid of the last snapshot it restored (0: none).
    pub restored: i64,
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
            restored: 0,
        };
        let (state_tx, state) = watch::channel(initial);
        let mut tasks = JoinSet::new();
        let sink = std::sync::Arc::new(move |e: PeerEvent| events_tx.send(e).is_ok());
        let transport = Transport::start(id, listener, &peers, sink, &mut tasks);
        let driver = Driver {
            replica,
            epoch,
            disk: disk.clone(),
            transport,
            inbound: Inbound::default(),
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
    transport: Transport,
    inbound: Inbound,
    state: watch::Sender<NodeState>,
}

impl Driver {
    fn now(&self) -> i64 {
        self.epoch.elapsed().as_millis() as i64
    }

    async fn run(
        mut self,
        mut events: mpsc::UnboundedReceiver<PeerEvent>,
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

    fn event(&mut self, event: PeerEvent) {
        let now = self.now();
        match self.inbound.input(event) {
            Some(PeerInput::Message(from, msg)) => self.replica.step(from, msg, now),
            Some(PeerInput::Reconnected(from, msg)) => {
                self.replica.disconnected(from, now);
                self.replica.step(from, msg, now);
            }
            Some(PeerInput::Disconnected(peer)) => self.replica.disconnected(peer, now),
            None => {}
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
                    Output::Send { to, msg } => self.transport.send(to, &msg),
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
                    // The state machine is the applied list: a snapshot records only its zxid
                    // (an empty tree and no sessions in the snapshot format).
                    Output::TakeSnapshot { zxid } => {
                        let data = crate::storage::encode_snapshot_file(
                            zxid,
                            &crate::tree::DataTree::new(),
                            &[],
                        );
                        self.replica.snapshot_taken(zxid, data);
                    }
                    Output::Restore(s) => self.state.send_modify(|st| {
                        st.applied.clear();
                        st.restored = s.zxid;
                    }),
                    Output::Established { .. } | Output::Role(_) => changed = true,
                    // No client layer yet: forwarded writes and syncs have no origin here.
                    Output::Request { .. } | Output::Synced { .. } => {}
                    Output::Reconfigured(_) => changed = true,
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
