//! The client-serving ensemble member, sans-IO: a [`ServerCore`] in replicated mode as the
//! state machine, driven by a [`Replica`].
//!
//! - Writes, createSession and closeSession of this member's clients are forwarded to the
//!   leader ([`Replica::forward`]); the leader's member prepares each into exactly one txn
//!   against its tree and outstanding changes ([`ServerCore::prepare_forwarded`], for the
//!   zxid [`Replica::next_zxid`] gives) and proposes it. Every member applies every committed
//!   txn ([`ServerCore::apply_committed`]), which fires watches and answers this member's
//!   pending request the txn belongs to.
//! - Reads are served locally behind the session's pending requests; `sync` goes through
//!   [`Replica::sync`]. Every client packet touches its session ([`Replica::touch`]).
//! - While the member has no leader (it is not a synced follower or an established leader)
//!   it closes every client connection and refuses new ones, or, with
//!   `readonlymode.enabled`, serves read-only sessions to clients that accept them.
//! - The leader deletes expired containers and TTL nodes (ZooKeeper's ContainerManager) every
//!   `container_check_interval_ms`.
//!
//! The driver feeds client bytes ([`Member::connect`], [`Member::frame`], ...), peer messages
//! ([`Member::step`], [`Member::disconnected`]), time ([`Member::tick`] at
//! [`Member::next_timeout`]) and durability ([`Member::persisted`]); it takes client outputs
//! from [`Member::core_mut`] and peer sends and persist ops from
//! [`Member::take_peer_outputs`].

use std::net::SocketAddr;

use zk_proto::ConnectRequest;

use crate::core::{CoreConfig, Forward, Forwarded, ServerCore};
use crate::replication::{DurableState, Message, Output, Replica, ReplicaConfig, ServerId};
use crate::watch::ConnId;

/// Whether a member serves clients now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Serving {
    /// No leader: connections are refused.
    #[default]
    No,
    /// Synced with an established leader (or leading one): reads and writes.
    ReadWrite,
    /// Cut off from the quorum with `readonlymode.enabled`: read-only sessions only.
    ReadOnly,
}

/// One ensemble member (see the module docs).
#[derive(Debug)]
pub struct Member {
    core: ServerCore,
    replica: Replica,
    read_only_mode: bool,
    serving: Serving,
    peer_out: Vec<Output>,
    /// When the leader next deletes expired containers and TTL nodes.
    next_container_check: i64,
}

impl Member {
    /// A member starting from its durable state. The core's session ids carry the member's
    /// id in their top byte; `core.secret` must be the same on every member.
    pub fn new(
        mut replica: ReplicaConfig,
        mut core: CoreConfig,
        durable: DurableState,
        now: i64,
    ) -> Member {
        // As ZooKeeper: without reconfigEnabled the static membership keeps version 0.
        replica.version_initial_config = core.reconfig_enabled;
        core.myid = u8::try_from(replica.id).unwrap_or(u8::MAX);
        core.read_only = false;
        let read_only_mode = core.read_only_mode_enabled;
        let next_container_check = now + core.container_check_interval_ms.max(1);
        let mut m = Member {
            next_container_check,
            core: ServerCore::replicated(core, now),
            replica: Replica::new(replica, durable, now),
            read_only_mode,
            serving: Serving::No,
            peer_out: Vec::new(),
        };
        if let Some(q) = m.replica.quorum_config() {
            let data = bytes::Bytes::from(q.to_string());
            m.core.set_config_node(data, q.version, now);
        }
        m.pump(now);
        m
    }

    /// The state machine.
    pub fn core(&self) -> &ServerCore {
        &self.core
    }

    /// The state machine, to take its client outputs.
    pub fn core_mut(&mut self) -> &mut ServerCore {
        &mut self.core
    }

    /// The replication core.
    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    /// The state machine, at the end (the member is gone).
    pub fn into_core(self) -> ServerCore {
        self.core
    }

    /// This member's id.
    pub fn id(&self) -> ServerId {
        self.replica.id()
    }

