//! [`TestServer`]: the in-process server, its builder, and the core thread that owns all state.
//!
//! One OS thread owns the [`ServerCore`] and the storage; connection tasks talk to it through a
//! channel. The thread handles a batch of inputs, appends the batch's txns to the log (one
//! fsync for the batch), and only then releases the batch's replies and events, so nothing is
//! acknowledged before it is durable and every connection's outputs keep their order.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{mpsc, Arc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::collections::{HashMap, HashSet};

use bytes::{Bytes, BytesMut};
use tokio::sync::{mpsc as tmpsc, oneshot};
use zk_proto::{
    encode_connect_response, encode_event, encode_reply, ConnectRequest, FourLetterWord, Jute,
    OpCode, RequestHeader, WatcherEvent,
};

use crate::core::{CoreConfig, Output, ServerCore, Whitelist};
use crate::net::{self, ConnLimits, ConnOut, NetContext};
use crate::storage::Storage;
use crate::watch::ConnId;

mod builder;

pub use builder::{ClientAuth, ServerError, TestServerBuilder, TlsFiles};

/// Messages to the core thread.
#[derive(Debug)]
pub(crate) enum CoreMsg {
    Open {
        conn: ConnId,
        addr: SocketAddr,
        tx: tmpsc::UnboundedSender<ConnOut>,
        /// The subject of a verified TLS client certificate.
        x509: Option<String>,
    },
    Connect {
        conn: ConnId,
        req: ConnectRequest,
    },
    Frame {
        conn: ConnId,
        frame: Bytes,
    },
    Closed {
        conn: ConnId,
    },
    FourLetter {
        word: FourLetterWord,
        reply: oneshot::Sender<String>,
    },
    Control(Control),
    Stop {
        reply: oneshot::Sender<ServerCore>,
    },
}

/// Fault injection and inspection requests.
pub(crate) enum Control {
    DropAll(oneshot::Sender<()>),
    DropSession(i64, oneshot::Sender<bool>),
    Expire(i64, oneshot::Sender<bool>),
    AdvanceClock(i64, oneshot::Sender<()>),
    DropNextReply(i64, oneshot::Sender<bool>),
    HoldEvents(i64, bool, oneshot::Sender<usize>),
    Inspect(Box<dyn FnOnce(&ServerCore) + Send>),
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Control::DropAll(_) => "DropAll",
            Control::DropSession(..) => "DropSession",
            Control::Expire(..) => "Expire",
            Control::AdvanceClock(..) => "AdvanceClock",
            Control::DropNextReply(..) => "DropNextReply",
            Control::HoldEvents(..) => "HoldEvents",
            Control::Inspect(_) => "Inspect",
        })
    }
}

/// Wall-clock milliseconds.
pub(crate) fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

struct CoreThread {
    core: ServerCore,
    storage: Option<Storage>,
    conns: std::collections::HashMap<ConnId, tmpsc::UnboundedSender<ConnOut>>,
    clock_offset: i64,
    snap_count: u64,
    faults: Faults,
}

/// Armed fault injections (driver-level: the core never knows).
#[derive(Debug, Default)]
struct Faults {
    /// Sessions whose next write is applied but answered by a closed connection.
    drop_next_reply: HashSet<i64>,
    /// Sessions whose watch events are held back, with the held events in order.
    held: HashMap<i64, Vec<(i64, WatcherEvent)>>,
    /// Outputs already taken from the core in this batch, released at the next flush.
    stash: Vec<Output>,
}

impl CoreThread {
    fn now(&self) -> i64 {
        wall_ms() + self.clock_offset
    }

