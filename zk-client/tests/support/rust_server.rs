//! [`Cluster`] over the Rust zk-testserver, in this process: a standalone `TestServer`, or a
//! replicated `Ensemble` of several members.
//!
//! A `TestServer` spawns its listener and connection tasks on the runtime it is started from,
//! and every `#[tokio::test]` has its own runtime that ends with the test. So servers live on
//! one runtime of their own (two worker threads, for the whole test binary), and the sync
//! [`Cluster`] methods hand their work to it and block on a std channel for the answer. That is
//! safe from inside a test's runtime too: the blocked thread is never one the server needs.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{mpsc, Arc, OnceLock};
use std::time::Duration;

use tokio::runtime::Runtime;
use zk_testserver::ensemble::Serving;
use zk_testserver::replication::PeerState;
use zk_testserver::{ClientAuth, Ensemble, TestServer, TlsFiles};

use super::{four_letter, paths_in_wchc, Cluster, ServerOptions, SUPER_DIGEST};

/// The runtime every zk-testserver of this binary runs on.
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("zk-testserver-net")
            .enable_all()
            .build()
            .expect("server runtime")
    })
}

/// Runs `fut` on the server runtime and waits for its output.
fn on_server_runtime<T: Send + 'static>(fut: impl Future<Output = T> + Send + 'static) -> T {
    let (tx, rx) = mpsc::sync_channel(1);
    runtime().spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv().expect("the server task panicked")
}

struct RustServer {
    // A tokio mutex: it is held across the server's own awaits (stop, restart).
    server: Arc<tokio::sync::Mutex<TestServer>>,
    addr: SocketAddr,
}

impl RustServer {
    fn four_letter(&self, word: &str) -> Option<String> {
        four_letter(self.addr, word).ok()
    }
}

impl Cluster for RustServer {
    fn connect_string(&self) -> String {
        self.addr.to_string()
    }
    fn member_addr(&self, i: usize) -> SocketAddr {
        assert_eq!(i, 0, "a zk-testserver is a single member");
        self.addr
    }
    fn member_count(&self) -> usize {
        1
    }
    fn kill(&self, i: usize) {
        assert_eq!(i, 0, "a zk-testserver is a single member");
        let server = Arc::clone(&self.server);
        on_server_runtime(async move { server.lock().await.stop().await });
    }
    fn restart(&self, i: usize) {
        assert_eq!(i, 0, "a zk-testserver is a single member");
        let server = Arc::clone(&self.server);
        // Same port; the data and the sessions are kept. Serving once `restart` returns.
        on_server_runtime(async move { server.lock().await.restart().await })
            .expect("restart zk-testserver");
    }
    fn start(&self, i: usize) {
        self.restart(i);
    }
    fn member_with_session(&self, session_id: i64) -> Option<usize> {
        let needle = format!("sid=0x{session_id:x}");
        self.four_letter("cons")
            .is_some_and(|cons| cons.contains(&needle))
            .then_some(0)
    }
    fn wait_for_leader(&self, _timeout: Duration) {
        // A standalone server has no election: it serves once started.
    }
    fn mode(&self, i: usize) -> Option<String> {
        assert_eq!(i, 0, "a zk-testserver is a single member");
        let srvr = self.four_letter("srvr")?;
        srvr.lines()
            .find_map(|line| line.strip_prefix("Mode: "))
            .map(|mode| mode.trim().to_string())
    }
    fn watched_paths(&self, i: usize, session_id: i64) -> Vec<String> {
        assert_eq!(i, 0, "a zk-testserver is a single member");
        paths_in_wchc(&self.four_letter("wchc").expect("wchc"), session_id)
    }
    fn expire_session(&self, session_id: i64, _password: &[u8]) {
        let server = Arc::clone(&self.server);
        let expired =
            on_server_runtime(async move { server.lock().await.expire_session(session_id).await });
        assert!(expired, "no session {session_id:#x} to expire");
    }
    fn drop_next_reply(&self, session_id: i64) -> bool {
        let server = Arc::clone(&self.server);
        on_server_runtime(async move { server.lock().await.drop_next_reply(session_id).await })
    }
    fn slow_link_to_leader(&self, _i: usize, _delay: Duration) {
        panic!("a standalone zk-testserver has no links between members")
    }
}

/// Starts a standalone zk-testserver configured like the real servers of `super::real`.
pub(super) fn launch(opts: &ServerOptions) -> Arc<dyn Cluster> {
    assert!(
        opts.extra_config.is_empty(),
        "zoo.cfg lines are for real ZooKeeper: {:?}",
        opts.extra_config
    );
    let tick = opts.tick_ms.unwrap_or(2000);
    let mut builder = TestServer::builder()
        .tick_time_ms(tick)
        .extended_types(true)
        .read_only_mode_enabled(opts.read_only_mode)
        .reconfig_enabled(opts.reconfig)
        .super_digest(SUPER_DIGEST);
    if let Some(max) = opts.max_session_timeout_ms {
        builder = builder.session_timeout_bounds(2 * tick, max);
    }
    if let Some(ms) = opts.container_check_ms {
        builder = builder.container_check_interval(Duration::from_millis(ms.into()));
    }
    if let Some(tls) = &opts.tls {
        let files = TlsFiles {
            cert_chain: tls.key_and_chain.clone(),
            private_key: tls.key_and_chain.clone(),
        };
        builder = builder.tls(files, tls.port);
        if tls.client_auth {
            builder = builder.tls_client_auth(tls.ca.clone(), ClientAuth::Need);
        }
    }
    let server = on_server_runtime(builder.start()).expect("zk-testserver starts");
    let addr = server.addr();
    Arc::new(RustServer {
        server: Arc::new(tokio::sync::Mutex::new(server)),
        addr,
    })
}