    /// Whether it serves clients now.
    pub fn serving(&self) -> Serving {
        self.serving
    }

    /// Takes the peer sends and persist ops produced so far, in order.
    pub fn take_peer_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.peer_out)
    }

    /// When [`Member::tick`] is next due.
    pub fn next_timeout(&self) -> i64 {
        let replica = self.replica.next_timeout();
        let replica = replica.min(self.core.next_local_deadline().unwrap_or(i64::MAX));
        if self.replica.established_epoch().is_some() {
            replica.min(self.next_container_check)
        } else {
            replica
        }
    }

    // ---- clients ----

    /// A new client connection.
    pub fn open(&mut self, conn: ConnId, addr: SocketAddr, now: i64) {
        self.core.open(conn, addr, now);
    }

    /// A connection's ConnectRequest.
    pub fn connect(&mut self, conn: ConnId, req: &ConnectRequest, now: i64) {
        if self.serving == Serving::No {
            tracing::debug!(conn, "no leader: refusing a client");
            self.core.refuse(conn);
            return;
        }
        if req.session_id != 0 {
            self.replica.touch(req.session_id, now);
        }
        self.core.connect(conn, req, now);
        self.pump(now);
    }

    /// A request frame.
    pub fn frame(&mut self, conn: ConnId, frame: &[u8], now: i64) {
        if let Some(session) = self.core.connections().get(&conn).and_then(|c| c.session) {
            self.replica.touch(session, now);
        }
        self.core.frame(conn, frame, now);
        self.pump(now);
    }

    /// A connection closed.
    pub fn closed(&mut self, conn: ConnId) {
        self.core.closed(conn);
    }

    /// Expires a session of the committed history now (through the leader); false if it is
    /// not live here or the member has no leader.
    pub fn expire_session(&mut self, session: i64, now: i64) -> bool {
        if !self.core.sessions().is_live(session) {
            return false;
        }
        let ok = self
            .replica
            .forward(session, Forwarded::Expire.encode(), now);
        self.pump(now);
        ok
    }

    // ---- peers, time, disk ----

    /// A message from a peer.
    pub fn step(&mut self, from: ServerId, msg: Message, now: i64) {
        self.replica.step(from, msg, now);
        self.pump(now);
    }

    /// The connection with `peer` broke.
    pub fn disconnected(&mut self, peer: ServerId, now: i64) {
        self.replica.disconnected(peer, now);
        self.pump(now);
    }

    /// Timers due at `now`.
    pub fn tick(&mut self, now: i64) {
        self.replica.tick(now);
        self.core.expire_local_sessions(now);
        if now >= self.next_container_check {
            self.next_container_check = now + self.core.config().container_check_interval_ms.max(1);
            self.delete_expired_containers(now);
        }
        self.pump(now);
    }

    /// Leader: proposes the deletes ZooKeeper's ContainerManager would make now.
    fn delete_expired_containers(&mut self, now: i64) {
        if self.replica.established_epoch().is_none() {
            return;
        }
        for path in self.core.container_candidates(now) {
            let Some(zxid) = self.replica.next_zxid() else {
                return;
            };
            if let Some(txn) = self.core.prepare_container_delete(path, zxid) {
                tracing::debug!(?txn, "deleting an expired container or TTL node");
                if self.replica.propose(0, txn, now).is_none() {
                    self.core.clear_pending();
                    return;
                }
            }
        }
    }

    /// Persist ops up to `seq` are durable.
    pub fn persisted(&mut self, seq: u64, now: i64) {
        self.replica.persisted(seq, now);
        self.pump(now);
    }

    /// Moves work between the two cores until both are quiet.
    fn pump(&mut self, now: i64) {
        loop {
            let forwards = self.core.take_forwards();
            let outputs = self.replica.take_outputs();
            if forwards.is_empty() && outputs.is_empty() {
                break;
            }
            for f in forwards {
                match f {
                    Forward::Request {
                        session_id,
                        payload,
                    } => {
                        if !self.replica.forward(session_id, payload, now) {
                            self.core.session_lost(session_id);
                        }
                    }
                    Forward::Sync { id } => {
                        if !self.replica.sync(id, now) {
                            self.core.synced(id, false, now);
                        }
                    }
                }
            }
            for out in outputs {
                match out {
                    Output::Reconfigured(ref q) => {
                        // A reconfig's txn set the node already; the initial config's
                        // version is set here.
                        self.show_config(q, now);
                        self.peer_out.push(out);
                    }
                    Output::TakeSnapshot { zxid } => {
                        if self.core.last_zxid() == zxid {
                            let data = self.core.snapshot_bytes();
                            self.replica.snapshot_taken(zxid, data);
                        } else {
                            tracing::error!(
                                zxid,
                                applied = self.core.last_zxid(),
                                "snapshot asked at another zxid than the applied one"
                            );
                        }
                    }
                    Output::Restore(snapshot) => {
                        match self.core.restore_snapshot(&snapshot.data, now) {
                            Ok(_) => {
                                if let Some(q) = self.replica.quorum_config().cloned() {
                                    self.show_config(&q, now);
                                }
                            }
                            Err(e) => tracing::error!(
                                error = %e,
                                zxid = snapshot.zxid,
                                "cannot restore a snapshot the replica accepted"
                            ),
                        }
                        self.update_serving();
                    }
                    Output::Send { .. } | Output::Persist { .. } => self.peer_out.push(out),
                    Output::Apply(txn) => self.core.apply_committed(&txn, now),
                    Output::Request {
                        session_id,
                        payload,
                        ..
                    } => self.propose_forwarded(session_id, &payload, now),
                    Output::Synced { id, ok } => self.core.synced(id, ok, now),
                    Output::Established { .. } | Output::Role(_) => self.update_serving(),
                }
            }
        }
        self.update_serving();
    }

    /// Sets `/zookeeper/config` to `q` unless it shows it already.
    fn show_config(&mut self, q: &crate::replication::QuorumConfig, now: i64) {
        let data = bytes::Bytes::from(q.to_string());
        let node = self.core.tree().get(crate::tree::CONFIG_NODE);
        if node.and_then(|n| n.data.as_ref()) != Some(&data) {
            self.core.set_config_node(data, q.version, now);
        }
    }

    /// Leader: turns a forwarded request into its txn and proposes it.
    fn propose_forwarded(&mut self, session_id: i64, payload: &[u8], now: i64) {
        let Some(zxid) = self.replica.next_zxid() else {
            // No longer leading: the forwarding member loses its leader too.
            return;
        };
        let live = self.replica.sessions().is_live(session_id);
        let replica = &self.replica;
        let reconfig = |r: &zk_proto::ReconfigRequest| {
            replica
                .prepare_reconfig(
                    r.joining_servers.as_deref(),
                    r.leaving_servers.as_deref(),
                    r.new_members.as_deref(),
                    r.cur_config_id,
                    zxid,
                )
                .map(|next| bytes::Bytes::from(next.to_string()))
        };
        let (session, cxid, txn) = self
            .core
            .prepare_forwarded_with(session_id, payload, live, zxid, &reconfig);
        match self.replica.propose_request(session, cxid, txn, now) {
            Some(z) if z == zxid => {}
            Some(z) => tracing::error!(zxid, z, "a txn was proposed with another zxid"),
            None => self.core.clear_pending(),
        }
    }

    fn update_serving(&mut self) {
        let led =
            self.replica.established_epoch().is_some() || self.replica.synced_leader().is_some();
        let next = if led {
            Serving::ReadWrite
        } else if self.read_only_mode {
            Serving::ReadOnly
        } else {
            Serving::No
        };
        if next == self.serving {
            return;
        }
        tracing::info!(id = self.id(), from = ?self.serving, to = ?next, "member serving state");
        if self.serving != Serving::No {
            self.core.leader_lost();
        } else {
            self.core.clear_pending();
        }
        self.core.set_read_only(next == Serving::ReadOnly);
        self.serving = next;
    }
}
