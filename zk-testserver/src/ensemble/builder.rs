//! [`Ensemble`]: N members (participants and observers) in this process on loopback, with
//! fault injection as an API in the style of raft-rs's test harness.
//!
//! Members listen on `127.0.0.1` ports picked at start and kept across restarts, so a
//! client's connect string stays valid. Link faults are remembered by the ensemble and applied
//! again to a restarted member. Waits watch the members' status channels; nothing sleeps.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::{
    DirDisk, DurableStore, Link, MemberConfig, MemberNode, MemberStatus, MemoryDisk, Serving,
};
use crate::replication::{PeerState, QuorumConfig, ReplicaConfig, ServerId, ServerSpec};
use crate::server::{ServerError, TestServerBuilder, TlsFiles};

#[path = "builder_secure.rs"]
mod secure;

/// Configures and starts an [`Ensemble`].
#[derive(Debug, Clone)]
pub struct EnsembleBuilder {
    members: usize,
    observers: usize,
    data_dir: Option<PathBuf>,
    fast: bool,
    server: TestServerBuilder,
    start_timeout: Duration,
    snap_count: Option<u64>,
}

impl Default for EnsembleBuilder {
    fn default() -> Self {
        EnsembleBuilder {
            members: 3,
            observers: 0,
            data_dir: None,
            fast: false,
            server: TestServerBuilder::default(),
            start_timeout: Duration::from_secs(30),
            snap_count: None,
        }
    }
}

/// Where a member's durable state lives.
#[derive(Debug, Clone)]
enum Disk {
    Memory(MemoryDisk),
    Dir(PathBuf),
}

impl Disk {
    fn store(&self) -> Box<dyn DurableStore> {
        match self {
            Disk::Memory(d) => Box::new(d.clone()),
            Disk::Dir(p) => Box::new(DirDisk::new(p)),
        }
    }

    fn wipe(&self) -> std::io::Result<()> {
        match self {
            Disk::Memory(d) => {
                d.wipe();
                Ok(())
            }
            Disk::Dir(p) => match std::fs::remove_dir_all(p) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
        }
    }
}

impl EnsembleBuilder {
    /// Voting members (default 3).
    pub fn members(mut self, n: usize) -> Self {
        self.members = n;
        self
    }

    /// Observers: members that follow without voting (default 0). Their ids come after the
    /// voters'.
    pub fn observers(mut self, n: usize) -> Self {
        self.observers = n;
        self
    }

    /// Keeps every member's state in memory (the default); a restarted member gets it back.
    pub fn in_memory(mut self) -> Self {
        self.data_dir = None;
        self
    }

    /// Keeps member N's state in `dir/member-N` ([`DirDisk`]), surviving the process.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Millisecond replication timeouts (10 ms ticks, a silent peer given up after 150 ms): a
    /// failover after a kill or a cut link takes tens of milliseconds (broken connections are
    /// noticed at once). The default is ten times slower, which rides out a busy machine
    /// better.
    pub fn fast_timeouts(mut self) -> Self {
        self.fast = true;
        self
    }

    /// `minSessionTimeout` and `maxSessionTimeout` in ms (default 4 s and 40 s).
    pub fn session_timeout_bounds(mut self, min_ms: u32, max_ms: u32) -> Self {
        self.server = self.server.session_timeout_bounds(min_ms, max_ms);
        self
    }

    /// `readonlymode.enabled`: a member cut off from its quorum serves read-only sessions.
    pub fn read_only_mode(mut self, on: bool) -> Self {
        self.server = self.server.read_only_mode_enabled(on);
        self
    }

    /// `reconfigEnabled`: clients (a super user) may change the membership with `reconfig`
    /// ([`Ensemble::add_member`] starts a server that can join).
    pub fn reconfig_enabled(mut self, on: bool) -> Self {
        self.server = self.server.reconfig_enabled(on);
        self
    }

    /// Every other client-side setting (super digest, extended types, containers, ...), as on
    /// a standalone server's builder. Its address, port, data dir and `myid` are ignored.
    pub fn server_settings(
        mut self,
        f: impl FnOnce(TestServerBuilder) -> TestServerBuilder,
    ) -> Self {
        self.server = f(self.server);
        self
    }

