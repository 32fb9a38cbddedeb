//! The server core: sans-IO request handling for every connection of one server.
//!
//! Inputs are method calls carrying bytes or records and the current time (`now`, ms on the
//! server's clock); outputs are [`Output`] values collected in order and taken with
//! [`ServerCore::take_outputs`], plus the txns to persist ([`ServerCore::take_log`]). The core
//! never touches sockets, files or the clock, so tests drive it directly.
//!
//! A connection's life:
//!
//! ```text
//! open -> connect (ConnectRequest) -> frames... -> closed
//!            |                          |
//!            +-> refused: Close         +-> closeSession / auth failure / unknown op: Close
//! ```
//!
//! Writes are prepared ([`crate::prep`]), committed (applied to the tree and the session table,
//! queued for the log) and answered; their watch events are queued *before* the reply, so a
//! client sees the event before the data. Because the core handles one input at a time and
//! outputs keep their order, every connection gets its replies in request order and a read
//! never overtakes its session's earlier writes.

mod auth;
mod config;
mod decode;
mod handshake;
mod reads;
pub mod replicated;
mod snapshot;
pub mod stats;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use zk_proto::{
    AuthPacket, ConnectResponse, Create2Response, CreateResponse, DecodeError, ErrorCode,
    EventType, Id, Jute, KeeperState, MultiResponse, MultiResult, OpCode, ReplyHeader, Request,
    RequestHeader, Response, SetAclResponse, SetDataResponse, WatcherEvent,
};

pub use config::{CoreConfig, Whitelist};
pub use replicated::{Forward, Forwarded};
pub use stats::{ConnStats, ServerStats};

use crate::acl::{self, AuthOutcome};
use crate::prep::{self, Pending, PrepContext};
use crate::session::{initial_session_id, SessionTracker};
use crate::tree::{DataTree, NodeKind};
use crate::txn::{Applied, LoggedTxn, OpResult, Trigger, Txn};
use crate::watch::{ConnId, WatchManager};

/// Something the driver must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send the handshake answer.
    Connected {
        /// The connection.
        conn: ConnId,
        /// The answer.
        response: ConnectResponse,
    },
    /// Send a reply.
    Reply {
        /// The connection.
        conn: ConnId,
        /// The header.
        header: ReplyHeader,
        /// The body (only sent when `header.err` is Ok).
        body: Option<Response>,
    },
    /// Send a watch event.
    Event {
        /// The connection.
        conn: ConnId,
        /// The zxid in the header (-1 for setWatches replays).
        zxid: i64,
        /// The event.
        event: WatcherEvent,
    },
    /// Flush what was queued, then close the connection.
    Close {
        /// The connection.
        conn: ConnId,
    },
}

/// What the core knows about one connection.
#[derive(Debug, Clone)]
pub struct Conn {
    /// The peer.
    pub addr: SocketAddr,
    /// The session, once connected.
    pub session: Option<i64>,
    /// Identities: `ip:` first, then added auth.
    pub auth: Vec<Id>,
    /// The negotiated timeout of this connection.
    pub timeout_ms: i32,
    /// Statistics for `cons`/`stat`.
    pub stats: ConnStats,
    /// The SASL exchange in progress, if any.
    pub sasl: Option<crate::sasl::DigestMd5Server>,
}

/// All state of one standalone server.
#[derive(Debug)]
pub struct ServerCore {
    cfg: CoreConfig,
    tree: DataTree,
    sessions: SessionTracker,
    watches: WatchManager,
    pending: Pending,
    conns: BTreeMap<ConnId, Conn>,
    session_conns: HashMap<i64, ConnId>,
    local_sessions: HashMap<i64, ()>,
    zxid: i64,
    out: Vec<Output>,
    log: Vec<LoggedTxn>,
    stats: ServerStats,
    next_container_check: i64,
    /// Set in replicated mode (an ensemble member).
    repl: Option<Box<replicated::Replicated>>,
}

impl ServerCore {
    /// A fresh server: the initial tree, no sessions, zxid 0.
    pub fn new(cfg: CoreConfig, now: i64) -> ServerCore {
        ServerCore::from_state(cfg, DataTree::new(), Vec::new(), 0, now)
    }