    fn run(mut self, rx: mpsc::Receiver<CoreMsg>) -> Option<oneshot::Sender<ServerCore>> {
        loop {
            let now = self.now();
            let wait = (self.core.next_wakeup() - now).clamp(0, 1_000);
            let first = match rx.recv_timeout(Duration::from_millis(wait as u64)) {
                Ok(m) => Some(m),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => return None,
            };
            let mut stop = None;
            let mut batch = first.into_iter().collect::<Vec<_>>();
            while batch.len() < 512 {
                match rx.try_recv() {
                    Ok(m) => batch.push(m),
                    Err(_) => break,
                }
            }
            for msg in batch {
                if stop.is_some() {
                    // Stop is the last thing handled; later inputs are dropped with the
                    // connections.
                    continue;
                }
                if let Some(reply) = self.handle(msg) {
                    stop = Some(reply);
                }
            }
            let now = self.now();
            self.core.tick(now);
            self.flush();
            if let Some(reply) = stop {
                self.conns.clear();
                if let Some(storage) = self.storage.as_mut() {
                    if let Err(e) = storage.snapshot(&self.core) {
                        tracing::error!(error = %e, "snapshot at shutdown failed");
                    }
                }
                let _ = reply.send(self.core);
                return None;
            }
        }
    }

