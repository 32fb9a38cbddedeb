//! [`MemberNode`]: one client-serving ensemble member over real sockets.
//!
//! The sans-IO [`Member`] runs on the server's core thread (the same thread, batching, flow
//! control and driver-level faults as a standalone [`crate::TestServer`]); clients come in
//! through the same connection tasks; peers through the member transport
//! ([`super::transport`]). Persist ops go to the [`DurableStore`] on a thread of their own
//! (ops queued while it writes are made durable together: group commit), which tells the
//! core thread when they are durable; the replication core acts on nothing before that, and
//! neither client traffic nor pings wait for an fsync.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
use zk_proto::ConnectRequest;

use super::disk::DurableStore;
use super::transport::{Inbound, Link, PeerEvent, PeerInput, Transport};
use crate::core::{CoreConfig, ServerCore};
use crate::member::{Member, Serving};
use crate::net::flow::{Budget, FlowLimits};
use crate::net::{self, ConnLimits, NetContext};
use crate::replication::{Output, PeerState, PersistOp, ReplicaConfig, ServerId};
use crate::server::{wall_ms, Control, CoreMsg, CoreThread, Engine};
use crate::watch::ConnId;

/// Everything one member needs.
#[derive(Debug, Clone)]
pub struct MemberConfig {
    /// Id, voters, observers and timings ([`ReplicaConfig::fast`] for tests).
    pub replica: ReplicaConfig,
    /// Every member's peer (quorum) address, this one's included.
    pub peers: BTreeMap<ServerId, SocketAddr>,
    /// The client side: session timeout bounds, the session secret (identical on every
    /// member), `read_only_mode_enabled`, ... (`myid` is taken from `replica.id`).
    pub core: CoreConfig,
}

impl MemberConfig {
    /// A test configuration: [`ReplicaConfig::fast`] over every id of `peers` as voters (with
    /// a 150 ms `syncLimit` and 300 ms `initLimit`, so a loaded test machine does not lose its
    /// leader to a scheduling hiccup; a killed member's connections break at once anyway), a
    /// 10 ms tick, session timeouts between 20 ms and 60 s, and `secret` for session
    /// passwords (give every member the same).
    pub fn fast(
        id: ServerId,
        peers: BTreeMap<ServerId, SocketAddr>,
        secret: [u8; 32],
    ) -> MemberConfig {
        let mut replica = ReplicaConfig::fast(id, peers.keys().copied());
        replica.sync_limit_ms = 150;
        replica.init_limit_ms = 300;
        let mut core = CoreConfig::with_tick(replica.tick_ms);
        core.min_session_timeout_ms = 20;
        core.max_session_timeout_ms = 60_000;
        core.secret = secret;
        MemberConfig {
            replica,
            peers,
            core,
        }
    }
}

/// What a member shows its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberStatus {
    /// The member's id.
    pub id: ServerId,
    /// Its role.
    pub role: PeerState,
    /// The epoch of the last leader it synced with (`currentEpoch`).
    pub epoch: u32,
    /// The epoch it leads with a synced quorum, if it does.
    pub established: Option<u32>,
    /// The leader it serves under (itself when leading an established epoch).
    pub leader: Option<ServerId>,
    /// The last logged zxid.
    pub last_logged: i64,
    /// The last zxid known committed.
    pub committed: i64,
    /// The last zxid applied to its tree.
    pub applied: i64,
    /// Whether it serves clients now, and how.
    pub serving: Serving,
    /// False once a reconfig removed it from the membership (it neither votes nor serves).
    pub in_config: bool,
    /// The zxid of its newest snapshot (0: none).
    pub snapshot: i64,
    /// Txns its log holds in memory (after the newest snapshot, plus a short tail).
    pub log_len: usize,
}

impl MemberStatus {
    fn of(member: &Member) -> MemberStatus {
        let r = member.replica();
        let established = r.established_epoch();
        MemberStatus {
            id: r.id(),
            role: r.state(),
            epoch: r.epochs().1,
            established,
            leader: established.map(|_| r.id()).or(r.synced_leader()),
            last_logged: r.last_zxid(),
            committed: r.committed(),
            applied: member.core().last_zxid(),
            serving: member.serving(),
            in_config: r.in_config(),
            snapshot: r.snapshot_zxid(),
            log_len: r.log_len(),
        }
    }
}