    /// A server resuming from recovered state: `sessions` are `(id, timeout)` pairs whose
    /// deadlines restart from `now`.
    pub fn from_state(
        cfg: CoreConfig,
        tree: DataTree,
        sessions: Vec<(i64, i32)>,
        zxid: i64,
        now: i64,
    ) -> ServerCore {
        let mut tracker = SessionTracker::new(
            cfg.tick_ms,
            cfg.min_session_timeout_ms,
            cfg.max_session_timeout_ms,
            // A standalone ZooKeeperServer numbers its sessions as server 1
            // (createSessionTrackerServerId) although it reports serverId=0.
            initial_session_id(cfg.wall_clock_ms, cfg.myid.max(1)),
            cfg.secret,
        );
        for (id, timeout) in sessions {
            tracker.add(id, timeout, now);
        }
        let next_container_check = now + cfg.container_check_interval_ms;
        ServerCore {
            cfg,
            tree,
            sessions: tracker,
            watches: WatchManager::new(),
            pending: Pending::default(),
            conns: BTreeMap::new(),
            session_conns: HashMap::new(),
            local_sessions: HashMap::new(),
            zxid,
            out: Vec::new(),
            log: Vec::new(),
            stats: ServerStats::default(),
            next_container_check,
            repl: None,
        }
    }

    /// This core after a restart at `now`: no connections, session deadlines restarted.
    pub fn restarted(mut self, now: i64) -> ServerCore {
        self.conns.clear();
        self.session_conns.clear();
        self.watches = WatchManager::new();
        self.sessions.reset_deadlines(now);
        self.next_container_check = now + self.cfg.container_check_interval_ms;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &CoreConfig {
        &self.cfg
    }

    /// The data tree.
    pub fn tree(&self) -> &DataTree {
        &self.tree
    }

    /// The session tracker.
    pub fn sessions(&self) -> &SessionTracker {
        &self.sessions
    }

    /// The watch manager.
    pub fn watches(&self) -> &WatchManager {
        &self.watches
    }

    /// Open connections.
    pub fn connections(&self) -> &BTreeMap<ConnId, Conn> {
        &self.conns
    }

    /// Server statistics.
    pub fn stats(&self) -> &ServerStats {
        &self.stats
    }

    /// Resets server statistics (`srst`).
    pub fn reset_stats(&mut self) {
        self.stats = ServerStats::default();
    }

    /// Resets every connection's statistics (`crst`).
    pub fn reset_connection_stats(&mut self) {
        for conn in self.conns.values_mut() {
            conn.stats = ConnStats::default();
        }
    }

    /// The last applied zxid.
    pub fn last_zxid(&self) -> i64 {
        self.zxid
    }

    /// Checks the core's invariants, for tests and fuzzing: the tree's
    /// ([`DataTree::check_invariants`]); every connection a session maps to is open and
    /// attached to that session; every ephemeral node belongs to a known session. Returns the
    /// first violation found.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.tree.check_invariants()?;
        for (&session, &conn) in &self.session_conns {
            match self.conns.get(&conn) {
                Some(c) if c.session == Some(session) => {}
                Some(c) => {
                    return Err(format!(
                        "session {session:#x} maps to conn {conn} of session {:?}",
                        c.session
                    ))
                }
                None => return Err(format!("session {session:#x} maps to closed conn {conn}")),
            }
        }
        for &owner in self.tree.all_ephemerals().keys() {
            if self.sessions.get(owner).is_none() {
                return Err(format!("ephemerals of unknown session {owner:#x}"));
            }
        }
        Ok(())
    }

