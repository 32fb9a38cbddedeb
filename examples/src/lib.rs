//! Runnable examples of zk-rs: one program per ZooKeeper use case, and the small pieces they
//! share.
//!
//! | use case | module | binary |
//! |---|---|---|
//! | configuration center ([`zk_recipes::NodeCache`]) | [`config_center`] | `config-center` |
//! | naming service ([`zk_recipes::ServiceDiscovery`]) | [`naming`] | `naming` |
//! | distributed lock ([`zk_recipes::Mutex`], fencing tokens) | [`lock`] | `lock` |
//! | leader election ([`zk_recipes::LeaderElection`]) | [`leader`] | `leader` |
//! | distributed queue ([`zk_recipes::LockingQueue`]) | [`queue`] | `queue` |
//! | double barrier ([`zk_recipes::DoubleBarrier`]) | [`barrier`] | `barrier` |
//!
//! The `tour` binary runs them all in turn on one set of servers; `failover` runs them on a
//! three-member ensemble and kills its leader member in the middle of each ([`failover`]);
//! `demo` shows the plain client API (watches, ephemeral nodes) and what faults do to it.
//!
//! Every example takes its servers from [`Servers`]: an embedded zk-testserver ensemble of
//! three members by default,
//! so it runs on a fresh machine with nothing installed, or any ZooKeeper ensemble (real
//! Apache ZooKeeper included) given by `--connect host:port[,host:port...]` or the
//! `ZK_SERVERS` environment variable. The examples only use the connect string and the
//! fault methods of [`Servers`], so they do not depend on which servers these are. Each works
//! under its own root node ([`fresh_root`]) and removes it when done.
//!
//! Every step waits on an event, never on a sleep, and fails after 10 seconds ([`step`]).

pub mod barrier;
pub mod config_center;
pub mod failover;
pub mod leader;
pub mod lock;
pub mod naming;
mod proxy;
pub mod queue;
mod servers;

use std::fmt;
use std::future::Future;
use std::time::Duration;

pub use servers::Servers;

/// The error type of the examples: anything printable.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The node under which every example keeps its data (`/zk-rs-examples/<example>`).
pub const EXAMPLES_ROOT: &str = "/zk-rs-examples";

/// Awaits `fut` for at most 10 seconds, turning a timeout into an error naming `step`.
pub async fn step<F: Future>(step: &str, fut: F) -> Result<F::Output, BoxError> {
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .map_err(|_| format!("timed out: {step}").into())
}

/// Deletes `EXAMPLES_ROOT/name` with everything under it (a previous run may have left it on
/// a shared ensemble) and returns its path.
pub async fn fresh_root(client: &zk_client::Client, name: &str) -> Result<String, BoxError> {
    let root = format!("{EXAMPLES_ROOT}/{name}");
    remove(client, &root).await?;
    Ok(root)
}

/// Deletes `path` and everything under it; a missing node is fine.
pub async fn remove(client: &zk_client::Client, path: &str) -> Result<(), BoxError> {
    match retry_op(client, || client.delete_all(path)).await {
        Ok(()) | Err(zk_client::Error::NoNode) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Runs `op` again after each error that says "try again" (a lost connection, a timeout:
/// [`zk_client::Error::is_retryable`]), once the client is connected again; at most 20
/// times. Only for operations that are safe to repeat: reads, and writes whose repetition
/// the caller can tell apart (a versioned write, a create of a node only it creates).
pub async fn retry_op<T, F, Fut>(
    client: &zk_client::Client,
    mut op: F,
) -> Result<T, zk_client::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, zk_client::Error>>,
{
    let mut attempts = 1;
    loop {
        match op().await {
            Err(e) if e.is_retryable() && attempts < 20 => {
                attempts += 1;
                reconnected(client).await;
            }
            result => return result,
        }
    }
}

/// Waits (at most 10 s) until `client` is connected: after a lost connection, the client
/// reconnects by itself, to another member of the ensemble if need be.
pub async fn reconnected(client: &zk_client::Client) {
    let mut state = client.state();
    let _ = tokio::time::timeout(
        Duration::from_secs(10),
        state.wait_for(|s| s.is_connected() || s.is_terminal()),
    )
    .await;
}

/// Where an example prints: plain lines when it runs alone, lines tagged with its name when
/// the tour runs several at once.
#[derive(Debug, Clone)]
pub struct Out {
    tag: Option<String>,
}

impl Out {
    /// Plain lines.
    pub fn plain() -> Out {
        Out { tag: None }
    }

    /// Lines starting with `[tag]`.
    pub fn tagged(tag: &str) -> Out {
        Out {
            tag: Some(tag.to_string()),
        }
    }

    /// Prints one line.
    pub fn line(&self, args: fmt::Arguments<'_>) {
        match &self.tag {
            Some(tag) => println!("[{tag}] {args}"),
            None => println!("{args}"),
        }
    }
}

/// Prints a line through an [`Out`]: `say!(out, "format {}", args)`.
#[macro_export]
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {
        $out.line(format_args!($($arg)*))
    };
}

/// The start of an example binary's `main`: logging, the servers from the command line (or
/// `ZK_SERVERS`), a first line saying where it runs, and plain output.
pub async fn start(name: &str) -> Result<(Servers, Out), BoxError> {
    init_logging();
    let servers = Servers::from_args().await?;
    println!("zk-rs example `{name}` on {}", servers.describe());
    Ok((servers, Out::plain()))
}

/// Every example: its binary's name and a title.
pub const EXAMPLES: [(&str, &str); 6] = [
    ("config-center", "configuration center (NodeCache)"),
    ("naming", "naming service (ServiceDiscovery)"),
    ("lock", "distributed lock (Mutex, fencing tokens)"),
    ("leader", "leader election (LeaderElection)"),
    ("queue", "distributed queue (LockingQueue)"),
    ("barrier", "double barrier (DoubleBarrier)"),
];

/// Runs the example called `name` (a name of [`EXAMPLES`]).
pub async fn run_example(name: &str, servers: &Servers, out: &Out) -> Result<(), BoxError> {
    match name {
        "config-center" => config_center::run(servers, out).await,
        "naming" => naming::run(servers, out).await,
        "lock" => lock::run(servers, out).await,
        "leader" => leader::run(servers, out).await,
        "queue" => queue::run(servers, out).await,
        "barrier" => barrier::run(servers, out).await,
        _ => Err(format!("no example {name:?}").into()),
    }
}

/// Text of a node's data, for printing.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Logs to stderr at the level in `RUST_LOG` (default: errors only, since the examples cause
/// session expiries on purpose and the client warns of each).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
}