/// Inputs of a member's core thread beyond the standalone server's.
#[derive(Debug)]
pub(crate) enum MemberMsg {
    /// From the peer transport.
    Peer(PeerEvent),
    /// Set a link; answered once applied.
    SetLink(ServerId, Link, oneshot::Sender<()>),
    /// The disk thread made persist ops up to this sequence number durable.
    Persisted(u64),
    /// Learn a peer's address (a member joining by reconfig); answered once known.
    AddPeer(ServerId, SocketAddr, oneshot::Sender<()>),
}

/// A member's TLS client port (`secureClientPort`): a bound listener and the TLS settings
/// it serves with. Clients there speak the ordinary protocol inside TLS, exactly as on a
/// standalone server's secure port (a verified client certificate is the `x509` identity).
#[derive(Debug)]
pub struct SecurePort {
    /// The bound listener.
    pub listener: std::net::TcpListener,
    /// The server side of TLS (see [`crate::tls::server_config_from_stores`]).
    pub tls: Arc<rustls::ServerConfig>,
}

/// A running member. Dropping it is `kill -9`: its tasks, sockets and thread stop at once and
/// nothing more reaches its disk.
#[derive(Debug)]
pub struct MemberNode {
    id: ServerId,
    client_addr: SocketAddr,
    secure_addr: Option<SocketAddr>,
    peer_addr: SocketAddr,
    core_tx: mpsc::Sender<CoreMsg>,
    status: watch::Receiver<MemberStatus>,
    killed: Arc<AtomicBool>,
    tasks: JoinSet<()>,
}

impl MemberNode {
    /// Starts member `cfg.replica.id` serving clients on `client` and peers on `peer` (both
    /// already bound, so every address is known up front), from what `disk` holds. Must be
    /// called within a tokio runtime.
    pub fn start(
        cfg: MemberConfig,
        client: std::net::TcpListener,
        peer: std::net::TcpListener,
        disk: Box<dyn DurableStore>,
    ) -> std::io::Result<MemberNode> {
        MemberNode::start_secure(cfg, client, None, peer, disk)
    }