    /// Every member also serves TLS clients (`secureClientPort`) with this key and
    /// certificate, on a port of its own ([`Ensemble::secure_addr`]). Client
    /// authentication, JKS or PKCS#12 stores: through [`EnsembleBuilder::server_settings`]
    /// (`tls_client_auth`, `tls_key_store`, `tls_trust_store`), as on a standalone server.
    pub fn tls(mut self, files: TlsFiles) -> Self {
        self.server = self.server.tls(files, 0);
        self
    }

    /// How long [`EnsembleBuilder::start`] waits for a leader and every member serving
    /// (default 30 s).
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// Each member snapshots its state and trims its log every `n` committed txns
    /// (ZooKeeper's `snapCount`, drawn between `n / 2` and `n` per snapshot; default 100000).
    pub fn snap_count(mut self, n: u64) -> Self {
        self.snap_count = Some(n.max(1));
        self
    }

    /// Member `id`'s disk: `member-<id>` under the data directory, or a new one in memory.
    fn disk_for(&self, id: ServerId) -> Disk {
        match &self.data_dir {
            Some(dir) => Disk::Dir(dir.join(format!("member-{id}"))),
            None => Disk::Memory(MemoryDisk::new()),
        }
    }

    fn replica_config(&self, id: ServerId) -> ReplicaConfig {
        let voters = 1..=self.members as ServerId;
        let observers = self.members as ServerId + 1..=(self.members + self.observers) as ServerId;
        let mut cfg = ReplicaConfig::fast(id, voters).with_observers(observers);
        if let Some(n) = self.snap_count {
            cfg.snap_count = n;
        }
        // A busy CI machine stalls a process for tens of ms: give a silent peer 150 ms.
        cfg.sync_limit_ms = 150;
        cfg.init_limit_ms = 300;
        if !self.fast {
            let f = 10;
            cfg.tick_ms *= f;
            cfg.finalize_wait_ms *= f;
            cfg.election_resend_ms *= f;
            cfg.init_limit_ms *= f;
            cfg.sync_limit_ms *= f;
        }
        cfg
    }

    /// Binds every member's ports, starts them, and waits until a leader is established and
    /// every member serves clients.
    ///
    /// Errors: [`ServerError::Bind`] or [`ServerError::Storage`] if a member cannot start;
    /// [`ServerError::Timeout`] if the ensemble is not ready within the start timeout.
    pub async fn start(self) -> Result<Ensemble, ServerError> {
        let n = self.members + self.observers;
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let tls = self
            .server
            .tls_acceptor()?
            .map(|acceptor| Arc::clone(acceptor.config()));
        let mut listeners = BTreeMap::new();
        let mut initial = QuorumConfig::default();
        for id in 1..=n as ServerId {
            let client = TcpListener::bind(loopback).map_err(|e| ServerError::Bind(loopback, e))?;
            let peer = TcpListener::bind(loopback).map_err(|e| ServerError::Bind(loopback, e))?;
            listeners.insert(id, (client, peer));
        }
        let mut slots = BTreeMap::new();
        for (&id, (client, peer)) in &listeners {
            let (secure_listener, secure_addr) = bind_secure(tls.is_some())?;
            let disk = self.disk_for(id);
            let client_addr = client
                .local_addr()
                .map_err(|e| ServerError::Bind(loopback, e))?;
            let peer_addr = peer
                .local_addr()
                .map_err(|e| ServerError::Bind(loopback, e))?;
            let election =
                TcpListener::bind(loopback).map_err(|e| ServerError::Bind(loopback, e))?;
            let observer = id > self.members as ServerId;
            initial
                .servers
                .insert(id, spec_of(client_addr, peer_addr, &election, observer)?);
            slots.insert(
                id,
                Slot {
                    node: None,
                    client_addr,
                    peer_addr,
                    disk,
                    secure_addr,
                    secure_listener,
                    _election: election,
                    joining: None,
                },
            );
        }
        // Every member shares the session secret: a session moves between members.
        let secret = crate::session::new_secret();
        let (changes_tx, changes) = watch::channel(0u64);
        let mut ensemble = Ensemble {
            builder: self.server.clone().session_secret(secret),
            spec: self,
            tls,
            slots,
            initial,
            links: BTreeMap::new(),
            changes_tx,
            changes,
        };
        for (id, (client, peer)) in listeners {
            ensemble.launch(id, client, peer)?;
        }
        let timeout = ensemble.spec.start_timeout;
        ensemble.wait_ready(timeout).await?;
        Ok(ensemble)
    }
}

