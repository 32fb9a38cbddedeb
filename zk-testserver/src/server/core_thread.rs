//! The core thread: owns the [`ServerCore`] and the storage, and talks to connection tasks.
//!
//! It handles a batch of inputs, appends the batch's txns to the log (one fsync for the
//! batch), and only then releases the batch's replies and events, so nothing is acknowledged
//! before it is durable and every connection's outputs keep their order.
//!
//! Outputs are encoded as they are produced ("staged") into one buffer per connection, so the
//! thread always knows how many bytes each connection has waiting: those staged in this batch
//! plus those handed to its task and not yet written ([`ConnFlow::unsent`]). A request of a
//! connection above [`FlowLimits::max_unsent_bytes`] is deferred, holding its credit, until
//! the task reports progress; the thread never blocks on a socket.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::sync::{mpsc as tmpsc, oneshot};
use zk_proto::{
    encode_connect_response, encode_event, encode_reply, Jute, OpCode, RequestHeader, WatcherEvent,
};

use super::engine::Engine;
use super::{wall_ms, Control, CoreMsg};
use crate::core::Output;
use crate::four_letter::{self, NetView};
use crate::net::flow::{ConnFlow, Credit, FlowLimits};
use crate::net::ConnOut;
use crate::watch::ConnId;

/// A connection as the core thread sees it.
struct ConnHandle {
    tx: tmpsc::UnboundedSender<ConnOut>,
    flow: Arc<ConnFlow>,
}

/// A request frame with its credit (given back when this is dropped).
struct PendingFrame {
    frame: Bytes,
    credit: Credit,
    received: Instant,
}

/// One connection's outputs of this batch.
#[derive(Default)]
struct Staged {
    buf: BytesMut,
    close: bool,
}

pub(crate) struct CoreThread<E: Engine> {
    engine: E,
    limits: FlowLimits,
    conns: HashMap<ConnId, ConnHandle>,
    clock_offset: i64,
    faults: Faults,
    /// Frames of backlogged connections, in arrival order.
    deferred: HashMap<ConnId, VecDeque<PendingFrame>>,
    /// This batch's encoded outputs, released at the flush.
    staged: HashMap<ConnId, Staged>,
    staged_order: Vec<ConnId>,
    /// Requests handled in this batch, for the latency statistics at the flush.
    handled: Vec<(ConnId, Instant)>,
    /// Reused for the core's outputs.
    scratch: Vec<Output>,
    /// Inputs that arrived while paused, handled first after resuming.
    stash: std::collections::VecDeque<CoreMsg>,
}

/// Armed fault injections (driver-level: the core never knows).
#[derive(Debug, Default)]
struct Faults {
    /// Sessions whose next write is applied but answered by a closed connection.
    drop_next_reply: HashSet<i64>,
    /// Sessions whose watch events are held back, with the held events in order.
    held: HashMap<i64, Vec<(i64, WatcherEvent)>>,
    /// Writes (connection, xid) whose reply, when it comes, is dropped and the connection
    /// closed (engines that reply when the txn commits).
    dropping: HashSet<(ConnId, i32)>,
}

impl<E: Engine> CoreThread<E> {
    pub(crate) fn new(engine: E, limits: FlowLimits) -> CoreThread<E> {
        CoreThread {
            engine,
            limits,
            conns: HashMap::new(),
            clock_offset: 0,
            faults: Faults::default(),
            deferred: HashMap::new(),
            staged: HashMap::new(),
            staged_order: Vec::new(),
            handled: Vec::new(),
            scratch: Vec::new(),
            stash: std::collections::VecDeque::new(),
        }
    }

    fn now(&self) -> i64 {
        wall_ms() + self.clock_offset
    }