    /// [`MemberNode::start`], also serving TLS clients on `secure` when given (beside the
    /// plain `client` port, as ZooKeeper serves `clientPort` and `secureClientPort`).
    pub fn start_secure(
        cfg: MemberConfig,
        client: std::net::TcpListener,
        secure: Option<SecurePort>,
        peer: std::net::TcpListener,
        mut disk: Box<dyn DurableStore>,
    ) -> std::io::Result<MemberNode> {
        let id = cfg.replica.id;
        let client_addr = client.local_addr()?;
        let peer_addr = peer.local_addr()?;
        client.set_nonblocking(true)?;
        peer.set_nonblocking(true)?;
        let client = tokio::net::TcpListener::from_std(client)?;
        let peer = tokio::net::TcpListener::from_std(peer)?;
        let secure = match secure {
            Some(port) => {
                let addr = port.listener.local_addr()?;
                port.listener.set_nonblocking(true)?;
                let listener = tokio::net::TcpListener::from_std(port.listener)?;
                Some((addr, listener, tokio_rustls::TlsAcceptor::from(port.tls)))
            }
            None => None,
        };
        let secure_addr = secure.as_ref().map(|(addr, _, _)| *addr);
        let durable = disk.load()?;
        let now = wall_ms();
        let mut core = cfg.core;
        if core.wall_clock_ms == 0 {
            core.wall_clock_ms = now;
        }
        set_conf_line(&mut core.conf_lines, "clientPort", client_addr.port());
        if let Some(addr) = secure_addr {
            set_conf_line(&mut core.conf_lines, "secureClientPort", addr.port());
        }
        let max_cnxns = core.max_client_cnxns;
        let limits = FlowLimits {
            max_requests: core.global_outstanding_limit,
            max_conn_requests: core.global_outstanding_limit,
            ..FlowLimits::default()
        };
        let handshake_timeout = Duration::from_millis(core.handshake_timeout_ms);
        let max_frame = core.max_frame;
        let member = Member::new(cfg.replica, core, durable, now);
        // A membership persisted by a reconfig may name members the configuration does not.
        let mut peers = cfg.peers;
        if let Some(q) = member.replica().quorum_config() {
            for (id, spec) in &q.servers {
                if let Some(addr) = spec.quorum_addr() {
                    peers.entry(*id).or_insert(addr);
                }
            }
        }
        let (core_tx, core_rx) = mpsc::channel();
        let mut tasks = JoinSet::new();
        let sink_tx = core_tx.clone();
        let sink =
            Arc::new(move |e: PeerEvent| sink_tx.send(CoreMsg::Member(MemberMsg::Peer(e))).is_ok());
        let transport = Transport::start(id, peer, &peers, sink, &mut tasks);
        let (status_tx, status) = watch::channel(MemberStatus::of(&member));
        let killed = Arc::new(AtomicBool::new(false));
        let (disk_tx, disk_rx) = mpsc::channel();
        {
            let core_tx = core_tx.clone();
            let killed = killed.clone();
            std::thread::Builder::new()
                .name(format!("zk-member-{id}-disk"))
                .spawn(move || disk_thread(disk, disk_rx, core_tx, killed))?;
        }
        let engine = MemberEngine {
            member,
            disk: disk_tx,
            transport,
            inbound: Inbound::default(),
            status: status_tx,
            killed: killed.clone(),
        };
        let thread = CoreThread::new(engine, limits);
        std::thread::Builder::new()
            .name(format!("zk-member-{id}"))
            .spawn(move || thread.run(core_rx))?;
        let ctx = NetContext {
            core: core_tx.clone(),
            next_conn: Arc::new(AtomicU64::new(1)),
            limits: ConnLimits::new(max_cnxns),
            tls: None,
            budget: Budget::new(limits),
            handshake_timeout,
            max_frame,
        };
        if let Some((_, listener, acceptor)) = secure {
            let ctx = NetContext {
                tls: Some(acceptor),
                ..ctx.clone()
            };
            tasks.spawn(net::accept_loop(listener, ctx));
        }
        tasks.spawn(net::accept_loop(client, ctx));
        tracing::info!(id, %client_addr, ?secure_addr, %peer_addr, "ensemble member started");
        Ok(MemberNode {
            id,
            client_addr,
            secure_addr,
            peer_addr,
            core_tx,
            status,
            killed,
            tasks,
        })
    }

    /// The member's id.
    pub fn id(&self) -> ServerId {
        self.id
    }

    /// The address clients connect to.
    pub fn client_addr(&self) -> SocketAddr {
        self.client_addr
    }

    /// The address TLS clients connect to, if the member serves TLS.
    pub fn secure_addr(&self) -> Option<SocketAddr> {
        self.secure_addr
    }