#[path = "builder_faults.rs"]
mod faults;
#[path = "builder_reconfig.rs"]
mod reconfig;

#[derive(Debug)]
struct Slot {
    /// `None` while killed.
    node: Option<MemberNode>,
    client_addr: SocketAddr,
    peer_addr: SocketAddr,
    disk: Disk,
    /// The TLS client address, when the ensemble serves TLS.
    secure_addr: Option<SocketAddr>,
    /// Its listener, bound before the member (re)starts.
    secure_listener: Option<TcpListener>,
    /// Holds the (unused) election port named in the member's `server.N` spec.
    _election: TcpListener,
    /// For a member started to join by reconfig: the membership it starts with.
    joining: Option<QuorumConfig>,
}

/// An ensemble of [`MemberNode`]s in this process on loopback, with fault injection. Dropping
/// it kills every member.
///
/// Members listen on `127.0.0.1` ports picked at start and kept across restarts, so a
/// client's connect string stays valid. Link faults are remembered and applied again to a
/// restarted member. Waits watch the members' status channels; nothing sleeps.
///
/// ```
/// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use zk_testserver::Ensemble;
///
/// let mut ensemble = Ensemble::builder().members(3).fast_timeouts().start().await?;
/// let client = zk_client::Client::connect(&ensemble.connect_string()).await?;
/// client.create("/a", b"1", &Default::default()).await?;
///
/// // Kill the leader: the others elect a new one and the write survives.
/// let old = ensemble.leader().expect("a leader");
/// ensemble.kill(old);
/// let new = ensemble.wait_for_leader(Duration::from_secs(5)).await?;
/// assert_ne!(new, old);
/// let fresh = zk_client::Client::connect(&ensemble.connect_string()).await?;
/// assert_eq!(&fresh.get_data("/a").await?.0[..], b"1");
///
/// // Bring it back from its disk, cut it off, heal.
/// ensemble.restart(old).await?;
/// ensemble.isolate(old).await;
/// ensemble.heal().await;
/// ensemble.wait_ready(Duration::from_secs(5)).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Ensemble {
    spec: EnsembleBuilder,
    /// The client-side settings with the shared secret.
    builder: TestServerBuilder,
    /// The TLS settings of every member's secure client port, if they serve TLS.
    tls: Option<Arc<rustls::ServerConfig>>,
    slots: BTreeMap<ServerId, Slot>,
    /// The membership the ensemble started with (version 0).
    initial: QuorumConfig,
    /// Links that are not up, by (the member whose setting it is, its peer): one direction
    /// each (see [`Link`]).
    links: BTreeMap<(ServerId, ServerId), Link>,
    /// Bumped whenever any member's status changes.
    changes_tx: watch::Sender<u64>,
    changes: watch::Receiver<u64>,
}

/// A member's `server.N` spec: loopback quorum, election and client addresses.
fn spec_of(
    client: SocketAddr,
    peer: SocketAddr,
    election: &TcpListener,
    observer: bool,
) -> Result<ServerSpec, ServerError> {
    let election = election
        .local_addr()
        .map_err(|e| ServerError::Bind(peer, e))?;
    Ok(ServerSpec {
        host: peer.ip().to_string(),
        quorum_port: peer.port(),
        election_port: election.port(),
        observer,
        client: Some((client.ip().to_string(), client.port())),
    })
}

