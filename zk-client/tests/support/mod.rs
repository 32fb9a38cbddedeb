//! Test support: the server under test behind a small trait, shared servers, unique paths, and a
//! TCP proxy that can cut connections.
//!
//! The same suite runs against three kinds of server: real Apache ZooKeeper (`tests/real.rs`,
//! via `zk_testserver::real`), the Rust zk-testserver in process (`tests/rust_server.rs`), and
//! a 3-member in-process zk-testserver `Ensemble` (module `on_ensemble` of `rust_server.rs`).
//! Each instantiation of this module names its kind in a sibling `const SERVER: ServerKind`
//! (`super::SERVER`), and [`launch`] starts servers of that kind.

#![allow(dead_code)]

pub mod proxy;
mod real;
mod rust_server;

use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use zk_client::{Client, SessionState};

/// Which server a test binary runs the suite against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// Real Apache ZooKeeper 3.8 JVMs (skipped, or failing under `CI`, when not installed).
    Real,
    /// The Rust zk-testserver, in this process (standalone, or an in-process `Ensemble`).
    Rust,
    /// The Rust zk-testserver as a 3-member in-process `Ensemble`, also for the shared server
    /// (a suite written for one server, run against replicated members).
    RustEnsemble,
}

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
    /// Ends session `session_id` on the server side now, as its expiry would: ephemerals go,
    /// its connection closes, and resuming it gets the "expired" answer. (zk-testserver
    /// expires it; real ZooKeeper has no such hook, so another connection takes the session
    /// over with its password and closes it: keep the owner from reconnecting meanwhile.)
    fn expire_session(&self, session_id: i64, password: &[u8]);
    /// The server holding session `session_id`'s connection applies its next write, then
    /// closes the connection instead of replying; false if no server holds the session.
    /// (zk-testserver only: real ZooKeeper has no fault injection.)
    fn drop_next_reply(&self, session_id: i64) -> bool;
    /// Delays every message between member `i` and the leader by `delay`, both ways, so `i`
    /// applies commits late (a zk-testserver ensemble only).
    fn slow_link_to_leader(&self, i: usize, delay: Duration);
}

/// Server settings a test may ask for.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    pub tick_ms: Option<u32>,
    pub read_only_mode: bool,
    pub max_session_timeout_ms: Option<u32>,
    /// Verbatim `zoo.cfg` lines: real ZooKeeper only.
    pub extra_config: Vec<String>,
    pub reconfig: bool,
    pub tls: Option<TlsOptions>,
    /// How often containers and TTL nodes are checked for deletion (servers: every minute).
    pub container_check_ms: Option<u32>,
}

/// A TLS client port (`secureClientPort`).
#[derive(Debug, Clone)]
pub struct TlsOptions {
    /// The port to serve TLS on.
    pub port: u16,
    /// The server's private key followed by its certificate chain (PEM).
    pub key_and_chain: PathBuf,
    /// The CA certificate (PEM); with `client_auth`, also the CA of client certificates.
    pub ca: PathBuf,
    /// Whether clients must present a certificate (`ssl.clientAuth=need`), which makes
    /// their subject an `x509` identity; otherwise `none`.
    pub client_auth: bool,
}

/// The super user's password on every server.
pub const SUPER_PASSWORD: &str = "super-secret";
/// `super:` + base64(sha1("super:super-secret")).
const SUPER_DIGEST: &str = "super:2KCAOlea08rlrYvOZvQwvrr82Jc=";

/// Whether the servers can run here (for real ZooKeeper: panics in CI when it cannot; prints a
/// note otherwise).
pub fn available() -> bool {
    init_tracing();
    match super::SERVER {
        ServerKind::Real => zk_testserver::real::require_real_zookeeper(),
        ServerKind::Rust | ServerKind::RustEnsemble => true,
    }
}

/// Whether the calling test skips on this suite's servers because they are the in-process
/// ensemble (`ServerKind::RustEnsemble`); prints `reason` when it does.
pub fn skip_on_ensemble(reason: &str) -> bool {
    let skip = super::SERVER == ServerKind::RustEnsemble;
    if skip {
        eprintln!("skipped on the in-process ensemble: {reason}");
    }
    skip
}

/// Launches `members` servers (1 = standalone) of this binary's kind.
pub fn launch(members: usize, opts: &ServerOptions) -> Arc<dyn Cluster> {
    match super::SERVER {
        ServerKind::Real => real::launch(members, opts),
        ServerKind::Rust if members == 1 => rust_server::launch(opts),
        ServerKind::Rust => rust_server::launch_ensemble(members, opts, true),
        ServerKind::RustEnsemble => rust_server::launch_ensemble(members.max(3), opts, false),
    }
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

/// Sends a four-letter word to `addr` and returns the whole answer.
fn four_letter(addr: SocketAddr, word: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(word.as_bytes())?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    Ok(reply)
}

/// The paths listed under `session_id` in a `wchc` answer (`0x<session>` lines, each followed
/// by its watched paths, indented).
fn paths_in_wchc(reply: &str, session_id: i64) -> Vec<String> {
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

/// The connect string of a suite written for one server: every member's, except on the
/// in-process ensemble (`RustEnsemble`), where it is member 0's alone (a follower: the highest
/// id leads). Clients of different members may read each other's writes late (ZooKeeper's
/// model; `sync` catches a member up), and such a suite assumes they do not; on one member
/// they read every write acknowledged before, while their writes still go through the leader.
/// Clients spread over the members are the subject of `ensemble.rs` and the recipe suites.
pub fn one_member(cluster: &Arc<dyn Cluster>) -> String {
    match super::SERVER {
        ServerKind::RustEnsemble => cluster.member_addr(0).to_string(),
        ServerKind::Real | ServerKind::Rust => cluster.connect_string(),
    }
}

/// [`connect`], on [`one_member`].
pub async fn connect_one(cluster: &Arc<dyn Cluster>) -> Client {
    init_tracing();
    Client::builder(one_member(cluster))
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

/// Takes session `session_id` over from `connect_string` with its password and closes it.
/// Blocking: runs its own runtime.
pub fn close_session_elsewhere(connect_string: &str, session_id: i64, password: &[u8]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let taker = Client::builder(connect_string)
            .session(zk_client::SessionId(session_id), password)
            .connect()
            .await
            .expect("take the session over");
        taker.close().await.expect("close the session");
    });
}

/// Runs a blocking harness call off the async runtime.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}