    pub(crate) fn run(mut self, rx: mpsc::Receiver<CoreMsg>) {
        loop {
            let now = self.now();
            let wait = if self.deferred_ready() {
                0
            } else {
                (self.engine.next_wakeup() - now).clamp(0, 1_000)
            };
            let first = match self.stash.pop_front() {
                Some(m) => Some(m),
                None => match rx.recv_timeout(Duration::from_millis(wait as u64)) {
                    Ok(m) => Some(m),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                },
            };
            let mut exit = None;
            let mut pause = None;
            let mut batch = first.into_iter().collect::<Vec<_>>();
            while batch.len() < 512 {
                match self
                    .stash
                    .pop_front()
                    .map_or_else(|| rx.try_recv().ok(), Some)
                {
                    Some(m) => batch.push(m),
                    None => break,
                }
            }
            let mut rest = batch.into_iter();
            for msg in rest.by_ref() {
                match msg {
                    CoreMsg::Kill => return,
                    CoreMsg::Pause(reply) => {
                        pause = Some(reply);
                        break;
                    }
                    CoreMsg::Resume(reply) => {
                        let _ = reply.send(());
                    }
                    msg => {
                        if let Some(reply) = self.handle(msg) {
                            exit = Some(reply);
                            break;
                        }
                    }
                }
                self.stage();
            }
            // Inputs after a stop are dropped with the connections; after a pause they wait.
            if pause.is_some() {
                self.stash.extend(rest);
            }
            let now = self.now();
            if pause.is_none() && exit.is_none() {
                self.pump_all(now);
            }
            self.engine.tick(now);
            self.stage();
            self.flush();
            if self.engine.stopped() {
                return;
            }
            if let Some(reply) = pause {
                let _ = reply.send(());
                if self.paused(&rx) {
                    return;
                }
            }
            if let Some(reply) = exit {
                self.conns.clear();
                self.deferred.clear();
                self.engine.shutdown();
                let _ = reply.send(self.engine.into_core());
                return;
            }
        }
    }

    /// A stopped process: no timers, nothing handled, until resumed. True if killed (or
    /// abandoned) meanwhile.
    fn paused(&mut self, rx: &mpsc::Receiver<CoreMsg>) -> bool {
        loop {
            match rx.recv() {
                Ok(CoreMsg::Kill) | Err(_) => return true,
                Ok(CoreMsg::Resume(reply)) => {
                    let _ = reply.send(());
                    return false;
                }
                Ok(CoreMsg::Pause(reply)) => {
                    let _ = reply.send(());
                }
                Ok(msg) => self.stash.push_back(msg),
            }
        }
    }

    fn handle(&mut self, msg: CoreMsg) -> Option<oneshot::Sender<crate::core::ServerCore>> {
        let now = self.now();
        match msg {
            CoreMsg::Open {
                conn,
                addr,
                tx,
                x509,
                flow,
            } => {
                self.conns.insert(conn, ConnHandle { tx, flow });
                self.engine.core_mut().open(conn, addr, now);
                if let Some(subject) = x509 {
                    self.engine.core_mut().add_x509_identity(conn, subject);
                }
            }
            CoreMsg::Connect { conn, req } => self.engine.connect(conn, &req, now),
            CoreMsg::Frame {
                conn,
                frame,
                credit,
                received,
            } => {
                let mut pending = PendingFrame {
                    frame,
                    credit,
                    received,
                };
                if self.deferred.contains_key(&conn) || self.backlogged(conn) {
                    pending.credit.release_global();
                    self.deferred.entry(conn).or_default().push_back(pending);
                    self.pump(conn, now);
                } else {
                    self.request(conn, pending, now);
                }
            }
            CoreMsg::Writable { conn } => self.pump(conn, now),
            CoreMsg::Closed { conn } => {
                self.conns.remove(&conn);
                self.deferred.remove(&conn);
                self.engine.core_mut().closed(conn);
            }
            CoreMsg::FourLetter { word, addr, reply } => {
                let view = self.net_view(Some(addr));
                let text = four_letter::render(self.engine.core_mut(), word, now, &view);
                let _ = reply.send(text);
            }
            CoreMsg::Control(c) => self.control(c, now),
            CoreMsg::Member(m) => self.engine.extra(m, now),
            CoreMsg::Stop { reply } => return Some(reply),
            // Handled by the run loop.
            CoreMsg::Kill | CoreMsg::Pause(_) | CoreMsg::Resume(_) => {}
        }
        None
    }

    fn control(&mut self, c: Control, now: i64) {
        match c {
            Control::DropAll(r) => {
                self.engine.core_mut().drop_all_connections();
                let _ = r.send(());
            }
            Control::DropSession(id, r) => {
                let _ = r.send(self.engine.core_mut().drop_session_connection(id));
            }
            Control::Expire(id, r) => {
                let _ = r.send(self.engine.expire_session(id, now));
            }
            Control::AdvanceClock(ms, r) => {
                self.clock_offset += ms;
                let now = self.now();
                self.engine.tick(now);
                let _ = r.send(());
            }
            Control::DropNextReply(id, r) => {
                let live = self.engine.core().sessions().is_live(id);
                if live {
                    self.faults.drop_next_reply.insert(id);
                }
                let _ = r.send(live);
            }
            Control::HoldEvents(id, true, r) => {
                self.faults.held.entry(id).or_default();
                let _ = r.send(0);
            }
            Control::HoldEvents(id, false, r) => {
                let _ = r.send(self.release_events(id));
            }
            Control::Inspect(f) => f(self.engine.core()),
        }
    }

