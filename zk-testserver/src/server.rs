//! [`TestServer`]: the in-process server, its builder, and the core thread that owns all state.
//!
//! One OS thread owns the [`ServerCore`] and the storage (`core_thread.rs`); connection tasks
//! talk to it through a channel. Request frames travel with a credit from the flow-control
//! budgets (`net/flow.rs`), which bounds what the channel can hold.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{mpsc, Arc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::{mpsc as tmpsc, oneshot};
use zk_proto::{ConnectRequest, FourLetterWord};

use crate::core::{CoreConfig, ServerCore, Whitelist};
use crate::net::flow::{Budget, ConnFlow, Credit};
use crate::net::{self, ConnLimits, ConnOut, NetContext};
use crate::storage::Storage;
use crate::watch::ConnId;

mod builder;
mod core_thread;
mod engine;

pub(crate) use core_thread::CoreThread;
pub(crate) use engine::{Engine, Standalone};

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
        flow: Arc<ConnFlow>,
    },
    Connect {
        conn: ConnId,
        req: ConnectRequest,
    },
    Frame {
        conn: ConnId,
        frame: Bytes,
        credit: Credit,
        received: std::time::Instant,
    },
    /// The task wrote enough of a backlog the core was waiting on.
    Writable {
        conn: ConnId,
    },
    Closed {
        conn: ConnId,
    },
    FourLetter {
        word: FourLetterWord,
        addr: SocketAddr,
        reply: oneshot::Sender<String>,
    },
    Control(Control),
    /// An ensemble member's own input (peer messages, member faults).
    Member(crate::ensemble::MemberMsg),
    /// Stop handling anything but `Resume` and `Kill` (a stopped process); answered once
    /// paused.
    Pause(oneshot::Sender<()>),
    /// Resume after `Pause`.
    Resume(oneshot::Sender<()>),
    /// Stop at once: nothing more is written, sent or persisted.
    Kill,
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
        let limits = self.builder.flow_limits();
        let engine = Standalone {
            core,
            storage,
            snap_count: self.builder.snap_count,
        };
        let thread_state = CoreThread::new(engine, limits);
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
            budget: Budget::new(limits),
            handshake_timeout: self.builder.handshake_timeout,
            max_frame: self.builder.max_frame,
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
