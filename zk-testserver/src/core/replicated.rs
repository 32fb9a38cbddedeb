//! The replicated mode of [`ServerCore`]: the state machine of an ensemble member.
//!
//! In this mode the core prepares and commits nothing on its own. A write (and createSession
//! and closeSession) is encoded as a [`Forwarded`] payload and handed to the driver as a
//! [`Forward`], which the member passes to the replication core; the request waits in its
//! session's FIFO until the txn the leader made of it is applied here
//! ([`ServerCore::apply_committed`]), and is answered from the apply result. Every forwarded
//! request yields exactly one txn (a failed one as [`Txn::Error`]) carrying the request's
//! xid as its `cxid`; a txn is matched to the session's pending request with that xid, so
//! txns of requests the session sent through another member before it moved here answer
//! nothing here (ZooKeeper's followers match commits by session and cxid too).
//!
//! Reads are served locally, but a request of a session that has pending requests waits
//! behind them, so replies keep request order and a session reads its own writes. `sync` is a
//! [`Forward::Sync`], answered once [`ServerCore::synced`] reports it.
//!
//! The leader's member prepares forwarded payloads with [`ServerCore::prepare_forwarded`]
//! against its tree and its outstanding changes.
//!
//! A session's requests after an unfinished `sync` are not forwarded until it finishes: a
//! read queued behind the sync runs when the sync finishes, and must not see a write the
//! session sent after it (ZooKeeper gets the same order by handling the sync on the leader in
//! line with the session's writes).

use std::collections::{HashMap, VecDeque};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use zk_proto::{ErrorCode, Id, Jute, OpCode, Request, RequestHeader, Response};

use super::{decode, write_reply, ConnId, ServerCore};
use crate::prep::{self, PrepContext};
use crate::txn::{LoggedTxn, OpResult, Txn};

/// What a member asks the leader to turn into a txn (the opaque payload of a forward).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forwarded {
    /// Create the forward's session with this timeout.
    CreateSession {
        /// The negotiated timeout, ms.
        timeout_ms: i32,
    },
    /// The session's client closes it (request `xid`).
    CloseSession {
        /// The request's xid.
        xid: i32,
    },
    /// Expire the session now (a fault injected on any member); proposed as a server txn.
    Expire,
    /// A client's write: the request frame and the connection's identities.
    Request {
        /// The connection's auth ids when the request arrived.
        auth: Vec<Id>,
        /// The request frame (header and body).
        frame: Bytes,
    },
}

impl Forwarded {
    /// The payload bytes.
    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::new();
        match self {
            Forwarded::CreateSession { timeout_ms } => {
                b.put_u8(1);
                b.put_i32(*timeout_ms);
            }
            Forwarded::CloseSession { xid } => {
                b.put_u8(2);
                b.put_i32(*xid);
            }
            Forwarded::Expire => b.put_u8(3),
            Forwarded::Request { auth, frame } => {
                b.put_u8(4);
                b.put_u32(u32::try_from(auth.len()).unwrap_or(u32::MAX));
                for id in auth {
                    id.encode(&mut b);
                }
                b.put_slice(frame);
            }
        }
        b.freeze()
    }

    /// Decodes a payload; `None` if it is malformed.
    pub fn decode(mut b: &[u8]) -> Option<Forwarded> {
        if b.is_empty() {
            return None;
        }
        match b.get_u8() {
            1 if b.len() == 4 => Some(Forwarded::CreateSession {
                timeout_ms: b.get_i32(),
            }),
            2 if b.len() == 4 => Some(Forwarded::CloseSession { xid: b.get_i32() }),
            3 if b.is_empty() => Some(Forwarded::Expire),
            4 if b.len() >= 4 => {
                let n = b.get_u32() as usize;
                // Each id takes at least 8 bytes: a bound before allocating.
                if n > b.len() / 8 {
                    return None;
                }
                let mut auth = Vec::with_capacity(n);
                for _ in 0..n {
                    auth.push(Id::decode(&mut b).ok()?);
                }
                Some(Forwarded::Request {
                    auth,
                    frame: Bytes::copy_from_slice(b),
                })
            }
            _ => None,
        }
    }
}

/// A request the member must hand to the replication core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forward {
    /// Forward `payload` (a [`Forwarded`]) of `session_id` to the leader.
    Request {
        /// The session.
        session_id: i64,
        /// The encoded [`Forwarded`].
        payload: Bytes,
    },
    /// Start a sync with this id; report it with [`ServerCore::synced`].
    Sync {
        /// The sync's id.
        id: u64,
    },
}