/// A replicated zk-testserver ensemble in this process; member `i` has id `i + 1`.
struct RustEnsemble {
    // A tokio mutex: it is held across the ensemble's own awaits (restart, waits).
    ensemble: Arc<tokio::sync::Mutex<Ensemble>>,
    addrs: Vec<SocketAddr>,
}

impl RustEnsemble {
    fn with<T: Send + 'static>(
        &self,
        f: impl for<'a> FnOnce(
                &'a mut Ensemble,
            ) -> std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>
            + Send
            + 'static,
    ) -> T {
        let ensemble = Arc::clone(&self.ensemble);
        on_server_runtime(async move {
            let mut guard = ensemble.lock().await;
            f(&mut guard).await
        })
    }
}

fn id(i: usize) -> u64 {
    i as u64 + 1
}

impl Cluster for RustEnsemble {
    fn connect_string(&self) -> String {
        self.addrs
            .iter()
            .map(SocketAddr::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }
    fn member_addr(&self, i: usize) -> SocketAddr {
        self.addrs[i]
    }
    fn member_count(&self) -> usize {
        self.addrs.len()
    }
    fn kill(&self, i: usize) {
        self.with(move |e| Box::pin(async move { e.kill(id(i)) }));
    }
    fn restart(&self, i: usize) {
        self.with(move |e| {
            Box::pin(async move {
                e.kill(id(i));
                e.restart(id(i)).await.expect("restart member");
                e.wait_serving(id(i), Duration::from_secs(30))
                    .await
                    .expect("the restarted member serves");
            })
        });
    }
    fn start(&self, i: usize) {
        self.with(move |e| Box::pin(async move { e.restart(id(i)).await.expect("start member") }));
    }
    fn member_with_session(&self, session_id: i64) -> Option<usize> {
        self.with(move |e| Box::pin(async move { e.member_of_session(session_id).await }))
            .map(|id| id as usize - 1)
    }
    fn wait_for_leader(&self, timeout: Duration) {
        self.with(move |e| {
            Box::pin(async move {
                e.wait_for_leader(timeout).await.expect("a leader");
            })
        });
    }
    fn mode(&self, i: usize) -> Option<String> {
        let status = self.with(move |e| Box::pin(async move { e.status(id(i)) }))?;
        let mode = match (status.serving, status.role) {
            (Serving::No, _) => return None,
            (Serving::ReadOnly, _) => "read-only",
            (Serving::ReadWrite, PeerState::Leading) => "leader",
            (Serving::ReadWrite, PeerState::Following) => "follower",
            (Serving::ReadWrite, PeerState::Observing) => "observer",
            (Serving::ReadWrite, _) => return None,
        };
        Some(mode.to_string())
    }
    fn watched_paths(&self, i: usize, session_id: i64) -> Vec<String> {
        paths_in_wchc(
            &four_letter(self.addrs[i], "wchc").expect("wchc"),
            session_id,
        )
    }
    fn expire_session(&self, session_id: i64, _password: &[u8]) {
        let expired =
            self.with(move |e| Box::pin(async move { e.expire_session(session_id).await }));
        assert!(expired, "no session {session_id:#x} to expire");
    }
    fn drop_next_reply(&self, session_id: i64) -> bool {
        self.with(move |e| Box::pin(async move { e.drop_next_reply(session_id).await }))
    }
    fn slow_link_to_leader(&self, i: usize, delay: Duration) {
        self.with(move |e| {
            Box::pin(async move {
                let leader = e.leader().expect("a leader");
                assert_ne!(leader, id(i), "member {i} leads");
                e.slow_link(leader, id(i), delay).await;
            })
        });
    }
}

/// Starts an in-process ensemble of `members` voters configured like the real servers of
/// `super::real`, and waits until every member serves. With `fast_failover` (for the
/// ensemble tests, which kill leaders), millisecond replication timeouts; otherwise the
/// default ones, ten times longer, for suites that want a steady leader: on a loaded 2-core
/// machine a 150 ms `syncLimit` loses the leader now and then (a new election, every client
/// connection dropped), which such a suite does not expect.
pub(super) fn launch_ensemble(
    members: usize,
    opts: &ServerOptions,
    fast_failover: bool,
) -> Arc<dyn Cluster> {
    assert!(
        opts.extra_config.is_empty() && opts.tls.is_none(),
        "zoo.cfg lines and TLS are for real ZooKeeper or a standalone zk-testserver"
    );
    let tick = opts.tick_ms.unwrap_or(2000);
    let max = opts.max_session_timeout_ms.unwrap_or(20 * tick);
    let read_only = opts.read_only_mode;
    let reconfig = opts.reconfig;
    let container_check = opts.container_check_ms;
    let mut builder = Ensemble::builder().members(members);
    if fast_failover {
        builder = builder.fast_timeouts();
    }
    let builder = builder
        .session_timeout_bounds(2 * tick, max)
        .read_only_mode(read_only)
        .server_settings(move |b| {
            let b = b
                .tick_time_ms(tick)
                .extended_types(true)
                .reconfig_enabled(reconfig)
                .super_digest(SUPER_DIGEST);
            match container_check {
                Some(ms) => b.container_check_interval(Duration::from_millis(ms.into())),
                None => b,
            }
        });
    let ensemble = on_server_runtime(builder.start()).expect("the ensemble starts");
    let addrs = ensemble
        .member_ids()
        .into_iter()
        .map(|id| ensemble.client_addr(id))
        .collect();
    Arc::new(RustEnsemble {
        ensemble: Arc::new(tokio::sync::Mutex::new(ensemble)),
        addrs,
    })
}