    /// Takes the outputs queued so far.
    pub fn take_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.out)
    }

    /// Swaps the outputs queued so far into `buf` (cleared first), handing `buf`'s allocation
    /// to the core: a driver that takes outputs after every input allocates nothing.
    pub fn swap_outputs(&mut self, buf: &mut Vec<Output>) {
        buf.clear();
        std::mem::swap(&mut self.out, buf);
    }

    /// Takes the txns committed since the last call, to persist them before sending outputs.
    pub fn take_log(&mut self) -> Vec<LoggedTxn> {
        std::mem::take(&mut self.log)
    }

    /// When the core next needs [`ServerCore::tick`]: a session deadline or a container check.
    pub fn next_wakeup(&self) -> i64 {
        let check = self.next_container_check;
        self.sessions
            .next_deadline()
            .map_or(check, |d| d.min(check))
    }

    /// A new connection from `addr`.
    pub fn open(&mut self, conn: ConnId, addr: SocketAddr, now: i64) {
        self.conns.insert(
            conn,
            Conn {
                addr,
                session: None,
                auth: vec![Id::new("ip", addr.ip().to_canonical().to_string())],
                timeout_ms: 0,
                stats: ConnStats::new(now),
                sasl: None,
            },
        );
    }

    /// The connection's socket closed. Its watches go; its session lives on until it expires.
    pub fn closed(&mut self, conn: ConnId) {
        self.forget_conn(conn);
    }

    fn forget_conn(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn) {
            if let Some(session) = c.session {
                if self.session_conns.get(&session) == Some(&conn) {
                    self.session_conns.remove(&session);
                }
            }
            self.watches.remove_connection(conn);
        }
    }

    fn close_conn(&mut self, conn: ConnId) {
        if self.conns.contains_key(&conn) {
            self.out.push(Output::Close { conn });
            self.forget_conn(conn);
        }
    }

    /// Closes every connection (sessions stay).
    pub fn drop_all_connections(&mut self) {
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in conns {
            self.close_conn(conn);
        }
    }

    /// Closes the connection of `session`; false if it has none.
    pub fn drop_session_connection(&mut self, session: i64) -> bool {
        match self.session_conns.get(&session).copied() {
            Some(conn) => {
                self.close_conn(conn);
                true
            }
            None => false,
        }
    }

    fn reply(&mut self, conn: ConnId, xid: i32, zxid: i64, err: ErrorCode, body: Option<Response>) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.stats.sent += 1;
            c.stats.last_zxid = zxid;
            self.stats.sent += 1;
            self.out.push(Output::Reply {
                conn,
                header: ReplyHeader { xid, zxid, err },
                body,
            });
        }
    }

    /// A request frame (after the handshake) on a connection.
    pub fn frame(&mut self, conn: ConnId, frame: &[u8], now: i64) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let Some(session_id) = c.session else {
            self.close_conn(conn);
            return;
        };
        c.stats.received += 1;
        c.stats.last_activity = now;
        self.stats.received += 1;
        let mut body = frame;
        let Ok(header) = RequestHeader::decode(&mut body) else {
            tracing::debug!(conn, "undecodable request header; closing");
            self.close_conn(conn);
            return;
        };
        if let Some(c) = self.conns.get_mut(&conn) {
            c.stats.last_cxid = header.xid;
            c.stats.last_op = header.op();
        }
        if !self.sessions.touch(session_id, now) {
            self.reply(conn, header.xid, self.zxid, ErrorCode::SessionExpired, None);
            self.close_conn(conn);
            return;
        }
        let op = header.op();
        if !self.auth_enforced(conn, header.xid, op) {
            return;
        }
        let request = match decode::decode_request_body(header.op_type, body) {
            Err(DecodeError::UnknownOpCode(_) | DecodeError::UnexpectedOpCode(_)) => {
                self.unimplemented(conn, header.xid);
                return;
            }
            Ok(r) => r,
            Err(_) => {
                tracing::debug!(conn, ?op, "malformed request body");
                if op == OpCode::Auth {
                    self.reply(conn, header.xid, 0, ErrorCode::AuthFailed, None);
                    self.close_conn(conn);
                } else if op.is_write() && op != OpCode::CloseSession && self.replicating() {
                    self.dispatch_replicated(conn, session_id, header.xid, None, frame, now);
                } else if op.is_write() && op != OpCode::CloseSession && !self.cfg.read_only {
                    self.commit(session_id, Txn::Error(ErrorCode::MarshallingError), now);
                    self.reply(
                        conn,
                        header.xid,
                        self.zxid,
                        ErrorCode::MarshallingError,
                        None,
                    );
                } else {
                    self.reply(
                        conn,
                        header.xid,
                        self.zxid,
                        ErrorCode::MarshallingError,
                        None,
                    );
                }
                return;
            }
        };
        if self.replicating() {
            self.dispatch_replicated(conn, session_id, header.xid, Some(request), frame, now);
        } else {
            self.dispatch(conn, session_id, header.xid, request, now);
        }
    }

    fn unimplemented(&mut self, conn: ConnId, xid: i32) {
        tracing::debug!(conn, xid, "unknown or misplaced op code; closing");
        self.reply(conn, xid, self.zxid, ErrorCode::Unimplemented, None);
        self.close_conn(conn);
    }

    fn dispatch(&mut self, conn: ConnId, session_id: i64, xid: i32, request: Request, now: i64) {
        let op = request.op_code();
        match request {
            Request::Ping => self.reply(conn, xid, self.zxid, ErrorCode::Ok, None),
            Request::Auth(packet) => self.auth(conn, xid, &packet),
            Request::Sasl(sasl) => self.sasl(conn, xid, &sasl.token),
            Request::Check(_) => self.unimplemented(conn, xid),
            Request::CloseSession => {
                if self.local_sessions.remove(&session_id).is_some() {
                    self.sessions.remove(session_id);
                } else {
                    self.sessions.set_closing(session_id);
                    self.commit(session_id, Txn::CloseSession { session_id }, now);
                }
                self.reply(conn, xid, self.zxid, ErrorCode::Ok, None);
                self.close_conn(conn);
            }
            request if op.is_write() => {
                if self.cfg.read_only {
                    self.reply(conn, xid, self.zxid, ErrorCode::NotReadOnly, None);
                    return;
                }
                self.write(conn, session_id, xid, &request, now);
            }
            Request::Sync(_) if self.cfg.read_only => {
                self.reply(conn, xid, self.zxid, ErrorCode::NotReadOnly, None);
            }
            request => {
                let (err, body) = match self.read(conn, session_id, &request) {
                    Ok(body) => (ErrorCode::Ok, body),
                    Err(code) => (code, None),
                };
                self.reply(conn, xid, self.zxid, err, body);
            }
        }
    }

    fn auth(&mut self, conn: ConnId, xid: i32, packet: &AuthPacket) {
        let outcome = acl::authenticate(
            &packet.scheme,
            &packet.auth,
            self.cfg.super_digest.as_deref(),
        );
        match outcome {
            AuthOutcome::Added(ids) => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    for id in ids {
                        if !c.auth.contains(&id) {
                            c.auth.push(id);
                        }
                    }
                }
                self.reply(conn, xid, 0, ErrorCode::Ok, None);
            }
            AuthOutcome::Failed => {
                tracing::info!(conn, scheme = %packet.scheme, "authentication failed");
                self.reply(conn, xid, 0, ErrorCode::AuthFailed, None);
                self.close_conn(conn);
            }
        }
    }

    fn write(&mut self, conn: ConnId, session_id: i64, xid: i32, request: &Request, now: i64) {
        // Borrowed field by field (no clone of the identities on every write).
        let auth = self.conns.get(&conn).map_or(&[][..], |c| c.auth.as_slice());
        let txn = if !self.sessions.is_live(session_id) {
            Some(Txn::Error(ErrorCode::SessionExpired))
        } else {
            let ctx = PrepContext {
                session_id,
                auth,
                extended_types: self.cfg.extended_types,
                reconfig_enabled: self.cfg.reconfig_enabled,
            };
            prep::prepare(&self.tree, &mut self.pending, &ctx, request, self.zxid + 1)
        };
        let Some(txn) = txn else {
            self.unimplemented(conn, xid);
            return;
        };
        let applied = self.commit(session_id, txn, now);
        let (err, body) = write_reply(request, applied.result);
        self.reply(conn, xid, self.zxid, err, body);
    }

    /// Assigns the next zxid to `txn`, applies it, queues it for the log and fires its watches.
    fn commit(&mut self, session_id: i64, txn: Txn, now: i64) -> Applied {
        let logged = LoggedTxn {
            zxid: self.zxid + 1,
            time: now,
            session_id,
            cxid: 0,
            txn,
        };
        let applied = self.apply_logged(&logged, now);
        self.log.push(logged);
        applied
    }

    /// Applies a txn (a new one, or one replayed from the log during recovery).
    pub fn apply_logged(&mut self, logged: &LoggedTxn, now: i64) -> Applied {
        let applied = self.tree.apply(&logged.txn, logged.zxid, logged.time);
        match &logged.txn {
            Txn::CreateSession {
                session_id,
                timeout_ms,
            } => self.sessions.add(*session_id, *timeout_ms, now),
            Txn::CloseSession { session_id } => {
                self.sessions.remove(*session_id);
                if let Some(conn) = self.session_conns.get(session_id).copied() {
                    // The reply (if any) is queued by the caller before this Close goes out
                    // only for a client's own closeSession; expiry closes at once.
                    if !self.closing_by_client(conn) {
                        self.close_conn(conn);
                    }
                }
            }
            _ => {}
        }
        self.zxid = logged.zxid;
        self.pending.applied_up_to(logged.zxid);
        for trigger in &applied.triggers {
            self.fire(trigger, logged.zxid);
        }
        self.stats.txns += 1;
        applied
    }

    fn closing_by_client(&self, conn: ConnId) -> bool {
        // A client's own closeSession is answered before its connection closes; the caller
        // (dispatch) closes it after the reply.
        matches!(
            self.conns.get(&conn).map(|c| c.stats.last_op),
            Some(OpCode::CloseSession)
        )
    }

    fn fire(&mut self, trigger: &Trigger, zxid: i64) {
        let (node_acl, parent_acl) = match trigger {
            Trigger::Created {
                acl, parent_acl, ..
            }
            | Trigger::Deleted {
                acl, parent_acl, ..
            } => (acl, parent_acl),
            Trigger::DataChanged { acl, .. } => (acl, acl),
        };
        for fired in self.watches.trigger(trigger) {
            let Some(c) = self.conns.get_mut(&fired.conn) else {
                continue;
            };
            let acl = if fired.on_parent {
                parent_acl
            } else {
                node_acl
            };
            if acl::check(acl, zk_proto::perms::READ, &c.auth).is_err() {
                continue;
            }
            c.stats.sent += 1;
            self.stats.sent += 1;
            self.out.push(Output::Event {
                conn: fired.conn,
                zxid,
                event: WatcherEvent {
                    event_type: fired.event_type,
                    state: KeeperState::SyncConnected,
                    path: fired.path,
                },
            });
        }
    }

    /// Read-only mode of an ensemble member: ends the local sessions whose timeout passed
    /// without a packet, as ZooKeeper's read-only server's local session tracker does (no
    /// txn: they never reached the leader). Their connections close; a client coming back
    /// with one is told it expired.
    pub fn expire_local_sessions(&mut self, now: i64) {
        if self.local_sessions.is_empty() {
            return;
        }
        for session in self.sessions.expired(now) {
            if self.local_sessions.contains_key(&session) {
                self.expire_session(session, now);
            }
        }
    }

    /// When the earliest read-only local session expires, if there is one.
    pub fn next_local_deadline(&self) -> Option<i64> {
        if self.local_sessions.is_empty() {
            return None;
        }
        self.sessions
            .iter()
            .filter(|(id, s)| !s.closing && self.local_sessions.contains_key(id))
            .map(|(_, s)| s.expires_at)
            .min()
    }

    /// Expires `session` now (as if its timeout had passed); false if it is not live.
    pub fn expire_session(&mut self, session: i64, now: i64) -> bool {
        if !self.sessions.is_live(session) {
            return false;
        }
        tracing::info!(session = format_args!("{session:#x}"), "expiring session");
        self.sessions.set_closing(session);
        if self.local_sessions.remove(&session).is_some() {
            self.sessions.remove(session);
            if let Some(conn) = self.session_conns.get(&session).copied() {
                self.close_conn(conn);
            }
        } else {
            self.commit(
                0,
                Txn::CloseSession {
                    session_id: session,
                },
                now,
            );
        }
        true
    }

    /// Expires sessions whose deadline passed and deletes expired containers and TTL nodes.
    pub fn tick(&mut self, now: i64) {
        for session in self.sessions.expired(now) {
            self.expire_session(session, now);
        }
        if now >= self.next_container_check {
            self.next_container_check = now + self.cfg.container_check_interval_ms.max(1);
            self.delete_expired_containers(now);
        }
    }

    /// Container and TTL nodes ZooKeeper's ContainerManager would delete at `now`.
    pub fn container_candidates(&self, now: i64) -> Vec<String> {
        let mut out = Vec::new();
        for path in self.tree.containers() {
            let Some(node) = self.tree.get(path) else {
                continue;
            };
            if !node.children.is_empty() {
                continue;
            }
            let never_used = self.cfg.container_max_never_used_ms;
            if node.stat.cversion > 0 || (never_used > 0 && now - node.stat.mtime > never_used) {
                out.push(path.clone());
            }
        }
        for path in self.tree.ttl_nodes() {
            let Some(node) = self.tree.get(path) else {
                continue;
            };
            if let NodeKind::Ttl(ttl) = node.kind() {
                if node.children.is_empty() && ttl != 0 && now - node.stat.mtime > ttl {
                    out.push(path.clone());
                }
            }
        }
        out
    }

    fn delete_expired_containers(&mut self, now: i64) {
        for path in self.container_candidates(now) {
            match self.prepare_container_delete(path, self.zxid + 1) {
                Some(txn) => {
                    tracing::debug!(?txn, "deleting expired container/TTL node");
                    self.commit(0, txn, now);
                }
                None => self.pending.clear(),
            }
        }
    }

    fn conn_auth(&self, conn: ConnId) -> &[Id] {
        self.conns.get(&conn).map_or(&[], |c| c.auth.as_slice())
    }

    fn push_event(&mut self, conn: ConnId, zxid: i64, event_type: EventType, path: String) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.stats.sent += 1;
            self.stats.sent += 1;
            self.out.push(Output::Event {
                conn,
                zxid,
                event: WatcherEvent {
                    event_type,
                    state: KeeperState::SyncConnected,
                    path,
                },
            });
        }
    }
}