#[derive(Debug)]
enum Kind {
    /// A write; `result` once its txn applied: error, body, zxid.
    Write {
        request: Option<Request>,
        result: Option<(ErrorCode, Option<Response>, i64)>,
    },
    /// The client's closeSession; done once applied.
    Close { done: bool },
    /// A new session's handshake; done once its createSession applied.
    Connect {
        timeout: i32,
        read_only: Option<bool>,
        done: bool,
    },
    /// A sync; `Some(ok)` once finished.
    Sync {
        id: u64,
        request: Request,
        done: Option<bool>,
    },
    /// A read waiting behind earlier requests.
    Read(Request),
}

/// Requests one session may have waiting on a member; a client that pipelines more (faster
/// than the ensemble commits) loses its connection instead of growing the member's memory.
pub const MAX_PENDING_PER_SESSION: usize = 10_000;

#[derive(Debug)]
struct Queued {
    conn: ConnId,
    xid: i32,
    kind: Kind,
    /// Its forward, held while an earlier sync of the session is unfinished.
    held: Option<Forward>,
}

/// The per-session FIFOs and the forwards not yet taken.
#[derive(Debug, Default)]
pub(super) struct Replicated {
    fifos: HashMap<i64, VecDeque<Queued>>,
    forwards: Vec<Forward>,
    next_sync: u64,
}

impl ServerCore {
    /// A fresh core in replicated mode (see the module docs).
    pub fn replicated(cfg: super::CoreConfig, now: i64) -> ServerCore {
        let mut core = ServerCore::new(cfg, now);
        core.repl = Some(Box::default());
        core
    }

    /// True in replicated mode while serving read-write (not read-only).
    pub(super) fn replicating(&self) -> bool {
        self.repl.is_some() && !self.cfg.read_only
    }

    /// Takes the requests to hand to the replication core, in order.
    pub fn take_forwards(&mut self) -> Vec<Forward> {
        self.repl
            .as_mut()
            .map(|r| std::mem::take(&mut r.forwards))
            .unwrap_or_default()
    }

    /// Requests of `session` waiting here for their txn, a sync, or an earlier request.
    pub fn pending_requests(&self, session: i64) -> usize {
        self.repl
            .as_ref()
            .and_then(|r| r.fifos.get(&session))
            .map_or(0, VecDeque::len)
    }

    /// [`ServerCore::pending_requests`] of `conn`'s session; 0 before it has one.
    pub fn conn_pending_requests(&self, conn: ConnId) -> usize {
        self.connections()
            .get(&conn)
            .and_then(|c| c.session)
            .map_or(0, |session| self.pending_requests(session))
    }

    fn enqueue(
        &mut self,
        session: i64,
        conn: ConnId,
        xid: i32,
        kind: Kind,
        forward: Option<Forward>,
    ) {
        let Some(r) = self.repl.as_mut() else {
            return;
        };
        let fifo = r.fifos.entry(session).or_default();
        if fifo.len() >= MAX_PENDING_PER_SESSION {
            tracing::warn!(
                session = format_args!("{session:#x}"),
                "too many pending requests; closing the connection"
            );
            self.close_conn(conn);
            return;
        }
        let behind_sync = fifo
            .iter()
            .any(|q| matches!(q.kind, Kind::Sync { done: None, .. }));
        let mut queued = Queued {
            conn,
            xid,
            kind,
            held: None,
        };
        if behind_sync {
            queued.held = forward;
        } else {
            r.forwards.extend(forward);
        }
        fifo.push_back(queued);
    }

    /// Handshake of a new session in replicated mode: the leader must commit it first.
    pub(super) fn begin_session(
        &mut self,
        conn: ConnId,
        session_id: i64,
        timeout: i32,
        read_only: Option<bool>,
    ) {
        let payload = Forwarded::CreateSession {
            timeout_ms: timeout,
        }
        .encode();
        self.enqueue(
            session_id,
            conn,
            0,
            Kind::Connect {
                timeout,
                read_only,
                done: false,
            },
            Some(Forward::Request {
                session_id,
                payload,
            }),
        );
    }

