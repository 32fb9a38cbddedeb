//! Test support: the server under test behind a small trait, shared servers, unique paths, and a
//! TCP proxy that can cut connections.
//!
//! Today every server is real Apache ZooKeeper (via `zk_testserver::real`); another
//! implementation of [`Cluster`] (e.g. the Rust zk-testserver) can be added in
//! [`launch`] and selected with `ZK_TEST_SERVER`.

#![allow(dead_code)]

pub mod proxy;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use zk_client::{Client, SessionState};
use zk_testserver::real::{require_real_zookeeper, RealOptions, RealZooKeeper};

/// What a test needs from the servers it talks to.
pub trait Cluster: Send + Sync {
    /// The connect string of every member.
    fn connect_string(&self) -> String;
    /// The client address of member `i`.
    fn member_addr(&self, i: usize) -> SocketAddr;
    /// The number of members.
    fn member_count(&self) -> usize;
    /// Kills member `i` abruptly.
    fn kill(&self, i: usize);
    /// Restarts member `i` and waits until it serves.
    fn restart(&self, i: usize);
    /// Starts member `i` without waiting.
    fn start(&self, i: usize);
    /// The member that holds a connection of session `session_id`, if any.
    fn member_with_session(&self, session_id: i64) -> Option<usize>;
    /// Waits until a leader is elected among the running members.
    fn wait_for_leader(&self, timeout: Duration);
    /// The member's mode (`standalone`, `leader`, `follower`, `read-only`).
    fn mode(&self, i: usize) -> Option<String>;
    /// The paths member `i` holds watches on for session `session_id` (from `wchc`).
    fn watched_paths(&self, i: usize, session_id: i64) -> Vec<String>;
}

/// Server settings a test may ask for.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    pub tick_ms: Option<u32>,
    pub read_only_mode: bool,
    pub max_session_timeout_ms: Option<u32>,
    pub extra_config: Vec<String>,
    pub reconfig: bool,
}

/// The super user's password on every server.
pub const SUPER_PASSWORD: &str = "super-secret";
/// `super:` + base64(sha1("super:super-secret")).
const SUPER_DIGEST: &str = "super:2KCAOlea08rlrYvOZvQwvrr82Jc=";

struct Real(RealZooKeeper);

impl Cluster for Real {
    fn connect_string(&self) -> String {
        self.0.connect_string()
    }
    fn member_addr(&self, i: usize) -> SocketAddr {
        self.0.member_addr(i)
    }
    fn member_count(&self) -> usize {
        self.0.member_count()
    }
    fn kill(&self, i: usize) {
        self.0.kill(i).expect("kill member");
    }
    fn restart(&self, i: usize) {
        self.0.restart(i).expect("restart member");
    }
    fn start(&self, i: usize) {
        self.0.start(i).expect("start member");
    }
    fn member_with_session(&self, session_id: i64) -> Option<usize> {
        let needle = format!("sid=0x{session_id:x}");
        (0..self.0.member_count()).find(|&i| {
            self.0.is_running(i)
                && self
                    .0
                    .four_letter(i, "cons")
                    .is_ok_and(|cons| cons.contains(&needle))
        })
    }
    fn wait_for_leader(&self, timeout: Duration) {
        self.0.wait_for_leader(timeout).expect("a leader");
    }
    fn mode(&self, i: usize) -> Option<String> {
        self.0.mode(i)
    }
    fn watched_paths(&self, i: usize, session_id: i64) -> Vec<String> {
        let reply = self.0.four_letter(i, "wchc").expect("wchc");
        let header = format!("0x{session_id:x}");
        let mut paths = Vec::new();
        let mut mine = false;
        for line in reply.lines() {
            if line.starts_with("0x") {
                mine = line.trim() == header;
            } else if mine && !line.trim().is_empty() {
                paths.push(line.trim().to_string());
            }
        }
        paths
    }
}

/// Whether the servers can run here (panics in CI when they cannot; prints a note otherwise).
pub fn available() -> bool {
    init_tracing();
    require_real_zookeeper()
}

/// Launches `members` servers (1 = standalone) of the kind selected by `ZK_TEST_SERVER`
/// (only `real`, the default, exists today).
pub fn launch(members: usize, opts: &ServerOptions) -> Arc<dyn Cluster> {
    match std::env::var("ZK_TEST_SERVER").as_deref() {
        Ok("real") | Err(_) => {}
        Ok(other) => panic!("unknown ZK_TEST_SERVER {other:?}; known: real"),
    }
    let real = RealOptions {
        tick_time_ms: opts.tick_ms.unwrap_or(2000),
        extended_types: true,
        read_only_mode: opts.read_only_mode,
        super_digest: Some(SUPER_DIGEST.into()),
        max_session_timeout_ms: opts.max_session_timeout_ms,
        reconfig_enabled: opts.reconfig,
        // A read-only server can only create local sessions.
        extra_config: opts
            .extra_config
            .iter()
            .cloned()
            .chain(
                opts.read_only_mode
                    .then(|| "localSessionsEnabled=true".to_string()),
            )
            .collect(),
        ..RealOptions::default()
    };
    let zk = if members == 1 {
        RealZooKeeper::standalone(real)
    } else {
        RealZooKeeper::ensemble(members, real)
    };
    Arc::new(Real(zk.expect("servers start")))
}

/// A standalone server shared by every test that does not kill servers.
pub fn shared() -> Arc<dyn Cluster> {
    static SHARED: OnceLock<Arc<dyn Cluster>> = OnceLock::new();
    SHARED
        .get_or_init(|| launch(1, &ServerOptions::default()))
        .clone()
}

/// A free loopback port (for listeners the harness does not pick, like `secureClientPort`).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

/// A path no other test uses.
pub fn unique_path(name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "/t-{}-{}-{name}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Logs to the test output when `RUST_LOG` is set.
pub fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// A client of `cluster` with a 10 s session.
pub async fn connect(cluster: &Arc<dyn Cluster>) -> Client {
    init_tracing();
    Client::builder(cluster.connect_string())
        .session_timeout(Duration::from_secs(10))
        .connection_timeout(Duration::from_secs(30))
        .connect()
        .await
        .expect("connect")
}

/// Awaits `fut` for at most `secs` seconds, failing the test otherwise.
pub async fn within<F: Future>(secs: u64, what: &str, fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out after {secs} s waiting for {what}"))
}

/// Waits until the client's state satisfies `pred`.
pub async fn wait_state(
    client: &Client,
    secs: u64,
    pred: impl Fn(SessionState) -> bool,
) -> SessionState {
    let mut state = client.state();
    within(secs, "a session state", async {
        loop {
            let current = *state.borrow_and_update();
            if pred(current) {
                return current;
            }
            state.changed().await.expect("state channel open");
        }
    })
    .await
}

/// Runs a blocking harness call off the async runtime.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}