/// A loopback listener for a member's TLS client port and its address, when the ensemble
/// serves TLS (`secure`).
fn bind_secure(secure: bool) -> Result<(Option<TcpListener>, Option<SocketAddr>), ServerError> {
    if !secure {
        return Ok((None, None));
    }
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let listener = TcpListener::bind(loopback).map_err(|e| ServerError::Bind(loopback, e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServerError::Bind(loopback, e))?;
    Ok((Some(listener), Some(addr)))
}

fn is_leader(s: &MemberStatus) -> bool {
    s.role == PeerState::Leading && s.established.is_some()
}

fn serves(s: &MemberStatus) -> bool {
    s.serving == Serving::ReadWrite
}

impl Ensemble {
    /// A builder with 3 members, no observers, state in memory.
    pub fn builder() -> EnsembleBuilder {
        EnsembleBuilder::default()
    }

    fn slot(&self, id: ServerId) -> &Slot {
        self.slots
            .get(&id)
            .unwrap_or_else(|| panic!("no member {id} in this ensemble"))
    }

    fn node(&self, id: ServerId) -> Option<&MemberNode> {
        self.slot(id).node.as_ref()
    }

    fn live(&self) -> impl Iterator<Item = &MemberNode> {
        self.slots.values().filter_map(|s| s.node.as_ref())
    }

    /// Starts member `id` on its listeners and applies the remembered link faults.
    fn launch(
        &mut self,
        id: ServerId,
        client: TcpListener,
        peer: TcpListener,
    ) -> Result<(), ServerError> {
        let secure = self.secure_port(id)?;
        let slot = &self.slots[&id];
        let peers = self.slots.iter().map(|(&i, s)| (i, s.peer_addr)).collect();
        let mut core = self
            .builder
            .clone()
            .myid(u8::try_from(id).unwrap_or(u8::MAX))
            .core_config(slot.client_addr, slot.secure_addr);
        let quorum = slot.joining.clone().unwrap_or_else(|| self.initial.clone());
        let replica = self.spec.replica_config(id).with_quorum(quorum);
        core.quorum = Some(self.quorum_conf(id, &replica));
        let cfg = MemberConfig {
            replica,
            peers,
            core,
        };
        let node = MemberNode::start_secure(cfg, client, secure, peer, slot.disk.store())
            .map_err(ServerError::Storage)?;
        // Forward status changes to the ensemble-wide counter; ends when the member stops.
        let mut status = node.status();
        let changes = self.changes_tx.clone();
        tokio::spawn(async move {
            while status.changed().await.is_ok() {
                changes.send_modify(|n| *n += 1);
            }
            changes.send_modify(|n| *n += 1);
        });
        self.slots.get_mut(&id).expect("slot").node = Some(node);
        Ok(())
    }

    /// Rebinds member `id`'s ports (the killed member's sockets may take a moment to close)
    /// and starts it.
    async fn relaunch(&mut self, id: ServerId) -> Result<(), ServerError> {
        let slot = self.slot(id);
        if slot.node.is_some() {
            return Ok(());
        }
        let (client_addr, peer_addr, secure_addr) =
            (slot.client_addr, slot.peer_addr, slot.secure_addr);
        let client = bind_again(client_addr).await?;
        let peer = bind_again(peer_addr).await?;
        if let Some(addr) = secure_addr {
            let secure = bind_again(addr).await?;
            self.slots.get_mut(&id).expect("slot").secure_listener = Some(secure);
        }
        self.launch(id, client, peer)?;
        let faults: Vec<((ServerId, ServerId), Link)> =
            self.links.iter().map(|(&k, &v)| (k, v)).collect();
        for ((from, to), link) in faults {
            if from == id {
                self.apply_link(from, to, link).await;
            }
        }
        Ok(())
    }

    /// Every member's client address, comma-separated (a connect string).
    pub fn connect_string(&self) -> String {
        self.slots
            .values()
            .map(|s| s.client_addr.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The members' ids, voters first, then observers.
    pub fn member_ids(&self) -> Vec<ServerId> {
        self.slots.keys().copied().collect()
    }

    /// Member `id`'s client address (kept across restarts).
    pub fn client_addr(&self, id: ServerId) -> SocketAddr {
        self.slot(id).client_addr
    }

    /// Member `id`'s status now, `None` while it is killed.
    pub fn status(&self, id: ServerId) -> Option<MemberStatus> {
        self.node(id).map(|n| n.status().borrow().clone())
    }

    /// Whether member `id` is running (not killed).
    pub fn is_running(&self, id: ServerId) -> bool {
        self.node(id).is_some()
    }

    /// The member leading an established epoch now, if exactly one does. (Two can for a
    /// moment after a partition: the old leader has not noticed yet; then this is the one
    /// with the newer epoch.)
    pub fn leader(&self) -> Option<ServerId> {
        self.live()
            .filter_map(|n| {
                let s = n.status().borrow().clone();
                is_leader(&s).then(|| (s.established, n.id()))
            })
            .max()
            .map(|(_, id)| id)
    }

    /// Waits until `f` holds for the running members' statuses (by id).
    async fn wait_until(
        &self,
        timeout: Duration,
        what: &'static str,
        f: impl Fn(&BTreeMap<ServerId, MemberStatus>) -> bool,
    ) -> Result<(), ServerError> {
        let mut changes = self.changes.clone();
        let check = || {
            let statuses: BTreeMap<ServerId, MemberStatus> = self
                .live()
                .map(|n| (n.id(), n.status().borrow().clone()))
                .collect();
            f(&statuses)
        };
        let waited = tokio::time::timeout(timeout, async {
            loop {
                changes.borrow_and_update();
                if check() {
                    return;
                }
                if changes.changed().await.is_err() {
                    // The ensemble holds the sender: never closed while we borrow it.
                    return;
                }
            }
        })
        .await;
        match waited {
            Ok(()) => Ok(()),
            Err(_) => {
                tracing::warn!(what, statuses = ?self.statuses(), "ensemble wait timed out");
                Err(ServerError::Timeout {
                    what,
                    after: timeout,
                })
            }
        }
    }

    fn statuses(&self) -> Vec<(ServerId, Option<MemberStatus>)> {
        self.slots
            .iter()
            .map(|(&id, s)| (id, s.node.as_ref().map(|n| n.status().borrow().clone())))
            .collect()
    }

    /// Waits until some member leads an established epoch, and returns it.
    ///
    /// Errors: [`ServerError::Timeout`].
    pub async fn wait_for_leader(&self, timeout: Duration) -> Result<ServerId, ServerError> {
        self.wait_until(timeout, "a leader", |s| s.values().any(is_leader))
            .await?;
        self.leader().ok_or(ServerError::Timeout {
            what: "a leader",
            after: timeout,
        })
    }

    /// Waits until a leader is established and every running member serves read-write
    /// clients.
    ///
    /// Errors: [`ServerError::Timeout`].
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), ServerError> {
        self.wait_until(timeout, "every member serving", |s| {
            s.values().any(is_leader) && s.values().all(|m| serves(m) || !m.in_config)
        })
        .await
    }

    /// Waits until member `id` serves read-write clients.
    ///
    /// Errors: [`ServerError::Timeout`].
    pub async fn wait_serving(&self, id: ServerId, timeout: Duration) -> Result<(), ServerError> {
        self.wait_until(timeout, "the member serving", |s| {
            s.get(&id).is_some_and(serves)
        })
        .await
    }

    /// Kills member `id` like `kill -9`: its tasks and sockets stop, nothing more reaches its
    /// disk. No-op if it is not running.
    pub fn kill(&mut self, id: ServerId) {
        if let Some(node) = self.slots.get_mut(&id).and_then(|s| s.node.take()) {
            tracing::info!(member = id, "ensemble: kill");
            node.kill();
        }
    }

    /// Starts member `id` again from its disk, on the same ports. No-op if it is running.
    /// Returns once it runs; [`Ensemble::wait_serving`] waits until it has rejoined.
    ///
    /// Errors: [`ServerError::Bind`] if its ports stay taken, [`ServerError::Storage`].
    pub async fn restart(&mut self, id: ServerId) -> Result<(), ServerError> {
        tracing::info!(member = id, "ensemble: restart");
        self.relaunch(id).await
    }

    /// Kills member `id` (if running) and starts it with an empty disk.
    ///
    /// Errors: as [`Ensemble::restart`].
    pub async fn restart_empty(&mut self, id: ServerId) -> Result<(), ServerError> {
        self.kill(id);
        self.slot(id).disk.wipe().map_err(ServerError::Storage)?;
        tracing::info!(member = id, "ensemble: restart with an empty disk");
        self.relaunch(id).await
    }
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        for slot in self.slots.values_mut() {
            if let Some(node) = slot.node.take() {
                node.kill();
            }
        }
    }
}

/// Binds `addr` again, waiting (up to 5 s) for a killed member's listener to close.
async fn bind_again(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match TcpListener::bind(addr) {
            Ok(l) => return Ok(l),
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse
                    && tokio::time::Instant::now() < deadline =>
            {
                // The aborted tasks drop their sockets on their next poll.
                tokio::task::yield_now().await;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Err(e) => return Err(ServerError::Bind(addr, e)),
        }
    }
}