    /// Routes a request in replicated mode (`request` is `None` for a write whose body did
    /// not decode: the leader turns it into a marshalling error).
    pub(super) fn dispatch_replicated(
        &mut self,
        conn: ConnId,
        session_id: i64,
        xid: i32,
        request: Option<Request>,
        frame: &[u8],
        now: i64,
    ) {
        let Some(request) = request else {
            self.forward_write(conn, session_id, xid, None, frame);
            return;
        };
        let op = request.op_code();
        match request {
            Request::Auth(_) | Request::Sasl(_) | Request::Check(_) => {
                self.dispatch(conn, session_id, xid, request, now);
            }
            Request::CloseSession => {
                let payload = Forwarded::CloseSession { xid }.encode();
                self.enqueue(
                    session_id,
                    conn,
                    xid,
                    Kind::Close { done: false },
                    Some(Forward::Request {
                        session_id,
                        payload,
                    }),
                );
            }
            request if op.is_write() => {
                self.forward_write(conn, session_id, xid, Some(request), frame);
            }
            request @ Request::Sync(_) => {
                let Some(r) = self.repl.as_mut() else {
                    return;
                };
                r.next_sync += 1;
                let id = r.next_sync;
                let kind = Kind::Sync {
                    id,
                    request,
                    done: None,
                };
                self.enqueue(session_id, conn, xid, kind, Some(Forward::Sync { id }));
            }
            request => {
                if self.pending_requests(session_id) == 0 {
                    self.dispatch(conn, session_id, xid, request, now);
                } else {
                    let kind = Kind::Read(request);
                    self.enqueue(session_id, conn, xid, kind, None);
                }
            }
        }
    }

    fn forward_write(
        &mut self,
        conn: ConnId,
        session_id: i64,
        xid: i32,
        request: Option<Request>,
        frame: &[u8],
    ) {
        let payload = Forwarded::Request {
            auth: self.conn_auth(conn).to_vec(),
            frame: Bytes::copy_from_slice(frame),
        }
        .encode();
        let kind = Kind::Write {
            request,
            result: None,
        };
        self.enqueue(
            session_id,
            conn,
            xid,
            kind,
            Some(Forward::Request {
                session_id,
                payload,
            }),
        );
    }

    /// Applies a committed txn and answers the request of this member it belongs to, if any.
    pub fn apply_committed(&mut self, logged: &LoggedTxn, now: i64) {
        let applied = self.apply_logged(logged, now);
        let session = logged.session_id;
        let Some(fifo) = self.repl.as_mut().and_then(|r| r.fifos.get_mut(&session)) else {
            return;
        };
        let cxid = logged.cxid;
        let unanswered = fifo.iter_mut().find(|q| {
            q.xid == cxid
                && match &q.kind {
                    Kind::Write { result, .. } => result.is_none(),
                    Kind::Close { done } | Kind::Connect { done, .. } => !done,
                    Kind::Sync { .. } | Kind::Read(_) => false,
                }
        });
        let Some(queued) = unanswered else {
            return;
        };
        match (&mut queued.kind, &logged.txn) {
            (Kind::Connect { done, .. }, Txn::CreateSession { .. }) => *done = true,
            (Kind::Close { done }, _) => *done = true,
            (Kind::Write { request, result }, txn)
                if !matches!(txn, Txn::CreateSession { .. } | Txn::CloseSession { .. }) =>
            {
                let (err, body) = match (request.as_ref(), applied.result) {
                    (_, OpResult::Error(code)) => (code, None),
                    (Some(Request::Reconfig(_)), OpResult::DataSet { stat }) => {
                        let data = match txn {
                            Txn::SetData { data, .. } => data.clone(),
                            _ => None,
                        };
                        let body = zk_proto::GetDataResponse { data, stat };
                        (ErrorCode::Ok, Some(Response::Reconfig(body)))
                    }
                    (Some(request), r) => write_reply(request, r),
                    (None, _) => (ErrorCode::MarshallingError, None),
                };
                *result = Some((err, body, logged.zxid));
            }
            (kind, txn) => {
                tracing::warn!(
                    session = format_args!("{session:#x}"),
                    ?kind,
                    ?txn,
                    "an applied txn does not match the session's pending request"
                );
                return;
            }
        }
        self.drain(session, now);
    }