    /// What the four-letter words need from outside the core.
    fn net_view(&self, asker: Option<std::net::SocketAddr>) -> NetView {
        let size = self.engine.data_dir_bytes();
        NetView {
            asker,
            data_dir_bytes: size,
            log_dir_bytes: size,
            role: self.engine.role(),
            queued: self
                .conns
                .iter()
                .map(|(id, h)| (*id, h.flow.requests_in_flight()))
                .collect(),
        }
    }

    /// Whether `conn` has more bytes waiting for its socket than the bound, or (on a member)
    /// as many requests waiting for commits as a connection may have in flight. Its requests
    /// then wait here holding their credits, so the connection stops reading: a client that
    /// pipelines faster than the ensemble commits is slowed down, as ZooKeeper throttles it,
    /// instead of losing its connection at `MAX_PENDING_PER_SESSION`.
    fn backlogged(&self, conn: ConnId) -> bool {
        let Some(h) = self.conns.get(&conn) else {
            return false;
        };
        let staged = self.staged.get(&conn).map_or(0, |s| s.buf.len());
        h.flow.unsent() + staged > self.limits.max_unsent_bytes
            || self.engine.core().conn_pending_requests(conn) >= self.limits.max_conn_requests
    }

    /// Whether a connection has deferred requests it may hand on now (a member's commits
    /// made room).
    fn deferred_ready(&self) -> bool {
        self.deferred.keys().any(|&conn| !self.backlogged(conn))
    }

    /// Hands on the deferred requests of every connection, while its backlog allows.
    fn pump_all(&mut self, now: i64) {
        let conns: Vec<ConnId> = self.deferred.keys().copied().collect();
        for conn in conns {
            self.pump(conn, now);
        }
    }

    /// Handles `conn`'s deferred requests while its backlog allows.
    fn pump(&mut self, conn: ConnId, now: i64) {
        loop {
            if self.deferred.get(&conn).map_or(true, VecDeque::is_empty) {
                self.deferred.remove(&conn);
                return;
            }
            if self.backlogged(conn) {
                if let Some(h) = self.conns.get(&conn) {
                    h.flow.wants_core_wakeup();
                }
                // Checked again: the task may have written in between.
                if self.backlogged(conn) {
                    return;
                }
            }
            let Some(pending) = self.deferred.get_mut(&conn).and_then(VecDeque::pop_front) else {
                return;
            };
            self.request(conn, pending, now);
        }
    }

    /// Handles one request frame; its credit is given back when `pending` drops here.
    fn request(&mut self, conn: ConnId, pending: PendingFrame, now: i64) {
        if self.engine.core().connections().contains_key(&conn) {
            self.handled.push((conn, pending.received));
        }
        if self.reply_to_drop(conn, &pending.frame) {
            self.frame_without_reply(conn, &pending.frame, now);
        } else {
            self.engine.frame(conn, &pending.frame, now);
        }
        self.stage();
    }

    fn session_of(&self, conn: ConnId) -> Option<i64> {
        self.engine
            .core()
            .connections()
            .get(&conn)
            .and_then(|c| c.session)
    }

    /// Whether this frame is a write of a session armed with "drop the next reply".
    fn reply_to_drop(&self, conn: ConnId, frame: &[u8]) -> bool {
        if self.faults.drop_next_reply.is_empty() {
            return false;
        }
        let Some(session) = self.session_of(conn) else {
            return false;
        };
        let Ok(header) = RequestHeader::decode(&mut &frame[..]) else {
            return false;
        };
        let op = header.op();
        self.faults.drop_next_reply.contains(&session)
            && op.is_write()
            && op != OpCode::CloseSession
    }

    /// Handles the frame (the write applies and is logged as usual), then drops its reply
    /// and closes the connection, as if the reply were lost with it. Events the write fires
    /// for other connections (and for this one, queued before the reply) still go out.
    fn frame_without_reply(&mut self, conn: ConnId, frame: &[u8], now: i64) {
        self.stage();
        let session = self.session_of(conn);
        if self.engine.replies_later() {
            // The reply comes when the txn commits: `stage_one` drops it then.
            if let (Some(session), Ok(header)) = (session, RequestHeader::decode(&mut &frame[..])) {
                self.faults.drop_next_reply.remove(&session);
                self.faults.dropping.insert((conn, header.xid));
            }
            self.engine.frame(conn, frame, now);
            return;
        }
        self.engine.frame(conn, frame, now);
        for output in self.engine.core_mut().take_outputs() {
            if !matches!(output, Output::Reply { conn: c, .. } if c == conn) {
                self.stage_one(output);
            }
        }
        if let Some(session) = session {
            self.faults.drop_next_reply.remove(&session);
            tracing::info!(
                session = format_args!("{session:#x}"),
                "fault: reply dropped after applying; closing the connection"
            );
            self.engine.core_mut().drop_session_connection(session);
        }
    }