    /// The address peers connect to.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer_addr
    }

    /// Watches the member's status (updated after every batch it handles).
    pub fn status(&self) -> watch::Receiver<MemberStatus> {
        self.status.clone()
    }

    /// `kill -9`: tasks and sockets stop at once; nothing more reaches the disk.
    pub fn kill(self) {
        drop(self);
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> CoreMsg) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.core_tx.send(make(tx)).ok()?;
        rx.await.ok()
    }

    /// Sets the link to `peer` as this member sees it: `Down` cuts both directions and breaks
    /// the connections, `SendLost` loses this member's messages to `peer` only, `Delay`
    /// delays them (see [`Link`]). Returns once the member applied it.
    pub async fn set_link(&self, peer: ServerId, link: Link) {
        let _ = self
            .ask(|tx| CoreMsg::Member(MemberMsg::SetLink(peer, link, tx)))
            .await;
    }

    /// Stops the member like a stopped process: no timers, no input handled, nothing sent,
    /// until [`MemberNode::resume`]. Returns once paused.
    pub async fn pause(&self) {
        let _ = self.ask(CoreMsg::Pause).await;
    }

    /// Resumes a paused member; what arrived meanwhile is handled then.
    pub async fn resume(&self) {
        let _ = self.ask(CoreMsg::Resume).await;
    }

    /// Tells this member where peer `id` listens: a server joining by `reconfig` (the
    /// members learn the addresses of a committed config's members by themselves). Returns
    /// once the member knows it.
    pub async fn add_peer(&self, id: ServerId, addr: SocketAddr) {
        let _ = self
            .ask(|tx| CoreMsg::Member(MemberMsg::AddPeer(id, addr, tx)))
            .await;
    }

    /// Closes every client connection here (sessions stay).
    pub async fn drop_client_connections(&self) {
        let _ = self.ask(|tx| CoreMsg::Control(Control::DropAll(tx))).await;
    }

    /// Expires a session now: the leader closes it (its ephemerals go on every member).
    /// False if the session is not live here or the member has no leader.
    pub async fn expire_session(&self, session_id: i64) -> bool {
        self.ask(|tx| CoreMsg::Control(Control::Expire(session_id, tx)))
            .await
            .unwrap_or(false)
    }

    /// Arms a lost reply: the session's next write sent to this member is applied as usual,
    /// but its reply is dropped and the connection closed. False if the session is not live.
    pub async fn drop_next_reply(&self, session_id: i64) -> bool {
        self.ask(|tx| CoreMsg::Control(Control::DropNextReply(session_id, tx)))
            .await
            .unwrap_or(false)
    }

    /// Holds back the session's watch events here until [`MemberNode::release_events`].
    pub async fn hold_events(&self, session_id: i64) {
        let _ = self
            .ask(|tx| CoreMsg::Control(Control::HoldEvents(session_id, true, tx)))
            .await;
    }

    /// Delivers the session's held events to its connection here; returns how many.
    pub async fn release_events(&self, session_id: i64) -> usize {
        self.ask(|tx| CoreMsg::Control(Control::HoldEvents(session_id, false, tx)))
            .await
            .unwrap_or(0)
    }

    /// Sessions with a live client connection to this member.
    pub async fn connected_sessions(&self) -> Vec<i64> {
        self.inspect(|core| {
            let mut s: Vec<i64> = core
                .connections()
                .values()
                .filter_map(|c| c.session)
                .collect();
            s.sort_unstable();
            s.dedup();
            s
        })
        .await
        .unwrap_or_default()
    }

    /// Runs `f` on the member's state machine (in its core thread); `None` if it is gone.
    pub async fn inspect<T: Send + 'static>(
        &self,
        f: impl FnOnce(&ServerCore) -> T + Send + 'static,
    ) -> Option<T> {
        self.ask(|tx| {
            CoreMsg::Control(Control::Inspect(Box::new(move |core: &ServerCore| {
                let _ = tx.send(f(core));
            })))
        })
        .await
    }
}

impl Drop for MemberNode {
    fn drop(&mut self) {
        self.killed.store(true, Ordering::SeqCst);
        let _ = self.core_tx.send(CoreMsg::Kill);
        self.tasks.abort_all();
    }
}

/// Sets `key` in the `conf` lines to the port actually bound (replacing a configured value,
/// which may be 0).
fn set_conf_line(lines: &mut Vec<(String, String)>, key: &str, port: u16) {
    match lines.iter_mut().find(|(k, _)| k == key) {
        Some(line) => line.1 = port.to_string(),
        None => lines.push((key.to_string(), port.to_string())),
    }
}

/// Makes persist ops durable, in order, batching what queued up meanwhile, and reports each
/// batch to the core thread. A failed write stops the member, as ZooKeeper exits.
fn disk_thread(
    mut disk: Box<dyn DurableStore>,
    rx: mpsc::Receiver<(Vec<PersistOp>, u64)>,
    core_tx: mpsc::Sender<CoreMsg>,
    killed: Arc<AtomicBool>,
) {
    while let Ok((mut ops, mut seq)) = rx.recv() {
        while let Ok((more, s)) = rx.try_recv() {
            ops.extend(more);
            seq = s;
        }
        if killed.load(Ordering::SeqCst) {
            return;
        }
        if let Err(e) = disk.persist(&ops) {
            tracing::error!(error = %e, "disk write failed: the member stops");
            killed.store(true, Ordering::SeqCst);
            let _ = core_tx.send(CoreMsg::Kill);
            return;
        }
        if core_tx
            .send(CoreMsg::Member(MemberMsg::Persisted(seq)))
            .is_err()
        {
            return;
        }
    }
}