    /// A sync finished: `ok` false means the member lost its leader first.
    pub fn synced(&mut self, id: u64, ok: bool, now: i64) {
        let Some(r) = self.repl.as_mut() else {
            return;
        };
        let found = r.fifos.iter_mut().find_map(|(session, fifo)| {
            let at = fifo
                .iter()
                .position(|q| matches!(q.kind, Kind::Sync { id: i, .. } if i == id))?;
            if let Kind::Sync { done, .. } = &mut fifo[at].kind {
                *done = Some(ok);
            }
            // Forward what waited behind it, up to and including the next unfinished sync.
            let still_behind_sync = fifo
                .iter()
                .take(at)
                .any(|q| matches!(q.kind, Kind::Sync { done: None, .. }));
            if ok && !still_behind_sync {
                for q in fifo.iter_mut().skip(at + 1) {
                    r.forwards.extend(q.held.take());
                    if matches!(q.kind, Kind::Sync { done: None, .. }) {
                        break;
                    }
                }
            }
            Some(*session)
        });
        if let Some(session) = found {
            self.drain(session, now);
        }
    }

    /// Answers the session's requests from the front of its FIFO while they are ready.
    fn drain(&mut self, session: i64, now: i64) {
        loop {
            let Some(fifo) = self.repl.as_mut().and_then(|r| r.fifos.get_mut(&session)) else {
                return;
            };
            let ready = match fifo.front().map(|q| &q.kind) {
                None => {
                    if let Some(r) = self.repl.as_mut() {
                        r.fifos.remove(&session);
                    }
                    return;
                }
                Some(Kind::Write { result, .. }) => result.is_some(),
                Some(Kind::Close { done } | Kind::Connect { done, .. }) => *done,
                Some(Kind::Sync { done, .. }) => done.is_some(),
                Some(Kind::Read(_)) => true,
            };
            if !ready {
                return;
            }
            let Some(q) = fifo.pop_front() else {
                return;
            };
            let open = self.conns.contains_key(&q.conn);
            match q.kind {
                Kind::Write {
                    result: Some((err, body, zxid)),
                    ..
                } => self.reply(q.conn, q.xid, zxid, err, body),
                Kind::Close { .. } => {
                    let zxid = self.zxid;
                    self.reply(q.conn, q.xid, zxid, ErrorCode::Ok, None);
                    self.close_conn(q.conn);
                }
                Kind::Connect {
                    timeout, read_only, ..
                } => {
                    if open && self.sessions.is_live(session) {
                        self.attach(q.conn, session, timeout, read_only);
                    } else {
                        self.close_conn(q.conn);
                    }
                }
                Kind::Sync {
                    request,
                    done: Some(true),
                    ..
                } => {
                    if open {
                        self.dispatch(q.conn, session, q.xid, request, now);
                    }
                }
                Kind::Sync { .. } => {
                    // The leader was lost: the client must reconnect and retry.
                    self.session_lost(session);
                    return;
                }
                Kind::Read(request) if open => self.dispatch(q.conn, session, q.xid, request, now),
                Kind::Read(_) | Kind::Write { .. } => {}
            }
        }
    }

    /// The session's request could not be forwarded (no leader): its connection closes (the
    /// client sees a connection loss) and its pending requests here are dropped.
    pub fn session_lost(&mut self, session: i64) {
        if let Some(r) = self.repl.as_mut() {
            if let Some(fifo) = r.fifos.remove(&session) {
                for q in fifo {
                    self.close_conn(q.conn);
                }
            }
        }
        self.drop_session_connection(session);
    }

    /// The member lost its leader: every client connection closes, pending requests and
    /// outstanding changes are dropped, read-only local sessions end.
    pub fn leader_lost(&mut self) {
        if let Some(r) = self.repl.as_mut() {
            r.fifos.clear();
            r.forwards.clear();
        }
        self.drop_all_connections();
        self.pending.clear();
        for (session, ()) in std::mem::take(&mut self.local_sessions) {
            self.sessions.remove(session);
        }
    }

    /// Serves read-only (`true`: a member cut off from the quorum with `readonlymode.enabled`)
    /// or read-write.
    pub fn set_read_only(&mut self, read_only: bool) {
        self.cfg.read_only = read_only;
    }

    /// Closes a connection the member will not serve (it has no leader).
    pub fn refuse(&mut self, conn: ConnId) {
        self.close_conn(conn);
    }