    /// Sends a session's held events to its current connection and stops holding them.
    fn release_events(&mut self, session: i64) -> usize {
        let Some(events) = self.faults.held.remove(&session) else {
            return 0;
        };
        let conn = self
            .engine
            .core()
            .connections()
            .iter()
            .find(|(_, c)| c.session == Some(session))
            .map(|(id, _)| *id);
        let Some(conn) = conn.filter(|c| self.conns.contains_key(c)) else {
            return 0;
        };
        let n = events.len();
        for (zxid, event) in events {
            self.stage_one(Output::Event { conn, zxid, event });
        }
        n
    }

    /// Encodes the core's outputs so far into this batch's per-connection buffers.
    fn stage(&mut self) {
        let mut outputs = std::mem::take(&mut self.scratch);
        self.engine.core_mut().swap_outputs(&mut outputs);
        for output in outputs.drain(..) {
            self.stage_one(output);
        }
        self.scratch = outputs;
    }

    fn stage_one(&mut self, output: Output) {
        let conn = match &output {
            Output::Connected { conn, .. }
            | Output::Reply { conn, .. }
            | Output::Event { conn, .. }
            | Output::Close { conn } => *conn,
        };
        if let Output::Reply { header, .. } = &output {
            if !self.faults.dropping.is_empty() && self.faults.dropping.remove(&(conn, header.xid))
            {
                tracing::info!(
                    conn,
                    "fault: reply dropped after applying; closing the connection"
                );
                let staged = self.staged.entry(conn).or_insert_with(|| {
                    self.staged_order.push(conn);
                    Staged::default()
                });
                staged.close = true;
                return;
            }
        }
        if let Output::Event { zxid, event, .. } = &output {
            if !self.faults.held.is_empty() {
                let session = self.session_of(conn);
                if let Some(held) = session.and_then(|s| self.faults.held.get_mut(&s)) {
                    held.push((*zxid, event.clone()));
                    return;
                }
            }
        }
        let staged = self.staged.entry(conn).or_insert_with(|| {
            self.staged_order.push(conn);
            Staged::default()
        });
        if staged.close {
            return;
        }
        let buf = &mut staged.buf;
        match output {
            Output::Connected { response, .. } => encode_connect_response(buf, &response),
            Output::Reply { header, body, .. } => encode_reply(buf, &header, body.as_ref()),
            Output::Event { zxid, event, .. } => encode_event(buf, zxid, &event),
            Output::Close { .. } => staged.close = true,
        }
    }

    /// Makes the batch durable, then releases its outputs.
    fn flush(&mut self) {
        let now = self.now();
        if let Err(e) = self.engine.make_durable(now) {
            // Nothing of this batch may be acknowledged: drop every connection.
            tracing::error!(error = %e, "a write to the disk failed; closing connections");
            self.staged.clear();
            self.staged_order.clear();
            self.handled.clear();
            self.engine.core_mut().drop_all_connections();
            let _ = self.engine.core_mut().take_outputs();
            for (_, h) in self.conns.drain() {
                let _ = h.tx.send(ConnOut::Abort);
            }
            self.deferred.clear();
            return;
        }
        // Making it durable may have released more (a member's commits).
        self.stage();
        let done = Instant::now();
        let now = self.now();
        for (conn, received) in std::mem::take(&mut self.handled) {
            let ms = done.saturating_duration_since(received).as_millis();
            let ms = i64::try_from(ms).unwrap_or(i64::MAX);
            self.engine.core_mut().record_latency(conn, ms, now);
        }
        for conn in std::mem::take(&mut self.staged_order) {
            let Some(staged) = self.staged.remove(&conn) else {
                continue;
            };
            let Some(h) = self.conns.get(&conn) else {
                continue;
            };
            if !staged.buf.is_empty() {
                let backlog = h.flow.queued(staged.buf.len());
                let _ = h.tx.send(ConnOut::Bytes(staged.buf.freeze()));
                if backlog > self.limits.abort_unsent_bytes && !staged.close {
                    tracing::warn!(
                        conn,
                        backlog,
                        "the client does not read its replies and events; closing"
                    );
                    let _ = h.tx.send(ConnOut::Abort);
                    self.conns.remove(&conn);
                    self.deferred.remove(&conn);
                    self.engine.core_mut().closed(conn);
                    continue;
                }
            }
            if staged.close {
                if let Some(h) = self.conns.remove(&conn) {
                    let _ = h.tx.send(ConnOut::Close);
                }
                self.deferred.remove(&conn);
            }
        }
    }
}