    fn handle(&mut self, msg: CoreMsg) -> Option<oneshot::Sender<ServerCore>> {
        let now = self.now();
        match msg {
            CoreMsg::Open {
                conn,
                addr,
                tx,
                x509,
            } => {
                self.conns.insert(conn, tx);
                self.core.open(conn, addr, now);
                if let Some(subject) = x509 {
                    self.core.add_x509_identity(conn, subject);
                }
            }
            CoreMsg::Connect { conn, req } => self.core.connect(conn, &req, now),
            CoreMsg::Frame { conn, frame } => {
                if self.reply_to_drop(conn, &frame) {
                    self.frame_without_reply(conn, &frame, now);
                } else {
                    self.core.frame(conn, &frame, now);
                }
            }
            CoreMsg::Closed { conn } => {
                self.conns.remove(&conn);
                self.core.closed(conn);
            }
            CoreMsg::FourLetter { word, reply } => {
                let text = crate::four_letter::render(&mut self.core, word, now);
                let _ = reply.send(text);
            }
            CoreMsg::Control(c) => match c {
                Control::DropAll(r) => {
                    self.core.drop_all_connections();
                    let _ = r.send(());
                }
                Control::DropSession(id, r) => {
                    let _ = r.send(self.core.drop_session_connection(id));
                }
                Control::Expire(id, r) => {
                    let _ = r.send(self.core.expire_session(id, now));
                }
                Control::AdvanceClock(ms, r) => {
                    self.clock_offset += ms;
                    let now = self.now();
                    self.core.tick(now);
                    let _ = r.send(());
                }
                Control::DropNextReply(id, r) => {
                    let live = self.core.sessions().is_live(id);
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
                Control::Inspect(f) => f(&self.core),
            },
            CoreMsg::Stop { reply } => return Some(reply),
        }
        None
    }

    fn session_of(&self, conn: ConnId) -> Option<i64> {
        self.core.connections().get(&conn).and_then(|c| c.session)
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
        let earlier = self.core.take_outputs();
        self.faults.stash.extend(earlier);
        let session = self.session_of(conn);
        self.core.frame(conn, frame, now);
        let produced = self.core.take_outputs();
        self.faults.stash.extend(
            produced
                .into_iter()
                .filter(|o| !matches!(o, Output::Reply { conn: c, .. } if *c == conn)),
        );
        if let Some(session) = session {
            self.faults.drop_next_reply.remove(&session);
            tracing::info!(
                session = format_args!("{session:#x}"),
                "fault: reply dropped after applying; closing the connection"
            );
            self.core.drop_session_connection(session);
        }
    }

    /// Sends a session's held events to its current connection and stops holding them.
    fn release_events(&mut self, session: i64) -> usize {
        let Some(events) = self.faults.held.remove(&session) else {
            return 0;
        };
        let conn = self
            .core
            .connections()
            .iter()
            .find(|(_, c)| c.session == Some(session))
            .map(|(id, _)| *id);
        let Some(tx) = conn.and_then(|c| self.conns.get(&c)) else {
            return 0;
        };
        let mut buf = BytesMut::new();
        for (zxid, event) in &events {
            encode_event(&mut buf, *zxid, event);
        }
        let _ = tx.send(ConnOut::Bytes(buf.freeze()));
        events.len()
    }

    /// Persists the batch's txns, then releases its outputs.
    fn flush(&mut self) {
        let log = self.core.take_log();
        if let Some(storage) = self.storage.as_mut() {
            if !log.is_empty() {
                if let Err(e) = storage.append(&log) {
                    // Nothing of this batch may be acknowledged: drop every connection.
                    tracing::error!(error = %e, "txn log write failed; closing connections");
                    let _ = self.core.take_outputs();
                    self.faults.stash.clear();
                    self.core.drop_all_connections();
                    let _ = self.core.take_outputs();
                    self.conns.clear();
                    return;
                }
                if storage.txns_since_snapshot() >= self.snap_count {
                    if let Err(e) = storage.snapshot(&self.core) {
                        tracing::error!(error = %e, "snapshot failed");
                    }
                }
            }
        }
        let mut outputs = std::mem::take(&mut self.faults.stash);
        outputs.extend(self.core.take_outputs());
        if !self.faults.held.is_empty() {
            let held = &mut self.faults.held;
            let conns = self.core.connections();
            outputs.retain(|o| match o {
                Output::Event { conn, zxid, event } => {
                    match conns.get(conn).and_then(|c| c.session) {
                        Some(s) if held.contains_key(&s) => {
                            held.entry(s).or_default().push((*zxid, event.clone()));
                            false
                        }
                        _ => true,
                    }
                }
                _ => true,
            });
        }
        let mut order: Vec<ConnId> = Vec::new();
        let mut bufs: std::collections::HashMap<ConnId, BytesMut> = Default::default();
        let send =
            |conns: &mut std::collections::HashMap<ConnId, tmpsc::UnboundedSender<ConnOut>>,
             conn: ConnId,
             bufs: &mut std::collections::HashMap<ConnId, BytesMut>| {
                if let Some(buf) = bufs.remove(&conn) {
                    if let Some(tx) = conns.get(&conn) {
                        let _ = tx.send(ConnOut::Bytes(buf.freeze()));
                    }
                }
            };
        for output in outputs {
            let conn = match &output {
                Output::Connected { conn, .. }
                | Output::Reply { conn, .. }
                | Output::Event { conn, .. }
                | Output::Close { conn } => *conn,
            };
            if !bufs.contains_key(&conn) {
                order.push(conn);
            }
            let buf = bufs.entry(conn).or_default();
            match output {
                Output::Connected { response, .. } => encode_connect_response(buf, &response),
                Output::Reply { header, body, .. } => encode_reply(buf, &header, body.as_ref()),
                Output::Event { zxid, event, .. } => encode_event(buf, zxid, &event),
                Output::Close { conn } => {
                    send(&mut self.conns, conn, &mut bufs);
                    if let Some(tx) = self.conns.remove(&conn) {
                        let _ = tx.send(ConnOut::Close);
                    }
                }
            }
        }
        for conn in order {
            send(&mut self.conns, conn, &mut bufs);
        }
    }
}

struct Running {
    core_tx: mpsc::Sender<CoreMsg>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A ZooKeeper-compatible server running in this process.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use zk_testserver::TestServer;
///
/// let mut server = TestServer::builder().tick_time_ms(50).start().await.unwrap();
/// println!("connect to {}", server.connect_string());
/// server.restart().await.unwrap(); // same port, data and sessions kept
/// server.stop().await;
/// # }
/// ```
pub struct TestServer {
    builder: TestServerBuilder,
    addr: SocketAddr,
    secure_addr: Option<SocketAddr>,
    running: Option<Running>,
    stopped: Option<ServerCore>,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .field("running", &self.running.is_some())
            .finish()
    }
}

impl TestServer {
    /// A builder with the defaults (port 0 on 127.0.0.1, tickTime 2000, every 4lw allowed).
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder::default()
    }

    pub(crate) async fn launch(builder: TestServerBuilder) -> Result<TestServer, ServerError> {
        let mut server = TestServer {
            addr: builder.listen_addr(),
            secure_addr: None,
            builder,
            running: None,
            stopped: None,
        };
        server.boot(None).await?;
        Ok(server)
    }