    /// The delete of an expired container or TTL node (from
    /// [`ServerCore::container_candidates`]) prepared for `zxid`, or `None` if it is no longer
    /// one (a pending change revived or removed it). Used by a standalone server and by an
    /// ensemble's leader.
    pub fn prepare_container_delete(&mut self, path: String, zxid: i64) -> Option<Txn> {
        let super_id = [Id::new("super", "")];
        let ctx = PrepContext {
            session_id: 0,
            auth: &super_id,
            extended_types: self.cfg.extended_types,
            reconfig_enabled: false,
        };
        let request = Request::DeleteContainer(zk_proto::DeleteContainerRequest { path });
        match prep::prepare(&self.tree, &mut self.pending, &ctx, &request, zxid) {
            Some(txn @ Txn::Delete { .. }) => Some(txn),
            _ => None,
        }
    }

    /// Sets `/zookeeper/config` to the active membership, as ZooKeeper does when it starts or
    /// activates a config: data version -1, mzxid the config's version. Watches fire.
    pub fn set_config_node(&mut self, data: Bytes, version: i64, now: i64) {
        let txn = Txn::SetData {
            path: crate::tree::CONFIG_NODE.to_string(),
            data: Some(data),
            version: -1,
        };
        let applied = self.tree.apply(&txn, version, now);
        for trigger in &applied.triggers {
            self.fire(trigger, version);
        }
    }

    /// Drops outstanding (prepared, not yet applied) changes: leadership was lost.
    pub fn clear_pending(&mut self) {
        self.pending.clear();
    }

    /// Leader: the txn for a forwarded `payload` of `session_id`, prepared against the tree
    /// and the outstanding changes for `zxid` (the zxid it will be proposed with). `live` says
    /// whether the session is live in the leader's view. Returns the session and cxid to
    /// propose the txn under (session 0 for a server-initiated close) and the txn; every
    /// payload yields one txn.
    pub fn prepare_forwarded(
        &mut self,
        session_id: i64,
        payload: &[u8],
        live: bool,
        zxid: i64,
    ) -> (i64, i32, Txn) {
        self.prepare_forwarded_with(session_id, payload, live, zxid, &|_| {
            Err(ErrorCode::Unimplemented)
        })
    }