/// The reply to a write, from its result.
fn write_reply(request: &Request, result: OpResult) -> (ErrorCode, Option<Response>) {
    let body = match (request, result) {
        (_, OpResult::Error(code)) => return (code, None),
        (Request::Create(_), OpResult::Created { path, .. }) => {
            Response::Create(CreateResponse { path })
        }
        (_, OpResult::Created { path, stat }) => Response::Create2(Create2Response { path, stat }),
        (_, OpResult::DataSet { stat }) => Response::SetData(SetDataResponse { stat }),
        (_, OpResult::AclSet { stat }) => Response::SetAcl(SetAclResponse { stat }),
        (Request::Multi(m), OpResult::Multi(results)) => {
            let results = m
                .ops
                .iter()
                .zip(results)
                .map(|(op, r)| multi_result(op.op_code(), r))
                .collect();
            Response::Multi(MultiResponse { results })
        }
        _ => Response::Empty,
    };
    let body = match body {
        Response::Empty => None,
        b => Some(b),
    };
    (ErrorCode::Ok, body)
}

fn multi_result(op: OpCode, result: OpResult) -> MultiResult {
    match result {
        // ZooKeeper 3.8 answers create2 inside a multi with a plain create result.
        OpResult::Created { path, .. } if matches!(op, OpCode::Create | OpCode::Create2) => {
            MultiResult::Create(CreateResponse { path })
        }
        OpResult::Created { path, stat } => MultiResult::Create2(Create2Response { path, stat }),
        OpResult::Deleted => MultiResult::Delete,
        OpResult::DataSet { stat } => MultiResult::SetData(SetDataResponse { stat }),
        OpResult::Checked => MultiResult::Check,
        OpResult::Error(code) => MultiResult::Error(code),
        _ => MultiResult::Error(ErrorCode::RuntimeInconsistency),
    }
}

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod tests;