    async fn boot(&mut self, kept: Option<ServerCore>) -> Result<(), ServerError> {
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .map_err(|e| ServerError::Bind(self.addr, e))?;
        self.addr = listener
            .local_addr()
            .map_err(|e| ServerError::Bind(self.addr, e))?;
        let secure = match self.builder.tls_acceptor()? {
            Some(acceptor) => {
                let want = self
                    .secure_addr
                    .unwrap_or(self.builder.secure_listen_addr());
                let l = tokio::net::TcpListener::bind(want)
                    .await
                    .map_err(|e| ServerError::Bind(want, e))?;
                self.secure_addr = Some(l.local_addr().map_err(|e| ServerError::Bind(want, e))?);
                Some((l, acceptor))
            }
            None => None,
        };
        let now = wall_ms();
        let mut cfg = self.builder.core_config(self.addr, self.secure_addr);
        let (storage, core) = match self.builder.data_dir.clone() {
            Some(dir) => {
                let (storage, recovered) = Storage::open(&dir, self.builder.fsync, cfg.secret)
                    .map_err(ServerError::Storage)?;
                cfg.secret = recovered.secret;
                let mut core = ServerCore::from_state(
                    cfg,
                    recovered.tree,
                    recovered.sessions,
                    recovered.zxid,
                    now,
                );
                for txn in &recovered.txns {
                    core.apply_logged(txn, now);
                }
                let _ = core.take_outputs();
                let _ = core.take_log();
                tracing::info!(
                    zxid = core.last_zxid(),
                    replayed = recovered.txns.len(),
                    "recovered from {}",
                    dir.display()
                );
                (Some(storage), core)
            }
            None => match kept {
                Some(core) => (None, core),
                None => (None, ServerCore::new(cfg, now)),
            },
        };
        let (core_tx, core_rx) = mpsc::channel();
        let thread_state = CoreThread {
            core,
            storage,
            conns: Default::default(),
            clock_offset: 0,
            snap_count: self.builder.snap_count,
            faults: Faults::default(),
        };
        let thread = std::thread::Builder::new()
            .name("zk-testserver-core".into())
            .spawn(move || {
                thread_state.run(core_rx);
            })
            .map_err(ServerError::Thread)?;
        let ctx = NetContext {
            core: core_tx.clone(),
            next_conn: Arc::new(AtomicU64::new(1)),
            limits: ConnLimits::new(self.builder.max_client_cnxns),
            tls: None,
            max_frame: self
                .builder
                .max_frame
                .unwrap_or(zk_proto::DEFAULT_MAX_FRAME),
        };
        let mut tasks = vec![tokio::spawn(net::accept_loop(listener, ctx.clone()))];
        if let Some((l, acceptor)) = secure {
            let ctx = NetContext {
                tls: Some(acceptor),
                ..ctx
            };
            tasks.push(tokio::spawn(net::accept_loop(l, ctx)));
        }
        tracing::info!(addr = %self.addr, "zk-testserver serving");
        self.running = Some(Running {
            core_tx,
            tasks,
            thread: Some(thread),
        });
        Ok(())
    }

    /// The client address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The TLS client address, if TLS is configured.
    pub fn secure_addr(&self) -> Option<SocketAddr> {
        self.secure_addr
    }

    /// `host:port` for clients.
    pub fn connect_string(&self) -> String {
        self.addr.to_string()
    }