    /// [`ServerCore::prepare_forwarded`] on a leader that can reconfigure: `reconfig` turns a
    /// `reconfig` request into the new config data, or the error ZooKeeper's leader gives
    /// (see [`prep::prepare_reconfig`]).
    pub fn prepare_forwarded_with(
        &mut self,
        session_id: i64,
        payload: &[u8],
        live: bool,
        zxid: i64,
        reconfig: &dyn Fn(&zk_proto::ReconfigRequest) -> Result<Bytes, ErrorCode>,
    ) -> (i64, i32, Txn) {
        let marshalling = Txn::Error(ErrorCode::MarshallingError);
        match Forwarded::decode(payload) {
            None => (session_id, 0, marshalling),
            Some(Forwarded::CreateSession { timeout_ms }) => (
                session_id,
                0,
                Txn::CreateSession {
                    session_id,
                    timeout_ms,
                },
            ),
            Some(Forwarded::CloseSession { xid }) => {
                (session_id, xid, Txn::CloseSession { session_id })
            }
            Some(Forwarded::Expire) => (0, 0, Txn::CloseSession { session_id }),
            Some(Forwarded::Request { auth, frame }) => {
                let mut body = &frame[..];
                let Ok(header) = RequestHeader::decode(&mut body) else {
                    return (session_id, 0, marshalling);
                };
                let xid = header.xid;
                let Ok(request) = decode::decode_request_body(header.op_type, body) else {
                    return (session_id, xid, marshalling);
                };
                if !request.op_code().is_write() || request.op_code() == OpCode::CloseSession {
                    return (session_id, xid, Txn::Error(ErrorCode::Unimplemented));
                }
                if !live {
                    return (session_id, xid, Txn::Error(ErrorCode::SessionExpired));
                }
                let ctx = PrepContext {
                    session_id,
                    auth: &auth,
                    extended_types: self.cfg.extended_types,
                    reconfig_enabled: self.cfg.reconfig_enabled,
                };
                let txn = match &request {
                    Request::Reconfig(r) => {
                        prep::prepare_reconfig(&self.tree, &mut self.pending, &ctx, zxid, || {
                            reconfig(r)
                        })
                    }
                    request => prep::prepare(&self.tree, &mut self.pending, &ctx, request, zxid)
                        .unwrap_or(Txn::Error(ErrorCode::Unimplemented)),
                };
                (session_id, xid, txn)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn forwarded_payloads_round_trip() {
        let all = [
            Forwarded::CreateSession { timeout_ms: 4000 },
            Forwarded::CloseSession { xid: 17 },
            Forwarded::Expire,
            Forwarded::Request {
                auth: vec![Id::new("ip", "127.0.0.1"), Id::new("digest", "u:x")],
                frame: Bytes::from_static(b"\0\0\0\x05\0\0\0\x01body"),
            },
        ];
        for f in all {
            assert_eq!(Forwarded::decode(&f.encode()), Some(f));
        }
        assert_eq!(Forwarded::decode(&[]), None);
        assert_eq!(Forwarded::decode(&[1, 0, 0]), None);
        // A huge id count is refused before anything is allocated.
        assert_eq!(Forwarded::decode(&[4, 0xff, 0xff, 0xff, 0xff]), None);
    }

    proptest! {
        #[test]
        fn arbitrary_payloads_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Some(f) = Forwarded::decode(&bytes) {
                prop_assert_eq!(Forwarded::decode(&f.encode()), Some(f));
            }
        }
    }

    fn frame(xid: i32, request: &Request) -> Bytes {
        let mut b = BytesMut::new();
        RequestHeader::new(xid, request.op_code()).encode(&mut b);
        request.encode_body(&mut b);
        b.freeze()
    }

    fn logged(zxid: i64, session_id: i64, cxid: i32, txn: Txn) -> LoggedTxn {
        LoggedTxn {
            zxid,
            time: 0,
            session_id,
            cxid,
            txn,
        }
    }

    #[test]
    fn a_session_is_answered_in_order_when_its_txns_apply() {
        let session = 0x0100_0000_0000_0001;
        let mut core = ServerCore::replicated(super::super::CoreConfig::with_tick(10), 0);
        let create_session = Txn::CreateSession {
            session_id: session,
            timeout_ms: 100,
        };
        core.apply_committed(&logged(1, session, 0, create_session), 0);
        core.open(1, "127.0.0.1:1".parse().unwrap(), 0);
        let req = zk_proto::ConnectRequest {
            timeout: 100,
            session_id: session,
            passwd: Bytes::copy_from_slice(&core.sessions().password(session)),
            ..Default::default()
        };
        core.connect(1, &req, 0);
        assert!(matches!(
            core.take_outputs()[..],
            [super::super::Output::Connected { .. }]
        ));
        let create = Request::Create(zk_proto::CreateRequest {
            path: "/a".into(),
            data: None,
            acl: zk_proto::Acl::open_unsafe(),
            flags: 0,
        });
        let read = Request::Exists(zk_proto::ExistsRequest {
            path: "/a".into(),
            watch: false,
        });
        core.frame(1, &frame(5, &create), 0);
        core.frame(1, &frame(6, &read), 0);
        // Nothing is answered before the leader's txn applies; the read waits behind.
        assert!(core.take_outputs().is_empty());
        let forwards = core.take_forwards();
        let [Forward::Request { payload, .. }] = &forwards[..] else {
            panic!("one forward: {forwards:?}");
        };
        // The leader's side: prepared for zxid 2 with the request's xid.
        let mut leader = ServerCore::replicated(super::super::CoreConfig::with_tick(10), 0);
        let (s, cxid, txn) = leader.prepare_forwarded(session, payload, true, 2);
        assert_eq!((s, cxid), (session, 5));
        assert!(matches!(&txn, Txn::Create { path, .. } if path == "/a"));
        // A txn of another request of the session (sent through another member) answers
        // nothing here.
        core.apply_committed(&logged(2, session, 4, Txn::Error(ErrorCode::NodeExists)), 0);
        assert!(core.take_outputs().is_empty());
        core.apply_committed(&logged(3, session, cxid, txn), 0);
        let replies: Vec<(i32, ErrorCode)> = core
            .take_outputs()
            .into_iter()
            .filter_map(|o| match o {
                super::super::Output::Reply { header, .. } => Some((header.xid, header.err)),
                _ => None,
            })
            .collect();
        assert_eq!(replies, vec![(5, ErrorCode::Ok), (6, ErrorCode::Ok)]);
        assert_eq!(core.pending_requests(session), 0);
        // Garbage from a peer still yields one (failed) txn.
        let (_, _, garbage) = leader.prepare_forwarded(session, &[4, 0, 0, 0, 0, 1], true, 3);
        assert_eq!(garbage, Txn::Error(ErrorCode::MarshallingError));
    }
}