struct MemberEngine {
    member: Member,
    /// To the disk thread.
    disk: mpsc::Sender<(Vec<PersistOp>, u64)>,
    transport: Transport,
    inbound: Inbound,
    status: watch::Sender<MemberStatus>,
    killed: Arc<AtomicBool>,
}

impl Engine for MemberEngine {
    fn core(&self) -> &ServerCore {
        self.member.core()
    }

    fn core_mut(&mut self) -> &mut ServerCore {
        self.member.core_mut()
    }

    fn connect(&mut self, conn: ConnId, req: &ConnectRequest, now: i64) {
        self.member.connect(conn, req, now);
    }

    fn frame(&mut self, conn: ConnId, frame: &[u8], now: i64) {
        self.member.frame(conn, frame, now);
    }

    fn tick(&mut self, now: i64) {
        if now >= self.member.next_timeout() {
            self.member.tick(now);
        }
    }

    fn next_wakeup(&self) -> i64 {
        self.member.next_timeout()
    }

    fn expire_session(&mut self, session: i64, now: i64) -> bool {
        self.member.expire_session(session, now)
    }

    fn make_durable(&mut self, _now: i64) -> std::io::Result<()> {
        loop {
            let outputs = self.member.take_peer_outputs();
            if outputs.is_empty() {
                break;
            }
            let mut ops = Vec::new();
            let mut last = None;
            for out in outputs {
                match out {
                    Output::Send { to, msg } => self.transport.send(to, &msg),
                    Output::Reconfigured(config) => {
                        for (id, spec) in &config.servers {
                            if let Some(addr) = spec.quorum_addr() {
                                self.transport.add_peer(*id, addr);
                            }
                        }
                    }
                    Output::Persist { seq, op } => {
                        ops.push(op);
                        last = Some(seq);
                    }
                    _ => {}
                }
            }
            if let Some(seq) = last {
                if self.killed.load(Ordering::SeqCst) || self.disk.send((ops, seq)).is_err() {
                    return Err(std::io::Error::other("member stopped"));
                }
            }
        }
        let status = MemberStatus::of(&self.member);
        self.status.send_if_modified(|s| {
            let changed = *s != status;
            *s = status;
            changed
        });
        Ok(())
    }

    fn replies_later(&self) -> bool {
        true
    }

    /// The bytes in `dataDir/version-2` (for `conf`, `mntr` and `dirs`), when the member
    /// was configured with a data directory.
    fn data_dir_bytes(&self) -> u64 {
        let Some((_, dir)) = self
            .member
            .core()
            .config()
            .conf_lines
            .iter()
            .find(|(k, _)| k == "dataDir")
        else {
            return 0;
        };
        std::fs::read_dir(std::path::Path::new(dir).join("version-2")).map_or(0, |entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
    }

    fn stopped(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }

    fn role(&self) -> Option<&'static str> {
        let r = self.member.replica();
        Some(if self.member.serving() == Serving::No {
            ""
        } else if r.established_epoch().is_some() {
            "leader"
        } else if r.config().is_observer() {
            "observer"
        } else {
            "follower"
        })
    }

    fn extra(&mut self, msg: MemberMsg, now: i64) {
        match msg {
            MemberMsg::Peer(PeerEvent::Hello { from, addr }) => {
                // A server not configured here (one joining) can be answered from now on.
                self.transport.add_peer(from, addr);
            }
            MemberMsg::Peer(event) => match self.inbound.input(event) {
                Some(PeerInput::Message(from, msg)) => self.member.step(from, msg, now),
                Some(PeerInput::Reconnected(from, msg)) => {
                    self.member.disconnected(from, now);
                    self.member.step(from, msg, now);
                }
                Some(PeerInput::Disconnected(peer)) => self.member.disconnected(peer, now),
                None => {}
            },
            MemberMsg::Persisted(seq) => self.member.persisted(seq, now),
            MemberMsg::AddPeer(id, addr, reply) => {
                self.transport.add_peer(id, addr);
                let _ = reply.send(());
            }
            MemberMsg::SetLink(peer, link, reply) => {
                self.transport.set_link(peer, link);
                if matches!(link, Link::Down | Link::SendLost) {
                    self.member.disconnected(peer, now);
                }
                let _ = reply.send(());
            }
        }
    }

    fn into_core(self) -> ServerCore {
        self.member.into_core()
    }
}