    /// True while serving.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    fn send(&self, msg: CoreMsg) -> bool {
        self.running
            .as_ref()
            .is_some_and(|r| r.core_tx.send(msg).is_ok())
    }

    async fn control<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Control) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        if !self.send(CoreMsg::Control(make(tx))) {
            return None;
        }
        rx.await.ok()
    }

    /// Stops serving: closes the listener and every connection (a snapshot is written when
    /// there is a data dir). The state is kept for [`TestServer::restart`].
    pub async fn stop(&mut self) {
        let Some(mut running) = self.running.take() else {
            return;
        };
        for t in &running.tasks {
            t.abort();
        }
        let (tx, rx) = oneshot::channel();
        if running.core_tx.send(CoreMsg::Stop { reply: tx }).is_ok() {
            if let Ok(core) = rx.await {
                self.stopped = Some(core);
            }
        }
        if let Some(thread) = running.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        for t in running.tasks {
            let _ = t.await;
        }
        tracing::info!(addr = %self.addr, "zk-testserver stopped");
    }

    /// Stops (if running) and starts again on the same port, keeping the data and the
    /// sessions: recovered from the data dir when there is one, else kept in memory. Clients
    /// reconnect with their session id and password; session deadlines restart.
    pub async fn restart(&mut self) -> Result<(), ServerError> {
        self.stop().await;
        let kept = self.stopped.take().map(|mut core| {
            core.drop_all_connections();
            let _ = core.take_outputs();
            core
        });
        let kept = kept.map(|core| core.restarted(wall_ms()));
        self.boot(kept).await
    }

    /// Closes every client connection; sessions stay.
    pub async fn drop_connections(&self) {
        let _ = self.control(Control::DropAll).await;
    }

    /// Closes the connection of one session (it stays alive); false if it had none.
    pub async fn drop_session_connection(&self, session_id: i64) -> bool {
        self.control(|tx| Control::DropSession(session_id, tx))
            .await
            .unwrap_or(false)
    }

    /// Expires a session now: its ephemerals go (firing watches) and its connection closes.
    pub async fn expire_session(&self, session_id: i64) -> bool {
        self.control(|tx| Control::Expire(session_id, tx))
            .await
            .unwrap_or(false)
    }

    /// Moves the server clock forward (sessions, TTL and container expiry see it at once).
    pub async fn advance_clock(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX / 2);
        let _ = self.control(|tx| Control::AdvanceClock(ms, tx)).await;
    }

    /// Arms a lost reply: the session's next write (any op but closeSession) is applied and
    /// logged as usual, but its reply is dropped and the connection closed, as if the reply
    /// were lost in the network. The client then cannot know whether the write applied.
    /// False if the session is not live. Armed faults end with [`TestServer::restart`].
    pub async fn drop_next_reply(&self, session_id: i64) -> bool {
        self.control(|tx| Control::DropNextReply(session_id, tx))
            .await
            .unwrap_or(false)
    }

    /// Holds back the session's watch events (on any of its connections) until
    /// [`TestServer::release_events`]; replies keep flowing, so the client sees replies for
    /// writes whose events it has not received yet. A restart drops the held events.
    pub async fn hold_events(&self, session_id: i64) {
        let _ = self
            .control(|tx| Control::HoldEvents(session_id, true, tx))
            .await;
    }

    /// Delivers the session's held events in order to its current connection and stops
    /// holding; returns how many were delivered (0 if it has no connection: they are lost).
    pub async fn release_events(&self, session_id: i64) -> usize {
        self.control(|tx| Control::HoldEvents(session_id, false, tx))
            .await
            .unwrap_or(0)
    }

    /// Runs `f` on the core's state (in the core thread) and returns its result.
    pub async fn inspect<T: Send + 'static>(
        &self,
        f: impl FnOnce(&ServerCore) -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        let job = Box::new(move |core: &ServerCore| {
            let _ = tx.send(f(core));
        });
        if !self.send(CoreMsg::Control(Control::Inspect(job))) {
            return None;
        }
        rx.await.ok()
    }

    /// Live session ids.
    pub async fn session_ids(&self) -> Vec<i64> {
        self.inspect(|c| c.sessions().iter().map(|(id, _)| id).collect())
            .await
            .unwrap_or_default()
    }

    /// The last applied zxid.
    pub async fn last_zxid(&self) -> i64 {
        self.inspect(ServerCore::last_zxid).await.unwrap_or(0)
    }

    /// The data directory, if persistent.
    pub fn data_dir(&self) -> Option<&PathBuf> {
        self.builder.data_dir.as_ref()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            for t in &running.tasks {
                t.abort();
            }
            let (tx, _rx) = oneshot::channel();
            let _ = running.core_tx.send(CoreMsg::Stop { reply: tx });
        }
    }
}

impl CoreConfig {
    /// Applies the builder's whitelist etc. (kept here so the builder stays declarative).
    pub(crate) fn whitelisted(mut self, whitelist: Whitelist) -> CoreConfig {
        self.whitelist = whitelist;
        self
    }
}
